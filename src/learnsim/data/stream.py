"""Reading a CSV or Parquet file a chunk of rows at a time, so that importing a file of several GB never
holds it whole: each chunk is checked (numeric, no missing values; errors name the column and the file's
row) and handed on as float64 arrays.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from learnsim.data.dataset import check_header, numeric_column
from learnsim.errors import DataError

CHUNK_ROWS = 1 << 20


@dataclass
class TableStream:
    """names: every column in file order; rows: the total when the format records it (Parquet), else None;
    size: the file's bytes (a progress measure for CSV)."""

    path: Path
    names: list[str]
    rows: int | None
    size: int
    _batches: Iterator

    def chunks(self) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
        """(first row, column name -> (n,) float64) per chunk, in file order."""
        first = 0
        source = str(self.path)
        while True:
            try:
                batch = next(self._batches)
            except StopIteration:
                return
            except Exception as error:  # pyarrow's parse errors carry the position
                raise DataError(f"{source}: cannot read past row {first}: {error}") from None
            if batch.num_rows == 0:
                continue
            columns = {
                name: numeric_column(batch.column(i), name, source, first)
                for i, name in enumerate(self.names)
            }
            yield first, columns
            first += batch.num_rows


def open_table(path: str | Path, episode_column: str | None, time_column: str | None) -> TableStream:
    """A chunked reader of a .csv, .parquet or .pq file (the header is checked before any row is read)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"{path}: {'a folder, not a file: give the file in it' if path.is_dir() else 'no such file'}"
        )
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            handle = pq.ParquetFile(path)
            names, rows = handle.schema_arrow.names, handle.metadata.num_rows
            batches = handle.iter_batches(batch_size=CHUNK_ROWS)
        elif suffix == ".csv":
            import pyarrow.csv as pacsv

            reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=64 << 20))
            names, rows = reader.schema.names, None
            batches = iter(reader)
        else:
            raise DataError(f"{path}: streamed import reads .csv, .parquet or .pq, not '{suffix}'")
    except DataError:
        raise
    except Exception as error:
        kind = "Parquet" if suffix in (".parquet", ".pq") else "CSV"
        raise DataError(f"{path}: cannot read as {kind}: {error}") from None
    check_header(names, episode_column, time_column, str(path))
    if len(set(names) - {episode_column, time_column}) == 0:
        raise DataError(f"{path}: no feature columns besides the episode/time columns")
    return TableStream(path, list(names), rows, path.stat().st_size, batches)

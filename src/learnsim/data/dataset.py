"""``Dataset``: a table of numeric features with a fixed time step, optional episodes and time column."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from learnsim.errors import DataError


@dataclass
class Dataset:
    """Numeric feature columns sampled every ``dt`` seconds.

    columns: name -> (N,) float64 array, in column order.
    episode: (N,) int64 episode id per row, or None for one recording. Rows of an episode are contiguous.
    time: (N,) float64 time stamps in seconds, or None.
    Use the constructors (``from_pandas``, ``from_csv``, ``from_parquet``, ``from_hdf5``), which check the
    structure: unique column names, numeric values, contiguous episodes.
    """

    columns: dict[str, np.ndarray]
    dt: float
    episode: np.ndarray | None = None
    time: np.ndarray | None = None
    episode_column: str = "episode"
    time_column: str = "time"
    source: str = field(default="<memory>", compare=False)
    store_name: str | None = field(default=None, compare=False)
    store_version: str | None = field(default=None, compare=False)

    def __post_init__(self):
        number = isinstance(self.dt, int | float) and not isinstance(self.dt, bool)
        if not (number and np.isfinite(self.dt) and self.dt > 0):
            raise DataError(f"{self.source}: dt must be a number > 0 (seconds), got {self.dt!r}")
        self.dt = float(self.dt)
        if not isinstance(self.columns, dict):
            raise DataError(
                f"{self.source}: columns must be a dict of name -> 1-D array, got a {type(self.columns).__name__} "
                "(from a table, use Dataset.from_pandas / from_csv / from_parquet)"
            )
        for name, values in self.columns.items():
            shape = np.shape(values)
            if len(shape) != 1:
                raise DataError(
                    f"{self.source}: column '{name}' must be 1-D (one value per row), got shape {shape}; "
                    f"split a {shape[-1] if shape else ''}-wide signal into one column per component"
                )
        lengths = {name: len(values) for name, values in self.columns.items()}
        if len(set(lengths.values())) > 1:
            raise DataError(f"{self.source}: columns have different lengths: {lengths}")
        for name in (self.episode_column, self.time_column):
            if name in self.columns and (
                name == self.episode_column
                and self.episode is not None
                or name == self.time_column
                and self.time is not None
            ):
                raise DataError(
                    f"{self.source}: '{name}' is both a feature column and the episode/time column"
                )
        for name, extra in ((self.episode_column, self.episode), (self.time_column, self.time)):
            if extra is not None and (np.ndim(extra) != 1 or len(extra) != self.n_rows):
                raise DataError(
                    f"{self.source}: the {name} array has shape {np.shape(extra)}, the columns {self.n_rows} rows: "
                    "give one value per row"
                )
        if self.episode is not None:
            self.episode = np.asanyarray(self.episode, dtype=np.int64)  # a memory map stays one
            _check_contiguous_episodes(self.episode, self.source, self.episode_column)
        if self.time is not None:
            self.time = np.asanyarray(self.time, dtype=np.float64)

    # ------------------------------------------------------------------ shape
    @property
    def n_rows(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    @property
    def feature_names(self) -> list[str]:
        return list(self.columns)

    def episode_bounds(self) -> list[tuple[int, int]]:
        """Row ranges [start, end) of each episode in row order (one range when there are no episodes)."""
        if self.n_rows == 0:
            return []
        if self.episode is None:
            return [(0, self.n_rows)]
        change = np.flatnonzero(np.diff(self.episode)) + 1
        starts = np.concatenate([[0], change])
        ends = np.concatenate([change, [self.n_rows]])
        return list(zip(starts.tolist(), ends.tolist(), strict=True))

    def episode_ids(self) -> list[int]:
        if self.episode is None:
            return [0]
        return [int(self.episode[start]) for start, _ in self.episode_bounds()]

    def content_hash(self) -> str:
        """sha256 over dt, column names and values, episode ids and times: the dataset's identity."""
        h = hashlib.sha256()
        h.update(repr(self.dt).encode())
        for name, values in self.columns.items():
            h.update(name.encode() + b"\0")
            _hash_array(h, values, np.float64)
        for extra, dtype in ((self.episode, np.int64), (self.time, np.float64)):
            if extra is None:
                h.update(b"\1")
            else:
                _hash_array(h, extra, dtype)
        return h.hexdigest()

    def column_statistics(self) -> dict[str, dict[str, float]]:
        """mean, std, min and max of every feature column over its finite values (NaN when none is finite)."""
        stats = {}
        for name, values in self.columns.items():
            finite = values[np.isfinite(values)]
            summary = (
                (finite.mean(), finite.std(), finite.min(), finite.max()) if finite.size else (np.nan,) * 4
            )
            stats[name] = dict(zip(("mean", "std", "min", "max"), map(float, summary), strict=True))
            release_pages(values)
        return stats

    # ------------------------------------------------------------------ conversions
    def to_arrow(self):
        import pyarrow as pa

        arrays = {name: pa.array(values) for name, values in self.columns.items()}
        if self.episode is not None:
            arrays = {self.episode_column: pa.array(self.episode)} | arrays
        if self.time is not None:
            arrays = {self.time_column: pa.array(self.time)} | arrays
        return pa.table(arrays)

    def to_pandas(self):
        return self.to_arrow().to_pandas()

    @classmethod
    def from_arrow(
        cls,
        table,
        dt: float,
        episode_column: str | None = None,
        time_column: str | None = None,
        source: str = "<table>",
    ) -> Dataset:
        """Build from a pyarrow Table; every column but the episode/time ones becomes a float64 feature."""
        names = table.column_names
        check_header(names, episode_column, time_column, source)
        if table.num_rows == 0:
            raise DataError(f"{source}: the table is empty (0 rows)")
        columns = {name: numeric_column(table.column(name), name, source) for name in names}
        episode = columns.pop(episode_column) if episode_column else None
        if episode is not None and not np.all(episode == np.round(episode)):
            raise DataError(f"{source}: episode column '{episode_column}' must hold integers")
        time = columns.pop(time_column) if time_column else None
        if not columns:
            raise DataError(f"{source}: no feature columns besides the episode/time columns")
        return cls(columns, dt, episode, time, episode_column or "episode", time_column or "time", source)

    @classmethod
    def from_pandas(
        cls, frame, dt: float, episode_column: str | None = None, time_column: str | None = None
    ) -> Dataset:
        import pyarrow as pa

        duplicates = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
        if duplicates:
            raise DataError(f"<DataFrame>: duplicate column names {duplicates}; column names must be unique")
        table = pa.Table.from_pandas(frame, preserve_index=False)
        return cls.from_arrow(table, dt, episode_column, time_column, source="<DataFrame>")

    @classmethod
    def from_csv(
        cls, path, dt: float, episode_column: str | None = None, time_column: str | None = None
    ) -> Dataset:
        import pyarrow.csv as pacsv

        path = _existing(path)
        try:
            # autogenerate names off + no dedup: duplicates must stay visible to be reported
            table = pacsv.read_csv(path)
        except Exception as error:  # pyarrow raises ArrowInvalid with its own parse details
            raise DataError(f"{path}: cannot read as CSV: {error}") from None
        return cls.from_arrow(table, dt, episode_column, time_column, source=str(path))

    @classmethod
    def from_parquet(
        cls, path, dt: float, episode_column: str | None = None, time_column: str | None = None
    ) -> Dataset:
        import pyarrow.parquet as pq

        path = _existing(path)
        try:
            table = pq.read_table(path)
        except Exception as error:
            raise DataError(f"{path}: cannot read as Parquet: {error}") from None
        return cls.from_arrow(table, dt, episode_column, time_column, source=str(path))

    @classmethod
    def from_hdf5(cls, path, dt: float, key: str | None = None, columns: list[str] | None = None) -> Dataset:
        """Read one of the two common robotics layouts (needs the ``hdf5`` extra: h5py).

        - One group per episode: ``<episode>/observations/<name>`` ((T,) or (T, D)) and ``<episode>/actions``.
          A D-wide array gives columns ``<name>_0 .. <name>_{D-1}``.
        - One array shaped (T, B, D) at ``key`` (default: the file's only 3-D dataset), each of the B
          trajectories an episode, columns named by ``columns`` or the array's ``columns`` attribute.
        """
        from learnsim.data.hdf5 import read_hdf5

        path = _existing(path)
        table_columns, episode = read_hdf5(path, key, columns)
        return cls(table_columns, dt, episode, None, source=str(path))

    @classmethod
    def from_file(
        cls, path, dt: float, episode_column: str | None = None, time_column: str | None = None
    ) -> Dataset:
        """Dispatch on the file suffix: .csv, .parquet/.pq, .h5/.hdf5."""
        suffix = Path(path).suffix.lower()
        if suffix in (".h5", ".hdf5"):
            if episode_column or time_column:
                raise DataError(
                    f"{path}: HDF5 files take episodes from their layout; drop --episode-column/--time-column"
                )
            return cls.from_hdf5(path, dt)
        readers = {".csv": cls.from_csv, ".parquet": cls.from_parquet, ".pq": cls.from_parquet}
        if suffix not in readers:
            raise DataError(
                f"{path}: unknown file type '{suffix}'; expected .csv, .parquet, .pq, .h5 or .hdf5"
            )
        return readers[suffix](path, dt, episode_column, time_column)


def release_pages(values) -> None:
    """Drop a memory-mapped column's pages from this process's resident memory once it has been read: they
    stay in the OS page cache (a later read is a cheap fault), but a 10-million-row dataset read column by
    column no longer counts whole against the process. Arrays in memory are left alone."""
    import mmap

    mapping = getattr(values, "_mmap", None)  # set by np.memmap on the array that owns the mapping
    if mapping is not None and hasattr(mmap, "MADV_DONTNEED"):
        mapping.madvise(mmap.MADV_DONTNEED)


def check_header(names: list[str], episode_column: str | None, time_column: str | None, source: str) -> None:
    """Unique column names; the named episode/time columns exist."""
    duplicates = sorted(name for name, count in Counter(names).items() if count > 1)
    if duplicates:
        raise DataError(f"{source}: duplicate column names {duplicates}; column names must be unique")
    for wanted, what in ((episode_column, "episode"), (time_column, "time")):
        if wanted is not None and wanted not in names:
            raise DataError(f"{source}: {what} column '{wanted}' not found; columns are {names}")


def numeric_column(column, name: str, source: str, first_row: int = 0) -> np.ndarray:
    """A pyarrow column (or chunk of one starting at ``first_row``) as float64, or a named error for a
    non-numeric type or missing values."""
    import pyarrow as pa

    if not (
        pa.types.is_integer(column.type)
        or pa.types.is_floating(column.type)
        or pa.types.is_boolean(column.type)
    ):
        raise DataError(f"{source}: column '{name}' is not numeric ({column.type}){_first_bad(column)}")
    if column.null_count:
        rows = np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False)) + first_row
        raise DataError(
            f"{source}: column '{name}' has {column.null_count} missing values "
            f"(first at rows {rows[:5].tolist()})"
        )
    return column.to_numpy(zero_copy_only=False).astype(np.float64)


def _hash_array(h, values: np.ndarray, dtype, chunk: int = 1 << 20) -> None:
    """Feed ``values`` as ``dtype`` bytes to ``h`` a chunk at a time (no full-size copy)."""
    for start in range(0, len(values), chunk):
        h.update(memoryview(np.ascontiguousarray(values[start : start + chunk], dtype=dtype)).cast("B"))


def _existing(path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"{path}: {'a folder, not a file: give the file in it' if path.is_dir() else 'no such file'}"
        )
    return path


def _first_bad(column) -> str:
    for row, value in enumerate(column.to_pylist()):
        try:
            float(value)
        except (TypeError, ValueError):
            return f"; row {row} holds {value!r}"
    return ""


def _check_contiguous_episodes(episode: np.ndarray, source: str, column: str) -> None:
    change = np.flatnonzero(np.diff(episode)) + 1
    starts = np.concatenate([[0], change]) if len(episode) else change
    ids = episode[starts]
    seen: dict[int, int] = {}
    for start, episode_id in zip(starts.tolist(), ids.tolist(), strict=True):
        if episode_id in seen:
            raise DataError(
                f"{source}: rows of episode {episode_id} (column '{column}') are not contiguous: it starts at "
                f"row {seen[episode_id]} and again at row {start}; sort the table by episode first"
            )
        seen[episode_id] = start

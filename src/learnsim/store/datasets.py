"""Datasets in the local store: one memory-mapped file per column (see ``columns``) plus metadata (features, dt, statistics, lineage).

Listing and metadata read JSON only; numpy, pyarrow and the data modules load when data is saved or loaded.
"""

from __future__ import annotations

from pathlib import Path

from learnsim.errors import FileCorruptError
from learnsim.store.versions import VersionedStore, learnsim_home, parse_reference


def dataset_store() -> VersionedStore:
    return VersionedStore(learnsim_home() / "datasets", "dataset")


def save_dataset(name: str, dataset, source_datasets: list[str] | None = None) -> dict:
    """Validate and save a ``Dataset`` as a new immutable version of ``name``; returns its metadata.

    The version is a content hash, so saving identical data twice yields the same version. ``source_datasets``
    are 'NAME' or 'NAME@VERSION' references recorded as lineage (each resolved to a concrete version).
    Raises ``DataError`` (nothing written) when the data is unfit for training.
    """
    from learnsim.data.validate import validate_dataset
    from learnsim.store import columns

    report = validate_dataset(dataset)
    report.raise_for_errors()
    store = dataset_store()
    lineage = _lineage(store, source_datasets)
    version = dataset.content_hash()[:16]
    path, _ = store.write(
        name, version, lambda tmp: columns.write_columns(dataset, tmp), _meta(dataset, report, lineage)
    )
    return store.resolve(name, version)[1] | {"path": str(path)}


def _lineage(store, source_datasets) -> list[dict]:
    lineage = []
    for reference in source_datasets or []:
        source_name, source_version = parse_reference(reference)
        _, meta = store.resolve(source_name, source_version)
        lineage.append({"name": source_name, "version": meta["version"]})
    return lineage


def _meta(dataset, report, lineage: list[dict]) -> dict:
    return {
        "dt": dataset.dt,
        "features": dataset.feature_names,
        "episode_column": dataset.episode_column if dataset.episode is not None else None,
        "time_column": dataset.time_column if dataset.time is not None else None,
        "rows": dataset.n_rows,
        "episodes": len(dataset.episode_bounds()),
        "statistics": dataset.column_statistics(),
        "lineage": lineage,
        "source": dataset.source,
        "warnings": report.warnings,
    }


def import_dataset(
    name: str,
    path,
    dt: float,
    episode_column: str | None = None,
    time_column: str | None = None,
    source_datasets: list[str] | None = None,
    on_rows=None,
) -> dict:
    """Stream a CSV or Parquet file into the store as a new version of ``name``, a chunk of rows at a time:
    the file is never held whole in memory. Checked like ``save_dataset`` (the same validation, on the
    written columns, memory-mapped); on any error nothing is left behind. ``on_rows(rows_so_far)`` reports
    progress. Returns the version's metadata."""
    import contextlib
    import os

    from learnsim.data.dataset import Dataset
    from learnsim.data.stream import open_table
    from learnsim.data.validate import validate_dataset
    from learnsim.durable import staging_directory
    from learnsim.errors import DataError
    from learnsim.store import columns
    from learnsim.store.versions import validate_name

    validate_name(name, "dataset")
    stream = open_table(path, episode_column, time_column)
    store = dataset_store()
    lineage = _lineage(store, source_datasets)
    directory = store.root / name
    new = [p for p in (directory, *directory.parents) if not p.exists()]  # made here; removed on failure
    try:
        with staging_directory(directory) as tmp:
            if columns.write_stream(stream, tmp, episode_column, time_column, on_rows) == 0:
                raise DataError(f"{path}: the table is empty (0 rows)")
            values, episode, time_values = columns.open_columns(tmp)
            dataset = Dataset(
                values,
                dt,
                episode,
                time_values,
                episode_column or "episode",
                time_column or "time",
                str(path),
            )
            report = validate_dataset(dataset)
            report.raise_for_errors()
            version = columns.payload_hash(tmp, dt)[:16]
            meta = _meta(dataset, report, lineage)
            del dataset, values, episode, time_values  # unmapped before the files move

            def move(final: Path) -> None:
                for child in tmp.iterdir():
                    os.rename(child, final / child.name)

            stored, _ = store.write(name, version, move, meta)
    except BaseException:
        for made in new:  # deepest first: a failed import leaves the store as it was
            with contextlib.suppress(OSError):
                made.rmdir()
        raise
    return store.resolve(name, version)[1] | {"path": str(stored)}


def load_dataset(name: str, version: str | None = None):
    """Load a stored ``Dataset`` (latest version by default). ``name`` may also be 'NAME@VERSION'."""
    import pyarrow.parquet as pq

    from learnsim.data.dataset import Dataset

    if version is None:
        name, version = parse_reference(name)
    path, meta = dataset_store().resolve(name, version)
    if (Path(path) / "columns.json").is_file():
        return _load_columns(name, Path(path), meta)
    payload = Path(path) / "data.parquet"  # versions stored before the columnar payload
    try:
        table = pq.read_table(payload)
        dataset = Dataset.from_arrow(
            table, meta["dt"], meta["episode_column"], meta["time_column"], source=f"{name}@{meta['version']}"
        )
    except (OSError, ValueError, KeyError, TypeError) as error:  # pyarrow's errors derive from these
        raise FileCorruptError(f"{payload}: unreadable dataset payload ({error})") from None
    # The version is the hash of the content: a payload that no longer hashes to it was damaged or edited.
    if not meta["version"].startswith(dataset.content_hash()[: len(meta["version"])]):
        raise FileCorruptError(
            f"{payload}: content does not match version {meta['version']} (damaged or edited)"
        )
    dataset.store_name, dataset.store_version = name, meta["version"]
    return dataset


def _load_columns(name: str, path: Path, meta: dict):
    """A stored dataset whose columns are memory-mapped: nothing is read until used. The payload is checked
    against its version (a content hash) by streaming the files first."""
    from learnsim.data.dataset import Dataset
    from learnsim.store import columns

    values, episode, time = columns.open_columns(path)
    if not meta["version"].startswith(columns.payload_hash(path, meta["dt"])[: len(meta["version"])]):
        raise FileCorruptError(
            f"{path / columns.INDEX}: the column files do not match version {meta['version']} (damaged or edited)"
        )
    dataset = Dataset(
        values,
        meta["dt"],
        episode,
        time,
        meta["episode_column"] or "episode",
        meta["time_column"] or "time",
        source=f"{name}@{meta['version']}",
    )
    dataset.store_name, dataset.store_version = name, meta["version"]
    return dataset


def dataset_meta(name: str, version: str | None = None) -> dict:
    return dataset_store().resolve(name, version)[1]


def list_datasets() -> list[dict]:
    """Metadata of every version of every stored dataset."""
    store = dataset_store()
    return [meta for name in store.names() for meta in store.versions(name)]


def delete_dataset(name: str, version: str) -> None:
    """Delete one version (atomically: it is either listed complete or gone)."""
    dataset_store().delete(name, version)

"""Datasets in the local store: Parquet payload plus metadata (features, dt, statistics, lineage).

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
    import pyarrow.parquet as pq

    from learnsim.data.validate import validate_dataset

    report = validate_dataset(dataset)
    report.raise_for_errors()
    store = dataset_store()
    lineage = []
    for reference in source_datasets or []:
        source_name, source_version = parse_reference(reference)
        _, meta = store.resolve(source_name, source_version)
        lineage.append({"name": source_name, "version": meta["version"]})
    version = dataset.content_hash()[:16]
    meta = {
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
    path, _ = store.write(
        name, version, lambda tmp: pq.write_table(dataset.to_arrow(), tmp / "data.parquet"), meta
    )
    return store.resolve(name, version)[1] | {"path": str(path)}


def load_dataset(name: str, version: str | None = None):
    """Load a stored ``Dataset`` (latest version by default). ``name`` may also be 'NAME@VERSION'."""
    import pyarrow.parquet as pq

    from learnsim.data.dataset import Dataset

    if version is None:
        name, version = parse_reference(name)
    path, meta = dataset_store().resolve(name, version)
    payload = Path(path) / "data.parquet"
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


def dataset_meta(name: str, version: str | None = None) -> dict:
    return dataset_store().resolve(name, version)[1]


def list_datasets() -> list[dict]:
    """Metadata of every version of every stored dataset."""
    store = dataset_store()
    return [meta for name in store.names() for meta in store.versions(name)]


def delete_dataset(name: str, version: str) -> None:
    """Delete one version (atomically: it is either listed complete or gone)."""
    dataset_store().delete(name, version)

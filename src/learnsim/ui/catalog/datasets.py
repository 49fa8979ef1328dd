"""Dataset versions: schema, validation, statistics, and series downsampled on the server."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from learnsim.errors import ConfigError
from learnsim.store.datasets import dataset_store
from learnsim.ui.catalog.common import clean
from learnsim.ui.catalog.runs import list_runs


def dataset_detail(name: str, version: str | None) -> dict:
    path, meta = dataset_store().resolve(name, version)
    bounds = episode_bounds(name, meta["version"])
    users = [
        r for r in list_runs() if r["dataset"]["name"] == name and r["dataset"]["version"] == meta["version"]
    ]
    size = sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())
    return clean(
        {
            **meta,
            "size_bytes": size,
            "episode_ids": [int(e) for e in bounds],
            "versions": [m["version"] for m in dataset_store().versions(name)],
            "runs": [{"id": r["id"], "status": r["status"], "model": r["model"]} for r in users],
        }
    )


_DATASETS: dict[tuple[str, str], object] = {}


def loaded_dataset(name: str, version: str):
    """A loaded dataset, kept for the next request (the latest few only)."""
    from learnsim.store.datasets import load_dataset

    key = (name, version)
    if key not in _DATASETS:
        if len(_DATASETS) >= 4:
            _DATASETS.pop(next(iter(_DATASETS)))
        _DATASETS[key] = load_dataset(name, version)
    return _DATASETS[key]


def episode_bounds(name: str, version: str) -> dict[int, tuple[int, int]]:
    dataset = loaded_dataset(name, version)
    bounds = dataset.episode_bounds()
    ids = dataset.episode_ids() if dataset.episode is not None else [0]
    return dict(zip(ids, bounds, strict=True))


def dataset_series(
    name: str, version: str | None, feature: str, episode: int | None, points: int = 2000,
    start: float | None = None, end: float | None = None,
) -> dict:  # fmt: skip
    """One feature of one episode (or the whole recording), downsampled on the server to at most ``points``
    x-values by keeping each bucket's minimum and maximum (so spikes stay visible). ``start``/``end`` (s)
    select a zoomed range, downsampled afresh."""
    _, meta = dataset_store().resolve(name, version)
    dataset = loaded_dataset(name, meta["version"])
    if feature not in dataset.columns:
        raise ConfigError(
            f"dataset {name}@{meta['version']} has no feature '{feature}'; it has {list(dataset.columns)}"
        )
    bounds = episode_bounds(name, meta["version"])
    if episode is not None and episode not in bounds:
        raise ConfigError(f"dataset {name}@{meta['version']} has no episode {episode}")
    first, last = (0, dataset.n_rows) if episode is None else bounds[episode]
    origin = first  # t = 0 at the episode's first row
    if start is not None:
        first = min(max(first, origin + int(math.floor(start / dataset.dt))), last - 1)
    if end is not None:
        last = max(min(last, origin + int(math.ceil(end / dataset.dt)) + 1), first + 1)
    values = dataset.columns[feature][first:last]
    t = (np.arange(first, last) - origin) * dataset.dt
    t, y = downsample(t, values, points)
    return clean(
        {"feature": feature, "episode": episode, "rows": int(last - first), "t": t.tolist(), "y": y.tolist()}
    )


def downsample(t: np.ndarray, y: np.ndarray, points: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``points`` samples: per bucket of consecutive rows, the minimum and the maximum in time order."""
    n = len(y)
    if n <= points:
        return t, y
    buckets = max(points // 2, 1)
    size = n // buckets
    usable = size * buckets
    shaped = y[:usable].reshape(buckets, size)  # (buckets, size)
    low, high = shaped.argmin(1), shaped.argmax(1)
    first, second = np.minimum(low, high), np.maximum(low, high)
    index = (np.arange(buckets) * size)[:, None] + np.stack([first, second], 1)  # (buckets, 2)
    index = index.ravel()
    return t[index], y[index]

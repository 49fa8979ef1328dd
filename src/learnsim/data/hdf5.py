"""HDF5 readers for the two common robotics layouts (h5py imported only here)."""

from __future__ import annotations

import numpy as np

from learnsim.errors import DataError


def read_hdf5(path, key: str | None, columns: list[str] | None) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Return (columns, episode id per row)."""
    try:
        import h5py
    except ImportError:
        raise DataError("reading HDF5 needs h5py: pip install 'learnsim[hdf5]'") from None
    try:
        file = h5py.File(path, "r")
    except OSError as error:
        raise DataError(f"{path}: cannot open as HDF5: {error}") from None
    with file:
        groups = [name for name, item in file.items() if isinstance(item, h5py.Group)]
        if key is None and groups and all("observations" in file[g] for g in groups):
            return _episode_groups(file, groups, path)
        return _time_batch_array(file, key, columns, path)


def _episode_groups(file, groups: list[str], path) -> tuple[dict[str, np.ndarray], np.ndarray]:
    names_first = None
    parts: dict[str, list[np.ndarray]] = {}
    episodes = []
    for episode_id, group_name in enumerate(sorted(groups, key=_natural_key)):
        group = file[group_name]
        arrays = {f"observations/{k}": group["observations"][k] for k in group["observations"]}
        if "actions" in group:
            arrays["actions"] = group["actions"]
        flat: dict[str, np.ndarray] = {}
        for label, dataset in arrays.items():
            values = np.asarray(dataset[()], dtype=np.float64)
            base = label.split("/")[-1]
            if values.ndim == 1:
                flat[base] = values
            elif values.ndim == 2:
                flat |= {f"{base}_{i}": values[:, i] for i in range(values.shape[1])}
            else:
                raise DataError(
                    f"{path}: {group_name}/{label} has shape {values.shape}; expected (T,) or (T, D)"
                )
        lengths = {k: len(v) for k, v in flat.items()}
        if len(set(lengths.values())) != 1:
            raise DataError(
                f"{path}: arrays of episode group '{group_name}' have different lengths {lengths}"
            )
        if names_first is None:
            names_first = list(flat)
        elif list(flat) != names_first:
            raise DataError(
                f"{path}: episode group '{group_name}' has arrays {list(flat)}; the first had {names_first}"
            )
        for k, v in flat.items():
            parts.setdefault(k, []).append(v)
        episodes.append(np.full(next(iter(lengths.values())), episode_id, dtype=np.int64))
    return {k: np.concatenate(v) for k, v in parts.items()}, np.concatenate(episodes)


def _time_batch_array(file, key, columns, path) -> tuple[dict[str, np.ndarray], np.ndarray]:
    import h5py

    if key is None:
        candidates = []
        file.visititems(
            lambda name, item: (
                candidates.append(name) if isinstance(item, h5py.Dataset) and item.ndim == 3 else None
            )
        )
        if len(candidates) != 1:
            raise DataError(
                f"{path}: expected one group per episode or exactly one (T, B, D) array; found 3-D "
                f"arrays {candidates}; name one with key="
            )
        key = candidates[0]
    if key not in file:
        raise DataError(f"{path}: no array '{key}'")
    dataset = file[key]
    if dataset.ndim != 3:
        raise DataError(f"{path}: array '{key}' has shape {dataset.shape}; expected (T, B, D)")
    if columns is None and "columns" in dataset.attrs:
        columns = [c.decode() if isinstance(c, bytes) else str(c) for c in dataset.attrs["columns"]]
    T, B, D = dataset.shape
    if columns is None:
        columns = [f"{key.split('/')[-1]}_{i}" for i in range(D)]
    if len(columns) != D:
        raise DataError(f"{path}: array '{key}' has D={D} features but {len(columns)} column names {columns}")
    values = np.asarray(dataset[()], dtype=np.float64).transpose(1, 0, 2).reshape(B * T, D)  # episode-major
    return {name: values[:, i].copy() for i, name in enumerate(columns)}, np.repeat(np.arange(B), T)


def _natural_key(name: str):
    digits = "".join(ch for ch in name if ch.isdigit())
    return (int(digits) if digits else -1, name)

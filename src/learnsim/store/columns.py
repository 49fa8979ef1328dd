"""The stored form of a dataset: one raw little-endian file per column, read memory-mapped.

    columns.json      {"rows": N, "columns": [{"name", "file"}], "episode": file | null, "time": file | null}
    col-000.f64 ...   (N,) float64 feature values, in column order
    episode.i64       (N,) int64 episode ids (when the dataset has episodes)
    time.f64          (N,) float64 time stamps (when it has them)

Loading maps the files (``np.memmap``): nothing is read until used, and training touches only the columns
and rows it needs, so a dataset far larger than memory can be trained on. The files hold exactly the bytes
``Dataset.content_hash`` hashes, so the version (a content hash) is checked by streaming the files through
sha256 in chunks, without mapping them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from learnsim.errors import FileCorruptError

INDEX = "columns.json"
CHUNK_ROWS = 1 << 20  # rows per write/hash chunk: 8 MiB of float64


def column_file(position: int) -> str:
    return f"col-{position:03d}.f64"


def write_array(path: Path, values: np.ndarray, dtype) -> None:
    """Append-free write of one column in chunks (no full-size temporary for a dtype conversion)."""
    with open(path, "wb") as handle:
        for start in range(0, len(values), CHUNK_ROWS):
            chunk = np.ascontiguousarray(values[start : start + CHUNK_ROWS], dtype=dtype)
            handle.write(memoryview(chunk.astype(chunk.dtype.newbyteorder("<"), copy=False)).cast("B"))


def write_columns(dataset, directory: Path) -> None:
    """Write ``dataset``'s columns, episode ids and times into ``directory`` with their index."""
    directory = Path(directory)
    index = {"rows": dataset.n_rows, "columns": [], "episode": None, "time": None}
    for position, (name, values) in enumerate(dataset.columns.items()):
        write_array(directory / column_file(position), values, np.float64)
        index["columns"].append({"name": name, "file": column_file(position)})
    if dataset.episode is not None:
        write_array(directory / "episode.i64", dataset.episode, np.int64)
        index["episode"] = "episode.i64"
    if dataset.time is not None:
        write_array(directory / "time.f64", dataset.time, np.float64)
        index["time"] = "time.f64"
    (directory / INDEX).write_text(json.dumps(index, indent=1))


def read_index(directory: Path) -> dict:
    path = Path(directory) / INDEX
    try:
        index = json.loads(path.read_text())
        rows = index["rows"]
        [(c["name"], c["file"]) for c in index["columns"]]
        if not isinstance(rows, int) or rows < 1:
            raise ValueError("rows")
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise FileCorruptError(
            f"{path}: unreadable dataset index ({type(error).__name__}: {error})"
        ) from None
    return index


def _files(directory: Path, index: dict) -> list[tuple[str, Path, np.dtype]]:
    """(role, path, dtype) of every payload file in hash order: features, then episode, then time."""
    directory = Path(directory)
    files = [(c["name"], directory / c["file"], np.dtype("<f8")) for c in index["columns"]]
    if index.get("episode"):
        files.append(("episode", directory / index["episode"], np.dtype("<i8")))
    if index.get("time"):
        files.append(("time", directory / index["time"], np.dtype("<f8")))
    return files


def open_columns(directory: Path) -> tuple[dict[str, np.ndarray], np.ndarray | None, np.ndarray | None]:
    """(columns, episode, time) as read-only memory maps; a named error for a missing or short file."""
    index = read_index(directory)
    arrays = {}
    for role, path, dtype in _files(directory, index):
        expected = index["rows"] * dtype.itemsize
        size = path.stat().st_size if path.is_file() else None
        if size != expected:
            found = "missing" if size is None else f"{size} bytes"
            raise FileCorruptError(f"{path}: dataset column file is {found}, expected {expected} bytes")
        arrays[role] = np.memmap(path, dtype=dtype, mode="r", shape=(index["rows"],))
    columns = {c["name"]: arrays[c["name"]] for c in index["columns"]}
    episode = arrays.get("episode") if index.get("episode") else None
    time = arrays.get("time") if index.get("time") else None
    return columns, episode, time


def payload_hash(directory: Path, dt: float) -> str:
    """``Dataset.content_hash`` of the stored payload, streamed from the files in chunks."""
    index = read_index(directory)
    h = hashlib.sha256()
    h.update(repr(float(dt)).encode())
    files = _files(directory, index)
    features = files[: len(index["columns"])]
    for name, path, _ in features:
        h.update(name.encode() + b"\0")
        _hash_file(h, path)
    for key in ("episode", "time"):
        if index.get(key):
            _hash_file(h, Path(directory) / index[key])
        else:
            h.update(b"\1")
    return h.hexdigest()


def _hash_file(h, path: Path) -> None:
    with open(path, "rb") as handle:
        while block := handle.read(8 * CHUNK_ROWS):
            h.update(block)


def write_stream(
    stream, directory: Path, episode_column: str | None, time_column: str | None, on_rows=None
) -> int:
    """Write a ``TableStream``'s chunks into ``directory`` as column files with their index; returns the row
    count. Episode ids must be integers (stored as int64). ``on_rows(n)`` is called after each chunk."""
    import os

    from learnsim.errors import DataError

    directory = Path(directory)
    features = [n for n in stream.names if n not in (episode_column, time_column)]
    targets = {name: (directory / column_file(i), np.float64) for i, name in enumerate(features)}
    if episode_column:
        targets[episode_column] = (directory / "episode.i64", np.int64)
    if time_column:
        targets[time_column] = (directory / "time.f64", np.float64)
    handles = {name: open(path, "wb") for name, (path, _) in targets.items()}
    rows = 0
    try:
        for first, chunk in stream.chunks():
            if episode_column:
                ids = chunk[episode_column]
                if not np.all(ids == np.round(ids)):
                    bad = int(np.flatnonzero(ids != np.round(ids))[0]) + first
                    raise DataError(
                        f"{stream.path}: episode column '{episode_column}' must hold integers (row {bad} holds {float(ids[bad - first]):g})"
                    )
            for name, (_, dtype) in targets.items():
                handles[name].write(memoryview(np.ascontiguousarray(chunk[name], dtype=dtype)).cast("B"))
            rows += len(next(iter(chunk.values())))
            os.utime(directory)  # an import in progress is never swept as a crashed writer's leftover
            if on_rows is not None:
                on_rows(rows)
    finally:
        for handle in handles.values():
            handle.close()
    index = {
        "rows": rows,
        "columns": [{"name": n, "file": column_file(i)} for i, n in enumerate(features)],
        "episode": "episode.i64" if episode_column else None,
        "time": "time.f64" if time_column else None,
    }
    (directory / INDEX).write_text(json.dumps(index, indent=1))
    return rows

"""Atomic, durable writes: the one way learnsim puts a file or a directory on disk.

A file is written to a hidden temporary sibling, flushed, fsynced, renamed over its target (atomic on POSIX)
and its directory fsynced, so the rename itself survives a power cut. Readers see the old content or the new
one, never a mix, and a process killed mid-write leaves at most a hidden ``.tmp-*`` entry behind.
A directory (a checkpoint, a store version) is built the same way: in a hidden staging directory that is
fsynced as a whole and then renamed into place in one step.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from learnsim.errors import FileCorruptError

TEMPORARY_PREFIX = ".tmp-"


def fsync_directory(path: Path) -> None:
    """Make the entries of ``path`` (created, renamed, removed files) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(path: Path) -> None:
    """fsync every file below ``path`` and every directory, deepest first."""
    for child in Path(path).iterdir():
        if child.is_dir():
            fsync_tree(child)
        elif child.is_file():
            with open(child, "rb+") as handle:
                os.fsync(handle.fileno())
    fsync_directory(path)


@contextlib.contextmanager
def replacing(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` for a writer that takes a file name (Parquet, safetensors);
    when the block succeeds the file is fsynced and renamed over ``path``; when it fails it is removed."""
    path = Path(path)
    tmp = path.with_name(f"{TEMPORARY_PREFIX}{uuid.uuid4().hex[:8]}-{path.name}")
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        fsync_directory(path.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_bytes(path: str | Path, data: bytes) -> Path:
    with replacing(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | Path, text: str) -> Path:
    return write_bytes(path, text.encode())


def write_json(path: str | Path, value, *, sort_keys: bool = False) -> Path:
    return write_text(path, json.dumps(value, indent=2, sort_keys=sort_keys) + "\n")


def read_json(path: str | Path, what: str = "JSON object") -> dict:
    """The JSON object in ``path``; a missing, unreadable or malformed file is a ``FileCorruptError`` that
    names it."""
    path = Path(path)
    try:
        value = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise FileCorruptError(f"{path}: missing ({what})") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise FileCorruptError(f"{path}: not a readable {what} ({error})") from None
    if not isinstance(value, dict):
        raise FileCorruptError(f"{path}: expected a JSON object ({what}), got a {type(value).__name__}")
    return value


@contextlib.contextmanager
def staging_directory(parent: str | Path) -> Iterator[Path]:
    """A hidden temporary directory inside ``parent`` to build a directory in; removed if the block fails
    (or was not moved into place with ``publish_directory``)."""
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    tmp = parent / f"{TEMPORARY_PREFIX}{uuid.uuid4().hex}"
    tmp.mkdir()
    try:
        yield tmp
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def publish_directory(tmp: Path, final: Path, *, replace: bool = False) -> bool:
    """fsync the staged directory ``tmp`` and rename it to ``final`` in one step.

    If ``final`` exists it is kept and False is returned (``replace=False``: a concurrent writer of the same
    content won), or it is moved aside and removed after the rename (``replace=True``).
    """
    fsync_tree(tmp)
    old = None
    if final.exists():
        if not replace:
            return False
        old = final.with_name(f"{TEMPORARY_PREFIX}old-{uuid.uuid4().hex}")
        os.rename(final, old)
    try:
        os.rename(tmp, final)
    except OSError:
        if final.is_dir() and not replace:  # lost a race against a writer of the same name
            return False
        raise
    fsync_directory(final.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return True

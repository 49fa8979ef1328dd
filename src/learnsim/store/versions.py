"""Versioned directory store with atomic, concurrency-safe writes.

Layout: ``<root>/<name>/<version>/`` holding the payload files and ``meta.json``. A version is built in a
hidden staging directory beside it, fsynced, and renamed into place in one ``rename`` (``learnsim.durable``):
readers see either no version or a complete one, a crash leaves only a hidden temporary directory (ignored
and swept later), and concurrent writers never overwrite each other because each version has its own
directory. There is no shared "latest" pointer to lose updates on: the latest version is the one with the
newest ``created_ns``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from learnsim.durable import (
    TEMPORARY_PREFIX,
    fsync_directory,
    publish_directory,
    read_json,
    staging_directory,
    write_json,
)
from learnsim.errors import FileCorruptError, StoreError

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_STALE_TMP_SECONDS = 3600


def learnsim_home() -> Path:
    """``$LEARNSIM_HOME``, default ``~/.learnsim``; a path that exists and is not a folder is an error (the
    store would read as empty, and every write would fail)."""
    home = Path(os.environ.get("LEARNSIM_HOME") or Path.home() / ".learnsim").expanduser()
    if home.exists() and not home.is_dir():
        raise StoreError(
            f"LEARNSIM_HOME={home} is a file, not a folder: point it at a folder (it is made if missing)"
        )
    return home


def validate_name(name: str, kind: str) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.match(name) or ".." in name:
        raise StoreError(
            f"invalid {kind} name {name!r}: use 1-128 letters, digits, '.', '_' or '-', starting with a letter "
            "or digit, with no path separators and no '..'"
        )
    return name


def parse_reference(reference: str) -> tuple[str, str | None]:
    """'NAME' or 'NAME@VERSION' -> (name, version or None)."""
    name, _, version = reference.partition("@")
    return name, version or None


class VersionedStore:
    """``default_alias``: the alias a bare name means when it is set (the models' 'best', marked by a search),
    as a registry alias does in MLflow; without it, or with the version 'latest', a bare name is the newest."""

    def __init__(self, root: Path, kind: str, default_alias: str | None = None):
        self.root = Path(root)
        self.kind = kind
        self.default_alias = default_alias

    def write(
        self, name: str, version: str, write_payload: Callable[[Path], None], meta: dict
    ) -> tuple[Path, bool]:
        """Atomically create ``name/version``; returns (path, created). An existing version is kept as is."""
        validate_name(name, self.kind)
        directory = self.root / name
        final = directory / version
        if final.is_dir():
            return final, False
        new = [p for p in (directory, *directory.parents) if not p.exists()]  # made here; removed on failure
        directory.mkdir(parents=True, exist_ok=True)
        self._sweep(directory)
        try:
            with staging_directory(directory) as tmp:
                write_payload(tmp)
                meta = {"name": name, "version": version, "created_ns": time.time_ns(), **meta}
                (tmp / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
                created = publish_directory(tmp, final)
        except BaseException:
            for made in new:  # deepest first; a failed save leaves the store as it was
                with contextlib.suppress(OSError):
                    made.rmdir()
            raise
        return final, created

    def versions(self, name: str) -> list[dict]:
        """Metadata of every complete version, oldest first. A version whose ``meta.json`` cannot be read
        is listed with an ``error`` naming the file (so one damaged entry does not hide the others); using
        it raises that error."""
        validate_name(name, self.kind)
        directory = self.root / name
        if not directory.is_dir():
            return []
        metas = []
        for child in directory.iterdir():
            if child.name.startswith(".") or not (child / "meta.json").is_file():
                continue
            try:
                meta = read_json(child / "meta.json", f"{self.kind} metadata")
                if not isinstance(meta.get("created_ns"), int) or meta.get("version") != child.name:
                    raise FileCorruptError(
                        f"{child / 'meta.json'}: 'version' or 'created_ns' is missing or wrong"
                    )
            except FileCorruptError as error:
                meta = {
                    "name": name,
                    "version": child.name,
                    "created_ns": child.stat().st_mtime_ns,
                    "error": str(error),
                }
            metas.append(meta)
        return sorted(metas, key=lambda m: (m["created_ns"], m["version"]))

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            p.name
            for p in self.root.iterdir()
            if p.is_dir() and not p.name.startswith(".") and self.versions(p.name)
        )

    def resolve(self, name: str, version: str | None = None) -> tuple[Path, dict]:
        """Path and metadata of a version (the latest when ``version`` is None); a clear error if missing."""
        versions = self.versions(name)
        if not versions:
            known = self.names()
            raise StoreError(f"no {self.kind} named '{name}' in {self.root}; known: {known or 'none'}")
        aliases = self.aliases(name)
        if version is None and self.default_alias in aliases:
            version = aliases[self.default_alias]
        version = aliases.get(version, version) if version else version
        if version in (None, "latest"):
            meta = versions[-1]
        else:
            matches = [m for m in versions if m["version"].startswith(version)]
            if len(matches) != 1:
                listed = [m["version"] for m in versions]
                what = "no" if not matches else "ambiguous"
                raise StoreError(f"{what} version '{version}' of {self.kind} '{name}'; versions: {listed}")
            meta = matches[0]
        if "error" in meta:
            raise FileCorruptError(meta["error"])
        return self.root / name / meta["version"], meta

    def aliases(self, name: str) -> dict[str, str]:
        """alias -> version of ``name`` (e.g. 'best', set by a search); a version may be named by its alias."""
        path = self.root / name / ".aliases.json"
        return read_json(path, f"{self.kind} aliases") if path.is_file() else {}

    def set_alias(self, name: str, alias: str, version: str) -> None:
        """Point ``alias`` at an existing version (atomically; the versions themselves never change)."""
        self.resolve(name, version)
        write_json(self.root / name / ".aliases.json", self.aliases(name) | {alias: version})

    def delete(self, name: str, version: str) -> None:
        path, _ = self.resolve(name, version)
        trash = path.parent / f".trash-{uuid.uuid4().hex}"
        os.rename(path, trash)  # disappears atomically; removal of the files may then take its time
        fsync_directory(path.parent)
        shutil.rmtree(trash, ignore_errors=True)

    def _sweep(self, directory: Path) -> None:
        """Remove temporary directories left by crashed writers (old enough not to be in progress)."""
        now = time.time()
        for child in directory.iterdir():
            if child.name.startswith((TEMPORARY_PREFIX, ".trash-")):
                try:
                    if now - child.stat().st_mtime > _STALE_TMP_SECONDS or child.name.startswith(".trash-"):
                        shutil.rmtree(child, ignore_errors=True)
                except FileNotFoundError:
                    pass

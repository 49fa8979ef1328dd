"""A model bundle (``.lsim``): one zip file that holds everything a model is, for sending and deploying.

Members: ``model.safetensors`` (weights and normalisation), ``model.json`` (config with the feature schema),
``meta.json`` (metrics, lineage, name and version) and ``manifest.json`` (format and library versions, and the
size and SHA-256 of every other member). Reading checks the format version and every member before any is
used, and never unpickles: an unknown format, a missing, truncated or altered member is a
``FileCorruptError`` naming the bundle, the member and the problem.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

from learnsim.durable import write_bytes
from learnsim.errors import FileCorruptError
from learnsim.models.files import model_from_files, write_model

FORMAT = "learnsim-bundle"
FORMAT_VERSION = 1
MEMBERS = ("model.safetensors", "model.json", "meta.json")


def write_bundle(model, path: str | Path, meta: dict | None = None) -> Path:
    """Write ``model`` and ``meta`` (metrics, lineage, ...) as a bundle at ``path``, atomically."""
    import tempfile

    import torch

    with tempfile.TemporaryDirectory() as tmp:
        write_model(model, Path(tmp))
        files = {name: (Path(tmp) / name).read_bytes() for name in MEMBERS[:2]}
    files["meta.json"] = json.dumps(meta or {}, indent=2, sort_keys=True).encode()
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "learnsim_version": _version(),
        "torch_version": torch.__version__.split("+")[0],
        "members": {
            name: {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            for name, data in files.items()
        },
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(manifest, indent=2))
        for name, data in files.items():
            archive.writestr(name, data)
    return write_bytes(path, buffer.getvalue())


def read_bundle(path: str | Path):
    """(model in eval mode, meta dict, manifest dict) from a bundle, every member checked first."""
    path = Path(path)
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise FileCorruptError(f"{path}: no such bundle file") from None
    except (zipfile.BadZipFile, OSError) as error:
        raise FileCorruptError(f"{path}: not a learnsim bundle (not a readable zip file: {error})") from None
    with archive:
        extra = sorted(set(archive.namelist()) - {*MEMBERS, "manifest.json"})
        if extra:  # nothing else is ever written: a member that is there was added after export
            raise FileCorruptError(
                f"{path}: unexpected member(s) {extra[:5]}: a learnsim bundle holds only "
                f"{', '.join([*MEMBERS, 'manifest.json'])}; this file was altered after export"
            )
        manifest = _json_member(archive, path, "manifest.json")
        if manifest.get("format") != FORMAT:
            raise FileCorruptError(
                f"{path}: manifest.json: not a learnsim bundle (format {manifest.get('format')!r})"
            )
        version = manifest.get("format_version")
        if version != FORMAT_VERSION:
            raise FileCorruptError(
                f"{path}: manifest.json: bundle format version {version!r} is not one this learnsim reads "
                f"({FORMAT_VERSION}); written by learnsim {manifest.get('learnsim_version', '?')}"
            )
        data = {name: _checked_member(archive, path, name, manifest) for name in MEMBERS}
    meta = _json_bytes(data["meta.json"], path, "meta.json")
    model_json = _json_bytes(data["model.json"], path, "model.json")
    model = model_from_files(
        model_json, data["model.safetensors"], f"{path}: model.json", f"{path}: model.safetensors"
    )
    return model, meta, manifest


def _checked_member(archive: zipfile.ZipFile, path: Path, name: str, manifest: dict) -> bytes:
    expected = manifest.get("members", {}).get(name)
    if expected is None:
        raise FileCorruptError(f"{path}: manifest.json lists no member '{name}'")
    try:
        data = archive.read(name)
    except KeyError:
        raise FileCorruptError(f"{path}: member '{name}' is missing") from None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:  # CRC mismatch, truncated stream
        raise FileCorruptError(f"{path}: member '{name}' is damaged or truncated ({error})") from None
    if len(data) != expected.get("size"):
        raise FileCorruptError(
            f"{path}: member '{name}' has {len(data)} bytes, the manifest says {expected.get('size')} (truncated?)"
        )
    if hashlib.sha256(data).hexdigest() != expected.get("sha256"):
        raise FileCorruptError(
            f"{path}: member '{name}': checksum mismatch with manifest.json (altered or damaged)"
        )
    return data


def _json_member(archive: zipfile.ZipFile, path: Path, name: str) -> dict:
    try:
        data = archive.read(name)
    except KeyError:
        raise FileCorruptError(f"{path}: member '{name}' is missing") from None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        raise FileCorruptError(f"{path}: member '{name}' is damaged or truncated ({error})") from None
    return _json_bytes(data, path, name)


def _json_bytes(data: bytes, path: Path, name: str) -> dict:
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise FileCorruptError(f"{path}: member '{name}' is not valid JSON ({error})") from None
    if not isinstance(value, dict):
        raise FileCorruptError(f"{path}: member '{name}' is not a JSON object")
    return value


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("learnsim")
    except PackageNotFoundError:
        return "unknown"

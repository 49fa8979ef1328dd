"""Trained models in the local store, with config, metrics and lineage (dataset version, run).

Listing and metadata read JSON only; torch loads when a model is saved or loaded.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from learnsim.errors import FileCorruptError
from learnsim.store.versions import VersionedStore, learnsim_home, parse_reference


def model_store() -> VersionedStore:
    return VersionedStore(learnsim_home() / "models", "model")


def save_model(name: str, model, metrics: dict | None = None, lineage: dict | None = None) -> dict:
    """Save ``model`` as a new version of ``name`` (version = hash of weights and config); returns metadata."""
    from learnsim.models.files import write_model

    digest = hashlib.sha256(model.config.model_dump_json().encode())
    for key, tensor in sorted(model.state_dict().items()):
        digest.update(key.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    version = digest.hexdigest()[:16]
    meta = {
        "family": model.config.type,
        "inputs": [f.name for f in model.config.inputs],
        "outputs": [f.name for f in model.config.outputs],
        "parameters": sum(p.numel() for p in model.parameters()),
        "metrics": metrics or {},
        "lineage": lineage or {},
    }
    store = model_store()
    store.write(name, version, lambda tmp: write_model(model, tmp), meta)
    return store.resolve(name, version)[1]


def load_model(name: str, version: str | None = None, device: str = "cpu"):
    """Load a stored model (latest version by default; ``name`` may be 'NAME@VERSION' or 'NAME@best'), or a
    model bundle file (``model.lsim``, from ``learnsim export``) with no store at all; ready to simulate."""
    from learnsim.models.files import read_model

    if str(name).endswith(".lsim") or Path(name).is_file():
        from learnsim.models.bundle import read_bundle

        return read_bundle(name)[0].to(device)
    if version is None:
        name, version = parse_reference(name)
    path, _ = model_store().resolve(name, version)
    return read_model(path, device)


def model_meta(name: str, version: str | None = None) -> dict:
    """Metadata of a stored version (``name`` may be 'NAME@VERSION' or 'NAME@ALIAS', like ``load_model``)."""
    if version is None:
        name, version = parse_reference(name)
    return model_store().resolve(name, version)[1]


def list_models() -> list[dict]:
    """Metadata of every version, with ``aliases``: the names pointing at it (e.g. 'best' after a search)."""
    store = model_store()
    metas = []
    for name in store.names():
        try:
            aliases = store.aliases(name)
        except FileCorruptError:  # a damaged alias file hides no version
            aliases = {}
        for meta in store.versions(name):
            metas.append(meta | {"aliases": sorted(a for a, v in aliases.items() if v == meta["version"])})
    return metas


def import_bundle(path, name: str | None = None) -> dict:
    """Add the model in a bundle file to the store (under its own name, or ``name``); returns its metadata.
    The version is the hash of weights and config, so importing the same bundle twice adds one version."""
    from learnsim.models.bundle import read_bundle

    model, meta, manifest = read_bundle(path)
    name = name or meta.get("name") or Path(path).stem
    lineage = dict(meta.get("lineage", {})) | {"imported_from": str(Path(path).resolve())}
    return save_model(name, model, metrics=meta.get("metrics", {}), lineage=lineage)

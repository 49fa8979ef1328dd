"""Trained models in the local store, with config, metrics and lineage (dataset version, run).

Listing and metadata read JSON only; torch loads when a model is saved or loaded.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from learnsim.errors import FileCorruptError
from learnsim.store.versions import VersionedStore, learnsim_home, parse_reference


def model_store() -> VersionedStore:
    """Models by name; a bare name means the version marked 'best' (by a search) when there is one, else the
    newest ('NAME@latest' always the newest)."""
    return VersionedStore(learnsim_home() / "models", "model", default_alias="best")


def resolved(reference: str, meta: dict) -> str:
    """One line saying which version a reference resolved to and why, e.g.
    ``osc_tuned -> osc_tuned@3f2a...  (marked best by a search; NAME@latest for the newest)``. Every command
    that takes a model name prints it."""
    full = f"{meta['name']}@{meta['version']}"
    name, version = parse_reference(reference)
    aliases = [a for a, v in _aliases(name).items() if v == meta["version"]]
    if version is None and "best" in aliases:
        why = "marked best by a search; NAME@latest for the newest"
    elif version is None or version == "latest":
        why = "the newest version"
    elif version in aliases:
        why = f"alias '{version}'"
    else:
        why = "the version given"
    candidate = (meta.get("lineage") or {}).get("candidate")
    if candidate == "linear":
        why += "; the run's linear fit, stored in place of the network"
    return f"model: {reference} -> {full}  ({why})"


def pinned(reference: str) -> tuple[str, str]:
    """('NAME@VERSION', the ``resolved`` line) for a reference: what a command uses, and what it prints."""
    meta = model_meta(reference)
    return f"{meta['name']}@{meta['version']}", resolved(reference, meta)


def _aliases(name: str) -> dict[str, str]:
    try:
        return model_store().aliases(name)
    except FileCorruptError:
        return {}


def save_model(name: str, model, metrics: dict | None = None, lineage: dict | None = None) -> dict:
    """Save ``model`` as a new version of ``name`` (version = hash of weights and config); returns metadata."""
    from learnsim.models.files import write_model

    # the name is part of the version: two models that happen to hold the same weights (two runs that both
    # stored their linear fit) are different entries and must not share an id
    digest = hashlib.sha256(name.encode() + b"\0" + model.config.model_dump_json().encode())
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
    """Load a stored model (the version marked best by a search, else the newest; ``name`` may be
    'NAME@VERSION', 'NAME@best' or 'NAME@latest'), or a model bundle file (``model.lsim``, from ``learnsim export``) with no store at all; ready to simulate."""
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

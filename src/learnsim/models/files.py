"""A model on disk: ``model.safetensors`` (weights and normalisation buffers) + ``model.json`` (config and the
SHA-256 of the weights file).

Loading never executes code from the files: safetensors holds only tensors, the JSON is validated into a
config, and the network is built by learnsim's own registry. The checksum catches a truncated, damaged or
edited weights file before any of it is used; every problem is a ``FileCorruptError`` naming the file.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from learnsim.durable import read_json
from learnsim.errors import FileCorruptError, StoreError
from learnsim.models import model_from_config, parse_model_config


def write_model(model, directory: Path, extra: dict | None = None) -> None:
    """Write the two files into ``directory``: a staging directory that the caller fsyncs and publishes
    whole (a store version, a checkpoint), so the files need no atomic write of their own."""
    from safetensors.torch import save

    directory = Path(directory)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    weights = save(state)
    (directory / "model.safetensors").write_bytes(weights)
    payload = {
        "config": model.config.model_dump(mode="json"),
        "weights_sha256": hashlib.sha256(weights).hexdigest(),
        **(extra or {}),
    }
    (directory / "model.json").write_text(json.dumps(payload, indent=2))


def read_model(directory: Path, device: str | torch.device = "cpu"):
    """Rebuild a ``SimulatorModel`` (in eval mode) from ``write_model``'s files."""
    directory = Path(directory)
    if not directory.is_dir():
        raise StoreError(f"{directory}: no such model directory")
    meta_path, weights_path = directory / "model.json", directory / "model.safetensors"
    meta = read_json(meta_path, "model config")
    try:
        weights = weights_path.read_bytes()
    except OSError as error:
        raise FileCorruptError(f"{weights_path}: cannot be read ({error.strerror or error})") from None
    return model_from_files(meta, weights, meta_path, weights_path).to(device).eval()


def model_from_files(meta: dict, weights: bytes, meta_name, weights_name):
    """A ``SimulatorModel`` from the parsed ``model.json`` and the bytes of ``model.safetensors``; errors
    name ``meta_name`` / ``weights_name`` (paths, or a bundle's members)."""
    from pydantic import ValidationError
    from safetensors.torch import load

    try:
        config = parse_model_config(meta["config"])
    except (ValidationError, KeyError, TypeError) as error:
        raise FileCorruptError(f"{meta_name}: invalid model config: {error}") from None
    expected = meta.get("weights_sha256")  # absent in models saved before checksums were recorded
    if expected is not None and hashlib.sha256(weights).hexdigest() != expected:
        raise FileCorruptError(
            f"{weights_name}: checksum mismatch (the file was truncated, damaged or edited after it was "
            f"written; {Path(str(meta_name)).name} records sha256 {expected[:12]}...)"
        )
    try:
        state = load(weights)
    except Exception as error:  # safetensors raises its own error type for any malformed header or data
        raise FileCorruptError(f"{weights_name}: not a valid safetensors file ({error})") from None
    model = model_from_config(config)
    for key in ("input_low", "input_high"):  # models saved before training ranges were recorded
        state.setdefault(key, getattr(model, key))
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise FileCorruptError(
            f"{weights_name}: weights do not fit the config in {Path(str(meta_name)).name}: "
            f"{str(error).splitlines()[-1].strip()}"
        ) from None
    return model.eval()

"""A model on disk: ``model.safetensors`` (weights and normalisation buffers) + ``model.json`` (config).

Loading never executes code from the files: safetensors holds only tensors, the JSON is validated into a
config, and the network is built by learnsim's own registry.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from learnsim.errors import StoreError
from learnsim.models import model_from_config, parse_model_config


def write_model(model, directory: Path, extra: dict | None = None) -> None:
    from safetensors.torch import save_file

    directory = Path(directory)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(directory / "model.safetensors"))
    payload = {"config": model.config.model_dump(mode="json"), **(extra or {})}
    (directory / "model.json").write_text(json.dumps(payload, indent=2))


def read_model(directory: Path, device: str | torch.device = "cpu"):
    """Rebuild a ``SimulatorModel`` (in eval mode) from ``write_model``'s files."""
    from pydantic import ValidationError
    from safetensors.torch import load_file

    directory = Path(directory)
    for name in ("model.json", "model.safetensors"):
        if not (directory / name).is_file():
            raise StoreError(f"{directory}: missing {name}; not a learnsim model directory")
    try:
        config = parse_model_config(json.loads((directory / "model.json").read_text())["config"])
    except (ValidationError, KeyError, json.JSONDecodeError) as error:
        raise StoreError(f"{directory / 'model.json'}: invalid model config: {error}") from None
    model = model_from_config(config)
    state = load_file(str(directory / "model.safetensors"), device=str(device))
    for key in ("input_low", "input_high"):  # models saved before training ranges were recorded
        state.setdefault(key, getattr(model, key).to(device))
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise StoreError(
            f"{directory / 'model.safetensors'}: weights do not fit the config: {error}"
        ) from None
    return model.to(device).eval()

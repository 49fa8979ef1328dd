"""Resumable checkpoints: one directory per saved step, written atomically.

``checkpoints/step-00001000/`` holds ``model.safetensors`` + ``model.json`` (the model, loadable alone),
``training_state.pt`` (optimizer, scheduler, grad scaler, every RNG, loop counters; plain tensors and
containers, loaded with ``torch.load(weights_only=True)``) and ``meta.json`` (step, metric, versions).
Each is written into a hidden temporary directory, fsynced and renamed into place, so a kill at any moment
leaves every visible checkpoint complete. Kept: the latest step (for resume) and the ``save_top_k`` best by
validation metric; the rest are pruned after each save.
"""

from __future__ import annotations

import json
import platform
import random
import shutil
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import torch

from learnsim.durable import TEMPORARY_PREFIX, publish_directory, read_json, staging_directory
from learnsim.errors import FileCorruptError
from learnsim.models.files import write_model


def library_versions() -> dict[str, str]:
    try:
        learnsim_version = version("learnsim")
    except PackageNotFoundError:  # running from a source tree that was never installed
        learnsim_version = "unknown"
    return {
        "learnsim": learnsim_version,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def rng_state(generator: torch.Generator) -> dict:
    """Every random stream a training step can touch, as weights_only-loadable values."""
    np_state = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "sampler": generator.get_state(),
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *map(_plain, np_state[2:])],
        "python": _to_lists(random.getstate()),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict, generator: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    generator.set_state(state["sampler"])
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    directory: Path, step: int, model, training_state: dict, meta: dict, keep_top_k: int
) -> Path:
    directory = Path(directory)
    final = directory / f"step-{step:08d}"
    with staging_directory(directory) as tmp:
        write_model(model, tmp)
        torch.save(training_state, tmp / "training_state.pt")
        (tmp / "meta.json").write_text(
            json.dumps({"step": step, **meta, "versions": library_versions()}, indent=2)
        )
        # re-saving a step happens only after a resume that replays it: the new one replaces it whole
        publish_directory(tmp, final, replace=True)
    prune(directory, keep_top_k)
    return final


def checkpoints(directory: Path) -> list[tuple[Path, dict]]:
    """Complete checkpoints (path, meta), oldest step first."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = []
    for path in directory.glob("step-*"):
        if (path / "meta.json").is_file():
            meta = read_json(path / "meta.json", "checkpoint metadata")
            if not isinstance(meta.get("step"), int):
                raise FileCorruptError(f"{path / 'meta.json'}: no integer 'step'")
            found.append((path, meta))
    return sorted(found, key=lambda item: item[1]["step"])


def best_checkpoints(directory: Path, k: int) -> list[tuple[Path, dict]]:
    scored = [(p, m) for p, m in checkpoints(directory) if m.get("metric") is not None]
    return sorted(scored, key=lambda item: (item[1]["metric"], item[1]["step"]))[:k]


def prune(directory: Path, keep_top_k: int) -> None:
    found = checkpoints(directory)
    keep = {p for p, _ in best_checkpoints(directory, keep_top_k)}
    if found:
        keep.add(found[-1][0])
    for path, _ in found:
        if path not in keep:
            shutil.rmtree(path, ignore_errors=True)
    for stale in Path(directory).glob(f"{TEMPORARY_PREFIX}*"):  # from a process killed mid-save
        shutil.rmtree(stale, ignore_errors=True)


def load_training_state(path: Path) -> dict:
    file = Path(path) / "training_state.pt"
    try:  # weights_only: plain tensors and containers; a pickle that would run code is refused
        return torch.load(file, weights_only=True, map_location="cpu")
    except Exception as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise FileCorruptError(
            f"{file}: unreadable training state ({first[:200]}); delete this checkpoint to resume "
            "from the previous one"
        ) from None


def _plain(value):
    return value.item() if hasattr(value, "item") else value


def _to_lists(value):
    return [_to_lists(v) for v in value] if isinstance(value, tuple | list) else value

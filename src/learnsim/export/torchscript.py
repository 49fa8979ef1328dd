"""TorchScript export: the step (and, with a horizon, the unrolled rollout) traced into a ``.pt`` module that
libtorch loads from C++ (``torch::jit::load``) with no Python; the feature metadata rides along as the
extra file ``learnsim.json``."""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path

import torch

from learnsim.durable import write_bytes
from learnsim.export.onnx import metadata
from learnsim.export.step import ExportRollout, ExportStep, example_inputs


def export_torchscript(model, path: str | Path, horizon: int | None = None) -> list[Path]:
    """Write ``path`` (the step) and, when ``horizon`` is given, ``<stem>.rollout<H>.pt``."""
    path = Path(path)
    model = model.cpu().eval()
    written = [_trace(ExportStep(model), model, path, None)]
    if horizon:
        written.append(
            _trace(
                ExportRollout(model, horizon),
                model,
                path.with_name(f"{path.stem}.rollout{horizon}.pt"),
                horizon,
            )
        )
    return written


def _trace(module, model, path: Path, horizon: int | None) -> Path:
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # torch.jit's deprecation notice; tracing is what libtorch loads
        traced = torch.jit.trace(
            module.eval(), example_inputs(model, batch=2, horizon=horizon), check_trace=False
        )
        buffer = io.BytesIO()
        extra = {"learnsim.json": json.dumps(metadata(model, horizon))}
        torch.jit.save(traced, buffer, _extra_files=extra)
    return write_bytes(path, buffer.getvalue())


def load_torchscript(path: str | Path):
    """The traced module (``torch.jit.load``: TorchScript code is learnsim's own trace, not arbitrary pickles)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.jit.load(str(path), map_location="cpu")

"""ONNX export: the step graph (and, with a horizon, an unrolled rollout graph) with named inputs and outputs,
a dynamic batch dimension, and the feature metadata in ``metadata_props`` (JSON values), so a runtime with no
learnsim can drive it. ``onnx`` is needed (the ``export`` extra); ``onnxruntime`` only to run the files.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch

from learnsim.durable import write_bytes
from learnsim.export.step import ExportRollout, ExportStep, example_inputs, io_names

OPSET = 17


def metadata(model, horizon: int | None = None) -> dict[str, str]:
    """What a runtime needs to build the inputs and read the outputs, as string values (JSON)."""
    schema = model.schema
    features = [
        {
            "name": f.name,
            "kind": f.kind,
            "parent": f.parent,
            "relation": f.relation,
            "angle": schema.is_angle(f.name),
            "integration": f.integration,
        }
        for f in [*schema.inputs, *schema.outputs]
    ]
    return {
        "learnsim.format": "learnsim-step-1",
        "learnsim.dt": json.dumps(model.config.dt),
        "learnsim.sequence_length": json.dumps(model.config.sequence_length),
        "learnsim.inputs": json.dumps([f.name for f in schema.inputs]),
        "learnsim.external_inputs": json.dumps([f.name for f in schema.inputs if f.parent is None]),
        "learnsim.outputs": json.dumps([f.name for f in schema.outputs]),
        "learnsim.derived_outputs": json.dumps([f.name for f in schema.derived_outputs]),
        "learnsim.features": json.dumps(features),
        "learnsim.family": model.config.type,
        "learnsim.horizon": json.dumps(horizon),
    }


def export_onnx(model, path: str | Path, horizon: int | None = None) -> list[Path]:
    """Write ``path`` (the step graph) and, when ``horizon`` is given, ``<stem>.rollout<H>.onnx``."""
    path = Path(path)
    model = model.cpu().eval()
    written = [_export(ExportStep(model), model, path, None)]
    if horizon:
        rollout_path = path.with_name(f"{path.stem}.rollout{horizon}.onnx")
        written.append(_export(ExportRollout(model, horizon), model, rollout_path, horizon))
    return written


def _export(module, model, path: Path, horizon: int | None) -> Path:
    import io

    import onnx

    inputs, outputs = io_names(model, rollout=horizon is not None)
    args = example_inputs(model, batch=2, horizon=horizon)
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript-based exporter's deprecation and tracer notes
        torch.onnx.export(
            module,
            args,
            buffer,
            input_names=inputs,
            output_names=outputs,
            dynamic_axes={name: {0: "batch"} for name in [*inputs, *outputs]},
            opset_version=OPSET,
            dynamo=False,
        )
    graph = onnx.load_from_string(buffer.getvalue())
    for key, value in metadata(model, horizon).items():
        graph.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(graph)
    return write_bytes(path, graph.SerializeToString())

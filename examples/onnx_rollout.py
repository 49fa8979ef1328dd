"""Free-run a learnsim model exported to ONNX, with onnxruntime and numpy only (no learnsim, no torch).

    learnsim export MODEL --format onnx -o model.onnx
    python examples/onnx_rollout.py model.onnx [--horizon 200] [--batch 4]

The step graph takes the history window of every input (B, L, n_inputs), the derived outputs' last values
(B, n_derived; only when the model has derived outputs) and the new row's external inputs (B, n_external),
and returns the outputs (B, n_outputs), the next window and the next derived values. The feature names and
their order, dt and L are in the model's metadata. Here the history starts at zero and the external inputs
are a sine per input: put your own recorded history and control signals in their place.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import onnxruntime as ort


def load(path: str):
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    info = {
        key.removeprefix("learnsim."): json.loads(value)
        for key, value in meta.items()
        if key != "learnsim.family" and key != "learnsim.format"
    }
    return session, info


def rollout(session, info: dict, window: np.ndarray, external: np.ndarray, derived: np.ndarray | None = None):
    """window (B, L, n_inputs), external (B, H, n_external) -> outputs (B, H, n_outputs)."""
    feeds = {"window": window.astype(np.float32)}
    if info["derived_outputs"]:
        feeds["derived"] = (
            derived if derived is not None else np.zeros((window.shape[0], len(info["derived_outputs"])))
        ).astype(np.float32)
    outputs = []
    for k in range(external.shape[1]):
        result = session.run(None, feeds | {"external": external[:, k].astype(np.float32)})
        outputs.append(result[0])
        feeds["window"] = result[1]
        if info["derived_outputs"]:
            feeds["derived"] = result[2]
    return np.stack(outputs, axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--horizon", type=int, default=200)
    parser.add_argument("--batch", type=int, default=4)
    args = parser.parse_args()
    session, info = load(args.model)
    L, n_in, n_ext = info["sequence_length"], len(info["inputs"]), len(info["external_inputs"])
    t = np.arange(args.horizon) * info["dt"]
    external = np.stack([np.sin(2 * np.pi * (0.5 + i) * t) for i in range(n_ext)], axis=-1)
    external = np.broadcast_to(external, (args.batch, args.horizon, n_ext))
    outputs = rollout(session, info, np.zeros((args.batch, L, n_in)), external)
    print(f"simulated {args.batch} x {args.horizon} steps of {', '.join(info['outputs'])}")
    for name, last in zip(info["outputs"], outputs[0, -1], strict=True):
        print(f"  {name} at t={t[-1]:.3f} s: {last:.6g}")


if __name__ == "__main__":
    main()

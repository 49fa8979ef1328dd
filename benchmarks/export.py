"""Exported simulators: rollout throughput of learnsim's ``simulate()`` against onnxruntime (the step graph
driven from Python, and the unrolled rollout graph) and TorchScript (step loop, rollout module), at batch 1
and 1024; bundle size against the weights alone; export times; the largest difference from ``simulate()``.

Model: the Onyx Engine example (MLP 3x64, sequence length 8, acceleration predicted, velocity and position
integrated). Horizon 200. One process, 2 threads for torch and for onnxruntime.

    python benchmarks/export.py [--horizon 200]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))


def best_of(fn, repeats: int = 3) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    import onnxruntime as ort
    from helpers import onyx_config

    from learnsim.export.onnx import export_onnx
    from learnsim.export.torchscript import export_torchscript, load_torchscript
    from learnsim.models import model_from_config
    from learnsim.models.bundle import write_bundle

    parser = argparse.ArgumentParser()
    parser.add_argument("--horizon", type=int, default=200)
    H = parser.parse_args().horizon
    torch.set_num_threads(2)
    torch.manual_seed(0)
    model = model_from_config(onyx_config()).eval()
    with torch.no_grad():
        for name, p in model.network.named_parameters():
            p.mul_(0.0 if name.endswith("bias") else 0.1)
    tmp = Path(tempfile.mkdtemp())
    start = time.perf_counter()
    onnx_step, onnx_whole = export_onnx(model, tmp / "m.onnx", horizon=H)
    onnx_time = time.perf_counter() - start
    start = time.perf_counter()
    ts_step, ts_whole = export_torchscript(model, tmp / "m.pt", horizon=H)
    ts_time = time.perf_counter() - start
    start = time.perf_counter()
    bundle = write_bundle(model, tmp / "m.lsim", {"name": "onyx"})
    bundle_time = time.perf_counter() - start
    weights = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    print(
        f"export: onnx step + rollout({H}) {onnx_time:.2f} s, torchscript {ts_time:.2f} s, bundle {bundle_time * 1000:.0f} ms"
    )
    print(
        f"sizes: bundle {bundle.stat().st_size:,} B, weights alone {weights:,} B "
        f"({bundle.stat().st_size / weights:.2f}x); onnx step {onnx_step.stat().st_size:,} B, "
        f"onnx rollout {onnx_whole.stat().st_size:,} B; torchscript step {ts_step.stat().st_size:,} B"
    )
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    step = ort.InferenceSession(str(onnx_step), options, providers=["CPUExecutionProvider"])
    whole = ort.InferenceSession(str(onnx_whole), options, providers=["CPUExecutionProvider"])
    ts_step_module, ts_whole_module = load_torchscript(ts_step), load_torchscript(ts_whole)
    print(f"{'batch':>6s} {'runner':34s} {'steps*B/s':>12s} {'vs simulate':>12s} {'max |diff|':>11s}")
    for B in (1, 1024):
        measure(B, model, step, whole, ts_step_module, ts_whole_module, H)


def measure(B: int, model, step, whole, ts_step_module, ts_whole_module, H: int) -> None:
    """One batch size: every runner's throughput and its largest difference from simulate()."""
    from learnsim.simulate import simulate

    L = model.config.sequence_length
    window = torch.rand(B, L, 3) - 0.5
    external = torch.rand(B, H, 1) - 0.5
    x0 = {"velocity": window[..., 0:1], "position": window[..., 1:2]}
    drive = {"control_input": torch.cat([window[..., 2:3], external], 1)}

    def run_simulate():
        return simulate(model, x0, drive, horizon=H)

    reference = run_simulate().outputs["acceleration_prediction"][:, :, 0].numpy()

    def run_ort_step():
        w, out = window.numpy(), []
        for k in range(H):
            y, w = step.run(None, {"window": w, "external": external[:, k].numpy()})
            out.append(y)
        return np.stack(out, 1)

    def run_ort_whole():
        return whole.run(None, {"window": window.numpy(), "external": external.numpy()})[0]

    def run_ts_step():
        with torch.no_grad():
            w, out = window, []
            for k in range(H):
                y, w = ts_step_module(w, external[:, k])
                out.append(y)
            return torch.stack(out, 1).numpy()

    def run_ts_whole():
        with torch.no_grad():
            return ts_whole_module(window, external)[0].numpy()

    base = best_of(run_simulate)
    print(f"{B:6d} {'learnsim simulate()':34s} {B * H / base:12,.0f} {1.0:12.2f} {'-':>11s}")
    for label, fn in (
        ("onnxruntime step graph, Python loop", run_ort_step),
        (f"onnxruntime rollout graph (H={H})", run_ort_whole),
        ("TorchScript step, Python loop", run_ts_step),
        (f"TorchScript rollout (H={H})", run_ts_whole),
    ):
        seconds = best_of(fn)
        diff = np.abs(fn()[..., 0] - reference).max()
        print(f"{B:6d} {label:34s} {B * H / seconds:12,.0f} {base / seconds:12.2f} {diff:11.2e}")


if __name__ == "__main__":
    main()

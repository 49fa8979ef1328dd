"""Rollout throughput of ``simulate()`` against a bare loop of model forwards on a sliding window, and
against the Onyx Engine's own ``simulate`` when its package is importable (``pip install onyxengine``; it
runs locally, no account needed).

The bare loop is what a hand-written rollout pays at the least: it calls the same model's forward on a
window sliced from a preallocated tensor and does no state update. ``simulate()`` is timed with captured
steps (the default) and without (``LEARNSIM_CAPTURE=0`` behaviour). The Onyx model is its own MLP for the
same config (3x64, relu as in Onyx's example; it adds LayerNorm per layer), ours the default (silu, linear
skip). ``compile=True`` runs the step through torch.compile (its one-off compile time printed apart).
Targets: simulate() >= 0.95x the bare loop and >= 2x Onyx, at batch 1 and 1024, 1000 steps.

    python benchmarks/simulate.py [--horizon 1000] [--repeats 5] [--device cpu]
"""

from __future__ import annotations

import argparse
import time

import torch

from learnsim import Input, MLPConfig, Output, capture, model_from_config


def onyx_example_model(device: str):
    config = MLPConfig(
        outputs=[Output("acceleration_prediction", dataset_feature="acceleration")],
        inputs=[
            Input("velocity", parent="acceleration_prediction", relation="derivative"),
            Input("position", parent="velocity", relation="derivative"),
            Input("control_input"),
        ],
        dt=0.01,
        sequence_length=8,
        hidden_layers=3,
        hidden_size=64,
    )
    return model_from_config(config).to(device).eval()


def bare_loop(model, batch: int, horizon: int, device: str) -> None:
    L = model.config.sequence_length
    buffer = torch.randn(batch, L + horizon, 3, device=device)
    for k in range(horizon):
        model(buffer[:, k : k + L])


def simulate_loop(model, batch: int, horizon: int, device: str, compile: bool = False) -> None:
    L = model.config.sequence_length
    model.simulate(
        {
            "velocity": torch.zeros(batch, L, 1, device=device),
            "position": torch.zeros(batch, L, 1, device=device),
        },
        {"control_input": torch.randn(batch, L + horizon, 1, device=device)},
        compile=compile,
    )


def compiled_simulate_loop(model, batch: int, horizon: int, device: str) -> None:
    simulate_loop(model, batch, horizon, device, compile=True)


def onyx_simulator(device: str):
    """The Onyx Engine's MLP for the example config, or None when ``onyxengine`` is not importable."""
    try:
        from onyxengine.modeling import Input as OnyxInput
        from onyxengine.modeling import Output as OnyxOutput
        from onyxengine.modeling.models.mlp import MLP
        from onyxengine.modeling.models.mlp import MLPConfig as OnyxMLPConfig
    except ImportError:
        return None
    config = OnyxMLPConfig(
        outputs=[OnyxOutput(name="acceleration_prediction")],
        inputs=[
            OnyxInput(name="velocity", parent="acceleration_prediction", relation="derivative"),
            OnyxInput(name="position", parent="velocity", relation="derivative"),
            OnyxInput(name="control_input"),
        ],
        dt=0.01,
        sequence_length=8,
        hidden_layers=3,
        hidden_size=64,
        activation="relu",
    )
    return MLP(config).to(device).eval()


def onyx_loop(model, batch: int, horizon: int, device: str) -> None:
    model.simulate(
        {
            "velocity": torch.zeros(batch, 8, 1, device=device),
            "position": torch.zeros(batch, 8, 1, device=device),
        },
        {"control_input": torch.randn(batch, 8 + horizon, 1, device=device)},
    )


def eager_simulate_loop(model, batch: int, horizon: int, device: str) -> None:
    capture.set_capture(False)
    try:
        simulate_loop(model, batch, horizon, device)
    finally:
        capture.set_capture(True)


def best_time(fn, args: tuple, repeats: int, device: str) -> float:
    times = []
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn(*args)
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--horizon", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    model = onyx_example_model(args.device)
    onyx = onyx_simulator(args.device)
    print(f"device={args.device} threads={torch.get_num_threads()} horizon={args.horizon}")
    print("steps*B/s, best of each; ratios are simulate() (captured) over the others")
    print(
        f"{'batch':>6} {'bare':>12} {'simulate':>12} {'uncaptured':>12} {'Onyx':>12} "
        f"{'vs bare':>8} {'vs uncaptured':>14} {'vs Onyx':>8} {'compile=True':>13} {'vs Onyx':>8}"
    )
    runners = {"bare": (bare_loop, model), "simulate": (simulate_loop, model)}
    runners["uncaptured"] = (eager_simulate_loop, model)
    runners["compiled"] = (compiled_simulate_loop, model)
    if onyx is not None:
        runners["Onyx"] = (onyx_loop, onyx)
    with torch.no_grad():
        for batch in (1, 1024):
            best, compile_seconds = {}, None
            for _ in range(2):  # two interleaved rounds: a slow spell of the machine hits every runner
                for name, (fn, m) in runners.items():
                    began = time.perf_counter()
                    fn(m, batch, 100, args.device)  # warm-up (and the capture, cached per shape)
                    if name == "compiled" and compile_seconds is None:
                        compile_seconds = time.perf_counter() - began
                    took = best_time(fn, (m, batch, args.horizon, args.device), args.repeats, args.device)
                    best[name] = min(best.get(name, took), took)
            rate = {name: args.horizon * batch / t for name, t in best.items()}
            onyx_rate = f"{rate['Onyx']:>12,.0f}" if "Onyx" in rate else f"{'-':>12}"
            vs_onyx = f"{rate['simulate'] / rate['Onyx']:>8.2f}" if "Onyx" in rate else f"{'-':>8}"
            compiled_vs_onyx = f"{rate['compiled'] / rate['Onyx']:>8.2f}" if "Onyx" in rate else f"{'-':>8}"
            print(
                f"{batch:>6} {rate['bare']:>12,.0f} {rate['simulate']:>12,.0f} {rate['uncaptured']:>12,.0f} "
                f"{onyx_rate} {rate['simulate'] / rate['bare']:>8.2f} "
                f"{rate['simulate'] / rate['uncaptured']:>14.2f} {vs_onyx} {rate['compiled']:>13,.0f} "
                f"{compiled_vs_onyx}   (compiling took {compile_seconds:.1f} s)"
            )


if __name__ == "__main__":
    main()

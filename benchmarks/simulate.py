"""Rollout throughput of ``simulate()`` against a bare loop of model forwards on a sliding window.

The bare loop is the floor any rollout implementation pays: it calls the same model's forward on a window
sliced from a preallocated tensor and does no state update. Target: simulate() >= 0.8x the bare loop, at
batch 1 and batch 1024, for the Onyx example MLP (3 inputs, sequence_length 8, 3x64), 1000 steps.

    python benchmarks/simulate.py [--horizon 1000] [--repeats 5] [--device cpu]
"""

from __future__ import annotations

import argparse
import time

import torch

from learnsim import Input, MLPConfig, Output, model_from_config


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


def simulate_loop(model, batch: int, horizon: int, device: str) -> None:
    L = model.config.sequence_length
    model.simulate(
        {
            "velocity": torch.zeros(batch, L, 1, device=device),
            "position": torch.zeros(batch, L, 1, device=device),
        },
        {"control_input": torch.randn(batch, L + horizon, 1, device=device)},
    )


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
    print(f"device={args.device} threads={torch.get_num_threads()} horizon={args.horizon}")
    print(f"{'batch':>6} {'bare (steps*B/s)':>18} {'simulate (steps*B/s)':>22} {'ratio':>7}")
    with torch.no_grad():
        for batch in (1, 1024):
            bare_loop(model, batch, 50, args.device)  # warm-up
            simulate_loop(model, batch, 50, args.device)
            t_bare = best_time(
                bare_loop, (model, batch, args.horizon, args.device), args.repeats, args.device
            )
            t_sim = best_time(
                simulate_loop, (model, batch, args.horizon, args.device), args.repeats, args.device
            )
            rate_bare = args.horizon * batch / t_bare
            rate_sim = args.horizon * batch / t_sim
            print(f"{batch:>6} {rate_bare:>18,.0f} {rate_sim:>22,.0f} {rate_sim / rate_bare:>7.2f}")


if __name__ == "__main__":
    main()

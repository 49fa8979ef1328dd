"""Rollout-training throughput (samples x steps / s) at horizons 1, 8, 32 against the one-step trainer.

All runs use learnsim's real ``train()`` on the Onyx example MLP and the example oscillator, in one process.
The rollout runs fix the curriculum at one horizon and 128 sequences per step; the one-step run uses batch
1024. A rollout step's cost should grow linearly with the horizon, i.e. samples x steps / s stay roughly
flat as the horizon grows.

    python benchmarks/rollout_training.py [--iters 100]
"""

from __future__ import annotations

import argparse
import os
import tempfile

import torch

from learnsim import MLPConfig, example_dataset, example_features
from learnsim.store.datasets import save_dataset
from learnsim.train import RunConfig, TrainingConfig, train


def rate(model, steps: int, rollout: dict | None) -> float:
    training = TrainingConfig(
        training_iters=steps,
        train_batch_size=1024,
        eval_every=steps,
        save_every=steps,
        log_every=steps,
        eval_max_windows=1024,
        eval_horizon=50,
        trackers=[],
        rollout=rollout,
    )
    with tempfile.TemporaryDirectory() as tmp:
        result = train(
            RunConfig(dataset="bench", model=model, training=training), f"{tmp}/run", monitor=False
        ).wait()  # its plots must not overlap the next run
    return result.report["train_sample_steps_per_second"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--iters", type=int, default=100)
    args = parser.parse_args()
    os.environ.setdefault("LEARNSIM_HOME", tempfile.mkdtemp(prefix="learnsim-bench-"))
    dataset = example_dataset("oscillator")
    save_dataset("bench", dataset)
    model = MLPConfig(
        **example_features("oscillator"), dt=dataset.dt, sequence_length=8, hidden_layers=3, hidden_size=64
    )
    one_step = rate(model, args.iters, None)
    print(f"threads={torch.get_num_threads()} iters={args.iters}")
    print(f"{'trainer':<28} {'samples*steps/s':>16} {'ms/step':>9} {'vs one-step':>12}")
    print(f"{'one-step, batch 1024':<28} {one_step:>16,.0f} {1024 / one_step * 1e3:>9.2f} {1.0:>12.2f}")
    for horizon in (1, 8, 32):
        rollout = {"horizons": [horizon], "start_iters": [0], "batch_size": 128}
        ours = rate(model, args.iters, rollout)
        ms = 128 * horizon / ours * 1e3
        print(
            f"{f'rollout H={horizon}, 128 sequences':<28} {ours:>16,.0f} {ms:>9.2f} {ours / one_step:>12.2f}"
        )


if __name__ == "__main__":
    main()

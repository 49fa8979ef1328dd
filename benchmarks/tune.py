"""Tuning: a 20-trial search on the built-in oscillator with 1 and 2 workers, with and without pruning, and
the per-trial overhead of the tuning machinery.

For each setting: wall time, trials pruned, best validation value. Overhead: five completed trials are
trained again alone with ``train()`` on their own resolved run config; the tuning machinery's cost is the
trials' total wall time (Optuna's start to complete) over the plain runs' total. Target <= 1.05.
Each run has its own ``LEARNSIM_HOME`` (a fresh SQLite study). Workers get 1 torch thread each; the
1-worker run uses 1 thread too, so that the rows compare.

    python benchmarks/tune.py [--trials 20] [--iters 300]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch


def search(trials: int, iters: int, pruner: str) -> dict:
    from learnsim.data.examples import example_features

    features = {
        k: [f.model_dump(exclude_defaults=True) for f in v] for k, v in example_features("oscillator").items()
    }
    return {
        "dataset": "osc",
        "model_name": "osc_tuned",
        "optimization": {
            "num_trials": trials,
            "training_iters": iters,
            "train_batch_size": 256,
            "checkpoint_type": "single_step",
            "pruner": pruner,
            "opt_models": [
                {
                    **features,
                    "sequence_length": 8,
                    "hidden_layers": {"range": [1, 3]},
                    "hidden_size": {"select": [16, 32, 64]},
                    "activation": {"select": ["relu", "silu", "tanh"]},
                }
            ],
            "opt_optimizers": [{"lr": {"range": [1e-4, 3e-2], "log": True}}],
            "opt_lr_schedulers": [None],
            "training": {"eval_every": iters // 6, "trackers": [], "rollout": None},
        },
    }


def run(trials: int, iters: int, workers: int, pruner: str) -> dict:
    from learnsim.data.examples import example_dataset
    from learnsim.store.datasets import save_dataset
    from learnsim.tune.config import load_search_config
    from learnsim.tune.optimize import optimize

    os.environ["LEARNSIM_HOME"] = tempfile.mkdtemp(prefix="learnsim-tune-")
    save_dataset("osc", example_dataset("oscillator"))
    start = time.perf_counter()
    result = optimize(load_search_config(data=search(trials, iters, pruner)), workers=workers, monitor=False)
    wall = time.perf_counter() - start
    rows = [r for r in result.trials if r["counts"]]
    pruned = sum(r["state"] == "pruned" for r in rows)
    busy = sum(r["duration_s"] or 0.0 for r in rows)  # seconds inside trials, summed over workers
    return {"wall": wall, "pruned": pruned, "n": len(rows), "best": result.best_value, "rows": rows, "busy": busy}


def overhead(rows: list[dict], count: int = 5) -> tuple[float, float]:
    """(trials' seconds, the same configs trained alone with train(), seconds)."""
    from learnsim.train import load_run_config, train

    complete = [r for r in rows if r["state"] == "complete"][:count]
    tuned = sum(r["duration_s"] for r in complete)
    alone = 0.0
    for row in complete:
        config = load_run_config(Path(row["run_dir"]) / "config.yaml")
        start = time.perf_counter()
        train(config, Path(tempfile.mkdtemp()) / "run", monitor=False).wait()  # as a trial does
        alone += time.perf_counter() - start
    return tuned, alone


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--iters", type=int, default=300)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(
        f"{args.trials}-trial search, {args.iters} steps per trial, {os.cpu_count()} CPUs, 1 thread per worker"
    )
    print(f"{'setting':34s} {'wall s':>8s} {'in trials s':>12s} {'pruned':>7s} {'best':>9s}")
    results = {}
    for label, workers, pruner in (
        ("1 worker, median pruner", 1, "median"),
        ("2 workers, median pruner", 2, "median"),
        ("1 worker, no pruning", 1, "none"),
    ):
        results[label] = r = run(args.trials, args.iters, workers, pruner)
        print(f"{label:34s} {r['wall']:8.1f} {r['busy']:12.1f} {r['pruned']:4d}/{r['n']:<2d} {r['best']:9.4g}")
    pruned, full = results["1 worker, median pruner"], results["1 worker, no pruning"]
    two = results["2 workers, median pruner"]
    print(f"pruning saves {1 - pruned['wall'] / full['wall']:.0%} of the wall time (1 worker)")
    print(f"2 workers vs 1: {pruned['wall'] / two['wall']:.2f}x faster")
    tuned, alone = overhead(full["rows"])
    print(
        f"per-trial overhead: 5 trials {tuned:.2f} s in the study vs {alone:.2f} s as plain train() "
        f"runs: {tuned / alone:.3f}x (target <= 1.05)"
    )


if __name__ == "__main__":
    main()

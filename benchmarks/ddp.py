"""Data-parallel scaling: training samples/s of `learnsim train` under torchrun with 1 and 2 CPU ranks
(gloo, 1 thread each, the same global batch of 1024), for the Onyx example MLP and a small Transformer.
For context, one process with as many threads as ranks is measured too.

Each configuration runs as its own job, one after the other; the figure is the report's
``train_sample_steps_per_second`` (training steps only, all ranks together), best of ``--repeats``.

    python benchmarks/ddp.py [--iters 300] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from learnsim import example_dataset, example_features
from learnsim.store.datasets import save_dataset

MODELS = {
    "MLP 3x64 (Onyx example)": {"type": "mlp", "hidden_layers": 3, "hidden_size": 64},
    "Transformer 2x4x64": {"type": "transformer", "n_layer": 2, "n_head": 4, "n_embd": 64},
}


def config(model: dict, iters: int) -> dict:
    features = json.loads(json.dumps(example_features("oscillator"), default=lambda f: f.model_dump()))
    return {
        "dataset": "bench",
        "model": {**model, **features, "dt": 0.01, "sequence_length": 8},
        "training": {
            "training_iters": iters,
            "train_batch_size": 1024,
            "rollout": None,
            "checkpoint_type": "single_step",
            "eval_every": iters,
            "save_every": iters,
            "log_every": iters,
            "trackers": [],
        },
    }


def rate(config_path: Path, ranks: int, threads: int, workdir: Path) -> float:
    run_dir = Path(tempfile.mkdtemp(dir=workdir)) / "run"
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    env.pop("WORLD_SIZE", None)
    launch = (
        [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={ranks}"]
        if ranks > 1
        else [sys.executable]
    )
    command = [*launch, "-m", "learnsim", "train", str(config_path), "--run-dir", str(run_dir), "--quiet"]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-4000:]}")
    return json.loads((run_dir / "report.json").read_text())["train_sample_steps_per_second"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iters", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="learnsim-ddp-"))
    os.environ["LEARNSIM_HOME"] = str(workdir / "home")
    save_dataset("bench", example_dataset("oscillator"))
    print(f"{os.cpu_count()} cores, global batch 1024, {args.iters} steps, best of {args.repeats}; samples/s")
    print(f"{'model':<26} {'1 rank x1':>11} {'2 ranks x1':>11} {'scaling':>8} {'1 proc x2 threads':>18}")
    for label, model in MODELS.items():
        path = workdir / f"{model['type']}.yaml"
        path.write_text(yaml.safe_dump(config(model, args.iters)))
        one, two, threads = [], [], []
        for _ in range(args.repeats):
            one.append(rate(path, 1, 1, workdir))
            two.append(rate(path, 2, 1, workdir))
            threads.append(rate(path, 1, 2, workdir))
        o, t, h = max(one), max(two), max(threads)
        print(f"{label:<26} {o:>11,.0f} {t:>11,.0f} {t / o:>7.2f}x {h:>18,.0f}")
    print("scaling = 2 ranks / 1 rank, 1 thread per rank (ideal on 2 free cores: 2.0x)")


if __name__ == "__main__":
    main()

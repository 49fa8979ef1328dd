"""Datasets larger than memory: peak RSS and training samples/s of `learnsim train` (Onyx example MLP,
batch 1024) on a 10-million-step dataset against a 100k-step one.

Both datasets are the mass-spring-damper of the Onyx example driven by random steps, in 1,000-step episodes,
generated here in numpy and imported from Parquet with `learnsim data import` (streamed in chunks). Each
training run is a fresh process; its peak RSS (ru_maxrss) is compared with the dataset's size on disk.
ru_maxrss counts the resident pages of memory-mapped files too, which the kernel can drop and read again when
memory is short, so the peak of the process's anonymous memory (RssAnon in /proc, sampled every 20 ms) is
printed beside it: what the process really holds.
Targets: peak RSS <= 1.5 x on-disk size + 0.5 GB at 10M steps; samples/s within 10% of the 100k run.

    python benchmarks/scale.py [--rows 10000000] [--iters 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import yaml

EPISODE = 1000
DT = 0.01


def write_parquet(path: Path, rows: int, seed: int = 0) -> None:
    """The Onyx oscillator (a = u - 2*zeta*w*v - w^2*x) under random step inputs, written one row group of
    episodes at a time so that generating 10M rows needs little memory."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    w, zeta = 2 * np.pi * 1.5, 0.1
    writer = None
    per_group = 100  # episodes per row group
    for first in range(0, rows // EPISODE, per_group):
        n = min(per_group, rows // EPISODE - first)
        u = np.repeat(rng.uniform(-1, 1, (n, EPISODE // 50)), 50, axis=1)  # (n, EPISODE) steps held 50 rows
        x, v = np.zeros((n, EPISODE)), np.zeros((n, EPISODE))
        a = np.zeros((n, EPISODE))
        for t in range(EPISODE):
            a[:, t] = u[:, t] - 2 * zeta * w * v[:, t] - w**2 * x[:, t]
            if t + 1 < EPISODE:
                v[:, t + 1] = v[:, t] + DT * a[:, t]
                x[:, t + 1] = x[:, t] + DT * v[:, t + 1]
        episode = np.repeat(np.arange(first, first + n), EPISODE)
        table = pa.table(
            {
                "episode": episode,
                "acceleration": a.ravel(),
                "velocity": v.ravel(),
                "position": x.ravel(),
                "control_input": u.ravel(),
            }
        )
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    writer.close()


CONFIG = {
    "model": {
        "type": "mlp",
        "hidden_layers": 3,
        "hidden_size": 64,
        "dt": DT,
        "sequence_length": 8,
        "outputs": [{"name": "acceleration_prediction", "dataset_feature": "acceleration"}],
        "inputs": [
            {"name": "velocity", "parent": "acceleration_prediction", "relation": "derivative"},
            {"name": "position", "parent": "velocity", "relation": "derivative"},
            {"name": "control_input"},
        ],
    },
    "training": {
        "train_batch_size": 1024,
        "rollout": None,
        "checkpoint_type": "single_step",
        "trackers": [],
        "eval_max_windows": 4096,
    },
}

# Runs a command and prints its peak anonymous RSS (sampled; 0 without /proc) and its peak RSS, in bytes.
MEASURE = """
import resource, subprocess, sys, tempfile, time
with tempfile.TemporaryFile() as err:
    child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=err)
    anon = 0
    while child.poll() is None:
        try:
            with open(f"/proc/{child.pid}/status") as status:
                kb = next((int(line.split()[1]) for line in status if line.startswith("RssAnon:")), 0)
            anon = max(anon, kb * 1024)
        except OSError:
            pass
        time.sleep(0.02)
    if child.returncode:
        err.seek(0)
        sys.exit(err.read().decode())
print(anon, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)
"""


def cli(*args) -> list[str]:
    return [sys.executable, "-m", "learnsim", *args]


def measure(name: str, rows: int, iters: int, work: Path, env: dict) -> dict:
    source = work / f"{name}.parquet"
    write_parquet(source, rows)
    imported = subprocess.run(
        [sys.executable, "-c", MEASURE, *cli("data", "import", str(source), "--name", name, "--dt", str(DT),
                                             "--episode-column", "episode")],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    source.unlink()
    store = Path(env["LEARNSIM_HOME"]) / "datasets" / name
    disk = sum(p.stat().st_size for p in store.rglob("*") if p.is_file())
    config = CONFIG | {"dataset": name}
    config["training"] = CONFIG["training"] | {
        "training_iters": iters,
        "eval_every": iters,
        "save_every": iters,
        "log_every": iters,
    }
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    run_dir = work / f"run-{name}"
    trained = subprocess.run(
        [sys.executable, "-c", MEASURE, *cli("train", str(path), "--run-dir", str(run_dir), "--quiet")],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    report = json.loads((run_dir / "report.json").read_text())
    return {
        "rows": rows,
        "disk": disk,
        "import_rss": int(imported.stdout.split()[-1]),
        "train_rss": int(trained.stdout.split()[-1]),
        "train_anon": int(trained.stdout.split()[-2]),
        "rate": report["train_sample_steps_per_second"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    # 2000 steps: 300 (about 0.4 s of training) gave ratios from 0.69x to 1.09x between runs
    parser.add_argument("--iters", type=int, default=2000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="learnsim-scale-"))
    env = {**os.environ, "LEARNSIM_HOME": str(work / "home")}
    small = measure("small", 100_000, args.iters, work, env)
    large = measure("large", args.rows, args.iters, work, env)
    gb = 2**30
    print(
        f"{'dataset':<10} {'rows':>12} {'on disk':>9} {'import RSS':>11} {'train RSS':>10} {'anon':>7} {'limit':>8} "
        f"{'samples/s':>11}"
    )
    for name, r in (("small", small), ("large", large)):
        limit = 1.5 * r["disk"] + 0.5 * gb
        print(
            f"{name:<10} {r['rows']:>12,} {r['disk'] / gb:>8.2f}G {r['import_rss'] / gb:>10.2f}G "
            f"{r['train_rss'] / gb:>9.2f}G {r['train_anon'] / gb:>6.2f}G {limit / gb:>7.2f}G {r['rate']:>11,.0f}"
        )
    print(
        f"large vs small samples/s: {large['rate'] / small['rate']:.2f}x (target >= 0.9); "
        f"large train RSS / limit: {large['train_rss'] / (1.5 * large['disk'] + 0.5 * gb):.2f} (target <= 1)"
    )


if __name__ == "__main__":
    main()

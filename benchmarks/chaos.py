"""Kill a training run with SIGKILL at random moments, resume it, and compare with an uninterrupted run.

Each of ``--kills`` trials starts the same training (rollout training with EMA and history noise, a
checkpoint every 10 steps), kills it once with SIGKILL, checks every visible file the run directory and the
store hold (each checkpoint's weights, config, training state and metadata; config.yaml, dataset.json and
metrics.jsonl), resumes it to the end and compares the final weights, optimizer/scheduler/RNG state and the
metrics log with the uninterrupted run, bit for bit. Half of the kills wait for a checkpoint write in
progress (its hidden staging directory) and strike then; the others strike at a random time.

    python benchmarks/chaos.py [--kills 20] [--iters 200] [--seed 0]

Prints ``k/N bit-exact`` and the number of corrupt or partial files found.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FEATURES = {
    "outputs": [{"name": "acceleration_prediction", "dataset_feature": "acceleration"}],
    "inputs": [
        {"name": "velocity", "parent": "acceleration_prediction", "relation": "derivative"},
        {"name": "position", "parent": "velocity", "relation": "derivative"},
        {"name": "control_input"},
    ],
}


def config(iters: int) -> dict:
    rollout = {"horizons": [1, 8], "start_iters": [0, iters // 4], "noise_std": 0.1, "ema_decay": 0.9}
    training = {
        "training_iters": iters,
        "eval_every": 50,
        "save_every": 10,
        "log_every": 5,
        "train_batch_size": 32,
        "trackers": [],
        "rollout": rollout,
    }
    model = {"type": "mlp", "sequence_length": 4, "hidden_layers": 1, "hidden_size": 32, **FEATURES}
    return {"dataset": "osc", "model": model, "training": training}


def damaged_files(run: Path) -> list[str]:
    """Visible files of a run directory that cannot be read back whole (hidden staging entries excluded)."""
    from learnsim.durable import read_json
    from learnsim.errors import LearnsimError
    from learnsim.models.files import read_model
    from learnsim.train import checkpoint
    from learnsim.train.config import load_run_config

    bad = []
    checks = [(run / "config.yaml", lambda p: load_run_config(p)), (run / "dataset.json", read_json)]
    for step in sorted((run / "checkpoints").glob("step-*")):
        checks += [
            (step, read_model),
            (step, checkpoint.load_training_state),
            (step / "meta.json", read_json),
        ]
    for path, read in checks:
        if path.exists():
            try:
                read(path)
            except (LearnsimError, OSError, ValueError) as error:
                bad.append(f"{path}: {error}")
    metrics = run / "metrics.jsonl"
    if metrics.exists():
        for number, line in enumerate(metrics.read_text().splitlines(), 1):
            try:
                json.loads(line)
            except json.JSONDecodeError:
                bad.append(f"{metrics}:{number}: partial line")
    return bad


def differences(a: Path, b: Path, iters: int) -> list[str]:
    """What differs between two finished runs: weights, parts of the training state, the metrics log."""
    import torch
    from safetensors.torch import load_file

    from learnsim.train import checkpoint

    def equal(x, y):
        if isinstance(x, torch.Tensor):
            return isinstance(y, torch.Tensor) and torch.equal(x, y)
        if isinstance(x, dict):
            return isinstance(y, dict) and x.keys() == y.keys() and all(equal(x[k], y[k]) for k in x)
        if isinstance(x, list | tuple):
            return isinstance(y, list | tuple) and len(x) == len(y) and all(map(equal, x, y))
        return x == y

    final = Path("checkpoints") / f"step-{iters:08d}"
    if not (b / final).is_dir():
        return [f"no {final}"]
    found = []
    if not equal(*(load_file(str(run / final / "model.safetensors")) for run in (a, b))):
        found.append("weights")
    states = [checkpoint.load_training_state(run / final) for run in (a, b)]
    found += [part for part in states[0] if not equal(states[0][part], states[1].get(part))]
    if (a / "metrics.jsonl").read_text() != (b / "metrics.jsonl").read_text():
        found.append("metrics.jsonl")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--iters", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    chance = random.Random(args.seed)
    root = Path(tempfile.mkdtemp(prefix="learnsim-chaos-"))
    env = {**os.environ, "LEARNSIM_HOME": str(root / "home"), "OMP_NUM_THREADS": "1"}
    os.environ.update(env)
    import yaml

    from learnsim import example_dataset, save_dataset

    save_dataset("osc", example_dataset("oscillator", episodes=6, steps=200, seed=3))
    (root / "run.yaml").write_text(yaml.safe_dump(config(args.iters)))
    cli = [sys.executable, "-m", "learnsim", "train"]
    start, first = time.perf_counter(), None
    command = [*cli, str(root / "run.yaml"), "--run-dir", str(root / "straight"), "--quiet"]
    straight = subprocess.Popen(command, env=env)
    while straight.poll() is None:
        if first is None and (root / "straight" / "checkpoints" / "step-00000010").exists():
            first = time.perf_counter() - start
        time.sleep(0.0005)
    assert straight.returncode == 0 and first is not None
    duration = time.perf_counter() - start
    print(f"uninterrupted run: {duration:.1f} s, first checkpoint after {first:.1f} s", flush=True)

    exact = damaged = during_write = 0
    for trial in range(args.kills):
        run = root / f"trial-{trial:02d}"
        child = subprocess.Popen([*cli, str(root / "run.yaml"), "--run-dir", str(run), "--quiet"], env=env)
        in_write = trial % 2 == 0
        deadline = time.perf_counter() + chance.uniform(first, first + 0.6 * (duration - first))
        while child.poll() is None:
            ready = (run / "checkpoints").is_dir() and any((run / "checkpoints").glob("step-*"))  # resumable
            if (
                in_write
                and ready
                and any(p.name.startswith(".tmp-") for p in (run / "checkpoints").iterdir())
            ):
                break
            if not in_write and ready and time.perf_counter() > deadline:
                break
            time.sleep(0.0005)
        child.send_signal(signal.SIGKILL)
        code = child.wait()
        struck = "during a checkpoint write" if in_write else "at a random moment"
        during_write += in_write and code == -signal.SIGKILL
        problems = damaged_files(run)
        damaged += len(problems)
        if not (run / "report.json").exists():  # killed before it finished
            resumed = subprocess.run(
                [*cli, "--resume", str(run), "--quiet"], env=env, capture_output=True, text=True
            )
            if resumed.returncode != 0:
                print(f"    resume failed: {resumed.stderr.strip()}")
        differ = differences(root / "straight", run, args.iters)
        same = not differ
        exact += same
        step = max((int(p.name[5:]) for p in (run / "checkpoints").glob("step-*")), default=0)
        print(
            f"trial {trial + 1:2d}: killed {struck} (exit {code}); {len(problems)} damaged files; "
            f"{'bit-exact' if same else 'DIFFERENT: ' + ', '.join(differ)} (final step {step})",
            flush=True,
        )
        for problem in problems:
            print(f"    {problem}")
        if same:
            shutil.rmtree(run, ignore_errors=True)
    print(
        f"{exact}/{args.kills} bit-exact; {damaged} corrupt or partial files; "
        f"{during_write} kills landed during a checkpoint write"
    )
    if exact == args.kills:
        shutil.rmtree(root, ignore_errors=True)
    else:
        print(f"runs that differ are kept under {root}")


if __name__ == "__main__":
    main()

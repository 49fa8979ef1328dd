"""SIGKILL at a moment between checkpoints, resume, and get bit for bit what an uninterrupted run gets:
weights, optimizer and scheduler state, RNG streams and the metrics log, for rollout training with EMA and
history noise and for the Transformer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from reliability.conftest import BASE_FEATURES
from safetensors.torch import load_file

TRAINING = {
    "training_iters": 60,
    "eval_every": 20,
    "save_every": 10,
    "log_every": 5,
    "train_batch_size": 32,
    "trackers": [],
    "lr_scheduler": {"warmup_iters": 10, "decay_iters": 60},
}
CONFIGS = {
    "rollout-ema-noise": {
        "model": {"type": "mlp", "sequence_length": 4, "hidden_layers": 1, "hidden_size": 16},
        "training": TRAINING
        | {
            "rollout": {
                "horizons": [1, 8],
                "start_iters": [0, 15],
                "noise_std": 0.1,
                "ema_decay": 0.9,
                "one_step_weight": 1.0,
            }
        },
    },
    "transformer": {
        "model": {"type": "transformer", "sequence_length": 8, "n_layer": 1, "n_head": 2, "n_embd": 16},
        "training": TRAINING | {"rollout": None, "checkpoint_type": "single_step"},
    },
}


def _equal(a, b) -> bool:
    """Deep equality of checkpoint states: tensors bit for bit, containers element by element."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return isinstance(b, list | tuple) and len(a) == len(b) and all(map(_equal, a, b))
    return a == b


@pytest.mark.parametrize("kind", sorted(CONFIGS))
def test_sigkill_then_resume_is_bitwise_exact(kind, tmp_path, isolated_home):
    from learnsim import example_dataset, save_dataset
    from learnsim.train import checkpoint

    save_dataset("osc", example_dataset("oscillator", episodes=6, steps=120, seed=3))
    spec = CONFIGS[kind]
    config = {"dataset": "osc", "model": spec["model"] | BASE_FEATURES, "training": spec["training"]}
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {**os.environ, "LEARNSIM_HOME": str(isolated_home), "OMP_NUM_THREADS": "1"}
    cli = [sys.executable, "-m", "learnsim", "train"]
    subprocess.run([*cli, str(path), "--run-dir", str(tmp_path / "straight"), "--quiet"], env=env, check=True)

    killed = tmp_path / "killed"
    child = subprocess.Popen([*cli, str(path), "--run-dir", str(killed), "--quiet"], env=env)
    deadline = time.time() + 120
    while not (killed / "checkpoints" / "step-00000020").exists() and time.time() < deadline:
        time.sleep(0.002)
    child.send_signal(signal.SIGKILL)
    assert child.wait() == -signal.SIGKILL
    assert not (killed / "report.json").exists()
    subprocess.run([*cli, "--resume", str(killed), "--quiet"], env=env, check=True)

    final = Path("checkpoints") / "step-00000060"
    a, b = (load_file(str(run / final / "model.safetensors")) for run in (tmp_path / "straight", killed))
    assert _equal(a, b)
    state_a, state_b = (
        checkpoint.load_training_state(run / final) for run in (tmp_path / "straight", killed)
    )
    for part in ("optimizer", "scheduler", "rng", "state", "train_weights"):
        assert _equal(state_a[part], state_b[part]), part
    assert state_a["optimizer"]["state"], "the optimizer state compared is not empty"
    logs = [(run / "metrics.jsonl").read_text() for run in (tmp_path / "straight", killed)]
    assert logs[0] == logs[1]

"""Shared set-up of the bad-input corpus: one store with a dataset, a trained model and a finished run, built
once and copied for every case, and a snapshot of the store to prove a failed command changed nothing."""

from __future__ import annotations

import copy
import hashlib
import os
import shutil
import sys
from pathlib import Path

import pytest

BASE_FEATURES = {
    "outputs": [{"name": "acceleration_prediction", "dataset_feature": "acceleration"}],
    "inputs": [
        {"name": "velocity", "parent": "acceleration_prediction", "relation": "derivative"},
        {"name": "position", "parent": "velocity", "relation": "derivative"},
        {"name": "control_input"},
    ],
}


def base_config() -> dict:
    """A valid run config for the template store's dataset: small and quick."""
    model = {
        "type": "mlp",
        "sequence_length": 4,
        "hidden_layers": 1,
        "hidden_size": 8,
        **copy.deepcopy(BASE_FEATURES),
    }
    training = {"training_iters": 4, "train_batch_size": 8, "trackers": [], "rollout": None}
    return {"dataset": "osc", "model_name": "m", "model": model, "training": training}


@pytest.fixture(scope="session")
def template_home(tmp_path_factory) -> Path:
    """A store with dataset 'osc', model 'm' and one finished run under runs/first."""
    home = tmp_path_factory.mktemp("template") / "home"
    previous = os.environ.get("LEARNSIM_HOME")
    os.environ["LEARNSIM_HOME"] = str(home)
    try:
        from learnsim import example_dataset, save_dataset
        from learnsim.train import RunConfig, train

        save_dataset("osc", example_dataset("oscillator", episodes=4, steps=120, seed=1))
        train(RunConfig.model_validate(base_config()), home / "runs" / "first", monitor=False)
    finally:
        if previous is None:
            os.environ.pop("LEARNSIM_HOME", None)
        else:
            os.environ["LEARNSIM_HOME"] = previous
    return home


@pytest.fixture
def home(template_home, tmp_path, monkeypatch) -> Path:
    """A private copy of the template store as LEARNSIM_HOME."""
    copy = tmp_path / "home"
    shutil.copytree(template_home, copy)
    monkeypatch.setenv("LEARNSIM_HOME", str(copy))
    return copy


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path below ``root`` with its size and content hash (directories too, so an empty folder left
    behind shows)."""
    tree = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_dir():
            tree[key] = ("dir",)
        else:
            data = path.read_bytes()
            tree[key] = (len(data), hashlib.sha256(data).hexdigest())
    return tree


def run_cli(argv: list[str], capsys) -> tuple[int, str]:
    """Run the ``learnsim`` entry point in this process; (exit code, stdout + stderr)."""
    from learnsim.cli import main

    saved = sys.argv
    sys.argv = ["learnsim", *argv]
    try:
        main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    finally:
        sys.argv = saved
    captured = capsys.readouterr()
    return code, captured.out + captured.err

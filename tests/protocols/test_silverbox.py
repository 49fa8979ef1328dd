import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from learnsim import Input, MLPConfig, Output
from learnsim.models import SimulatorModel
from learnsim.protocols import silverbox

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "silverbox" / "SNLS80mV.csv"


class ExactIncrement(nn.Module):
    """dy = 0.5 * u of the window's last row: the synthetic system below, exactly."""

    def __init__(self):
        super().__init__()
        self.unused = nn.Parameter(torch.zeros(()))

    def forward(self, z):  # identity scaling: z is physical (B, L, [y, u])
        return 0.5 * z[:, -1, 1:2] + 0 * self.unused


def exact_model(sequence_length: int) -> SimulatorModel:
    config = MLPConfig(
        outputs=[Output("dy")],
        inputs=[Input("y", parent="dy", relation="delta"), Input("u")],
        dt=silverbox.DT,
        sequence_length=sequence_length,
    )
    return SimulatorModel(config, ExactIncrement()).double()


def synthetic(n=400, seed=0):
    u = np.random.default_rng(seed).normal(size=n)
    y = np.zeros(n)
    for t in range(n - 1):
        y[t + 1] = y[t] + 0.5 * u[t]
    return {"u": u, "y": y}


def test_free_run_of_an_exact_model_has_zero_error_and_uses_only_the_warmup_outputs():
    signals = synthetic()
    rmse, simulated = silverbox.free_run_rmse(exact_model(8), signals, start=100, end=300, output_column="y")
    assert rmse < 1e-9
    assert len(simulated) == 300 - 100 - 50  # scored rows start + 50 .. end - 1
    np.testing.assert_allclose(simulated, signals["y"][150:300], atol=1e-9)
    # measured outputs after the 50 warm-up rows must not influence the simulation
    corrupted = {"u": signals["u"], "y": signals["y"].copy()}
    corrupted["y"][150:300] += 1.0
    rmse, again = silverbox.free_run_rmse(exact_model(8), corrupted, start=100, end=300, output_column="y")
    np.testing.assert_allclose(again, simulated, atol=1e-12)
    assert rmse == pytest.approx(1.0, abs=1e-9)
    # but the last warm-up output does: shifting it shifts the whole simulated trajectory
    shifted = {"u": signals["u"], "y": signals["y"].copy()}
    shifted["y"][149] += 2.0
    _, moved = silverbox.free_run_rmse(exact_model(8), shifted, start=100, end=300, output_column="y")
    np.testing.assert_allclose(moved - simulated, 2.0, atol=1e-9)


def test_history_longer_than_the_warmup_is_refused():
    with pytest.raises(ValueError, match="exceeds the 50 measured outputs"):
        silverbox.free_run_rmse(exact_model(64), synthetic(), 0, 300, "y")


def test_protocol_ranges():
    assert silverbox.TRAIN == (40650, 105712) and silverbox.TRAIN[1] - silverbox.TRAIN[0] == 65062
    assert round(0.75 * (127400 - 40650)) + 40650 == silverbox.TRAIN[1]
    sizes = {k: e - s for k, (s, e) in silverbox.TESTS.items()}
    assert sizes == {"multisine": 21688, "arrow full": 40475, "arrow no-extrap": 32000}
    assert math.isclose(silverbox.DT, 1.6384e-3)


@pytest.mark.skipif(not DATA.is_file(), reason="Silverbox data (../shared/data/silverbox) not present")
def test_real_file_loads_with_the_published_checksum():
    import hashlib

    assert hashlib.sha256(DATA.read_bytes()).hexdigest().startswith("ae62d5a9")
    signals = silverbox.load_silverbox(DATA)
    assert len(signals["u"]) == silverbox.N_ROWS
    assert signals["y"][silverbox.TRAIN[0] : silverbox.TRAIN[1]].std() == pytest.approx(0.0545, abs=1e-3)


@pytest.mark.skipif(not DATA.is_file(), reason="Silverbox data (../shared/data/silverbox) not present")
def test_benchmark_command_runs_the_protocol_on_real_data(tmp_path, isolated_home):
    """The config shipped in the package, cut to a few steps, run from a directory that is not the checkout:
    the harness trains, scores all three test sets in mV and writes benchmark.json. (The full run and its
    accuracy are in benchmarks/README.md.)"""
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "LEARNSIM_HOME": str(isolated_home), "COLUMNS": "200"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "learnsim",
            "benchmark",
            "silverbox",
            "--data",
            str(DATA.parent),
            "--set",
            "training.training_iters=40",
            "--set",
            "training.eval_every=20",
            "--set",
            "training.lr_scheduler.decay_iters=40",
            "--set",
            "training.lr_scheduler.warmup_iters=5",
            "--set",
            "training.eval_horizon=200",
            "--set",
            "training.trackers=[]",
            "--run-dir",
            str(tmp_path / "run"),
            "--quiet",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "multisine" in result.stdout and "best published" in result.stdout
    scores = json.loads((tmp_path / "run" / "benchmark.json").read_text())["rmse_mv"]
    assert set(scores) == {"multisine", "arrow full", "arrow no-extrap"}
    assert all(math.isfinite(v) and v > 0 for v in scores.values())
    os.environ["LEARNSIM_HOME"] = str(isolated_home)
    from learnsim.store.datasets import list_datasets

    (stored,) = list_datasets()  # its source names the recording and the rows taken, not the run config
    assert stored.get("source") == f"{DATA.parent} rows [40650, 105712)", stored

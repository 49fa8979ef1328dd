"""The command line starts without torch, numpy or pyarrow for help and listings (measured with -X importtime
in a fresh interpreter, on a store that holds a dataset and a model)."""

import os
import subprocess
import sys

import pytest

HEAVY = ("torch", "numpy", "pyarrow", "pandas", "mlflow", "matplotlib", "safetensors", "h5py")


def imported_modules(args, home) -> set[str]:
    env = {**os.environ, "LEARNSIM_HOME": str(home)}
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "learnsim", *args], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return {
        line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")
    }


@pytest.fixture
def store_with_a_model(isolated_home):
    from helpers import onyx_config

    from learnsim import example_dataset, model_from_config, save_dataset
    from learnsim.store.models import save_model

    save_dataset("osc", example_dataset("oscillator", episodes=2, steps=20))
    save_model("m", model_from_config(onyx_config()))
    return isolated_home


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["train", "--help"],
        ["data", "--help"],
        ["simulate", "--help"],
        ["data", "list"],
        ["models", "list"],
    ],
)
def test_help_and_listings_import_no_heavy_package(store_with_a_model, args):
    modules = imported_modules(args, store_with_a_model)
    assert "learnsim.cli" in modules  # the measurement saw the CLI load
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert heavy == []


def test_listings_show_the_stored_entries(store_with_a_model):
    env = {**os.environ, "LEARNSIM_HOME": str(store_with_a_model), "COLUMNS": "200"}
    run = [sys.executable, "-m", "learnsim"]
    datasets = subprocess.run([*run, "data", "list"], env=env, capture_output=True, text=True).stdout
    models = subprocess.run([*run, "models", "list"], env=env, capture_output=True, text=True).stdout
    assert "osc" in datasets and "40" in datasets  # 2 episodes x 20 rows
    assert " m " in models and "mlp" in models

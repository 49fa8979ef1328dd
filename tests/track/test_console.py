"""What a training run prints to a log (not a terminal): one line per new loss, one line per validation, no
tables but the final test table, no MLflow start-up lines, names never cut."""

from __future__ import annotations

import re
import subprocess
import sys

import yaml


def test_a_logged_run_prints_each_thing_once(tmp_path, isolated_home):
    from reliability.conftest import base_config

    from learnsim import example_dataset, save_dataset

    save_dataset("osc", example_dataset("oscillator", episodes=4, steps=120, seed=1))
    config = base_config()
    config["model_name"] = "a_model_name_long_enough_that_an_80_column_table_would_cut_or_wrap_it"
    config["training"] |= {"training_iters": 60, "eval_every": 10, "log_every": 5, "trackers": ["mlflow"]}
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {"LEARNSIM_HOME": str(isolated_home), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "learnsim", "train", str(path)], env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = done.stdout + done.stderr
    assert "Creating initial MLflow database tables" not in out and "INFO" not in out, out
    validations = re.findall(r"^validation at step (\d+): val/\S+=\S+$", done.stdout, re.M)
    assert validations == [str(s) for s in range(10, 61, 10)]
    assert "validation, step" not in done.stdout  # no table per evaluation in a log
    steps = re.findall(r"^step (\d+)/60 loss=\S+ lr=\S+", done.stdout, re.M)
    assert steps and len(steps) == len(set(steps)) and steps[-1] == "60"  # never a line repeating a loss
    assert done.stdout.count("one-step RMSE") == 1  # the test table at the end
    assert f"model: {config['model_name']}@" in done.stdout
    listed = subprocess.run([sys.executable, "-m", "learnsim", "models", "list"], env=env, capture_output=True,
                            text=True, timeout=60).stdout  # fmt: skip
    assert config["model_name"] in listed  # whole, on one line

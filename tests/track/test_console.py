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


def test_the_loss_plot_keeps_each_loss_on_its_own_axis_and_the_linear_fit_off_the_curve(
    tmp_path, monkeypatch
):
    """Training loss (a rollout loss near 10) and validation scores (near 1e-3) on two panels with their real
    names; the linear candidate's step-0 validation is a dashed reference line, not the curve's first point."""
    from learnsim.track import plots

    records = [{"step": 0, "val/loss": 0.5, "val/rollout_score": 0.2}]
    for step in range(10, 101, 10):
        records.append({"step": step, "train/loss": 10.0 - step / 20, "lr": 1e-3, "train/horizon": 8})
        records.append({"step": step, "val/loss": 1e-3 * (1 + 1 / step), "val/rollout_score": 2e-3})
    drawn = {}
    monkeypatch.setattr(plots, "_save", lambda fig, path: drawn.setdefault("fig", fig) and path)
    plots.loss_curves(records, tmp_path / "loss.png")
    top, bottom = drawn["fig"].axes
    assert top.get_ylabel() == "rollout training loss" and "free-run error" in top.get_title()
    (train,) = top.get_lines()
    assert list(train.get_xdata()) == list(range(10, 101, 10))
    curves = {line.get_label(): line for line in bottom.get_lines()}
    assert min(curves["val/loss"].get_xdata()) == 10 and min(curves["val/rollout_score"].get_xdata()) == 10
    assert list(curves["val/loss, linear fit"].get_ydata()) == [0.5, 0.5]  # a horizontal line at its value
    assert curves["val/loss, linear fit"].get_linestyle() == "--"

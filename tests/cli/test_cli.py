import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml


def tiny_run_config(model_name: str, training: dict) -> dict:
    """A run config for the example oscillator with a tiny MLP (YAML-shaped dict)."""
    return {
        "dataset": "osc",
        "model_name": model_name,
        "model": {
            "type": "mlp",
            "dt": 0.01,
            "sequence_length": 4,
            "hidden_layers": 1,
            "hidden_size": 16,
            "outputs": [{"name": "acc", "dataset_feature": "acceleration"}],
            "inputs": [
                {"name": "velocity", "parent": "acc", "relation": "derivative"},
                {"name": "position", "parent": "velocity", "relation": "derivative"},
                {"name": "control_input"},
            ],
        },
        "training": training,
    }


def run(*args, home, check=False):
    env = {**os.environ, "LEARNSIM_HOME": str(home), "COLUMNS": "200"}
    result = subprocess.run(
        [sys.executable, "-m", "learnsim", *args], env=env, capture_output=True, text=True
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_help_lists_commands_and_imports_no_optional_package(isolated_home):
    result = run("--help", home=isolated_home, check=True)
    for command in ("train", "quickstart", "data", "models"):
        assert command in result.stdout
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, learnsim.cli; "
            "print(sorted(m for m in ('pandas','h5py','mlflow','matplotlib','optuna','onnx',"
            "'tensorboard','wandb') if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
    )
    assert probe.stdout.strip() == "[]"


def test_data_import_list_show_rm(tmp_path, isolated_home):
    frame = pd.DataFrame({"ep": np.repeat([0, 1], 50), "x": np.random.rand(100), "u": np.random.rand(100)})
    path = tmp_path / "rec.csv"
    frame.to_csv(path, index=False)
    out = run(
        "data",
        "import",
        str(path),
        "--name",
        "rec",
        "--dt",
        "0.01",
        "--episode-column",
        "ep",
        home=isolated_home,
        check=True,
    ).stdout
    assert "saved rec@" in out and "2 episode(s)" in out
    version = out.split("rec@")[1].split(":")[0]
    listed = run("data", "list", home=isolated_home, check=True).stdout
    assert "rec" in listed and version in listed
    shown = run("data", "show", f"rec@{version}", home=isolated_home, check=True).stdout
    assert "validation: ok" in shown and "mean" in shown and " x " in shown
    run("data", "rm", f"rec@{version}", home=isolated_home, check=True)
    assert version not in run("data", "list", home=isolated_home, check=True).stdout


def test_a_csv_written_by_learnsim_imports_with_the_readme_command(tmp_path, isolated_home):
    """``Dataset.to_arrow`` writes a 'time' column: the README's import command takes it as the time axis."""
    import pyarrow.csv

    from learnsim import example_dataset

    dataset = example_dataset("oscillator", episodes=3, steps=50)
    path = tmp_path / "recording.csv"
    pyarrow.csv.write_csv(dataset.to_arrow(), path)
    assert "time" in path.read_text().splitlines()[0]
    argv = [
        "data",
        "import",
        str(path),
        "--name",
        "bench",
        "--dt",
        str(dataset.dt),
        "--episode-column",
        "episode",
    ]
    out = run(*argv, home=isolated_home, check=True).stdout
    assert f"used column 'time' as the time axis (its steps match --dt {dataset.dt:g} s)" in out
    assert "3 episode(s)" in out and "'time'" not in out.split("features")[1]
    os.environ["LEARNSIM_HOME"] = str(isolated_home)
    from learnsim import load_dataset

    stored = load_dataset("bench")
    np.testing.assert_allclose(stored.time, dataset.time)
    assert stored.feature_names == dataset.feature_names


@pytest.mark.parametrize(
    "args, message",
    [
        (["data", "import", "missing.csv", "--name", "a", "--dt", "0.1"], "missing.csv: no such file"),
        (["data", "import", "{csv}", "--name", "../x", "--dt", "0.1"], "invalid dataset name '../x'"),
        (["data", "import", "{csv}", "--name", "a", "--dt", "0"], "dt must be a number > 0"),
        (
            ["data", "import", "{csv}", "--name", "a", "--dt", "0.1", "--episode-column", "nope"],
            "episode column 'nope' not found",
        ),
        (["data", "show", "ghost"], "no dataset named 'ghost'"),
        (["data", "rm", "ghost"], "give the version to delete"),
        (["train"], "give a run config YAML"),
        (["train", "nope.yaml"], "nope.yaml: no such config file"),
        (["train", "--resume", "{tmp}"], "not a learnsim run directory"),
        (["models", "show", "ghost"], "no model named 'ghost'"),
    ],
)
def test_bad_input_exits_2_with_one_paragraph_no_traceback(tmp_path, isolated_home, args, message):
    csv = tmp_path / "ok.csv"
    csv.write_text("x,u\n1,2\n3,4\n5,7\n")
    args = [a.replace("{csv}", str(csv)).replace("{tmp}", str(tmp_path)) for a in args]
    result = run(*args, home=isolated_home)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    assert not (isolated_home / "datasets").exists() or not any(
        (isolated_home / "datasets").rglob("meta.json")
    )


def test_train_yaml_with_override_and_models_list(tmp_path, isolated_home):
    run(
        "data",
        "example",
        "--episodes",
        "8",
        "--steps",
        "120",
        "--name",
        "osc",
        home=isolated_home,
        check=True,
    )
    config = tiny_run_config("cli-model", {"training_iters": 30, "eval_every": 10, "train_batch_size": 64})
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    result = run(
        "train",
        str(path),
        "--set",
        "training.optimizer.lr=1e-3",
        "--set",
        "training.lr_scheduler=null",
        "--run-dir",
        str(tmp_path / "run"),
        home=isolated_home,
        check=True,
    )
    assert "\x1b[" not in result.stdout  # not a terminal: plain lines, no control codes
    assert "test (best checkpoint" in result.stdout and "rollout RMSE" in result.stdout
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert saved["training"]["optimizer"]["lr"] == 1e-3 and saved["training"]["lr_scheduler"] is None
    assert "cli-model" in run("models", "list", home=isolated_home, check=True).stdout
    shown = run("models", "show", "cli-model", home=isolated_home, check=True).stdout
    assert "test/rollout_rmse/position" in shown
    bad = run("train", str(path), "--set", "training.optimizer.lr=-1", home=isolated_home)
    assert bad.returncode == 2 and "training.optimizer.lr: Input should be greater than 0" in bad.stderr


@pytest.mark.slow
def test_simulate_and_report_commands(tmp_path, isolated_home):
    pytest.importorskip("matplotlib")
    run(
        "data",
        "example",
        "--episodes",
        "6",
        "--steps",
        "100",
        "--name",
        "osc",
        home=isolated_home,
        check=True,
    )
    config = tiny_run_config(
        "sim-model", {"training_iters": 20, "eval_every": 10, "train_batch_size": 64, "trackers": []}
    )
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    run("train", str(path), "--run-dir", str(tmp_path / "run"), "--quiet", home=isolated_home, check=True)
    shutil_plots = tmp_path / "run" / "plots"
    import shutil

    shutil.rmtree(shutil_plots)  # report must remake missing plots from the run directory alone
    out = run("report", str(tmp_path / "run"), home=isolated_home, check=True).stdout
    assert "report.html" in out and len(list(shutil_plots.glob("*.png"))) == 4
    result = run(
        "simulate",
        "sim-model",
        "--dataset",
        "osc",
        "--episodes",
        "0,2",
        "--steps",
        "50",
        "--plot",
        "--out",
        str(tmp_path / "sim"),
        home=isolated_home,
        check=True,
    )
    frame = pd.read_parquet(tmp_path / "sim" / "predictions.parquet")
    assert sorted(frame["episode"].unique()) == [0, 2] and len(frame) == 100
    assert {"position", "position_recorded", "acc", "acc_recorded", "time"} <= set(frame.columns)
    assert (tmp_path / "sim" / "episode_2.png").is_file()
    # each episode says which split of the model's run it came from (the run's own dataset version)
    split = json.loads((tmp_path / "run" / "dataset.json").read_text())["split"]
    expected = {
        e: next(r for r in ("train", "val", "test") if [100 * e, 100 * e + 100] in split[r]) for e in (0, 2)
    }
    assert {e: frame[frame["episode"] == e]["split"].unique().tolist() for e in (0, 2)} == {
        e: [r] for e, r in expected.items()
    }
    bad = run("simulate", "sim-model", "--dataset", "osc", "--episodes", "9", home=isolated_home)
    assert bad.returncode == 2 and "no episode(s) [9]" in bad.stderr
    assert result.returncode == 0


@pytest.mark.slow
def test_ui_serves_the_local_mlflow_store(isolated_home):
    pytest.importorskip("mlflow")
    import signal
    import socket
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "LEARNSIM_HOME": str(isolated_home)}
    server = subprocess.Popen(
        [sys.executable, "-m", "learnsim", "ui", "--mlflow", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        assert f"http://127.0.0.1:{port}" in server.stdout.readline()
        deadline, status = time.time() + 90, None
        while time.time() < deadline and status != 200:
            try:
                status = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).status
            except OSError:
                time.sleep(0.5)
        assert status == 200
        assert str(isolated_home / "mlflow") in str(list((isolated_home / "mlflow").iterdir()))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_learnsims_own_warnings_print_as_one_line_on_the_command_line(capsys, monkeypatch):
    import warnings

    from learnsim import cli

    others = []
    monkeypatch.setattr(warnings, "showwarning", lambda message, *rest, **kw: others.append(str(message)))
    cli._one_line_notices()
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("learnsim: training.cuda_graphs needs a CUDA device", RuntimeWarning, stacklevel=1)
        warnings.warn("something else", UserWarning, stacklevel=1)
    err = capsys.readouterr().err
    assert "warning: training.cuda_graphs needs a CUDA device\n" in err
    assert "RuntimeWarning" not in err and "something else" not in err
    assert others == ["something else"]  # other libraries' warnings keep Python's own display

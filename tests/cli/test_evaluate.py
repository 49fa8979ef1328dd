"""learnsim evaluate: the protocol on a stored model, from the command line."""

import json
import os
import subprocess
import sys

import pytest
from helpers import onyx_config

from learnsim import example_dataset, save_dataset
from learnsim.train import RunConfig, TrainingConfig, train


@pytest.fixture
def trained(isolated_home, tmp_path):
    save_dataset("osc", example_dataset("oscillator", episodes=8, steps=150))
    training = TrainingConfig(
        training_iters=30,
        eval_every=15,
        train_batch_size=128,
        trackers=[],
        rollout={"horizons": [4], "start_iters": [0]},
    )
    config = RunConfig(
        dataset="osc",
        model_name="m",
        model=onyx_config(sequence_length=4, hidden_layers=1, hidden_size=16),
        training=training,
    )
    train(config, tmp_path / "run", monitor=False)
    return isolated_home


def run(*args, home):
    env = {**os.environ, "LEARNSIM_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "learnsim", *args], env=env, capture_output=True, text=True)


def test_evaluate_prints_every_horizon_beside_the_baselines_and_writes_json(trained, tmp_path):
    pytest.importorskip("matplotlib")
    result = run(
        "evaluate",
        "m",
        "--dataset",
        "osc",
        "--horizons",
        "1,10,full",
        "--warmup",
        "6",
        "--out",
        str(tmp_path / "ev"),
        "--plot",
        home=trained,
    )
    assert result.returncode == 0, result.stderr
    for text in ("h=1", "h=10", "h=full", "hold last state", "linear model", "position", "outside range"):
        assert text in result.stdout
    evaluation = json.loads((tmp_path / "ev" / "evaluation.json").read_text())
    # the dataset the model was trained on: its run's held-out test episodes only, and said so
    split = json.loads((tmp_path / "run" / "dataset.json").read_text())["split"]
    assert split["test"] and len(split["test"]) < 8
    assert evaluation["episodes"] == len(split["test"]) and evaluation["warmup"] == 6
    assert evaluation["horizons"] == [1, 10, "full"] and evaluation["includes_training_data"] is False
    assert [s["rows"] for s in evaluation["scored"]] == split["test"]
    assert {s["split"] for s in evaluation["scored"]} == {"test"}
    assert "the test split of the run that trained it" in result.stdout and "INCLUDES" not in result.stdout
    metrics = evaluation["metrics"]
    assert metrics["horizon"] == 150 - 6
    assert 0 < metrics["nrmse@1"] < metrics["nrmse@full"] < metrics["hold/nrmse@full"]
    assert {"skill_vs_hold@full", "skill_vs_linear@full", "fit/position"} <= set(metrics)
    assert "training split" in evaluation["linear_fitted_on"]  # found through the model's lineage
    assert set(evaluation["outside_training_range"]) == {"velocity", "position", "control_input"}
    assert (tmp_path / "ev" / "error_vs_horizon.png").is_file() and (
        tmp_path / "ev" / "trajectories.png"
    ).is_file()


def test_all_episodes_of_the_training_data_are_marked_and_another_dataset_is_scored_whole(trained, tmp_path):
    args = ["--horizons", "1,full", "--warmup", "6"]
    result = run(
        "evaluate",
        "m",
        "--dataset",
        "osc",
        "--episodes",
        "all",
        *args,
        "--out",
        str(tmp_path / "all"),
        home=trained,
    )
    assert result.returncode == 0, result.stderr
    evaluation = json.loads((tmp_path / "all" / "evaluation.json").read_text())
    assert evaluation["episodes"] == 8 and evaluation["includes_training_data"] is True
    assert {s["split"] for s in evaluation["scored"]} == {"train", "val", "test"}
    assert "INCLUDES TRAINING DATA" in result.stdout
    chosen = run(
        "evaluate",
        "m",
        "--dataset",
        "osc",
        "--episodes",
        "0,1",
        *args,
        "--out",
        str(tmp_path / "two"),
        home=trained,
    )
    scored = json.loads((tmp_path / "two" / "evaluation.json").read_text())["scored"]
    assert [s["episode"] for s in scored] == [0, 1] and chosen.returncode == 0
    # another dataset (here another version of the name): scored whole, nothing of the run's split applies
    os.environ["LEARNSIM_HOME"] = str(trained)
    save_dataset("osc", example_dataset("oscillator", episodes=3, steps=150, seed=7))
    other = run("evaluate", "m", "--dataset", "osc", *args, "--out", str(tmp_path / "other"), home=trained)
    assert other.returncode == 0, other.stderr
    evaluation = json.loads((tmp_path / "other" / "evaluation.json").read_text())
    assert evaluation["episodes"] == 3 and evaluation["includes_training_data"] is False
    assert {s["split"] for s in evaluation["scored"]} == {"other"} and "the whole dataset" in other.stdout


def test_evaluate_bad_input_is_one_paragraph(trained):
    for args, message in (
        (["--horizons", "1,0"], "horizons: '0' must be an integer >= 1 or 'full'"),
        (["--episodes", "99"], "no episode(s) [99]"),
        (["--warmup", "200"], "warmup of 200 rows leaves nothing to simulate"),
    ):
        result = run("evaluate", "m", "--dataset", "osc", *args, home=trained)
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr, (
            result.stderr
        )


def test_evaluate_takes_a_version_and_an_unknown_one_is_named(trained):
    from learnsim.store.models import list_models

    version = list_models()[0]["version"]
    result = run("evaluate", f"m@{version[:8]}", "--dataset", "osc", "--horizons", "1", home=trained)
    assert result.returncode == 0 and "h=1" in result.stdout, result.stderr
    result = run("evaluate", "m@ffffffff", "--dataset", "osc", home=trained)
    assert result.returncode == 2 and "no version 'ffffffff' of model 'm'" in result.stderr, result.stderr


def test_a_model_that_loses_to_a_baseline_is_flagged_and_fail_if_worse_exits_3(isolated_home, tmp_path):
    """A network after one step of training (no linear candidate: selection on one-step loss) free-runs far
    worse than the linear model: each such horizon is a warning, in the JSON too, and --fail-if-worse makes
    it a non-zero exit for CI pipelines."""
    save_dataset("osc", example_dataset("oscillator", episodes=8, steps=150))
    training = TrainingConfig(training_iters=1, trackers=[], checkpoint_type="single_step", rollout=None)
    model = onyx_config(sequence_length=4, hidden_layers=1, hidden_size=16)
    train(
        RunConfig(dataset="osc", model_name="raw", model=model, training=training),
        tmp_path / "r",
        monitor=False,
    )
    args = ["evaluate", "raw", "--dataset", "osc", "--horizons", "1,full", "--warmup", "6"]
    flagged = run(*args, "--out", str(tmp_path / "ev"), home=isolated_home)
    assert flagged.returncode == 0, flagged.stderr
    evaluation = json.loads((tmp_path / "ev" / "evaluation.json").read_text())
    metrics = evaluation["metrics"]
    assert metrics["linear/nrmse@full"] < metrics["nrmse@full"]
    line = f"h=full: the linear model {metrics['linear/nrmse@full']:.3g} beats the model's {metrics['nrmse@full']:.3g}"
    assert line in evaluation["losses"] and f"warning: {line}" in flagged.stdout
    failed = run(*args, "--fail-if-worse", home=isolated_home)
    assert failed.returncode == 3 and "--fail-if-worse" in failed.stderr and "Traceback" not in failed.stderr


def test_losses_to_baselines_name_each_horizon_and_baseline():
    from learnsim.evaluate.model import losses_to_baselines

    metrics = {
        "nrmse@1": 0.1,
        "hold/nrmse@1": 0.2,
        "linear/nrmse@1": 0.05,
        "nrmse@full": 1.0,
        "hold/nrmse@full": 0.9,
    }
    assert losses_to_baselines(metrics, [1, "full"]) == [
        "h=1: the linear model 0.05 beats the model's 0.1",
        "h=full: holding the last state 0.9 beats the model's 1",
    ]
    assert losses_to_baselines({"nrmse@1": 0.1, "hold/nrmse@1": 0.1}, [1]) == []  # a tie is no loss


def test_evaluate_and_simulate_say_when_the_free_run_left_the_training_range(trained, tmp_path):
    """The same system driven 10x harder than in training: both commands print one line naming the inputs."""
    os.environ["LEARNSIM_HOME"] = str(trained)
    hard = example_dataset("oscillator", episodes=3, steps=150, seed=5)
    hard.columns["control_input"] = hard.columns["control_input"] * 10
    save_dataset("hard", hard)
    evaluated = run("evaluate", "m", "--dataset", "hard", "--warmup", "6", home=trained)
    assert evaluated.returncode == 0, evaluated.stderr
    (line,) = [x for x in evaluated.stdout.splitlines() if "left the training range" in x]
    assert line.startswith("warning: the free run left the training range") and "control_input" in line
    simulated = run("simulate", "m", "--dataset", "hard", "--out", str(tmp_path / "sim"), home=trained)
    assert (
        simulated.returncode == 0
        and "left the training range" in simulated.stdout
        and "control_input" in simulated.stdout
    )
    calm = run("evaluate", "m", "--dataset", "osc", "--warmup", "6", home=trained)
    assert "left the training range" not in calm.stdout

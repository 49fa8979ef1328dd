"""Searches end to end: exact trial counts with one or two workers, stored and marked models, SIGKILL of a
worker mid-trial, the study shown as a table, a run config and plots. SQLite always; PostgreSQL when
LEARNSIM_TEST_POSTGRES names a server (``.ci/run`` starts one)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import optuna
import pytest
from optuna.trial import TrialState
from tune.conftest import search_data

from learnsim.store.models import load_model, model_meta
from learnsim.train import load_run_config
from learnsim.tune.config import load_search_config
from learnsim.tune.optimize import optimize, show_study
from learnsim.tune.study import counts, open_study, storage_url

POSTGRES = os.environ.get("LEARNSIM_TEST_POSTGRES")
STORAGES = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.skipif(not POSTGRES, reason="no PostgreSQL")),
]


def _url(kind: str, study: str) -> str | None:
    if kind == "sqlite":
        return None  # the default: $LEARNSIM_HOME/studies/optuna.db
    _drop_study(POSTGRES, study)
    return POSTGRES


def _drop_study(url: str, study: str) -> None:
    """Each test's study starts empty on the shared server."""
    storage = optuna.storages.RDBStorage(url)
    try:
        optuna.delete_study(study_name=study, storage=storage)
    except KeyError:
        pass


def _finished(study) -> list:
    return [t for t in study.get_trials(deepcopy=False) if counts(t)]


def test_search_stores_every_finished_trial_and_marks_the_best(oscillator):
    config = load_search_config(data=search_data(num_trials=4))
    result = optimize(config, monitor=False)
    study = open_study(config, storage_url(None))
    finished = _finished(study)
    assert len(finished) == 4 and len(result.trials) == 4
    complete = [t for t in finished if t.state == TrialState.COMPLETE]
    assert complete, "every trial was pruned"
    for trial in finished:  # every finished trial is a model version carrying its study and trial
        lineage = model_meta("osc_tuned", trial.user_attrs["model_version"])["lineage"]
        assert lineage["study"] == "osc_tuned" and lineage["trial"] == trial.number
        assert lineage.get("pruned", False) == (trial.state == TrialState.PRUNED)
    best = min(complete, key=lambda t: t.value)
    assert result.best_value == best.value
    assert result.model_reference == f"osc_tuned@{best.user_attrs['model_version']}"
    assert model_meta("osc_tuned", "best")["version"] == best.user_attrs["model_version"]
    assert load_model("osc_tuned@best").config.type == result.model.config.type
    # The best config is a run config that `learnsim train` takes as is.
    run = load_run_config(data=__import__("yaml").safe_load(result.best_config))
    assert run.model.type == best.params.get("model", run.model.type)


def test_the_grid_sampler_trains_each_combination_once(oscillator):
    """Plain MLP or not, decided by validation: a two-combination grid tries both, and marks the better."""
    data = search_data(
        num_trials=2, sampler="grid", opt_models=[search_data()["optimization"]["opt_models"][0]]
    )
    model = data["optimization"]["opt_models"][0]
    model |= {"hidden_size": 8, "linear_skip": {"select": [True, False]}}
    data["optimization"]["opt_optimizers"] = [{"lr": 3e-3}]
    result = optimize(load_search_config(data=data), monitor=False)
    study = open_study(load_search_config(data=data), storage_url(None))
    assert sorted(t.params["mlp.linear_skip"] for t in _finished(study)) == [False, True]
    best = min((t for t in _finished(study) if t.state == TrialState.COMPLETE), key=lambda t: t.value)
    assert model_meta("osc_tuned", "best")["version"] == best.user_attrs["model_version"]
    assert result.best_value == best.value


def test_show_writes_table_config_and_plots(oscillator, tmp_path, capsys):
    schedule = {"type": "cosine_decay_with_warmup", "max_lr": {"select": [3e-3, 1e-2]}}
    data = search_data(num_trials=4, opt_lr_schedulers=[schedule], opt_optimizers=[{"lr": 1e-3}])
    optimize(load_search_config(data=data), monitor=False)
    shown = show_study("osc_tuned", out=tmp_path / "shown")
    names = sorted(p.name for p in shown["files"])
    assert "study.html" in names and "history.png" in names
    html = (tmp_path / "shown" / "study.html").read_text()
    assert html.count("<tr>") == 1 + len(shown["trials"]) and "best run config" in html
    assert shown["best_config"].startswith("dataset: osc")
    assert shown["best_file"] == tmp_path / "shown" / "best.yaml"
    assert shown["best_file"].read_text() == shown["best_config"]
    # the schedule's lengths were left to the recipe: they follow a new training_iters, not the trial's
    run = load_run_config(shown["best_file"], overrides=["training.training_iters=300"])
    assert run.training.lr_scheduler.decay_iters is None and run.training.lr_scheduler.warmup_iters is None
    assert run.training.lr_scheduler.resolved(300).decay_iters == 300
    # the command prints the file's path, not the YAML between the table and the file list
    from reliability.conftest import run_cli

    (tmp_path / "file.txt").write_text("mine")
    code, out = run_cli(["optimize", "--show", "osc_tuned", "--out", str(tmp_path / "file.txt")], capsys)
    assert code == 2 and "file.txt is a file: give a folder" in out and (tmp_path / "file.txt").read_text() == "mine"
    code, out = run_cli(["optimize", "--show", "osc_tuned", "--out", str(tmp_path / "cli")], capsys)
    assert code == 0 and "dataset: osc" not in out
    assert (
        f"best trial {shown['best'].number} as a run config (learnsim train {tmp_path / 'cli' / 'best.yaml'})"
        in out
    )


def test_a_second_start_continues_the_study_and_a_changed_config_is_refused(oscillator):
    optimize(load_search_config(data=search_data(num_trials=2)), monitor=False)
    more = load_search_config(data=search_data(num_trials=3))  # num_trials may grow
    optimize(more, monitor=False)
    assert len(_finished(open_study(more, storage_url(None)))) == 3
    changed = search_data(num_trials=3, train_batch_size=32)
    with pytest.raises(
        Exception, match=r"different search config \(changed: optimization.train_batch_size\)"
    ):
        optimize(load_search_config(data=changed), monitor=False)


def _worker(url: str, worker: int, config, env) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "learnsim.tune.worker", url, str(worker)],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    process.stdin.write(config.model_dump_json())
    process.stdin.close()
    return process


def _env(isolated_home) -> dict:
    return os.environ | {"LEARNSIM_HOME": str(isolated_home), "OMP_NUM_THREADS": "1"}


@pytest.mark.parametrize("kind", STORAGES)
def test_two_workers_finish_exactly_num_trials(oscillator, isolated_home, kind):
    config = load_search_config(data=search_data(num_trials=6) | {"study_name": f"two-{kind}"})
    url = _url(kind, config.study) or storage_url(None)
    workers = [_worker(url, w, config, _env(isolated_home)) for w in range(2)]
    for process in workers:
        assert process.wait(timeout=300) == 0, process.stderr.read()
    study = open_study(config, url)
    finished = _finished(study)
    assert len(finished) == 6
    assert len({t.number for t in finished}) == 6
    assert {t.user_attrs["pid"] for t in finished} == {p.pid for p in workers}  # both did work
    assert not [t for t in study.get_trials() if t.state == TrialState.RUNNING]


@pytest.mark.parametrize("kind", STORAGES)
def test_a_worker_killed_mid_trial_leaves_the_study_to_the_other(oscillator, isolated_home, kind):
    data = search_data(num_trials=4, training_iters=300) | {"study_name": f"kill-{kind}"}
    config = load_search_config(data=data)
    url = _url(kind, config.study) or storage_url(None)
    victim = _worker(url, 0, config, _env(isolated_home))
    study = open_study(config, url)
    deadline = time.time() + 120
    while time.time() < deadline:  # wait until the victim is inside a trial, past its first checkpoint
        running = [t for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))]
        if (
            running
            and running[0].user_attrs.get("run_dir")
            and _has_checkpoint(running[0].user_attrs["run_dir"])
        ):
            break
        time.sleep(0.05)
    else:
        pytest.fail("the worker never started a trial")
    killed = running[0].number
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    survivor = _worker(url, 1, config, _env(isolated_home))
    assert survivor.wait(timeout=300) == 0, survivor.stderr.read()
    trials = open_study(config, url).get_trials(deepcopy=False)
    finished = [t for t in trials if counts(t)]
    assert len(finished) == 4
    dead = next(t for t in trials if t.number == killed)
    assert dead.state == TrialState.FAIL and "error" not in dead.user_attrs  # not counted
    retry = [t for t in finished if t.user_attrs.get("retry_of") == killed]
    assert len(retry) == 1 and retry[0].params == dead.params  # retried once, same parameters
    assert retry[0].user_attrs["run_dir"] == dead.user_attrs["run_dir"]  # resumed from its checkpoint


def _has_checkpoint(run_dir: str) -> bool:
    from pathlib import Path

    found = Path(run_dir) / "checkpoints"
    return found.is_dir() and any(p.name.startswith("step") for p in found.iterdir())


def test_sqlite_study_resumes_after_sigkill_of_the_only_worker(oscillator, isolated_home, tmp_path):
    path = tmp_path / "search.yaml"
    path.write_text(json.dumps(search_data(num_trials=3, training_iters=300)))
    command = [sys.executable, "-m", "learnsim", "optimize", str(path), "--quiet"]
    first = subprocess.Popen(command, env=_env(isolated_home), stderr=subprocess.PIPE, text=True)
    config = load_search_config(path)
    db = isolated_home / "studies" / "optuna.db"
    deadline = time.time() + 120
    while time.time() < deadline:
        if db.is_file():
            try:
                running = open_study(config, storage_url(None)).get_trials(states=(TrialState.RUNNING,))
            except Exception:  # the study is being created
                running = []
            if running and _has_checkpoint(running[0].user_attrs.get("run_dir", "/nonexistent")):
                break
        time.sleep(0.05)
    else:
        pytest.fail("no trial started")
    first.send_signal(signal.SIGKILL)
    first.wait()
    again = subprocess.run(command, env=_env(isolated_home), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    study = open_study(config, storage_url(None))
    assert len(_finished(study)) == 3
    assert any("retry_of" in t.user_attrs for t in _finished(study))


def test_each_trial_is_a_nested_mlflow_run_under_the_study(oscillator):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    from learnsim.track.mlflow_tracker import tracking_uri

    data = search_data(num_trials=2)
    data["optimization"]["training"]["trackers"] = ["mlflow"]
    optimize(load_search_config(data=data), monitor=False)
    client = MlflowClient(tracking_uri=tracking_uri())
    experiment = client.get_experiment_by_name("learnsim").experiment_id
    runs = client.search_runs([experiment])
    parents = [r for r in runs if r.data.tags.get("learnsim.kind") == "study"]
    assert len(parents) == 1 and parents[0].data.tags["learnsim.study"] == "osc_tuned"
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    assert sorted(int(r.data.tags["learnsim.trial"]) for r in children) == [0, 1]


def test_a_pruned_run_stores_its_best_so_far_untested_and_drops_checkpoints(oscillator, tmp_path):
    from learnsim.train import RunConfig, train

    data = search_data()
    config = RunConfig.model_validate(
        {
            "dataset": "osc",
            "model_name": "pruned",
            "model": {k: v for k, v in data["optimization"]["opt_models"][0].items() if k != "hidden_size"},
            "training": {"training_iters": 40, "eval_every": 10, "trackers": [], "rollout": None},
        }
    )
    asked = []

    def stop_at_second_validation(step: int, metric: float) -> bool:
        asked.append(step)
        return len(asked) == 2

    result = train(config, tmp_path / "run", monitor=False, should_stop=stop_at_second_validation)
    assert asked == [10, 20] and result.model is None
    assert result.report["pruned"] is True and result.report["steps"] == 20
    meta = model_meta("pruned", result.model_version)
    assert meta["lineage"]["pruned"] is True and meta["lineage"]["best_step"] in (10, 20)
    assert not any(k.startswith("test/") for k in meta["metrics"])
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_bad_search_input_fails_before_anything_is_written(oscillator, isolated_home, tmp_path):
    from learnsim.errors import ConfigError, StoreError
    from learnsim.tune.optimize import show_study

    before = sorted(p.relative_to(isolated_home) for p in isolated_home.rglob("*"))
    with pytest.raises(StoreError, match="no dataset named 'nodata'"):
        optimize(load_search_config(data=search_data() | {"dataset": "nodata"}), monitor=False)
    with pytest.raises(ConfigError, match="--workers must be >= 1"):
        optimize(load_search_config(data=search_data()), workers=0, monitor=False)
    with pytest.raises(ConfigError, match="no study named 'nothing'"):
        show_study("nothing")
    with pytest.raises(ConfigError, match=r"storage 'bogus://x': cannot open it"):
        optimize(load_search_config(data=search_data()), storage="bogus://x", monitor=False)
    assert sorted(p.relative_to(isolated_home) for p in isolated_home.rglob("*")) == before

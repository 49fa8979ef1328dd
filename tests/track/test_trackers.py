import json
import shutil

import pytest
from helpers import onyx_config

from learnsim.data.examples import example_dataset
from learnsim.store.datasets import save_dataset
from learnsim.track import background
from learnsim.track.hub import available_default_trackers
from learnsim.train import RunConfig, TrainingConfig, resume, train


def small_run(tmp_path, trackers, iters=40, loggers=None, eval_fn=None, name="run"):
    save_dataset("osc", example_dataset("oscillator", episodes=8, steps=120))
    training = TrainingConfig(
        training_iters=iters,
        eval_every=20,
        save_every=10,
        log_every=10,
        train_batch_size=64,
        trackers=trackers,
        rollout=None,  # one-step training: the train category holds exactly loss and lr
    )
    config = RunConfig(
        dataset="osc",
        model=onyx_config(sequence_length=4, hidden_layers=1, hidden_size=16),
        training=training,
    )
    return train(config, tmp_path / name, monitor=False, loggers=loggers, eval_fn=eval_fn).wait()


def test_custom_logger_receives_every_category_with_namespaced_keys(tmp_path):
    seen = []
    small_run(
        tmp_path,
        [],
        loggers=[lambda category, metrics, step: seen.append((category, step, metrics))],
        eval_fn=lambda model, step: {"closed_loop_error": 0.5},
    )
    categories = {c for c, _, _ in seen}
    assert categories == {"train", "val", "custom", "test"}
    for category, _, metrics in seen:
        if category == "train":
            assert set(metrics) == {"train/loss", "lr"}
        else:
            assert all(k.startswith(f"{category}/") for k in metrics)
    val = next(m for c, s, m in seen if c == "val")
    assert {"val/loss", "val/rmse/acceleration_prediction", "val/rollout_rmse/position"} <= set(val)
    assert [s for c, s, _ in seen if c == "train"] == [10, 20, 30, 40]
    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert any("custom/closed_loop_error" in r for r in lines)


def test_mlflow_is_the_default_and_records_params_metrics_artifacts_and_resume(tmp_path, isolated_home):
    pytest.importorskip("mlflow")
    assert available_default_trackers() == ["mlflow"]

    def interrupt(model, step):
        if step == 40:
            raise KeyboardInterrupt
        return {}

    with pytest.raises(KeyboardInterrupt):
        small_run(tmp_path, None, iters=60, eval_fn=interrupt)
    background.wait()  # the trackers start on the background thread
    run_id = json.loads((tmp_path / "run" / "trackers.json").read_text())["mlflow"]
    resume(tmp_path / "run", monitor=False).wait()
    assert json.loads((tmp_path / "run" / "trackers.json").read_text())["mlflow"] == run_id  # same MLflow run

    from mlflow.tracking import MlflowClient

    from learnsim.track.mlflow_tracker import tracking_uri

    assert str(isolated_home) in tracking_uri()
    client = MlflowClient(tracking_uri=tracking_uri())
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["training.training_iters"] == "60"
    assert run.data.params["model.hidden_size"] == "16"
    assert run.data.tags["learnsim.dataset"] == "osc"
    history = client.get_metric_history(run_id, "train/loss")
    assert sorted({m.step for m in history}) == [10, 20, 30, 40, 50, 60]
    assert {m.step for m in client.get_metric_history(run_id, "val/rollout_rmse/position")} == {
        0,
        20,
        40,
        60,
    }  # 0: the linear candidate
    assert "test/rollout_rmse/position" in run.data.metrics
    artifacts = {a.path for a in client.list_artifacts(run_id)}
    plots = {a.path for a in client.list_artifacts(run_id, "plots")}
    assert "config.yaml" in artifacts
    if pytest.importorskip("matplotlib"):
        assert {"plots/loss_curves.png", "plots/rollout_test.png"} <= plots


def test_tensorboard_event_files_are_readable(tmp_path):
    pytest.importorskip("tensorboard")
    small_run(tmp_path, ["tensorboard"])
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    events.Reload()
    scalars = events.Tags()["scalars"]
    assert {"train/loss", "lr", "val/loss", "val/rollout_rmse/position", "test/rollout_rmse/position"} <= set(
        scalars
    )
    assert [e.step for e in events.Scalars("train/loss")] == [10, 20, 30, 40]
    if pytest.importorskip("matplotlib"):
        assert "plots/loss_curves" in events.Tags()["images"]


def test_wandb_offline_needs_no_network(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.delenv("WANDB_MODE", raising=False)
    small_run(tmp_path, ["wandb"])
    runs = list((tmp_path / "run" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and any(runs[0].glob("*.wandb"))


def test_a_tracker_that_is_not_installed_is_a_clear_error(tmp_path, monkeypatch):
    import importlib.util

    from learnsim import ConfigError

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a)
    )
    with pytest.raises(
        ConfigError, match=r"training.trackers lists 'wandb' but the wandb package is not installed"
    ):
        small_run(tmp_path, ["wandb"])


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed")
def test_report_renders_in_headless_chromium(tmp_path, isolated_home):
    pytest.importorskip("matplotlib")
    import subprocess

    from learnsim.report import write_report

    small_run(tmp_path, [])
    page = write_report(tmp_path / "run")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chrome'}",
    ]
    dom = subprocess.run(
        [CHROMIUM, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120
    ).stdout
    import re

    body = re.search(r"<body[^>]*>", dom).group(0)
    images = int(re.search(r'data-images="(\d+)"', body).group(1))
    loaded = int(re.search(r'data-images-loaded="(\d+)"', body).group(1))
    assert images >= 4 and loaded == images  # every embedded plot decoded in a real browser
    for table in ("summary", "metrics-val", "metrics-test", "lineage"):
        assert f'id="{table}"' in dom
    assert "rollout RMSE" in dom and "position" in dom


def test_plots_and_trackers_finish_on_the_background_thread_and_wait_waits_for_them(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    import threading

    import learnsim.evaluate.plots as plots

    release, drawn_on = threading.Event(), []
    real = plots.draw

    def slow_draw(*args, **kwargs):
        drawn_on.append(threading.current_thread().name)
        release.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(plots, "draw", slow_draw)
    save_dataset("osc", example_dataset("oscillator", episodes=8, steps=120))
    config = RunConfig(
        dataset="osc",
        model=onyx_config(sequence_length=4, hidden_layers=1, hidden_size=16),
        training=TrainingConfig(training_iters=20, eval_every=10, train_batch_size=64, trackers=[]),
    )
    result = train(config, tmp_path / "run", monitor=False)
    # returned with the model stored and the report written, while the plots are still being drawn
    assert result.model_version and (tmp_path / "run" / "report.json").is_file()
    assert not (tmp_path / "run" / "plots" / "loss_curves.png").exists()
    release.set()
    assert result.wait() is result
    assert drawn_on and drawn_on[0].startswith("learnsim-background")
    assert {p.name for p in (tmp_path / "run" / "plots").glob("*.png")} >= {
        "loss_curves.png",
        "rollout_test.png",
    }


def test_a_failing_plot_or_tracker_warns_and_leaves_the_run_whole(tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    import learnsim.evaluate.plots as plots
    from learnsim.track.mlflow_tracker import MLflowTracker

    def no_plots(*args, **kwargs):
        raise OSError("disk full")

    def no_store(self, *args, **kwargs):
        raise ConnectionError("tracking store unreachable")

    monkeypatch.setattr(plots, "draw", no_plots)
    monkeypatch.setattr(MLflowTracker, "start", no_store)
    with pytest.warns(RuntimeWarning) as caught:
        result = small_run(tmp_path, ["mlflow"])
    messages = [str(w.message) for w in caught]
    assert any(
        "mlflow tracker failed in start (ConnectionError: tracking store unreachable)" in m for m in messages
    )
    assert any("drawing the plots" in m and "OSError: disk full" in m for m in messages)
    assert result.model_version and (tmp_path / "run" / "report.json").is_file()
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert sum("train/loss" in line for line in lines) == 4 and any("test/" in line for line in lines)


def test_a_background_failure_is_warned_on_the_waiting_thread_though_it_failed_while_warnings_were_ignored():
    """Warning filters are process-wide: a failure raised on the background thread while the main thread sits
    in some library's ``catch_warnings`` block would be lost there. It is held and issued by ``wait``."""
    import threading
    import warnings

    from learnsim.track import background

    started, release = threading.Event(), threading.Event()

    def fail():
        started.set()
        release.wait(10)
        raise OSError("disk full")

    background.submit(fail, what="drawing a plot")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert started.wait(10)
        release.set()
        background._pool().submit(lambda: None).result()  # the task fails while this thread ignores warnings
    with pytest.warns(RuntimeWarning, match=r"drawing a plot failed \(OSError: disk full\)"):
        background.wait()

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from helpers import onyx_config
from safetensors.torch import load_file

from learnsim import ConfigError, RNNConfig, TrainingError, TransformerConfig
from learnsim.data.examples import example_dataset
from learnsim.store.datasets import save_dataset
from learnsim.store.models import list_models, load_model
from learnsim.train import RunConfig, TrainingConfig, load_run_config, resume, train, train_model
from learnsim.train import checkpoint as ckpt


def small_dataset(name="osc", episodes=16, steps=200):
    return save_dataset(name, example_dataset("oscillator", episodes=episodes, steps=steps))


def fast_training(**overrides) -> TrainingConfig:
    fields = dict(
        training_iters=120,
        train_batch_size=256,
        eval_every=40,
        save_every=40,
        log_every=10,
        lr_scheduler=None,
        optimizer={"lr": 3e-3},
        eval_horizon=100,
        checkpoint_type="single_step",  # these tests exercise the one-step engine
        rollout=None,
    )
    return TrainingConfig(**{**fields, **overrides})


def family(name):
    base = onyx_config(sequence_length=4).model_dump(include={"outputs", "inputs", "dt", "sequence_length"})
    return {
        "mlp": onyx_config(sequence_length=4, hidden_layers=2, hidden_size=32),
        "gru": RNNConfig(**base, hidden_layers=1, hidden_size=32),
        "transformer": TransformerConfig(**base, n_layer=1, n_head=2, n_embd=32),
    }[name]


@pytest.mark.parametrize("name", ["mlp", "gru", "transformer"])
def test_loss_goes_down_for_every_family_and_run_dir_explains_itself(name, tmp_path):
    small_dataset()
    result = train_model(
        f"m-{name}", family(name), "osc", fast_training(), monitor_training=False, run_dir=tmp_path / "run"
    )
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    losses = [r["train/loss"] for r in records if "train/loss" in r]
    assert losses[-1] < 0.2 * losses[0], losses
    val = [r["val/loss"] for r in records if "val/loss" in r]
    assert len(val) == 3 and val[-1] < val[0]
    run = tmp_path / "run"
    assert {p.name for p in run.iterdir()} >= {
        "config.yaml",
        "dataset.json",
        "metrics.jsonl",
        "checkpoints",
        "report.json",
    }
    saved = load_run_config(run / "config.yaml").model
    assert saved == result.model.config  # the resolved config: what was trained
    given = family(name).model_dump(exclude_unset=True, exclude={"inputs", "outputs"})
    assert saved.model_dump(include=set(given)) == given  # every field the user set is kept as set
    assert saved.outputs == family(name).outputs
    assert [f.integration for f in saved.inputs] == [None, 1.0, None]  # estimated: the data is semi-implicit
    dataset = json.loads((run / "dataset.json").read_text())
    assert dataset["name"] == "osc" and len(dataset["version"]) == 16 and dataset["split"]["by"] == "episode"
    report = json.loads((run / "report.json").read_text())
    assert report["test"]["test/rollout_rmse/position"] > 0 and report["model"]["name"] == f"m-{name}"
    assert math.isfinite(report["test"]["test/rmse/acceleration_prediction"])
    # the stored model simulates with no other file and equals the returned best model
    stored = load_model(f"m-{name}")
    window = torch.randn(3, 4, 3)
    assert torch.equal(stored(window), result.model.cpu()(window))
    assert list_models()[0]["lineage"]["dataset_version"] == dataset["version"]


def test_top_k_keeps_best_and_latest_checkpoints(tmp_path):
    small_dataset()
    config = RunConfig(
        dataset="osc",
        model=family("mlp"),
        training=fast_training(training_iters=200, eval_every=20, save_every=20, save_top_k=2),
    )
    train(config, tmp_path / "run", monitor=False)
    kept = ckpt.checkpoints(tmp_path / "run" / "checkpoints")
    records = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    val = {r["step"]: r["val/loss"] for r in records if "val/loss" in r}
    best_two = sorted(val, key=val.get)[:2]
    assert {m["step"] for _, m in kept} == set(best_two) | {200}
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["best_step"] == best_two[0]


def test_finishing_stores_the_best_checkpoint_not_the_latest(tmp_path):
    """The latest checkpoint made worse than an earlier one kept beside it (its recorded metric raised, then
    the run finished again by a resume with nothing left to train): the earlier one is tested and stored."""
    from safetensors.torch import load_file

    small_dataset()
    config = RunConfig(
        dataset="osc",
        model=family("mlp"),
        training=fast_training(training_iters=60, eval_every=20, save_every=20, save_top_k=2),
    )
    run_dir = tmp_path / "run"
    train(config, run_dir, monitor=False)
    kept = ckpt.checkpoints(run_dir / "checkpoints")
    (latest_path, latest), (earlier_path, earlier) = kept[-1], kept[0]
    assert latest["step"] == 60 and earlier["step"] < 60
    meta = json.loads((latest_path / "meta.json").read_text())
    meta["metric"] = 10 * max(m["metric"] for _, m in kept)
    (latest_path / "meta.json").write_text(json.dumps(meta))
    (run_dir / "report.json").unlink()
    result = resume(run_dir, monitor=False)
    assert (
        result.report["best_step"] == earlier["step"]
        and result.report["best_checkpoint"] == earlier_path.name
    )
    weights = load_file(earlier_path / "model.safetensors")
    stored = load_model(f"{result.model_name}@{result.model_version}").state_dict()
    assert all(torch.equal(stored[k], v) for k, v in weights.items() if k in stored)


def test_early_stopping_by_patience(tmp_path):
    small_dataset()
    # lr 0 after the first step: no evaluation can improve on the first, so patience 2 stops at the 3rd
    config = RunConfig(
        dataset="osc",
        model=family("mlp"),
        training=fast_training(
            training_iters=1000, eval_every=10, early_stop_patience=2, optimizer={"type": "sgd", "lr": 1e-12}
        ),
    )
    result = train(config, tmp_path / "run", monitor=False)
    assert result.report["stopped_early"] and result.report["steps"] == 30


@pytest.mark.parametrize("deferred", [False, True])
def test_nan_loss_stops_keeping_last_good_checkpoint(tmp_path, monkeypatch, deferred):
    """At the step on the CPU; ``deferred`` (how CUDA checks, at each log and checkpoint instead of every
    step): naming the steps since the last check, and before a checkpoint could keep the diverged weights."""
    small_dataset()
    import learnsim.train.loop as loop_module
    import learnsim.train.run as run_module

    build = loop_module.build_run

    def build_deferred(*args, **kwargs):
        run = build(*args, **kwargs)
        run.defer_loss_check = deferred
        return run

    monkeypatch.setattr(loop_module, "build_run", build_deferred)

    real = run_module.make_loss
    calls = {"n": 0}

    def poisoned(*args):
        fn = real(*args)

        def loss(prediction, target):
            calls["n"] += 1
            value = fn(prediction, target)
            return value * float("nan") if calls["n"] == 25 else value

        return loss

    monkeypatch.setattr(run_module, "make_loss", poisoned)
    config = RunConfig(
        dataset="osc",
        model=family("mlp"),
        training=fast_training(eval_every=10, save_every=10, log_every=1000),  # checked at checkpoints only
    )
    where = r"in steps 21-30\b" if deferred else r"\(nan\) at step 2\d\b"
    with pytest.raises(TrainingError, match=rf"non-finite training loss {where}.*step-00000020"):
        train(config, tmp_path / "run", monitor=False)
    kept = ckpt.checkpoints(tmp_path / "run" / "checkpoints")
    assert [meta["step"] for _, meta in kept][-1] == 20
    weights = load_file(str(kept[-1][0] / "model.safetensors"))
    assert all(torch.isfinite(t).all() for t in weights.values())


def test_config_errors_name_the_field(tmp_path):
    path = tmp_path / "run.yaml"
    run = {
        "dataset": "osc",
        "model": family("mlp").model_dump(mode="json"),
        "training": {"training_iters": 10},
    }
    path.write_text(yaml.safe_dump(run))
    assert load_run_config(path, ["training.optimizer.lr=1e-3"]).training.optimizer.lr == 1e-3
    cases = {
        "training.optimizer.lr=-1": r"training\.optimizer\.lr: Input should be greater than 0",
        "training.optimiser.lr=1": r"training\.optimiser: Extra inputs are not permitted",
        "training.precision=64": r"training\.precision: Input should be '32', 'bf16-mixed' or '16-mixed'",
        "training.device=gpu": r"training\.device: device must be",
        "training.lr_scheduler={type: torch, name: NoSuchLR}": r"'NoSuchLR' is not a class in torch.optim.lr_scheduler",
        "training.optimizer={type: torch, name: RAdam, params: {lrr: 1}}": r"RAdam has no parameter\(s\) \['lrr'\]",
        "training.lr_scheduler.warmup_iters=5000": r"warmup_iters \(5000\) must be < decay_iters",
        "model.hidden_size=0": r"model\.hidden_size: Input should be greater than or equal to 1",
        "training.test_dataset_size=1.5": r"fractional test_dataset_size must be < 1",
        "training.loss_weights={nope: 2}": r"loss_weights names \['nope'\]",
        "training": r"must look like section.field=value",
    }
    for override, message in cases.items():
        with pytest.raises(ConfigError, match=message):
            load_run_config(path, [override])
    no_states = onyx_config(inputs=[{"name": "control_input"}]).model_dump(mode="json")
    with pytest.raises(ConfigError, match="checkpoint_type 'multi_step' needs a model with states"):
        load_run_config(
            data={"dataset": "x", "model": no_states, "training": {"checkpoint_type": "multi_step"}}
        )
    with pytest.raises(ConfigError, match="no such config file"):
        load_run_config(tmp_path / "missing.yaml")


def test_training_on_data_missing_a_feature_fails_before_writing_checkpoints(tmp_path):
    from learnsim.data.dataset import Dataset

    data = example_dataset("oscillator", episodes=4, steps=50)
    data.columns["ctrl"] = data.columns.pop("control_input")
    save_dataset("renamed", Dataset(data.columns, data.dt, data.episode))
    with pytest.raises(Exception, match=r"column 'control_input' needed by the model config is missing"):
        train_model(
            "m", family("mlp"), "renamed", fast_training(), monitor_training=False, run_dir=tmp_path / "r"
        )
    assert not (tmp_path / "r" / "checkpoints").exists()


def _run_config_file(tmp_path: Path, iters: int) -> Path:
    run = {
        "dataset": "osc",
        "model": family("mlp").model_dump(mode="json"),
        "training": fast_training(
            training_iters=iters,
            eval_every=100,
            save_every=20,
            log_every=20,
            train_batch_size=512,
            lr_scheduler={"max_lr": 3e-3, "warmup_iters": 50, "decay_iters": iters},
        ).model_dump(mode="json"),
    }
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(run))
    return path


@pytest.mark.slow
def test_resume_after_sigkill_is_bitwise_exact(tmp_path, isolated_home):
    small_dataset()
    config = _run_config_file(tmp_path, iters=1500)
    env = {**os.environ, "LEARNSIM_HOME": str(isolated_home), "OMP_NUM_THREADS": "2"}
    cli = [sys.executable, "-m", "learnsim"]
    subprocess.run(
        [*cli, "train", str(config), "--run-dir", str(tmp_path / "straight"), "--quiet"], env=env, check=True
    )

    killed = tmp_path / "killed"
    child = subprocess.Popen([*cli, "train", str(config), "--run-dir", str(killed), "--quiet"], env=env)
    deadline = time.time() + 120
    while not (killed / "checkpoints" / "step-00000300").exists() and time.time() < deadline:
        time.sleep(0.005)
    child.send_signal(signal.SIGKILL)
    assert child.wait() == -signal.SIGKILL  # killed mid-run, not finished
    assert not (killed / "report.json").exists()
    resumed = subprocess.run([*cli, "train", "--resume", str(killed), "--quiet"], env=env)
    assert resumed.returncode == 0

    a = load_file(str(tmp_path / "straight" / "checkpoints" / "step-00001500" / "model.safetensors"))
    b = load_file(str(killed / "checkpoints" / "step-00001500" / "model.safetensors"))
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    straight = [json.loads(x) for x in (tmp_path / "straight" / "metrics.jsonl").read_text().splitlines()]
    again = [json.loads(x) for x in (killed / "metrics.jsonl").read_text().splitlines()]
    assert straight == again  # the log holds no duplicated or lost steps either
    again = subprocess.run([*cli, "train", "--resume", str(killed)], env=env, capture_output=True, text=True)
    assert again.returncode == 2 and "already finished" in again.stderr and "Traceback" not in again.stderr


def test_a_validation_free_run_that_diverges_for_a_long_stretch_stops_the_run(tmp_path, monkeypatch, capsys):
    """After step 20 the validation free run is made to run away (nRMSE 1e6, the selection score with it):
    5 validations later the run stops instead of spending its budget, keeping its best checkpoint."""
    from learnsim.train import loop

    real = loop.split_metrics

    def running_away(model, data, split, *args, **kwargs):
        metrics = real(model, data, split, *args, **kwargs)
        if split == "val" and loop_step[0] > 20:
            metrics = metrics | {"val/nrmse@full": 1e6, "val/loss": 1e6, "val/rollout_score": 1e6}
        return metrics

    loop_step = [0]
    real_validate = loop.validate_model

    def validate(run, *args, **kwargs):
        loop_step[0] = run.state.step
        return real_validate(run, *args, **kwargs)

    monkeypatch.setattr(loop, "split_metrics", running_away)
    monkeypatch.setattr(loop, "validate_model", validate)
    small_dataset()
    config = RunConfig(
        dataset="osc", model=family("mlp"), training=fast_training(training_iters=400, eval_every=10)
    )
    result = train(config, tmp_path / "run", monitor=True)
    printed = capsys.readouterr().out
    assert result.report["stopped_early"] and result.report["steps"] == 20 + 10 * loop.DIVERGED_EVALUATIONS
    assert result.report["best_step"] <= 20
    assert "the validation free run has diverged for 5 evaluations in a row" in printed
    records = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert all("val/hold/nrmse@full" in r for r in records if "val/loss" in r)  # the yardstick, logged

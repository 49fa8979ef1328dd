"""Training options beyond the defaults: mixed precision, warm start, rollout training of every family,
and the angle-wrapped pendulum example end to end."""

import json
import math
import warnings

import numpy as np
import pytest
import torch

from learnsim import ConfigError, RNNConfig, TransformerConfig, example_features
from learnsim.data.examples import example_dataset
from learnsim.data.validate import validate_dataset
from learnsim.models import MLPConfig
from learnsim.store.datasets import save_dataset
from learnsim.store.models import load_model
from learnsim.train import RunConfig, TrainingConfig, train


def tiny(training: dict, model=None, dataset="osc"):
    base = MLPConfig(
        **example_features("oscillator"), dt=0.01, sequence_length=4, hidden_layers=1, hidden_size=16
    )
    one_step = {
        "rollout": None,
        "checkpoint_type": "single_step",
    }  # the options below, on the one-step engine
    fields = {
        "training_iters": 30,
        "eval_every": 15,
        "train_batch_size": 128,
        "trackers": [],
        **one_step,
        **training,
    }
    return RunConfig(dataset=dataset, model=model or base, training=TrainingConfig(**fields))


@pytest.fixture
def oscillator():
    save_dataset("osc", example_dataset("oscillator", episodes=8, steps=150))


@pytest.mark.parametrize("precision", ["bf16-mixed", "16-mixed"])
def test_mixed_precision_trains_on_cpu(oscillator, tmp_path, precision):
    result = train(
        tiny(
            {
                "precision": precision,
                "log_every": 5,
                "training_iters": 60,
                "lr_scheduler": None,
                "optimizer": {"lr": 3e-3},
            }
        ),
        tmp_path / "run",
        monitor=False,
    )
    losses = [
        json.loads(x).get("train/loss") for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    ]
    losses = [x for x in losses if x is not None]
    assert all(math.isfinite(x) for x in losses) and losses[-1] < losses[0]
    assert all(p.dtype == torch.float32 for p in result.model.parameters())  # master weights stay float32


def test_warm_start_copies_weights_and_refuses_a_different_architecture(oscillator, tmp_path):
    first = train(tiny({}), tmp_path / "first", monitor=False)
    # SGD with a vanishing learning rate: the warm-started weights come out unchanged
    again = train(
        tiny(
            {
                "optimizer": {"type": "sgd", "lr": 1e-30, "momentum": 0.0},
                "lr_scheduler": None,
                "grad_clip": None,
            }
        ),
        tmp_path / "second",
        monitor=False,
        warm_start="model",
    )
    source = load_model("model", first.model_version)
    for (name, a), b in zip(
        source.state_dict().items(), again.model.cpu().state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name
    wider = MLPConfig(
        **example_features("oscillator"), dt=0.01, sequence_length=4, hidden_layers=1, hidden_size=32
    )
    with pytest.raises(ConfigError, match=r"warm start from 'model@.*': its weights do not fit"):
        train(
            tiny({}, model=wider),
            tmp_path / "third",
            monitor=False,
            warm_start=f"model@{first.model_version}",
        )


@pytest.mark.parametrize("family", ["gru", "transformer"])
def test_rollout_training_works_for_every_family(oscillator, tmp_path, family):
    common = dict(**example_features("oscillator"), dt=0.01, sequence_length=4)
    model = (
        RNNConfig(**common, hidden_layers=1, hidden_size=16)
        if family == "gru"
        else TransformerConfig(**common, n_layer=1, n_head=2, n_embd=16)
    )
    result = train(
        tiny(
            {
                "training_iters": 40,
                "eval_every": 20,
                "checkpoint_type": "multi_step",
                "log_every": 1,
                "rollout": {"horizons": [1, 8], "start_iters": [0, 20]},
            },
            model=model,
        ),
        tmp_path / "run",
        monitor=False,
    )
    records = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert {r["train/horizon"] for r in records if "train/horizon" in r} == {1, 8}
    assert math.isfinite(result.metrics["test/rollout_rmse/position"])
    assert result.report["selection"]["metric"] == "val/rollout_score"


def test_pendulum_example_trains_with_wrapped_angles(tmp_path):
    dataset = example_dataset("pendulum", episodes=12, steps=200)
    theta = dataset.columns["theta"]
    assert theta.min() >= -np.pi and theta.max() < np.pi and np.abs(np.diff(theta)).max() > np.pi  # it wraps
    model = MLPConfig(
        **example_features("pendulum"), dt=0.01, sequence_length=4, hidden_layers=2, hidden_size=32
    )
    assert validate_dataset(dataset, model).ok
    save_dataset("pendulum", dataset)
    result = train(
        tiny(
            {"training_iters": 300, "eval_every": 100, "lr_scheduler": None, "optimizer": {"lr": 3e-3}},
            model=model,
            dataset="pendulum",
        ),
        tmp_path / "run",
        monitor=False,
    )
    # wrapped-angle error: a simulated angle of pi - e against a recorded -pi + e is an error of 2e, not 2 pi
    assert result.metrics["test/rollout_rmse/theta"] < 1.0
    simulated = result.model.cpu().simulate(
        {"omega": torch.zeros(1, 4, 1), "theta": torch.full((1, 4, 1), 3.1)},
        {"torque": torch.zeros(1, 104, 1)},
    )
    assert simulated.inputs["theta"].abs().max() <= math.pi


@pytest.mark.slow
def test_compiled_step_trains_like_eager_and_reports_compile_time(oscillator, tmp_path):
    """compile: true runs the step through torch.compile (inductor on CPU): the same loss curve as eager to
    float tolerance, with the compile time reported apart from the throughput."""
    runs = {}
    for compile_ in (False, True):
        config = tiny({"compile": compile_, "training_iters": 20, "eval_every": 20, "log_every": 5})
        runs[compile_] = train(config, tmp_path / f"compile-{compile_}", monitor=False)
    losses = {
        flag: [json.loads(line)["train/loss"] for line in (r.run_dir / "metrics.jsonl").read_text().splitlines()
               if "train/loss" in line]
        for flag, r in runs.items()
    }  # fmt: skip
    assert len(losses[True]) == 4 and losses[True] == pytest.approx(losses[False], rel=1e-4)
    # inductor's on-disk cache makes a repeated compile quick (0.5 s here on a second run of the suite)
    assert runs[True].report["compile_seconds"] > 0.05 and runs[False].report["compile_seconds"] is None
    # the compiling step is kept out of the training time: counted in, the timed training would last at
    # least compile_seconds (not a speed comparison, so a busy machine cannot fail it)
    sample_steps = 20 * 128  # one-step engine: 20 steps of 128 samples
    trained_seconds = sample_steps / runs[True].report["train_sample_steps_per_second"]
    assert trained_seconds < runs[True].report["compile_seconds"], (trained_seconds, runs[True].report)


def test_float32_matmul_precision_is_applied(oscillator, tmp_path):
    before = torch.get_float32_matmul_precision()
    try:
        train(
            tiny({"float32_matmul_precision": "medium", "training_iters": 2}), tmp_path / "r", monitor=False
        )
        assert torch.get_float32_matmul_precision() == "medium"
    finally:
        torch.set_float32_matmul_precision(before)


def test_cuda_graphs_without_cuda_train_uncaptured_with_one_notice(oscillator, tmp_path):
    config = tiny({"cuda_graphs": True, "training_iters": 10, "eval_every": 10, "device": "cpu"})
    with pytest.warns(
        RuntimeWarning, match=r"cuda_graphs needs a CUDA device; the step on cpu runs uncaptured"
    ):
        result = train(config, tmp_path / "r", monitor=False)
    assert result.report["compile_seconds"] is None  # not compiled either: the eager step ran
    assert result.report["steps"] == 10 and result.model_version is not None


def test_cuda_graphs_leave_an_rnn_step_uncaptured_with_one_notice():
    """Decided before any kernel runs, so it is checked here without a GPU: the objective comes back eager
    (or plainly compiled with compile: true), never under torch.compile's CUDA-graph mode."""
    from learnsim.train.run import compiled_objective

    objective = torch.nn.Linear(1, 1)
    gru = RNNConfig(**example_features("oscillator"), dt=0.01, sequence_length=4)
    for compile_too in (False, True):
        tc = TrainingConfig(cuda_graphs=True, compile=compile_too)
        with pytest.warns(
            RuntimeWarning, match=r"does not capture cuDNN's RNN kernels.*the RNN runs uncaptured"
        ):
            step = compiled_objective(objective, tc, torch.device("cuda"), gru)
        assert (step is objective) is not compile_too
    mlp = MLPConfig(**example_features("oscillator"), dt=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an MLP is captured: no notice
        captured = compiled_objective(objective, TrainingConfig(cuda_graphs=True), torch.device("cuda"), mlp)
    assert captured is not objective


@pytest.mark.parametrize("horizons", [["full"], [1, 10]])
def test_multi_step_selection_scores_the_configured_horizons(oscillator, tmp_path, horizons):
    config = tiny(
        {
            "checkpoint_type": "multi_step",
            "selection_horizons": horizons,
            "training_iters": 20,
            "eval_every": 10,
        }
    )
    result = train(config, tmp_path / "run", monitor=False)
    records = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    scored = [r for r in records if "val/rollout_score" in r]
    assert len(scored) >= 2
    for r in scored:  # the geometric mean of exactly the configured horizons' nRMSE
        expected = math.exp(sum(math.log(r[f"val/nrmse@{h}"]) for h in horizons) / len(horizons))
        assert r["val/rollout_score"] == pytest.approx(expected, rel=1e-9)
    assert result.report["selection"]["metric"] == "val/rollout_score"

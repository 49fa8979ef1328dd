import json

import numpy as np
import pytest
import torch
from helpers import onyx_config, stub_model
from safetensors.torch import load_file
from torch import nn

from learnsim import Dataset, Input, MLPConfig, Output
from learnsim.data.examples import example_dataset
from learnsim.data.splits import split_rows
from learnsim.data.windows import WindowedData
from learnsim.simulate import rollout
from learnsim.store.datasets import save_dataset
from learnsim.train import RunConfig, TrainingConfig, train
from learnsim.train import checkpoint as ckpt
from learnsim.train.config import RolloutConfig
from learnsim.train.rollout import Curriculum, rollout_loss


def test_explicit_curriculum_switches_at_configured_iterations():
    config = RolloutConfig(horizons=[1, 8, 32, 128], start_iters=[0, 10, 20, 40])
    curriculum = Curriculum(config, training_iters=100, longest_possible=1000)
    got = [curriculum.horizon_at(s) for s in (0, 9, 10, 19, 20, 39, 40, 99)]
    assert got == [1, 1, 8, 8, 32, 32, 128, 128]
    capped = Curriculum(config, training_iters=100, longest_possible=50)
    assert capped.horizon_at(50) == 50  # never longer than the training segments allow


def test_automatic_curriculum_doubles_over_the_configured_fraction():
    curriculum = Curriculum(RolloutConfig(max_horizon=16, curriculum_fraction=0.5), 1000, 10_000)
    assert curriculum.horizons == [1, 2, 4, 8, 16]
    assert curriculum.start_iters == [0, 100, 200, 300, 400]
    assert curriculum.horizon_at(999) == 16


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"horizons": [1, 8]}, "give both horizons and start_iters"),
        ({"horizons": [1, 8], "start_iters": [0]}, "same, non-zero length"),
        ({"horizons": [1, 8], "start_iters": [5, 10]}, "must start at 0"),
        ({"horizons": [1, 8], "start_iters": [0, 0]}, "increase strictly"),
    ],
)
def test_curriculum_config_errors(bad, message):
    with pytest.raises(ValueError, match=message):
        RolloutConfig(**bad)


def test_training_logs_the_curriculum_horizons(tmp_path):
    save_dataset("osc", example_dataset("oscillator", episodes=8, steps=120))
    model = onyx_config(sequence_length=4, hidden_layers=1, hidden_size=16)
    training = TrainingConfig(
        training_iters=30,
        log_every=1,
        eval_every=30,
        train_batch_size=64,
        rollout={"horizons": [0, 4, 16], "start_iters": [0, 10, 20]},
    )
    train(RunConfig(dataset="osc", model=model, training=training), tmp_path / "run", monitor=False)
    records = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    horizons = {r["step"]: r["train/horizon"] for r in records if "train/horizon" in r}
    assert [horizons[s] for s in (1, 10, 11, 20, 21, 30)] == [0, 0, 4, 4, 16, 16]


class Linear(nn.Module):
    """A linear network so every gradient is non-zero and finite."""

    def __init__(self, width, outputs):
        super().__init__()
        self.layer = nn.Linear(width, outputs)

    def forward(self, z):
        return self.layer(z.flatten(1))


@pytest.mark.parametrize("relation", ["equal", "delta", "derivative"])
def test_gradients_flow_through_every_relation_type(relation):
    torch.manual_seed(0)
    config = MLPConfig(
        outputs=[Output("y"), Output("d", parent="y", relation=relation)],
        inputs=[
            Input("s", parent="d", relation=relation),
            Input("t", parent="s", relation=relation),
            Input("u"),
        ],
        dt=0.1,
        sequence_length=2,
    )
    from learnsim.models import SimulatorModel

    model = SimulatorModel(config, Linear(2 * 3, 1))
    window = torch.randn(4, 2, 3)
    series = torch.randn(4, 12, 3)
    inputs, outputs = rollout(model, window, series, 10, derived_init=torch.zeros(4, 1))
    (inputs[:, -1, 1].square().sum() + outputs[:, -1, 1].square().sum()).backward()
    grad = model.network.layer.weight.grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_truncated_backpropagation_cuts_the_state_path():
    torch.manual_seed(0)
    config = MLPConfig(
        outputs=[Output("y")], inputs=[Input("s", parent="y", relation="delta")], dt=0.1, sequence_length=1
    )
    from learnsim.models import SimulatorModel

    model = SimulatorModel(config, Linear(1, 1))
    window = torch.ones(1, 1, 1, requires_grad=True)
    full, _ = rollout(model, window, torch.zeros(1, 7, 1), 6)
    (grad_full,) = torch.autograd.grad(full[:, -1].sum(), window)
    cut, _ = rollout(model, window, torch.zeros(1, 7, 1), 6, detach_every=2)
    (grad_cut,) = torch.autograd.grad(cut[:, -1].sum(), window, allow_unused=True)
    assert grad_full.abs().item() > 0
    assert grad_cut is None or grad_cut.abs().item() == 0  # the last state no longer sees the history
    assert torch.equal(full, cut)  # the forward values are the same


def test_rollout_loss_is_zero_for_a_perfect_model_and_grows_with_error():
    # the example oscillator is integrated with the model's own update, so its recorded acceleration is exact
    ds = example_dataset("oscillator", episodes=2, steps=100)
    config = MLPConfig(
        outputs=[Output("acc", dataset_feature="acceleration")],
        dt=0.01,
        sequence_length=1,
        inputs=[
            Input("velocity", parent="acc", relation="derivative"),
            Input("position", parent="velocity", relation="derivative"),
            Input("control_input"),
        ],
    )
    data = WindowedData.build(ds, config, split_rows(ds.episode_bounds(), 0.5, 0, 1, 0), dtype=torch.float64)

    class Oracle(nn.Module):  # reads the acceleration the example used: a = u - 0.4 v - 4 x - 1.5 x^3
        def __init__(self):
            super().__init__()
            self.gain = nn.Parameter(torch.ones((), dtype=torch.float64))

        def forward(self, z):
            v, x, u = z[:, -1, 0], z[:, -1, 1], z[:, -1, 2]
            return (self.gain * (u - 0.4 * v - 4 * x - 1.5 * x**3))[:, None]

    model = stub_model(config, [0.0]).double()
    model.network = Oracle()
    targets = data.targets  # identity scaling: normalised == physical
    starts = torch.tensor([0, 10])
    cfg = RolloutConfig(horizons=[50], start_iters=[0])
    assert rollout_loss(model, data, targets, starts, 50, cfg, None, "mse").item() < 1e-14  # float64 rounding
    model.network.gain.data.fill_(1.1)
    assert rollout_loss(model, data, targets, starts, 50, cfg, None, "mse").item() > 1e-4


def _narx_run(rollout_config, tmp_path, name):
    model = MLPConfig(
        outputs=[Output("dy")],
        inputs=[Input("position", parent="dy", relation="delta"), Input("control_input")],
        dt=0.05,
        sequence_length=6,
        hidden_layers=2,
        hidden_size=64,
    )
    training = TrainingConfig(
        training_iters=600,
        train_batch_size=512,
        eval_every=60,
        seed=0,
        checkpoint_type="multi_step",
        rollout=rollout_config,
        lr_scheduler={"max_lr": 3e-3, "warmup_iters": 50, "decay_iters": 600},
    )
    return train(RunConfig(dataset="narx", model=model, training=training), tmp_path / name, monitor=False)


@pytest.mark.slow
def test_rollout_trained_model_beats_one_step_on_rollout_rmse(tmp_path):
    """NARX model of the example oscillator from noisy position measurements (std 0.05 on a signal of std ~0.8).

    One-step (equation-error) training is biased by noise on its own fed-back inputs; training on the
    free-run error is not. Measured: ratio 0.65 (0.61-0.70 over three noise seeds); asserted below 0.8."""
    ds = example_dataset("oscillator", episodes=32, steps=300, seed=1, dt=0.05)
    noise = 0.05 * np.random.default_rng(0).normal(size=ds.n_rows)
    save_dataset(
        "narx",
        Dataset(
            {"position": ds.columns["position"] + noise, "control_input": ds.columns["control_input"]},
            ds.dt,
            ds.episode,
        ),
    )
    one_step = _narx_run(None, tmp_path, "one")
    multi = _narx_run({"max_horizon": 64}, tmp_path, "multi")
    ratio = multi.metrics["test/rollout_rmse/position"] / one_step.metrics["test/rollout_rmse/position"]
    assert ratio < RATIO_BOUND, ratio


RATIO_BOUND = 0.8


def test_resume_with_rollout_ema_and_noise_is_exact(tmp_path):
    save_dataset("osc", example_dataset("oscillator", episodes=8, steps=120))
    model = onyx_config(sequence_length=4, hidden_layers=1, hidden_size=16)
    training = TrainingConfig(
        training_iters=40,
        eval_every=20,
        save_every=10,
        train_batch_size=64,
        rollout={"horizons": [1, 8], "start_iters": [0, 15], "noise_std": 0.1, "ema_decay": 0.9, "tbptt": 4},
    )
    config = RunConfig(dataset="osc", model=model, training=training)
    train(config, tmp_path / "straight", monitor=False)

    def interrupt(model, step):
        if step == 40:
            raise KeyboardInterrupt  # stands in for a kill after the step-30 checkpoint
        return {}

    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path / "cut", monitor=False, eval_fn=interrupt)
    assert max(m["step"] for _, m in ckpt.checkpoints(tmp_path / "cut" / "checkpoints")) == 30
    from learnsim.train import resume

    resume(tmp_path / "cut", monitor=False)
    for name in ("model.safetensors",):
        a = load_file(str(tmp_path / "straight" / "checkpoints" / "step-00000040" / name))
        b = load_file(str(tmp_path / "cut" / "checkpoints" / "step-00000040" / name))
        assert all(torch.equal(a[k], b[k]) for k in a)
    state_a = ckpt.load_training_state(tmp_path / "straight" / "checkpoints" / "step-00000040")
    state_b = ckpt.load_training_state(tmp_path / "cut" / "checkpoints" / "step-00000040")
    assert all(
        torch.equal(state_a["train_weights"][k], state_b["train_weights"][k])
        for k in state_a["train_weights"]
    )
    # the EMA (saved model) differs from the raw training weights
    assert not all(torch.equal(a[k], state_a["train_weights"][k]) for k in state_a["train_weights"])

"""The evaluation protocol against hand-computed values."""

import math

import pytest
import torch
from helpers import onyx_config, stub_model

from learnsim.errors import ConfigError
from learnsim.evaluate.protocol import (
    chunks,
    evaluate_batch,
    hold_last,
    parse_horizons,
    score,
    segment_batch,
    spread,
)
from learnsim.simulate import Trajectories


def trajectories(errors: torch.Tensor, valid=None, angles=frozenset()) -> Trajectories:
    recorded = {"x": torch.zeros_like(errors)}
    return Trajectories({"x": errors}, recorded, angles, 0.1, valid)


def test_rmse_at_each_horizon_covers_the_first_h_steps_of_every_segment():
    errors = torch.tensor([[1.0, 2.0, 3.0, 4.0], [1.0, 0.0, 3.0, 0.0]])
    metrics = score(trajectories(errors), [1, 2, "full", 9], {"x": 2.0}, ["x"])
    assert metrics["rmse@1/x"] == pytest.approx(1.0)
    assert metrics["rmse@2/x"] == pytest.approx(math.sqrt((1 + 4 + 1 + 0) / 4))
    assert metrics["rmse@full/x"] == pytest.approx(math.sqrt((1 + 4 + 9 + 16 + 1 + 0 + 9 + 0) / 8))
    assert metrics["nrmse@full/x"] == pytest.approx(metrics["rmse@full/x"] / 2.0)
    assert metrics["nrmse@full"] == metrics["nrmse@full/x"]
    assert metrics["fit/x"] == pytest.approx(100 * (1 - metrics["nrmse@full/x"]))
    assert "rmse@9/x" not in metrics  # longer than the simulation: left out


def test_padding_is_not_scored_and_a_diverged_run_scores_inf():
    errors = torch.tensor([[1.0, 1.0, 1.0], [2.0, 100.0, 100.0]])
    valid = torch.tensor([[True, True, True], [True, False, False]])
    metrics = score(trajectories(errors, valid), ["full"], {"x": 1.0}, ["x"])
    assert metrics["rmse@full/x"] == pytest.approx(math.sqrt((1 + 1 + 1 + 4) / 4))
    diverged = score(trajectories(torch.tensor([[1.0, float("nan")]])), ["full"], {"x": 1.0}, ["x"])
    assert diverged["nrmse@full"] == math.inf


def test_angle_errors_wrap_and_angles_spread_circularly():
    simulated = torch.tensor([[math.pi - 0.1]])
    recorded = torch.tensor([[-math.pi + 0.1]])
    angled = Trajectories({"theta": simulated}, {"theta": recorded}, frozenset({"theta"}), 0.1)
    assert score(angled, ["full"], {"theta": 1.0}, ["theta"])["rmse@full/theta"] == pytest.approx(
        0.2, abs=1e-5
    )
    hanging = torch.tensor([math.pi - 0.05, -math.pi + 0.05] * 50)  # swinging through +-pi
    assert spread(hanging, angle=True) == pytest.approx(0.05, abs=1e-3)
    assert spread(hanging, angle=False) > 3.0  # the linear std would call this a huge spread


def test_segment_batch_takes_history_then_simulated_rows_and_pads_with_the_last_row():
    inputs = torch.arange(20.0)[:, None].repeat(1, 3)  # row r holds r
    targets = 100 + torch.arange(20.0)[:, None]
    batch = segment_batch(inputs, targets, [(0, 10), (10, 14)], sequence_length=2, warmup=3)
    # history: the 2 rows before start + warmup; simulated rows: start + 3 .. end
    assert batch.inputs[0, :, 0].tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert batch.inputs[1, :, 0].tolist() == [11, 12, 13, 13, 13, 13, 13, 13, 13]
    assert batch.valid[1].tolist() == [True] + [False] * 6
    assert batch.targets[0, :, 0].tolist() == [103, 104, 105, 106, 107, 108, 109]
    assert batch.last_targets[:, 0].tolist() == [102, 112]
    assert segment_batch(inputs, targets, [(0, 3)], 2, warmup=3) is None


def test_chunks_and_horizon_parsing():
    assert chunks([(0, 10), (20, 25)], 4) == [(0, 4), (4, 8), (8, 10), (20, 24), (24, 25)]
    assert parse_horizons("1, 10,full") == [1, 10, "full"]
    for bad in ("0", "ten", "1.5", ""):
        with pytest.raises(ConfigError, match="horizon|at least one"):
            parse_horizons(bad)


def test_an_exact_model_has_zero_error_and_full_skill_over_holding_the_last_state():
    # constant acceleration 1 from rest: the exact model (a stub predicting 1) against the recording
    dt, L, steps = 0.125, 2, 16
    model = stub_model(onyx_config(dt=dt, sequence_length=L), [1.0]).double()
    velocity = torch.arange(L + steps, dtype=torch.float64) * dt
    position = torch.cumsum(velocity * dt, 0)
    rows = torch.stack([velocity, position, torch.zeros_like(velocity)], 1)
    targets = torch.ones(L + steps, 1, dtype=torch.float64)
    batch = segment_batch(rows, targets, [(0, L + steps)], L)
    metrics = evaluate_batch(model, batch, [1, "full"], {"hold": "hold"})
    assert metrics["nrmse@full"] < 1e-12 and metrics["hold/nrmse@full"] > 0.5
    assert metrics["skill_vs_hold@full"] == pytest.approx(1.0)
    from learnsim.simulate import free_run

    held = hold_last(free_run(model, batch.inputs, batch.targets, batch.valid), batch, model)
    assert torch.equal(
        held.simulated["velocity"][0], torch.full((steps,), velocity[L - 1].item(), dtype=torch.float64)
    )
    assert torch.equal(held.simulated["acceleration_prediction"][0], torch.ones(steps, dtype=torch.float64))

import math

import numpy as np
import pytest
import torch
from helpers import onyx_config, stub_model

from learnsim import Input, MLPConfig, Output, SimulationInputError, model_from_config, simulate


def test_constant_acceleration_matches_closed_form_semi_implicit_euler_exactly():
    # Dyadic dt and acceleration make every float64 operation exact, so "equal" means bitwise.
    dt, a, steps, L = 0.125, 2.0, 200, 4
    model = stub_model(onyx_config(dt=dt, sequence_length=L), [a]).double()
    v0, p0 = 0.5, -3.0
    result = model.simulate(
        {
            "velocity": torch.full((2, L, 1), v0, dtype=torch.float64),
            "position": torch.full((2, L, 1), p0, dtype=torch.float64),
        },
        {"control_input": torch.zeros(2, L + steps, 1, dtype=torch.float64)},
    )
    n = torch.arange(1, steps + 1, dtype=torch.float64)
    velocity = v0 + n * a * dt  # v_n = v_0 + n a dt
    position = p0 + n * v0 * dt + a * dt * dt * n * (n + 1) / 2  # p_n = p_0 + dt * sum_{k<=n} v_k
    assert torch.equal(result.inputs["velocity"][0, L:, 0], velocity)
    assert torch.equal(result.inputs["position"][0, L:, 0], position)
    assert torch.equal(result.inputs["velocity"][:, :L], torch.full((2, L, 1), v0, dtype=torch.float64))
    assert torch.equal(
        result.outputs["acceleration_prediction"], torch.full((2, steps, 1), a, dtype=torch.float64)
    )


def test_delta_equal_and_chain_ordering():
    # y predicted; d = y (equal, derived output); s1 += y (delta); s2 = s1_new (equal); s3 += s2_new (delta)
    config = MLPConfig(
        outputs=[Output("y"), Output("d", parent="y", relation="equal")],
        inputs=[
            Input("s3", parent="s2", relation="delta"),
            Input("s2", parent="s1", relation="equal"),
            Input("s1", parent="y", relation="delta"),
        ],
        dt=0.5,
        sequence_length=2,
    )
    model = stub_model(config, [1.0]).double()
    x0 = {name: torch.zeros(1, 2, 1, dtype=torch.float64) for name in ("s1", "s2", "s3")}
    result = model.simulate(x0, horizon=3)
    s1 = result.inputs["s1"][0, 2:, 0].tolist()
    assert s1 == [1.0, 2.0, 3.0]
    assert result.inputs["s2"][0, 2:, 0].tolist() == s1  # reads s1's fresh value, not last step's
    assert result.inputs["s3"][0, 2:, 0].tolist() == [1.0, 3.0, 6.0]
    assert result.outputs["d"][0, :, 0].tolist() == [1.0, 1.0, 1.0]


def _integrator(sequence_length: int):
    """y = 2 always; 'total' integrates it (a derived output) at dt 0.25: +0.5 a step."""
    config = MLPConfig(
        outputs=[Output("y"), Output("total", parent="y", relation="derivative")],
        inputs=[Input("u")],
        dt=0.25,
        sequence_length=sequence_length,
    )
    return stub_model(config, [2.0]).double()


def test_integrating_derived_output_needs_and_uses_its_initial_value():
    model = _integrator(1)
    with pytest.raises(SimulationInputError, match=r"missing \['total'\]"):
        model.simulate({}, {"u": torch.zeros(1, 4, 1)})
    result = model.simulate({"total": torch.full((1, 1, 1), 10.0)}, {"u": torch.zeros(1, 4, 1)})
    assert result.outputs["total"][0, :, 0].tolist() == [10.5, 11.0, 11.5]


def test_an_integrating_derived_output_starts_from_the_last_row_of_its_history():
    """With a history of several rows, the free run continues from the newest one (the first is stale)."""
    model = _integrator(3)
    history = torch.tensor([[[1.0], [5.0], [10.0]]], dtype=torch.float64)  # (B=1, L=3, 1): oldest first
    result = model.simulate({"total": history}, {"u": torch.zeros(1, 6, 1)})
    assert result.outputs["total"][0, :, 0].tolist() == [10.5, 11.0, 11.5]


def test_angle_state_wraps_across_pi():
    config = MLPConfig(
        outputs=[Output("omega")],
        inputs=[
            Input("theta", parent="omega_state", relation="equal", angle=True),
            Input("omega_state", parent="omega", relation="equal"),
        ],
        dt=0.1,
        sequence_length=1,
    )
    # theta = omega_state copy, flagged angle: a value of 3.5 rad must come back as 3.5 - 2 pi
    model = stub_model(config, [3.5]).double()
    result = model.simulate({"theta": torch.zeros(1, 1, 1), "omega_state": torch.zeros(1, 1, 1)}, horizon=2)
    assert result.inputs["theta"][0, 1, 0].item() == pytest.approx(3.5 - 2 * math.pi)
    assert result.inputs["omega_state"][0, 1, 0].item() == pytest.approx(3.5)


def test_angle_delta_state_wraps_each_step():
    config = MLPConfig(
        outputs=[Output("dtheta")],
        inputs=[Input("theta", parent="dtheta", relation="delta", angle=True)],
        dt=0.1,
        sequence_length=1,
    )
    model = stub_model(config, [0.5]).double()
    result = model.simulate({"theta": torch.full((1, 1, 1), 3.0)}, horizon=3)
    theta = result.inputs["theta"][0, :, 0].numpy()
    expected = (3.0 + 0.5 * np.arange(4) + np.pi) % (2 * np.pi) - np.pi
    np.testing.assert_allclose(theta, expected, atol=1e-12)
    assert np.all(np.abs(theta) <= np.pi)


def test_argument_errors_say_what_was_expected():
    model = model_from_config(onyx_config(sequence_length=4))
    good_x0 = {"velocity": torch.zeros(2, 4, 1), "position": torch.zeros(2, 4, 1)}
    good_u = {"control_input": torch.zeros(2, 14, 1)}
    with pytest.raises(SimulationInputError, match=r"x0: missing \['position'\]"):
        model.simulate({"velocity": torch.zeros(2, 4, 1)}, good_u)
    with pytest.raises(SimulationInputError, match=r"unexpected \['speed'\]"):
        model.simulate({**good_x0, "speed": torch.zeros(2, 4, 1)}, good_u)
    with pytest.raises(
        SimulationInputError, match=r"x0\['velocity'\] has 3 time steps; expected sequence_length \(4\) = 4"
    ):
        model.simulate({**good_x0, "velocity": torch.zeros(2, 3, 1)}, good_u)
    with pytest.raises(SimulationInputError, match=r"shape \(2, 4\); expected \(B, T, 1\)"):
        model.simulate({**good_x0, "velocity": torch.zeros(2, 4)}, good_u)
    with pytest.raises(SimulationInputError, match="same batch size"):
        model.simulate({**good_x0, "velocity": torch.zeros(3, 4, 1)}, good_u)
    with pytest.raises(
        SimulationInputError, match=r"has 14 time steps; expected sequence_length \+ horizon \(4 \+ 20\)"
    ):
        model.simulate(good_x0, good_u, horizon=20)
    with pytest.raises(SimulationInputError, match=r"external_inputs: missing \['control_input'\]"):
        model.simulate(good_x0, {}, horizon=3)
    result = model.simulate(good_x0, good_u)
    assert result.inputs["position"].shape == (2, 14, 1)
    assert result.outputs["acceleration_prediction"].shape == (2, 10, 1)


def test_function_form_equals_method_and_numpy_inputs_work():
    torch.manual_seed(0)
    model = model_from_config(onyx_config(sequence_length=3)).eval()
    x0 = {"velocity": np.random.rand(2, 3, 1), "position": np.random.rand(2, 3, 1)}
    u = {"control_input": np.random.rand(2, 13, 1)}
    a = simulate(model, x0, u)
    b = model.simulate(x0, u)
    assert torch.equal(a.inputs["position"], b.inputs["position"])
    assert not a.inputs["position"].requires_grad


def test_gradients_flow_through_rollout():
    torch.manual_seed(0)
    model = model_from_config(onyx_config(sequence_length=2))
    x0 = {"velocity": torch.zeros(2, 2, 1), "position": torch.zeros(2, 2, 1)}
    result = model.simulate(x0, {"control_input": torch.randn(2, 22, 1)}, grad=True)
    result.inputs["position"][:, -1].sum().backward()
    grads = [p.grad for p in model.network.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(g.abs().sum().item() for g in grads) > 0


def test_to_dataframe_has_time_and_nan_history_outputs():
    pytest.importorskip("pandas")
    model = stub_model(onyx_config(sequence_length=2), [1.0])
    result = model.simulate(
        {"velocity": torch.zeros(1, 2, 1), "position": torch.zeros(1, 2, 1)},
        {"control_input": torch.zeros(1, 5, 1)},
    )
    frame = result.to_dataframe()
    assert list(frame.columns) == [
        "batch",
        "step",
        "time",
        "velocity",
        "position",
        "control_input",
        "acceleration_prediction",
    ]
    assert len(frame) == 5
    assert frame["acceleration_prediction"].isna().sum() == 2
    assert frame["time"].iloc[-1] == pytest.approx(0.04)


def test_sim_steps_is_a_deprecated_alias_of_horizon():
    model = stub_model(onyx_config(sequence_length=2), [1.0])
    x0 = {"velocity": torch.zeros(1, 2, 1), "position": torch.zeros(1, 2, 1)}
    u = {"control_input": torch.zeros(1, 7, 1)}
    with pytest.warns(DeprecationWarning, match="sim_steps= is deprecated; use horizon="):
        old = model.simulate(x0, u, sim_steps=5)
    with pytest.warns(DeprecationWarning, match="sim_steps= is deprecated"):
        function_form = simulate(model, x0, u, sim_steps=5)
    new = model.simulate(x0, u, horizon=5)
    assert torch.equal(old.inputs["position"], new.inputs["position"])
    assert torch.equal(function_form.inputs["position"], new.inputs["position"])


def test_a_free_run_past_the_training_range_is_said_once_per_call_naming_the_inputs():
    """Past the range the model was trained on (widened by its clip margin), a free run is an extrapolation:
    simulate() warns once, naming each input and the share of steps beyond; within the margin it is silent."""
    import warnings

    from learnsim.errors import OutsideTrainingRangeWarning
    from learnsim.models import model_from_config

    config = MLPConfig(outputs=[Output("y")], inputs=[Input("u")], dt=0.1, sequence_length=2, hidden_size=4,
                       extrapolation="clip", clip_margin=0.5)  # fmt: skip
    model = model_from_config(config).eval()
    model.input_low.fill_(-1.0)
    model.input_high.fill_(1.0)  # width 2: trusted to [-2, 2]
    drive = torch.full((1, 12, 1), 1.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error", OutsideTrainingRangeWarning)
        result = model.simulate({}, {"u": drive}, horizon=10)  # inside the margin: nothing to say
    assert result.outside_training_range["u"] == 1.0  # past the range itself, as recorded in the result
    drive[:, 7:] = 3.0  # the last 5 of 10 simulated steps beyond 2
    with pytest.warns(OutsideTrainingRangeWarning) as caught:
        model.simulate({}, {"u": drive}, horizon=10)
    assert len(caught) == 1
    assert str(caught[0].message) == (
        "the free run left the training range (past its margin of 0.5 range widths): u 50.0% of the simulated steps"
    )
    network = model_from_config(config.model_copy(update={"extrapolation": "network", "clip_margin": 0.0}))
    network.input_low.fill_(-1.0)
    network.input_high.fill_(1.0)
    with pytest.warns(OutsideTrainingRangeWarning, match="where the network extrapolates.* u 100.0%"):
        network.simulate({}, {"u": torch.full((1, 12, 1), 1.5)}, horizon=10)

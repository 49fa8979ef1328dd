import math

import pytest
import torch
from helpers import onyx_config
from pydantic import ValidationError

from learnsim import Input, Output, RNNConfig, TransformerConfig, model_from_config, parse_model_config
from learnsim.normalize import FeatureScaler, scaling_for


def family_configs():
    base = onyx_config(sequence_length=6).model_dump(include={"outputs", "inputs", "dt", "sequence_length"})
    return {
        "mlp": onyx_config(sequence_length=6, hidden_layers=2, hidden_size=32),
        "mlp-ensemble": onyx_config(sequence_length=6, hidden_layers=2, hidden_size=32, members=3),
        "mlp-affine": onyx_config(sequence_length=6, hidden_layers=2, hidden_size=32, control_affine=True),
        "mlp-increments": onyx_config(
            sequence_length=6,
            hidden_layers=2,
            hidden_size=32,
            outputs=[Output("dy")],
            inputs=[Input("y", parent="dy", relation="delta"), Input("v"), Input("u")],
            increments=True,
        ),
        "rnn-gru": RNNConfig(**base, rnn_type="GRU", hidden_layers=2, hidden_size=32),
        "rnn-lstm": RNNConfig(**base, rnn_type="LSTM", hidden_layers=1, hidden_size=32),
        "rnn-plain": RNNConfig(**base, rnn_type="RNN", hidden_layers=1, hidden_size=32),
        "transformer": TransformerConfig(**base, n_layer=2, n_head=4, n_embd=32),
    }


@pytest.mark.parametrize("name", list(family_configs()))
def test_every_family_learns_a_toy_problem(name):
    # Target: a fixed nonlinear function of the window; the loss must fall well below its start.
    torch.manual_seed(0)
    model = model_from_config(family_configs()[name])
    x = torch.randn(512, 6, 3)
    target = torch.tanh(x[:, -1, :1] * 2) - 0.5 * x[:, -2, 1:2] + 0.3 * x[:, :, 2:].mean(1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(150):
        loss = torch.nn.functional.mse_loss(model(x), target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.25 * losses[0], (losses[0], losses[-1])


@pytest.mark.parametrize("name", list(family_configs()))
def test_config_round_trips_through_plain_dict(name):
    config = family_configs()[name]
    again = parse_model_config(config.model_dump(mode="json"))
    assert again == config and type(again) is type(config)


def test_invalid_hyperparameters_name_the_field():
    base = onyx_config().model_dump(include={"outputs", "inputs", "dt", "sequence_length"})
    with pytest.raises(ValidationError, match="hidden_size"):
        parse_model_config({**base, "type": "mlp", "hidden_size": 0})
    with pytest.raises(ValidationError, match="rnn_type"):
        parse_model_config({**base, "type": "rnn", "rnn_type": "TCN"})
    with pytest.raises(ValidationError, match="n_embd .30. must be divisible by n_head .4."):
        parse_model_config({**base, "type": "transformer", "n_embd": 30, "n_head": 4})
    with pytest.raises(ValidationError, match="hidden_sise"):
        parse_model_config({**base, "type": "mlp", "hidden_sise": 3})
    with pytest.raises(ValidationError, match="'mlp', 'rnn', 'transformer'"):
        parse_model_config({**base, "type": "cnn"})
    with pytest.raises(ValidationError, match="dt"):
        parse_model_config({**base, "type": "mlp", "dt": 0})


def test_scaler_round_trip_and_rules():
    scaler = FeatureScaler(3)
    scaler.set_statistics([1.0, -2.0, 0.0], [2.0, 0.5, 1.0])
    x = torch.randn(10, 3)
    assert torch.allclose(scaler.denormalize(scaler.normalize(x)), x, atol=1e-6)
    assert torch.allclose(scaler.normalize(torch.tensor([[1.0, -2.0, 0.0]])), torch.zeros(1, 3))
    assert scaling_for("mean", 3.0, 2.0) == (3.0, 2.0)
    assert scaling_for((-4.0, 0.0), 99.0, 99.0) == (-2.0, 2.0)  # [min, max] -> [-1, 1]
    assert scaling_for(None, 3.0, 2.0) == (0.0, 1.0)
    with pytest.raises(ValueError, match="scales must be > 0"):
        scaler.set_statistics([0.0] * 3, [1.0, 0.0, 1.0])


def test_model_is_self_contained_in_state_dict():
    torch.manual_seed(0)
    model = model_from_config(onyx_config())
    model.set_statistics(
        {
            "velocity": (1.0, 2.0),
            "position": (0.5, 3.0),
            "control_input": (0.0, 4.0),
            "acceleration_prediction": (-1.0, 5.0),
        }
    )
    clone = model_from_config(onyx_config())
    clone.load_state_dict(model.state_dict())
    window = torch.randn(4, 8, 3)
    assert torch.equal(model(window), clone(window))
    assert clone.output_scaler.scale.item() == 5.0


def test_angle_inputs_are_fed_as_sin_cos():
    angled = onyx_config(
        inputs=[Input("theta", parent="theta_next", relation="equal", angle=True), Input("u")],
        outputs=[Output("theta_next", angle=True)],
    )
    assert angled.n_network_inputs == 3  # sin, cos of theta + u
    model = model_from_config(angled)
    window = torch.zeros(1, 8, 2)
    window[..., 0] = torch.pi - 1e-4
    other = window.clone()
    other[..., 0] = -torch.pi + 1e-4  # the same physical angle, 2e-4 away across the wrap
    assert torch.allclose(model.encode_window(window), model.encode_window(other), atol=1e-3)


def test_losses_and_outputs_wrap_angle_outputs_the_short_way_round():
    from learnsim.train.losses import make_loss

    config = onyx_config(
        inputs=[Input("theta", parent="theta_next", relation="equal", angle=True), Input("u")],
        outputs=[Output("theta_next", angle=True)],
    )
    model = model_from_config(config)  # identity scaling: normalised == physical
    prediction, target = torch.tensor([[3.1]]), torch.tensor([[-3.1]])
    short = 6.2 - 2 * math.pi  # the residual across +-pi, not 6.2
    assert model.wrap_output_residual(prediction - target).item() == pytest.approx(short, abs=1e-6)
    assert make_loss("mse", {}, model)(prediction, target).item() == pytest.approx(short**2, rel=1e-5)
    assert make_loss("l1", {}, model)(prediction, target).item() == pytest.approx(abs(short), rel=1e-5)
    model.output_scaler.set_statistics([0.0], [2.0])  # scale 2: normalised residual is the wrapped one / 2
    assert model.wrap_output_residual((prediction - target) / 2).item() == pytest.approx(short / 2, abs=1e-6)


def test_silu_relu_applies_silu_to_the_first_half_and_relu_to_the_rest():
    from learnsim.models.mlp import ACTIVATIONS

    x = torch.linspace(-3, 3, 14).reshape(2, 7)  # odd width: the extra feature goes to the ReLU half
    y = ACTIVATIONS["silu_relu"]()(x)
    assert torch.equal(y[:, :3], torch.nn.functional.silu(x[:, :3]))
    assert torch.equal(y[:, 3:], torch.relu(x[:, 3:]))
    assert (y[:, 3:][x[:, 3:] < 0] == 0).all() and (y[:, :3][x[:, :3] < 0] < 0).all()


def test_a_control_affine_mlp_is_affine_in_the_external_inputs_with_state_dependent_gains():
    torch.manual_seed(0)
    network = model_from_config(onyx_config(sequence_length=4, hidden_size=16, control_affine=True)).network
    assert network.layers[0].in_features == 4 * 2  # velocity and position of 4 rows; control_input is u
    assert network.layers[-1].out_features == 1 + 4  # f and one gain per row's control_input
    with torch.no_grad():  # a nonzero gain network: the random init of the last layer is small but not zero
        network.layers[-1].weight.mul_(10)
    z = torch.randn(5, 4, 3)

    def with_u(scale):
        out = z.clone()
        out[..., 2] *= scale
        return network(out)

    f = with_u(0.0)  # u = 0: f(s) plus nothing from u
    torch.testing.assert_close(with_u(3.0) - f, 3 * (with_u(1.0) - f), rtol=1e-4, atol=1e-5)  # linear in u
    states = z.clone()
    states[..., :2] += 1.0  # other states, the same u: a different gain, not only a different offset
    moved_f = network(torch.cat([states[..., :2], torch.zeros_like(z[..., 2:])], -1))
    assert not torch.allclose(network(states) - moved_f, with_u(1.0) - f, atol=1e-3)


def test_a_control_affine_mlp_starts_from_a_linear_map_and_refuses_schemas_without_both_parts():
    model = model_from_config(onyx_config(sequence_length=4, hidden_size=16, control_affine=True))
    weight, bias = torch.randn(1, 4 * 3), torch.tensor([0.5])
    assert model.network.start_from_linear(weight, bias)
    z = torch.randn(6, 4, 3)
    torch.testing.assert_close(model.network(z), z.flatten(1) @ weight.T + bias)
    with pytest.raises(ValidationError, match="control_affine needs at least one external input"):
        onyx_config(
            inputs=[Input("velocity", parent="acceleration_prediction", relation="derivative")],
            control_affine=True,
        )
    with pytest.raises(ValidationError, match="control_affine needs at least one external input"):
        onyx_config(outputs=[Output("y")], inputs=[Input("u")], control_affine=True)


def narx_config(**overrides):
    """Silverbox-style: the output's change predicted, the output fed back through 'delta', one input u."""
    fields = dict(
        outputs=[Output("dy")],
        inputs=[Input("y", parent="dy", relation="delta"), Input("u")],
        dt=0.01,
        sequence_length=5,
        hidden_size=16,
    )
    return onyx_config(**fields | overrides)


def test_increments_show_the_hidden_layers_a_delta_inputs_steps_scaled_to_its_output():
    model = model_from_config(narx_config(increments=True))
    stats = {"y": (0.3, 2.0), "u": (0.0, 5.0), "dy": (0.0, 0.01)}
    model.set_statistics(stats)
    torch.testing.assert_close(model.network.step_gain, torch.tensor([200.0, 1.0]))  # 2.0 / 0.01; u: 1
    y = 0.3 + torch.cumsum(torch.full((2, 5), 0.01), 1)  # (B, L): y climbs by one dy-scale per row
    window = torch.stack([y, torch.randn(2, 5)], -1)
    seen = []
    model.network.layers[0].register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    model(window)
    z = model.encode_window(window)
    seen = seen[0].unflatten(1, (5, 2))  # (B, L, F) the hidden layers' input
    torch.testing.assert_close(seen[:, :4, 0], torch.ones(2, 4))  # each step 0.01 / the dy scale 0.01
    torch.testing.assert_close(seen[:, 4, 0], z[:, 4, 0])  # the newest y itself
    torch.testing.assert_close(seen[..., 1], z[..., 1])  # u unchanged


def test_increments_start_from_the_same_linear_map_and_need_a_delta_input():
    model = model_from_config(narx_config(increments=True))
    model.set_statistics({"y": (0.3, 2.0), "u": (0.0, 5.0), "dy": (0.0, 0.01)})
    weight, bias = torch.randn(1, 5 * 2), torch.tensor([0.5])
    assert model.network.start_from_linear(weight, bias)
    z = torch.randn(6, 5, 2)
    torch.testing.assert_close(model.network(z), z.flatten(1) @ weight.T + bias)  # the raw window's map
    with pytest.raises(ValidationError, match="increments needs an input with relation 'delta'"):
        onyx_config(increments=True)  # a derivative chain: nothing is fed back through 'delta'
    with pytest.raises(ValidationError, match="increments needs an input with relation 'delta'"):
        narx_config(increments=True, sequence_length=1)


def test_an_ensemble_simulates_its_members_mean_and_trains_each_on_its_own_rows():
    torch.manual_seed(0)
    model = model_from_config(onyx_config(sequence_length=6, hidden_size=16, members=3))
    ensemble, z = model.network, torch.randn(7, 6, 3)
    members = list(ensemble.members)
    assert len(members) == 3 and not torch.equal(members[0].layers[0].weight, members[1].layers[0].weight)
    ensemble.eval()
    mean = torch.stack([m(z) for m in members]).mean(0)
    torch.testing.assert_close(ensemble(z), mean)  # simulating: every row through every member, averaged
    ensemble.train()
    out = ensemble(z)  # training: rows 0-2 to member 0, 3-4 to member 1, 5-6 to member 2
    for member, rows in zip(members, (slice(0, 3), slice(3, 5), slice(5, 7)), strict=True):
        torch.testing.assert_close(out[rows], member(z[rows]))
    loss = out[:3].square().sum()  # member 0's rows: only member 0 learns from them
    loss.backward()
    assert members[0].layers[0].weight.grad.abs().sum() > 0
    assert all(not m.layers[0].weight.grad.any() for m in members[1:])


def test_an_ensemble_under_ddp_gives_each_member_the_rows_it_gets_in_one_process():
    from learnsim.models.ensemble import Ensemble

    ensemble = Ensemble([torch.nn.Identity()] * 3)

    def member_of_each_row(rows: int) -> list[int]:
        return [sum(k >= first for first in ensemble.boundaries(rows)) for k in range(rows)]

    for local in (1, 2, 7, 8, 12):
        for world in (1, 2, 3):
            one_process = [g * 3 // (local * world) for g in range(local * world)]  # contiguous thirds
            for rank in range(world):  # this rank holds global rows rank, rank + world, ...
                ensemble.set_shard(rank, world)
                assert member_of_each_row(local) == one_process[rank::world], (local, world, rank)


def ranged_model(extrapolation, **fields):
    """The Onyx example with every input's training range set (velocity -1..1, position 0..2, control -3..3)."""
    torch.manual_seed(0)
    config = onyx_config(sequence_length=4, hidden_size=16, extrapolation=extrapolation, **fields)
    model = model_from_config(config)
    stats = {"velocity": (0.0, 1.0), "position": (1.0, 1.0), "control_input": (0.0, 1.0)}
    ranges = {"velocity": (-1.0, 1.0), "position": (0.0, 2.0), "control_input": (-3.0, 3.0)}
    model.set_statistics(stats | {"acceleration_prediction": (0.0, 1.0)}, ranges)
    return model


def inside_and_beyond():
    """Normalised windows (B, 4, 3) inside the training range, and the same with the last row's velocity 5
    scales beyond it."""
    inside = torch.rand(6, 4, 3) * 1.8 - 0.9  # within [-0.9, 0.9] of every normalised range
    beyond = inside.clone()
    beyond[:, -1, 0] = 6.0
    return inside, beyond


def test_extrapolation_clip_shows_the_hidden_layers_the_window_clamped_to_the_training_range():
    model, plain = ranged_model("clip"), ranged_model("network")
    # the same weights, only the mode differs (the plain network has no range buffers)
    plain.network.load_state_dict(model.network.state_dict(), strict=False)
    inside, beyond = inside_and_beyond()
    torch.testing.assert_close(model.network(inside), plain.network(inside))  # in range: nothing changes
    at_edge = beyond.clone()
    at_edge[:, -1, 0] = 1.0  # the velocity's normalised training maximum
    skip = model.network.skip
    # beyond the range the hidden layers add what they add at the edge; only the linear part moves on
    torch.testing.assert_close(
        model.network(beyond) - skip(beyond.flatten(1)), model.network(at_edge) - skip(at_edge.flatten(1))
    )
    assert not torch.allclose(plain.network(beyond), model.network(beyond), atol=1e-4)
    seen = []
    model.network.layers[0].register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    model.network(beyond * 100)
    assert seen[0].abs().max() <= 3.0  # control_input: -3..3 with scale 1; the largest normalised bound


def test_extrapolation_linear_fades_the_hidden_layers_out_beyond_the_range_and_both_need_a_linear_part():
    model = ranged_model("linear")
    inside, beyond = inside_and_beyond()
    with torch.no_grad():
        model.network.layers[-1].weight.mul_(10)  # hidden layers that add something visible
    skip = model.network.skip
    hidden_inside = model.network(inside) - skip(inside.flatten(1))
    assert hidden_inside.abs().min() > 1e-4  # in range the hidden layers are at full trust
    far = beyond.clone()
    far[:, -1, 0] = 20.0
    # 19 fade widths beyond the range: the linear part alone
    torch.testing.assert_close(model.network(far), skip(far.flatten(1)))
    for mode in ("linear", "clip"):
        with pytest.raises(ValidationError, match=f"extrapolation '{mode}' needs linear_skip"):
            onyx_config(extrapolation=mode, linear_skip=False)
    for mode in ("network", "linear"):  # a margin that would do nothing is refused, not ignored
        with pytest.raises(
            ValidationError, match=f"clip_margin applies only with extrapolation 'clip' .*'{mode}'"
        ):
            onyx_config(extrapolation=mode, linear_skip=True, clip_margin=0.5)


def test_a_clip_margin_widens_the_range_the_hidden_layers_see_unclamped():
    model, plain = ranged_model("clip", clip_margin=0.5), ranged_model("network")
    plain.network.load_state_dict(model.network.state_dict(), strict=False)
    inside, beyond = inside_and_beyond()
    within_margin = beyond.clone()
    within_margin[:, -1, 0] = 1.9  # the velocity's range -1..1 is 2 wide: half of it beyond the edge is 2
    torch.testing.assert_close(model.network(within_margin), plain.network(within_margin))
    at_margin = beyond.clone()
    at_margin[:, -1, 0] = 2.0
    skip = model.network.skip
    torch.testing.assert_close(
        model.network(beyond) - skip(beyond.flatten(1)), model.network(at_margin) - skip(at_margin.flatten(1))
    )
    with pytest.raises(ValidationError, match="clip_margin"):
        onyx_config(extrapolation="clip", clip_margin=-0.1)


def rigid_body_model(**fields):
    """The Onyx example with a rigid-body term and nothing else: main hidden layers and skip at zero."""
    torch.manual_seed(0)
    network = model_from_config(
        onyx_config(sequence_length=4, hidden_size=16, rigid_body=True, **fields)
    ).network
    with torch.no_grad():
        network.layers[-1].weight.zero_()
        network.layers[-1].bias.zero_()
        network.skip.weight.zero_()
        network.rigid.coefficients[-1].weight.mul_(10)  # coefficients that vary visibly with the position
    return network


def test_a_rigid_body_term_is_quadratic_in_the_velocity_and_linear_in_the_input_with_position_gains():
    network = rigid_body_model()
    assert network.rigid.coefficients[0].in_features == 1  # the newest row's position
    assert network.rigid.coefficients[-1].out_features == 1 + 1 + 1  # v, v^2 and u per output
    z = torch.randn(5, 4, 3)

    def scaled(column, scale):
        out = z.clone()
        out[:, -1, column] *= scale
        return network(out)

    v0 = scaled(0, 0.0)
    # f(s v) = f(0) + c1 s v + c2 s^2 v^2: f(3v) - 3 f(v) + 2 f(0) = 6 c2 v^2 = 3 (f(2v) - 2 f(v) + f(0))
    second = scaled(0, 2.0) - 2 * scaled(0, 1.0) + v0
    torch.testing.assert_close(scaled(0, 3.0) - 3 * scaled(0, 1.0) + 2 * v0, 3 * second, rtol=1e-4, atol=1e-5)
    assert second.abs().max() > 1e-2  # not linear in it
    u0 = scaled(2, 0.0)
    torch.testing.assert_close(scaled(2, 3.0) - u0, 3 * (scaled(2, 1.0) - u0), rtol=1e-4, atol=1e-5)
    moved = z.clone()
    moved[:, -1, 1] += 1.0  # another position: other coefficients
    assert not torch.allclose(network(moved), network(z), atol=1e-4)
    older = z.clone()
    older[:, :-1] = torch.randn(5, 3, 3)  # the term reads the newest row only
    torch.testing.assert_close(network(older), network(z))


def test_a_rigid_body_term_starts_at_zero_clamps_the_states_not_the_inputs_and_needs_a_derivative_chain():
    network = rigid_body_model()
    weight, bias = torch.randn(1, 4 * 3), torch.tensor([0.5])
    assert network.start_from_linear(weight, bias)
    z = torch.randn(6, 4, 3)
    torch.testing.assert_close(network(z), z.flatten(1) @ weight.T + bias)  # the term starts off too

    clipped = rigid_body_model(extrapolation="clip")
    clipped.low.fill_(-1.0)
    clipped.high.fill_(1.0)
    plain = rigid_body_model()
    plain.load_state_dict(clipped.state_dict(), strict=False)
    inside = torch.rand(6, 4, 3) * 1.8 - 0.9
    torch.testing.assert_close(clipped(inside), plain(inside))
    for state in (0, 1):  # a velocity or a position beyond the range: the term's value at the edge
        far = inside.clone()
        far[:, -1, state] = 4.0
        at_edge = far.clone()
        at_edge[:, -1, state] = 1.0
        torch.testing.assert_close(clipped(far), clipped(at_edge))
        assert not torch.allclose(plain(far), plain(at_edge), atol=1e-4)
    strong = inside.clone()
    strong[:, -1, 2] = 4.0  # an external input beyond it: still linear in it, as in range
    torch.testing.assert_close(clipped(strong), plain(strong))

    with pytest.raises(ValidationError, match="rigid_body needs a derivative chain"):
        narx_config(rigid_body=True)
    with pytest.raises(ValidationError, match="rigid_body and control_affine cannot be combined"):
        onyx_config(rigid_body=True, control_affine=True)

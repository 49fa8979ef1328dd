"""The state-space family: a stateful free run through the same simulate() path."""

import pytest
import torch

from learnsim import Input, Output
from learnsim.models import SSMConfig, model_from_config


def ssm(integrator="discrete", **fields):
    config = SSMConfig(
        outputs=[Output("y_next")],
        inputs=[Input("y", parent="y_next", relation="equal"), Input("u")],
        dt=0.1,
        sequence_length=3,
        state_size=2,
        hidden_layers=1,
        hidden_size=8,
        integrator=integrator,
        **fields,
    )
    return model_from_config(config).double().eval()


def set_linear_system(model, a: float, b: float):
    """x' = a x + b u in the first latent coordinate; y = x; encoder: x = last y; no nonlinear terms."""
    with torch.no_grad():
        for net in (model.network.encoder, model.network.transition, model.network.output):
            for p in net.parameters():
                p.zero_()
        model.network.encoder.linear.weight[0, 2 * 2] = 1.0  # flattened window (3 rows x [y, u]): last y
        model.network.transition.linear.weight[0, 0] = a  # [x0, x1, u] -> dx0
        model.network.transition.linear.weight[0, 2] = b
        model.network.output.linear.weight[0, 0] = 1.0


def test_discrete_latent_dynamics_run_through_simulate():
    model = ssm()
    set_linear_system(model, a=-0.5, b=1.0)  # x_{k+1} = x + (-0.5 x + u) = 0.5 x + u
    u = torch.tensor([0.0, 0.0, 0.0, 1.0, 0.0, 2.0, 0.0], dtype=torch.float64).view(1, -1, 1)
    result = model.simulate({"y": torch.tensor([0.0, 0.0, 4.0], dtype=torch.float64).view(1, 3, 1)}, {"u": u})
    # y_3 = x_3 = 4 (encoder); x_4 = 0.5 * 4 + u_3 = 3; x_5 = 1.5 + 0 = 1.5; x_6 = 0.75 + 2 = 2.75
    assert result.outputs["y_next"][0, :, 0].tolist() == pytest.approx([4.0, 3.0, 1.5, 2.75])
    assert result.inputs["y"][0, 3:, 0].tolist() == pytest.approx([4.0, 3.0, 1.5, 2.75])


def test_rk4_integrates_the_continuous_latent_system():
    model = ssm("rk4", time_scale=0.2)  # dx/dt = (a x + b u) / time_scale, integrated over dt = 0.1
    set_linear_system(model, a=-1.0, b=0.0)
    x0 = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64).view(1, 3, 1)
    result = model.simulate({"y": x0}, {"u": torch.zeros(1, 3 + 5, 1, dtype=torch.float64)})
    h = 0.5  # dt / time_scale: RK4 multiplies a decaying linear state by its 4th-order Taylor factor per step
    factor = 1 - h + h**2 / 2 - h**3 / 6 + h**4 / 24
    assert result.outputs["y_next"][0, :, 0].tolist() == pytest.approx(
        [factor**k for k in range(5)], rel=1e-12
    )
    exact = torch.exp(-h * torch.arange(5, dtype=torch.float64))  # exp(-t / time_scale) at t = k dt
    assert torch.allclose(result.outputs["y_next"][0, :, 0], exact, rtol=3e-3)
    euler = ssm("euler", time_scale=0.2)
    set_linear_system(euler, a=-1.0, b=0.0)
    explicit = euler.simulate({"y": x0}, {"u": torch.zeros(1, 3 + 5, 1, dtype=torch.float64)})
    assert explicit.outputs["y_next"][0, :, 0].tolist() == pytest.approx([0.5**k for k in range(5)])


def test_gradients_reach_every_network_through_a_rollout():
    model = ssm().float().train()
    result = model.simulate({"y": torch.randn(4, 3, 1)}, {"u": torch.randn(4, 3 + 12, 1)}, grad=True)
    result.outputs["y_next"].square().sum().backward()
    for name in ("encoder", "transition", "output"):
        grads = [p.grad for p in getattr(model.network, name).parameters()]
        assert all(g is not None and torch.isfinite(g).all() for g in grads), name
        assert sum(g.abs().sum().item() for g in grads) > 0, name

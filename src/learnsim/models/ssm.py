"""State-space simulator with an encoder (SUBNET style), in discrete or continuous time.

A latent state x (``state_size``) carries the dynamics from step to step:

    x_L     = encoder(history window of inputs and outputs)      # estimated from the last L recorded rows
    y_k     = output(x_k)                                          # the direct outputs of row k
    x_{k+1} = x_k + transition(x_k, u_k)          (discrete)      # u_k: the external inputs of row k
    x_{k+1} = solve(dx/dt = transition(x, u_k) / time_scale over dt)   (euler or rk4, u held over the step)

Each network is a linear map plus an MLP (the linear part captures linear dynamics exactly). The states of
the feature schema follow from the predicted outputs through their relations, as with every family; the
transition reads only the external inputs, so a free run is a pure simulation (Beintema, Toth, Schoukens,
"Nonlinear state-space identification using deep encoder networks", L4DC 2021).
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import nn

from learnsim.models.config import ModelConfigBase

ACTIVATIONS = {"tanh": nn.Tanh, "silu": nn.SiLU, "relu": nn.ReLU}


class SSMConfig(ModelConfigBase):
    """State-space model with an encoder; ``sequence_length`` is the encoder's history window."""

    type: Literal["ssm"] = "ssm"
    state_size: int = Field(default=8, ge=1, le=1024, description="Size of the latent state x.")
    hidden_layers: int = Field(default=2, ge=1, le=8, description="Hidden layers of each network.")
    hidden_size: int = Field(default=64, ge=1, le=4096, description="Width of each hidden layer.")
    activation: Literal[tuple(ACTIVATIONS)] = Field(default="tanh", description="Hidden activation.")
    integrator: Literal["discrete", "euler", "rk4"] = Field(
        default="discrete",
        description="discrete: x + transition(x, u); euler / rk4: integrate dx/dt = transition(x, u) / "
        "time_scale over dt with the input held (a continuous-time model).",
    )
    time_scale: float | None = Field(
        default=None, gt=0, description="Continuous time: the latent time constant in seconds; null: dt."
    )


class Residual(nn.Module):
    """Linear map plus an MLP: f(v) = A v + MLP(v)."""

    def __init__(self, inputs: int, outputs: int, config: SSMConfig):
        super().__init__()
        layers: list[nn.Module] = []
        width = inputs
        for _ in range(config.hidden_layers):
            layers += [nn.Linear(width, config.hidden_size), ACTIVATIONS[config.activation]()]
            width = config.hidden_size
        layers.append(nn.Linear(width, outputs))
        self.nonlinear = nn.Sequential(*layers)
        self.linear = nn.Linear(inputs, outputs, bias=False)

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        return self.linear(v) + self.nonlinear(v)


class SSM(nn.Module):
    """Networks of the state-space model, on normalised per-step network features (see ``encode_window``)."""

    stateful = True

    def __init__(self, config: SSMConfig):
        super().__init__()
        features = config.n_network_inputs
        self.encoder = Residual(config.sequence_length * features, config.state_size, config)
        self.transition = Residual(
            config.state_size + len(_external_columns(config)), config.state_size, config
        )
        self.output = Residual(config.state_size, config.n_direct_outputs, config)
        self.register_buffer(
            "external", torch.tensor(_external_columns(config), dtype=torch.long), persistent=False
        )
        self.integrator = config.integrator
        self.step_size = config.dt / (config.time_scale or config.dt)

    def initial_state(self, z: torch.Tensor) -> torch.Tensor:
        """(B, L, F) normalised history window -> (B, state_size) latent state at the next row."""
        return self.encoder(z.flatten(1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """One-step prediction from a window: the outputs of the state the encoder estimates. (B, n_out)"""
        return self.output(self.initial_state(z))

    def advance(self, x: torch.Tensor, row: torch.Tensor) -> torch.Tensor:
        """x (B, state_size) at row k, row (B, F) normalised features of row k -> x at row k + 1."""
        u = row.index_select(1, self.external)
        if self.integrator == "discrete":
            return x + self.transition(torch.cat([x, u], 1))
        h = self.step_size

        def derivative(state):
            return self.transition(torch.cat([state, u], 1))

        if self.integrator == "euler":
            return x + h * derivative(x)
        k1 = derivative(x)
        k2 = derivative(x + 0.5 * h * k1)
        k3 = derivative(x + 0.5 * h * k2)
        k4 = derivative(x + h * k3)
        return x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


def _external_columns(config) -> list[int]:
    """Positions of the external inputs among the per-step network features: plain inputs first (normalised),
    then sin and cos of every angle input."""
    schema = config.schema
    plain = [f for f in config.inputs if not schema.is_angle(f.name)]
    angles = [f for f in config.inputs if schema.is_angle(f.name)]
    columns = [i for i, f in enumerate(plain) if f.parent is None]
    for j, f in enumerate(angles):
        if f.parent is None:
            columns += [len(plain) + j, len(plain) + len(angles) + j]
    return sorted(columns)

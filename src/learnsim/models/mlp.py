"""Multi-layer perceptron over the flattened history window, optionally beside a linear map of it."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field, model_validator
from torch import nn

from learnsim.models.config import ModelConfigBase
from learnsim.models.ensemble import Ensemble


class SiLUReLU(nn.Module):
    """SiLU on the first half of the features, ReLU on the rest: smooth units for smooth dynamics beside
    units whose kinks fit friction and contact. (..., H) -> (..., H)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        half = x.shape[-1] // 2
        return torch.cat([nn.functional.silu(x[..., :half]), nn.functional.relu(x[..., half:])], dim=-1)


ACTIVATIONS = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "silu": nn.SiLU,
    "silu_relu": SiLUReLU,
}


def affine_in_inputs(head: torch.Tensor, u: torch.Tensor, n_out: int) -> torch.Tensor:
    """f + G u from a head (B, n_out * (1 + n_u)) holding f (B, n_out) then G row-major (B, n_out, n_u), and
    the inputs u (B, n_u) -> (B, n_out)."""
    gains = head[:, n_out:].unflatten(1, (n_out, -1))
    return head[:, :n_out] + (gains * u[:, None, :]).sum(-1)


class MLPConfig(ModelConfigBase):
    """MLP simulator: the (sequence_length x inputs) window, flattened, through `hidden_layers` layers."""

    type: Literal["mlp"] = "mlp"
    hidden_layers: int = Field(default=2, ge=1, le=32, description="Number of hidden layers.")
    hidden_size: int = Field(default=128, ge=1, le=16384, description="Width of each hidden layer.")
    activation: Literal[tuple(ACTIVATIONS)] = Field(
        default="silu",
        description="Hidden activation (silu: it does not saturate, so free runs that leave the training range "
        "keep the nonlinearity's shape; silu_relu: half of each layer silu, half relu, whose kinks fit friction "
        "and contact). Left open, the recipe gives derivative-chain schemas silu_relu (silu below 10,000 "
        "training rows).",
    )
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0, description="Dropout after each hidden activation.")
    bias: bool = Field(default=True, description="Use biases in linear layers.")
    linear_skip: bool = Field(
        default=True,
        description="Add a linear map of the window to the output (a residual net): linear dynamics are captured "
        "exactly and the hidden layers model what is nonlinear.",
    )
    members: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Independently initialised MLPs that simulate as one model, their mean (an ensemble). In "
        "training each member learns from its own share of every batch's rows; a step costs about one MLP "
        "of the batch, a free run one per member. Measured in benchmarks/README.md: not the recipe's default.",
    )
    control_affine: bool = Field(
        default=False,
        description="Make the output affine in the external inputs u: f(s) + G(s) u, where the hidden layers "
        "see only the rest of the window s (states and fed-back outputs) and give both f and the gains G "
        "(outputs x external inputs of the window). Newton's law for forces and torques, motors under "
        "voltage: the network does not have to learn that the inputs act linearly. The linear skip still sees "
        "the whole window. Needs an external input and another input.",
    )
    extrapolation: Literal["network", "linear"] = Field(
        default="network",
        description="Outside the training range: 'network' evaluates the whole network; 'linear' fades the "
        "hidden layers' contribution out (Gaussian in the distance beyond the range, in units of each input's "
        "scale), so the model degrades toward its linear part. Needs linear_skip.",
    )

    @model_validator(mode="after")
    def _fade_needs_linear_part(self):
        if self.extrapolation == "linear" and not self.linear_skip:
            raise ValueError("extrapolation 'linear' needs linear_skip: true (the part it degrades to)")
        return self

    @model_validator(mode="after")
    def _affine_needs_both_parts(self):
        if self.control_affine:
            external = [is_external for _, is_external in self.network_columns()]
            if all(external) or not any(external):
                raise ValueError(
                    "control_affine needs at least one external input (no parent) and one other input: "
                    "the output is affine in the first, with gains that depend on the others"
                )
        return self


class MLP(nn.Module):
    # Width of the fade beyond the training range, in normalised units (1 = one scale, e.g. one std).
    FADE_WIDTH = 1.0

    def __init__(self, config: MLPConfig):
        super().__init__()
        flat = config.sequence_length * config.n_network_inputs
        self.n_out = config.n_direct_outputs
        self.affine = config.control_affine
        width, head = flat, self.n_out
        if self.affine:  # columns of the flattened (L * F) window: external inputs u and the rest s
            external = [is_external for _, is_external in config.network_columns()] * config.sequence_length
            u = [i for i, is_external in enumerate(external) if is_external]
            s = [i for i, is_external in enumerate(external) if not is_external]
            self.register_buffer("u_columns", torch.tensor(u, dtype=torch.long), persistent=False)
            self.register_buffer("s_columns", torch.tensor(s, dtype=torch.long), persistent=False)
            width, head = len(s), self.n_out * (1 + len(u))  # f (n_out) and G (n_out x n_u), row-major
        layers: list[nn.Module] = []
        for _ in range(config.hidden_layers):
            layers += [
                nn.Linear(width, config.hidden_size, bias=config.bias),
                ACTIVATIONS[config.activation](),
            ]
            if config.dropout > 0:
                layers.append(nn.Dropout(config.dropout))
            width = config.hidden_size
        layers.append(nn.Linear(width, head, bias=config.bias))
        self.layers = nn.Sequential(*layers)
        self.skip = nn.Linear(flat, config.n_direct_outputs, bias=False) if config.linear_skip else None
        self.fade = config.extrapolation == "linear"
        if self.fade:  # training range of each flattened window entry, normalised; set with the statistics
            self.register_buffer("low", torch.full((flat,), -torch.inf))
            self.register_buffer("high", torch.full((flat,), torch.inf))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        # z: (B, L, F) normalized window -> (B, n_direct_outputs) normalized outputs
        flat = z.flatten(1)
        if self.affine:
            h = self.layers(flat.index_select(1, self.s_columns))  # (B, n_out * (1 + n_u))
            out = affine_in_inputs(h, flat.index_select(1, self.u_columns), self.n_out)
        else:
            out = self.layers(flat)
        if self.fade:  # (B, 1) trust in the hidden layers: 1 inside the range, -> 0 far outside
            excess = (flat - self.high).clamp(min=0) + (self.low - flat).clamp(min=0)
            out = out * torch.exp(-excess.amax(1, keepdim=True).square() / (2 * self.FADE_WIDTH**2))
        return out if self.skip is None else out + self.skip(flat)

    def set_input_range(self, low: torch.Tensor, high: torch.Tensor) -> None:
        """Training range of the normalised per-step network inputs (F,), repeated over the window."""
        if self.fade:
            repeats = self.low.shape[0] // low.shape[0]
            self.low.copy_(low.repeat(repeats))
            self.high.copy_(high.repeat(repeats))

    @torch.no_grad()
    def start_from_linear(self, weight: torch.Tensor, bias: torch.Tensor) -> bool:
        """Make the network equal the linear map (weight (n_out, L*F), bias (n_out,)): the skip takes it and
        the last hidden-to-output layer starts at zero. False (nothing changed) without a linear skip."""
        if self.skip is None:
            return False
        self.skip.weight.copy_(weight)
        last = self.layers[-1]
        last.weight.zero_()
        if last.bias is not None:  # control-affine: f takes the bias, the gains start at zero
            last.bias.zero_()
            last.bias[: self.n_out].copy_(bias)
        return True


def mlp_network(config: MLPConfig) -> nn.Module:
    """The MLP of ``config``, or with ``members`` > 1 an ``Ensemble`` of that many (each its own init)."""
    if config.members == 1:
        return MLP(config)
    return Ensemble([MLP(config) for _ in range(config.members)])

"""Multi-layer perceptron over the flattened history window."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import nn

from learnsim.models.config import ModelConfigBase

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "silu": nn.SiLU}


class MLPConfig(ModelConfigBase):
    """MLP simulator: the (sequence_length x inputs) window, flattened, through `hidden_layers` layers."""

    type: Literal["mlp"] = "mlp"
    hidden_layers: int = Field(default=2, ge=1, le=32, description="Number of hidden layers.")
    hidden_size: int = Field(default=64, ge=1, le=16384, description="Width of each hidden layer.")
    activation: Literal["relu", "gelu", "tanh", "sigmoid", "silu"] = Field(
        default="relu", description="Hidden activation."
    )
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0, description="Dropout after each hidden activation.")
    bias: bool = Field(default=True, description="Use biases in linear layers.")
    linear_skip: bool = Field(
        default=False,
        description="Add a linear map of the window to the output (a residual net): linear dynamics are captured "
        "exactly and the hidden layers model what is nonlinear.",
    )


class MLP(nn.Module):
    def __init__(self, config: MLPConfig):
        super().__init__()
        width = config.sequence_length * config.n_network_inputs
        layers: list[nn.Module] = []
        for _ in range(config.hidden_layers):
            layers += [
                nn.Linear(width, config.hidden_size, bias=config.bias),
                ACTIVATIONS[config.activation](),
            ]
            if config.dropout > 0:
                layers.append(nn.Dropout(config.dropout))
            width = config.hidden_size
        layers.append(nn.Linear(width, config.n_direct_outputs, bias=config.bias))
        self.layers = nn.Sequential(*layers)
        flat = config.sequence_length * config.n_network_inputs
        self.skip = nn.Linear(flat, config.n_direct_outputs, bias=False) if config.linear_skip else None

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        # z: (B, L, F) normalized window -> (B, n_direct_outputs) normalized outputs
        flat = z.flatten(1)
        out = self.layers(flat)
        return out if self.skip is None else out + self.skip(flat)

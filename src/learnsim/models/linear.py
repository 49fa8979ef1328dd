"""Linear simulator: the direct outputs are one linear map of the flattened history window (ARX within the
feature schema's relations). Trainable like any family, or fitted in closed form by ``least_squares``; it is
the linear baseline of evaluation and the starting point of the MLP's linear part."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import nn

from learnsim.models.config import ModelConfigBase


class LinearConfig(ModelConfigBase):
    """Linear map of the (sequence_length x inputs) window to the direct outputs."""

    type: Literal["linear"] = "linear"
    bias: bool = Field(default=True, description="Use a bias (an affine map).")


class Linear(nn.Module):
    def __init__(self, config: LinearConfig):
        super().__init__()
        self.layer = nn.Linear(
            config.sequence_length * config.n_network_inputs, config.n_direct_outputs, bias=config.bias
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        # z: (B, L, F) normalised window -> (B, n_direct_outputs) normalised outputs
        return self.layer(z.flatten(1))

    @torch.no_grad()
    def start_from_linear(self, weight: torch.Tensor, bias: torch.Tensor) -> bool:
        """Take the linear map (weight (n_out, L*F), bias (n_out,)) as the starting point."""
        self.layer.weight.copy_(weight)
        if self.layer.bias is not None:
            self.layer.bias.copy_(bias)
        return True


def least_squares(
    features: torch.Tensor, targets: torch.Tensor, ridge: float = 1e-6
) -> tuple[torch.Tensor, torch.Tensor]:
    """Ridge regression in float64: (weight (n_out, D), bias (n_out,)) minimising
    |features @ weight.T + bias - targets|^2 + ridge * N * |weight|^2, on features (N, D), targets (N, n_out).

    Features are centred first, so the bias is their mean's prediction and the ridge term (relative to N)
    only shrinks directions the data barely excites."""
    x, y = features.double(), targets.double()
    x_mean, y_mean = x.mean(0), y.mean(0)
    x, y = x - x_mean, y - y_mean
    gram = x.T @ x + ridge * len(x) * torch.eye(x.shape[1], dtype=x.dtype, device=x.device)
    weight = torch.linalg.solve(gram, x.T @ y).T  # (n_out, D)
    return weight, y_mean - weight @ x_mean

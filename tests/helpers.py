"""Small builders shared by tests."""

from __future__ import annotations

import torch
from torch import nn

from learnsim import Input, MLPConfig, Output
from learnsim.models import SimulatorModel


def onyx_config(**overrides) -> MLPConfig:
    """The Onyx Engine example: acceleration predicted, velocity and position integrated, one control input."""
    fields = dict(
        outputs=[Output("acceleration_prediction", dataset_feature="acceleration")],
        inputs=[
            Input("velocity", parent="acceleration_prediction", relation="derivative"),
            Input("position", parent="velocity", relation="derivative"),
            Input("control_input"),
        ],
        dt=0.01,
        sequence_length=8,
        hidden_layers=3,
        hidden_size=64,
    )
    fields.update(overrides)
    return MLPConfig(**fields)


class ConstantNetwork(nn.Module):
    """Returns fixed (normalised) outputs whatever the window; a parameter so the model has a device/dtype."""

    def __init__(self, values):
        super().__init__()
        self.values = nn.Parameter(torch.as_tensor(values, dtype=torch.float32))

    def forward(self, z):
        return self.values.expand(z.shape[0], -1)


def stub_model(config, values) -> SimulatorModel:
    """A SimulatorModel with identity scaling whose direct outputs are the constants ``values``."""
    return SimulatorModel(config, ConstantNetwork(values))

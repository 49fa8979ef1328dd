"""``SimulatorModel``: a family network wrapped with its feature schema, normalisation statistics and step.

The wrapper takes physical-unit windows and returns physical-unit outputs, so a saved model is
self-contained: no dataset or statistics file is needed to simulate with it.
"""

from __future__ import annotations

import torch
from torch import nn

from learnsim.features import wrap_angle, wrap_where
from learnsim.normalize import FeatureScaler, scaling_for
from learnsim.simulate import Step, horizon_alias, simulate


class SimulatorModel(nn.Module):
    """Normalise a (B, L, n_inputs) window, run the network, denormalise to (B, n_direct_outputs).

    Angle inputs enter the network as (sin, cos) instead of a scaled value, so that +-pi is one point.
    ``step`` is the simulation step's state update (``learnsim.simulate.Step``), derived from the config.
    """

    def __init__(self, config, network: nn.Module):
        super().__init__()
        self.config = config
        self.schema = config.schema
        self.network = network
        self.input_scaler = FeatureScaler(len(config.inputs))
        self.output_scaler = FeatureScaler(config.n_direct_outputs)
        self.step = Step(self.schema, config.dt)
        angle = [i for i, f in enumerate(config.inputs) if self.schema.is_angle(f.name)]
        plain = [i for i in range(len(config.inputs)) if i not in angle]
        self._has_angle_inputs = bool(angle)
        self.register_buffer("_angle_inputs", torch.tensor(angle, dtype=torch.long), persistent=False)
        self.register_buffer("_plain_inputs", torch.tensor(plain, dtype=torch.long), persistent=False)

    @property
    def direct_output_names(self) -> list[str]:
        return [f.name for f in self.schema.direct_outputs]

    def encode_window(self, window: torch.Tensor) -> torch.Tensor:
        """(B, L, n_inputs) physical -> (B, L, n_network_inputs) normalised network features."""
        z = self.input_scaler.normalize(window)
        if self._has_angle_inputs:
            angles = window.index_select(-1, self._angle_inputs)
            z = torch.cat([z.index_select(-1, self._plain_inputs), angles.sin(), angles.cos()], dim=-1)
        return z

    def predict_normalized(self, window: torch.Tensor) -> torch.Tensor:
        """(B, L, n_inputs) physical -> (B, n_direct_outputs) in normalised output units (for losses)."""
        return self.network(self.encode_window(window))

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        """(B, L, n_inputs) physical window -> (B, n_direct_outputs) physical outputs of the next step."""
        y = self.output_scaler.denormalize(self.predict_normalized(window))
        return wrap_where(y, self.step.direct_is_angle) if self.step.has_angle_outputs else y

    def wrap_output_residual(self, residual: torch.Tensor) -> torch.Tensor:
        """(..., n_direct_outputs) normalised residual with angle outputs' residuals wrapped the short way
        round (wrapped physical difference divided by the output scale); others unchanged."""
        if not self.step.has_angle_outputs:
            return residual
        scale = self.output_scaler.scale
        return (wrap_angle(residual * scale) / scale).where(self.step.direct_is_angle, residual)

    def set_statistics(self, stats: dict[str, tuple[float, float]]) -> None:
        """Set scalers from training statistics: ``stats[name] = (mean, std)`` per input and direct output.

        Outputs without a dataset column use the statistics of their derived targets, keyed by name.
        """

        def rule(f):
            return None if self.schema.is_angle(f.name) else f.scale

        inputs = [scaling_for(rule(f), *stats[f.name]) for f in self.config.inputs]
        outputs = [scaling_for(rule(f), *stats[f.name]) for f in self.schema.direct_outputs]
        self.input_scaler.set_statistics([o for o, _ in inputs], [s for _, s in inputs])
        self.output_scaler.set_statistics([o for o, _ in outputs], [s for _, s in outputs])

    def simulate(
        self, x0, external_inputs=None, horizon: int | None = None, grad: bool = False, *, sim_steps=None
    ):
        """Free-run rollout; see ``learnsim.simulate.simulate`` (``sim_steps=`` is a deprecated alias)."""
        return simulate(self, x0, external_inputs, horizon_alias(horizon, sim_steps), grad)

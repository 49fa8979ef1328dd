"""``SimulatorModel``: a family network wrapped with its feature schema and normalisation statistics.

The wrapper takes physical-unit windows and returns physical-unit outputs, so a saved model is
self-contained: no dataset or statistics file is needed to simulate with it.
"""

from __future__ import annotations

import torch
from torch import nn

from learnsim.features import wrap_angle
from learnsim.normalize import FeatureScaler, scaling_for


class SimulatorModel(nn.Module):
    """Normalise a (B, L, n_inputs) window, run the network, denormalise to (B, n_direct_outputs).

    Angle inputs enter the network as (sin, cos) instead of a scaled value, so that +-pi is one point.
    Also holds the per-step linear state-update matrices used by ``learnsim.simulate`` (see ``step_matrices``).
    """

    def __init__(self, config, network: nn.Module):
        super().__init__()
        self.config = config
        self.schema = config.schema
        self.network = network
        self.input_scaler = FeatureScaler(len(config.inputs))
        self.output_scaler = FeatureScaler(config.n_direct_outputs)
        angle = [i for i, f in enumerate(config.inputs) if self.schema.is_angle(f.name)]
        plain = [i for i in range(len(config.inputs)) if i not in angle]
        self._has_angle_inputs = bool(angle)
        self.register_buffer("_angle_inputs", torch.tensor(angle, dtype=torch.long), persistent=False)
        self.register_buffer("_plain_inputs", torch.tensor(plain, dtype=torch.long), persistent=False)
        states = [i for i, f in enumerate(config.inputs) if f.parent is not None]
        self.register_buffer("_state_inputs", torch.tensor(states, dtype=torch.long), persistent=False)
        self.register_buffer(
            "_state_angle_mask",
            torch.tensor([self.schema.is_angle(config.inputs[i].name) for i in states], dtype=torch.bool),
            persistent=False,
        )
        output_names = [f.name for f in config.outputs]
        direct_index = [output_names.index(f.name) for f in self.schema.direct_outputs]
        self.register_buffer(
            "_direct_output_index", torch.tensor(direct_index, dtype=torch.long), persistent=False
        )
        direct = self.schema.direct_outputs
        self._angle_direct = [i for i, f in enumerate(direct) if self.schema.is_angle(f.name)]
        self.register_buffer(
            "_angle_direct_mask",
            torch.tensor([self.schema.is_angle(f.name) for f in direct], dtype=torch.bool),
            persistent=False,
        )
        core, external, angle_mask = step_matrices(self.schema, config.dt)
        self.register_buffer("_step_core", core, persistent=False)
        self.register_buffer("_step_external", external, persistent=False)
        self.register_buffer("_step_angle_mask", angle_mask, persistent=False)

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
        if self._angle_direct:
            y = torch.where(self._angle_direct_mask, wrap_angle(y), y)
        return y

    def wrap_output_residual(self, residual: torch.Tensor) -> torch.Tensor:
        """(..., n_direct_outputs) normalised residual with angle outputs' residuals wrapped the short way
        round (wrapped physical difference divided by the output scale); others unchanged."""
        if not self._angle_direct:
            return residual
        scale = self.output_scaler.scale
        return torch.where(self._angle_direct_mask, wrap_angle(residual * scale) / scale, residual)

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

    def simulate(self, x0, external_inputs=None, sim_steps: int | None = None, grad: bool = False):
        """Free-run rollout; see ``learnsim.simulate.simulate``."""
        from learnsim.simulate import simulate

        return simulate(self, x0, external_inputs, sim_steps=sim_steps, grad=grad)


def step_matrices(schema, dt: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Compose one simulation step's state update into two matrices.

    Every relation is linear in (last inputs row, last derived outputs, predicted direct outputs, new external
    inputs), and so is their composition in dependency order (each feature reading its parent's *new* value:
    semi-implicit Euler for derivative chains). So one step is::

        new = [row, derived_prev, y] @ core + external_row @ external      # (B, n_inputs + n_derived)

    ``core``: (n_inputs + n_derived + n_direct, n_inputs + n_derived); ``external``: (n_inputs, n_inputs +
    n_derived), whose rows for state inputs are zero, so a recorded trajectory can be passed whole as the
    external series. ``angle_mask`` marks the new-vector columns to wrap to [-pi, pi).
    Integrating an angle is rejected by schema validation, so wrapping after the composed update is exact.
    """
    inputs = [f.name for f in schema.inputs]
    derived = [f.name for f in schema.derived_outputs]
    direct = [f.name for f in schema.direct_outputs]
    n_in, n_der, n_dir = len(inputs), len(derived), len(direct)
    core_size = n_in + n_der + n_dir
    basis = core_size + n_in  # core basis, then the new external row
    prev_index = {name: i for i, name in enumerate(inputs)} | {n: n_in + i for i, n in enumerate(derived)}

    def unit(i: int) -> torch.Tensor:
        v = torch.zeros(basis, dtype=torch.float64)
        v[i] = 1.0
        return v

    coef: dict[str, torch.Tensor] = {}
    for f in schema._ordered():
        if f.parent is None:
            coef[f.name] = (
                unit(n_in + n_der + direct.index(f.name))
                if f.kind == "output"
                else unit(core_size + inputs.index(f.name))
            )
        elif f.relation == "equal":
            coef[f.name] = coef[f.parent].clone()
        else:
            step = dt if f.relation == "derivative" else 1.0
            coef[f.name] = unit(prev_index[f.name]) + step * coef[f.parent]
    new = torch.stack([coef[name] for name in [*inputs, *derived]], dim=1)  # (basis, n_in + n_der)
    angle_mask = torch.tensor([schema.is_angle(name) for name in [*inputs, *derived]], dtype=torch.bool)
    return new[:core_size].float(), new[core_size:].float(), angle_mask

"""One simulation step, and a fixed-horizon rollout, as plain tensor-in tensor-out modules that ONNX and
TorchScript can capture: the same arithmetic as ``simulate.rollout`` (normalisation, angle features, the
network, the composed state relations, angle wrapping), with named, documented inputs and outputs.

Step inputs (B is dynamic):
- ``window`` (B, L, n_inputs): the last L rows of every model input, physical units, config order;
- ``derived`` (B, n_derived): last values of the derived outputs (zeros at the start; omitted if none);
- ``external`` (B, n_external): the new row's external inputs (inputs without a parent), config order.
Step outputs: ``outputs`` (B, n_outputs) in config order, ``next_window`` (B, L, n_inputs) and, when the
model has derived outputs, ``next_derived`` (B, n_derived).

The rollout takes ``external`` as (B, H, n_external) and returns ``outputs`` (B, H, n_outputs) and
``inputs`` (B, H, n_inputs): the simulated rows, row k after step k.
"""

from __future__ import annotations

import torch
from torch import nn

from learnsim.errors import ConfigError
from learnsim.features import wrap_where


def exportable(model) -> None:
    """Window models (MLP, RNN, Transformer, linear) export; a state-space model carries a latent state that
    this interface does not pass (yet)."""
    if model.stateful:
        raise ConfigError(
            f"model family '{model.config.type}' keeps a latent state between steps, which the ONNX and "
            "TorchScript step interface does not carry; export it as a bundle (--format bundle)"
        )


class ExportStep(nn.Module):
    def __init__(self, model):
        super().__init__()
        exportable(model)
        self.model = model
        step = model.step
        schema = model.schema
        external = [i for i, f in enumerate(schema.inputs) if f.parent is None]
        self.n_inputs, self.n_derived = step.n_inputs, step.n_derived
        # (n_external, n_inputs + n_derived): only the external rows of Step.external are ever non-zero.
        self.register_buffer("external_map", step.external[external].clone(), persistent=False)
        self.register_buffer("core", step.core.clone(), persistent=False)
        self.register_buffer("wrap", step.wrap.clone(), persistent=False)
        self.register_buffer("output_order", step.output_order.clone(), persistent=False)
        self.has_angles = step.has_angles

    def forward(self, window: torch.Tensor, *rest: torch.Tensor):
        """(window, derived, external) -> (outputs, next_window, next_derived); without derived outputs
        (window, external) -> (outputs, next_window)."""
        derived, external = rest if self.n_derived else (None, rest[0])
        y = self.model(window)  # (B, n_direct)
        last = [window[:, -1], derived, y] if self.n_derived else [window[:, -1], y]
        new = torch.cat(last, dim=1) @ self.core + external @ self.external_map  # (B, n_inputs + n_derived)
        if self.has_angles:
            new = wrap_where(new, self.wrap)
        row = new[:, : self.n_inputs]
        next_window = torch.cat([window[:, 1:], row.unsqueeze(1)], dim=1)
        if not self.n_derived:
            return y[:, self.output_order], next_window
        next_derived = new[:, self.n_inputs :]
        return torch.cat([y, next_derived], dim=1)[:, self.output_order], next_window, next_derived


class ExportRollout(nn.Module):
    """``horizon`` steps unrolled (static shapes, so runtimes can fuse across steps)."""

    def __init__(self, model, horizon: int):
        super().__init__()
        self.step = ExportStep(model)
        self.horizon = horizon

    def forward(self, window: torch.Tensor, *rest: torch.Tensor):
        """(window, [derived,] external (B, H, n_external)) -> (outputs (B, H, n_outputs), inputs (B, H, n_in))."""
        derived, external = rest if self.step.n_derived else (None, rest[0])
        outputs, rows = [], []
        for k in range(self.horizon):
            state = (derived, external[:, k]) if self.step.n_derived else (external[:, k],)
            y, window, *more = self.step(window, *state)
            derived = more[0] if more else None
            outputs.append(y)
            rows.append(window[:, -1])
        return torch.stack(outputs, dim=1), torch.stack(rows, dim=1)


def io_names(model, rollout: bool = False) -> tuple[list[str], list[str]]:
    """Graph input and output names, in argument order."""
    derived = bool(model.step.n_derived)
    inputs = ["window", *(["derived"] if derived else []), "external"]
    if rollout:
        return inputs, ["outputs", "inputs"]
    return inputs, ["outputs", "next_window", *(["next_derived"] if derived else [])]


def example_inputs(model, batch: int, horizon: int | None = None) -> tuple[torch.Tensor, ...]:
    """Zeros of the right shapes (the values do not matter to the traced graph)."""
    schema, step = model.schema, model.step
    n_external = sum(1 for f in schema.inputs if f.parent is None)
    window = torch.zeros(batch, model.config.sequence_length, step.n_inputs)
    external = torch.zeros(batch, n_external) if horizon is None else torch.zeros(batch, horizon, n_external)
    derived = (torch.zeros(batch, step.n_derived),) if step.n_derived else ()
    return (window, *derived, external)

"""Batched free-run simulation: the one code path for evaluation, multi-step training and export.

At every step the model reads the last ``sequence_length`` rows of inputs and predicts its direct outputs;
derived outputs follow from their parents; states are advanced from outputs and other states in dependency
order, each reading its parent's new value (semi-implicit Euler for derivative chains); external inputs of the
new row come from the given series. Out-of-place operations only, so gradients flow through the rollout.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from learnsim.errors import SimulationInputError
from learnsim.features import wrap_angle


def rollout(
    model,
    window: torch.Tensor,
    external_series: torch.Tensor,
    steps: int,
    derived_init: torch.Tensor | None = None,
    detach_every: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run ``steps`` simulation steps on packed tensors.

    window: (B, L, n_inputs) physical history (rows 0..L-1).
    external_series: (B, >= L + steps, n_inputs); only its external-input columns are read (row L + k feeds
        step k), so a recorded trajectory can be passed as is.
    derived_init: (B, n_derived) last values of derived outputs (needed only by delta/derivative ones).
    detach_every: truncated backpropagation: cut the graph through the simulated state every N steps.
    Returns inputs (B, L + steps, n_inputs) and outputs (B, steps, n_outputs) in config order, where output
    row k belongs to input row L + k.
    """
    if steps < 1:
        raise SimulationInputError(f"steps must be >= 1, got {steps}")
    L, n_in = window.shape[1], window.shape[2]
    n_der = model._step_external.shape[1] - n_in
    # Contribution of the new external values to every new row, for all steps at once: (B, T, n_in + n_der),
    # unbound into per-step (B, n_in + n_der) tensors because list indexing is cheaper than tensor slicing.
    external_term = (external_series[:, : L + steps] @ model._step_external).unbind(1)
    wrap = bool(model._step_angle_mask.any())
    derived = derived_init if n_der else None
    if n_der and derived is None:
        derived = window.new_zeros(window.shape[0], n_der)
    # rows: every (B, n_in) input row, returned; recent: the rows the next window is stacked from (the same
    # tensors, or detached copies under truncated backpropagation, so the loss on rows keeps its gradient).
    rows = list(window.unbind(1))
    recent = rows[-L:]
    direct_outputs, derived_outputs = [], []
    for k in range(steps):
        y = model(window)  # (B, n_direct)
        previous = [recent[-1], derived, y] if n_der else [recent[-1], y]
        new = torch.addmm(external_term[L + k], torch.cat(previous, dim=1), model._step_core)
        if wrap:
            new = torch.where(model._step_angle_mask, wrap_angle(new), new)
        if n_der:
            derived = new[:, n_in:]
            derived_outputs.append(derived)
            new = new[:, :n_in]
        rows.append(new)
        direct_outputs.append(y)
        recent = [*recent[1:], new]
        if detach_every and (k + 1) % detach_every == 0:
            recent = [row.detach() for row in recent]
            derived = derived.detach() if n_der else None
        window = torch.stack(recent, dim=1)
    inputs = torch.stack(rows, dim=1)
    outputs = torch.stack(direct_outputs, dim=1)
    if n_der:
        outputs = torch.cat([outputs, torch.stack(derived_outputs, 1)], dim=2)[..., _output_order(model)]
    return inputs, outputs


def _output_order(model) -> list[int]:
    produced = [f.name for f in model.schema.direct_outputs] + [f.name for f in model.schema.derived_outputs]
    return [produced.index(f.name) for f in model.config.outputs]


@dataclass
class SimulationResult:
    """Named trajectories of a rollout.

    inputs[name]: (B, sequence_length + sim_steps, 1), history rows first.
    outputs[name]: (B, sim_steps, 1); outputs row k belongs to inputs row sequence_length + k.
    """

    inputs: dict[str, torch.Tensor]
    outputs: dict[str, torch.Tensor]
    dt: float
    sequence_length: int

    def to_dataframe(self):
        """Long table (pandas): one row per (batch, step) with ``time`` in seconds; outputs are NaN on history rows."""
        import pandas as pd

        first = next(iter(self.inputs.values()))
        B, T = first.shape[0], first.shape[1]
        L = self.sequence_length
        data = {
            "batch": np.repeat(np.arange(B), T),
            "step": np.tile(np.arange(T), B),
            "time": np.tile(np.arange(T) * self.dt, B),
        }
        for name, values in self.inputs.items():
            data[name] = values.detach().cpu().double().numpy().reshape(B * T)
        for name, values in self.outputs.items():
            padded = np.full((B, T), np.nan)
            padded[:, L:] = values.detach().cpu().double().numpy()[..., 0]
            data[name] = padded.reshape(B * T)
        return pd.DataFrame(data)


def simulate(model, x0, external_inputs=None, sim_steps: int | None = None, grad: bool = False):
    """Free-run ``model`` for ``sim_steps`` steps from a history window.

    x0: dict name -> (B, sequence_length, 1) history of every state input (and, for derived outputs with a
        delta/derivative relation, their values; the last row is used).
    external_inputs: dict name -> (B, sequence_length + sim_steps, 1) for every external input; may be
        omitted when the model has none. ``sim_steps`` defaults to what the external series allow.
    grad: keep the autograd graph (for training through the rollout); otherwise run without it.
    Returns a ``SimulationResult``. Tensors may be numpy arrays; they are moved to the model's device.
    """
    schema = model.schema
    L = model.config.sequence_length
    external_inputs = dict(external_inputs or {})
    x0 = dict(x0)
    parameter = next(model.parameters())
    device, dtype = parameter.device, parameter.dtype
    states = [f.name for f in schema.states]
    integrating = [f.name for f in schema.derived_outputs if f.relation != "equal"]
    externals = [f.name for f in schema.externals]
    _check_names("x0", x0, states + integrating, optional=[f.name for f in schema.derived_outputs])
    _check_names("external_inputs", external_inputs, externals, optional=[])
    if sim_steps is None:
        if not externals:
            raise SimulationInputError("sim_steps is required when the model has no external inputs")
        sim_steps = (
            _as_tensor("external_inputs", externals[0], external_inputs[externals[0]], device, dtype).shape[1]
            - L
        )
    if not isinstance(sim_steps, int) or sim_steps < 1:
        raise SimulationInputError(f"sim_steps must be an integer >= 1, got {sim_steps!r}")

    tensors = {n: _as_tensor("x0", n, v, device, dtype) for n, v in x0.items()}
    tensors |= {n: _as_tensor("external_inputs", n, v, device, dtype) for n, v in external_inputs.items()}
    batch = {t.shape[0] for t in tensors.values()}
    if len(batch) > 1:
        sizes = ", ".join(f"{n}: {t.shape[0]}" for n, t in tensors.items())
        raise SimulationInputError(f"all tensors must have the same batch size B; got {sizes}")
    B = batch.pop() if batch else 1
    for name in states + integrating:
        _check_length("x0", name, tensors[name], L, f"sequence_length ({L})")
    for name in externals:
        _check_length(
            "external_inputs",
            name,
            tensors[name],
            L + sim_steps,
            f"sequence_length + sim_steps ({L} + {sim_steps})",
        )

    series = torch.zeros(B, L + sim_steps, len(schema.inputs), device=device, dtype=dtype)
    for i, f in enumerate(schema.inputs):
        if f.parent is None:
            series[:, :, i] = tensors[f.name][..., 0]
        else:
            series[:, :L, i] = tensors[f.name][..., 0]
    derived_init = None
    if schema.derived_outputs:
        derived_init = torch.stack(
            [
                tensors[f.name][:, -1, 0] if f.name in tensors else torch.zeros(B, device=device, dtype=dtype)
                for f in schema.derived_outputs
            ],
            dim=1,
        )
    with torch.set_grad_enabled(grad and torch.is_grad_enabled()):
        inputs, outputs = rollout(model, series[:, :L], series, sim_steps, derived_init)
    return SimulationResult(
        inputs={f.name: inputs[..., i : i + 1] for i, f in enumerate(schema.inputs)},
        outputs={f.name: outputs[..., i : i + 1] for i, f in enumerate(model.config.outputs)},
        dt=model.config.dt,
        sequence_length=L,
    )


def _check_names(argument: str, given: dict, required: list[str], optional: list[str]) -> None:
    missing = [n for n in required if n not in given]
    extra = [n for n in given if n not in required and n not in optional]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {missing}")
        if extra:
            parts.append(f"unexpected {extra}")
        raise SimulationInputError(f"{argument}: {'; '.join(parts)}; expected exactly {required}")


def _as_tensor(argument: str, name: str, value, device, dtype) -> torch.Tensor:
    tensor = torch.as_tensor(value, device=device, dtype=dtype)
    if tensor.ndim != 3 or tensor.shape[2] != 1:
        raise SimulationInputError(
            f"{argument}['{name}'] has shape {tuple(tensor.shape)}; expected (B, T, 1)"
        )
    return tensor


def _check_length(argument: str, name: str, tensor: torch.Tensor, expected: int, what: str) -> None:
    if tensor.shape[1] != expected:
        raise SimulationInputError(
            f"{argument}['{name}'] has {tensor.shape[1]} time steps; expected {what} = {expected}"
        )

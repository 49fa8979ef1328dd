"""Batched free-run simulation: the one code path for evaluation, multi-step training and export.

At every step the model reads the last ``sequence_length`` rows of inputs and predicts its direct outputs;
derived outputs follow from their parents; states are advanced from outputs and other states in dependency
order, each reading its parent's new value (semi-implicit Euler for derivative chains); external inputs of the
new row come from the given series. Out-of-place operations only, so gradients flow through the rollout.

``Step`` holds that update, composed once from the feature schema; ``rollout`` runs it on packed tensors;
``simulate`` is the public, named-tensor entry point; ``free_run`` simulates recorded segments and returns
simulated beside recorded trajectories for evaluation, plots and the ``simulate`` command.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from learnsim import capture
from learnsim.errors import OutsideTrainingRangeWarning, SimulationInputError
from learnsim.features import FeatureSchema, wrap_where


class Step(nn.Module):
    """One simulation step's state update, composed from a feature schema into two matrices.

    Every relation is linear in (last inputs row, last derived outputs, predicted direct outputs, new external
    inputs), and so is their composition in dependency order (each feature reading its parent's *new* value).
    So one step is::

        new = [row, derived_prev, y] @ core + external_row @ external    # (B, n_inputs + n_derived)

    Public buffers (they follow the model's device and dtype; not saved, they are derived from the config):

    - ``core``: (n_inputs + n_derived + n_direct, n_inputs + n_derived)
    - ``external``: (n_inputs, n_inputs + n_derived); its rows for state inputs are zero, so a recorded
      trajectory can be passed whole as the external series.
    - ``wrap``: (n_inputs + n_derived,) bool, the columns of ``new`` that are angles, wrapped to [-pi, pi).
      Integrating an angle is rejected by schema validation, so wrapping after the composed update is exact.
    - ``state_index``: (n_states,) input columns that are simulated states, in config order;
      ``state_is_angle``: (n_states,) bool.
    - ``direct_index``: (n_direct,) position of each direct output among the config's outputs;
      ``direct_is_angle``: (n_direct,) bool.
    - ``output_order``: (n_outputs,) index into [direct outputs, derived outputs] giving config output order.
    """

    def __init__(self, schema: FeatureSchema, dt: float):
        super().__init__()
        inputs = [f.name for f in schema.inputs]
        derived = [f.name for f in schema.derived_outputs]
        direct = [f.name for f in schema.direct_outputs]
        outputs = [f.name for f in schema.outputs]
        self.n_inputs, self.n_derived = len(inputs), len(derived)
        core, external = _compose_relations(schema, dt)
        states = [i for i, f in enumerate(schema.inputs) if f.parent is not None]
        wrap = [schema.is_angle(name) for name in [*inputs, *derived]]
        self.has_angles = any(wrap)
        self.has_angle_outputs = any(schema.is_angle(name) for name in direct)
        buffers = {
            "core": core,
            "external": external,
            "wrap": torch.tensor(wrap, dtype=torch.bool),
            "state_index": torch.tensor(states, dtype=torch.long),
            "state_is_angle": torch.tensor([wrap[i] for i in states], dtype=torch.bool),
            "direct_index": torch.tensor([outputs.index(n) for n in direct], dtype=torch.long),
            "direct_is_angle": torch.tensor([schema.is_angle(n) for n in direct], dtype=torch.bool),
            "output_order": torch.tensor([[*direct, *derived].index(n) for n in outputs], dtype=torch.long),
        }
        for name, value in buffers.items():
            self.register_buffer(name, value, persistent=False)


def _compose_relations(schema: FeatureSchema, dt: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(core, external) of ``Step``: each feature's new value as a coefficient vector over the basis
    [last inputs row, last derived outputs, direct outputs, new external row], built parents first."""
    inputs = [f.name for f in schema.inputs]
    derived = [f.name for f in schema.derived_outputs]
    direct = [f.name for f in schema.direct_outputs]
    n_in, n_der, n_dir = len(inputs), len(derived), len(direct)
    core_size = n_in + n_der + n_dir
    previous = {name: i for i, name in enumerate(inputs)} | {n: n_in + i for i, n in enumerate(derived)}
    basis = torch.eye(core_size + n_in, dtype=torch.float64)
    coefficients: dict[str, torch.Tensor] = {}
    for f in schema.ordered():
        if f.parent is None:
            column = (
                n_in + n_der + direct.index(f.name)
                if f.kind == "output"
                else core_size + inputs.index(f.name)
            )
            coefficients[f.name] = basis[column]
        elif f.relation == "equal":
            coefficients[f.name] = coefficients[f.parent]
        elif f.relation == "delta":
            coefficients[f.name] = basis[previous[f.name]] + coefficients[f.parent]
        else:  # derivative: x + dt * (w * parent_new + (1 - w) * parent_old)
            weight = 1.0 if f.integration is None else f.integration
            parent = weight * coefficients[f.parent]
            if weight != 1.0:
                parent = parent + (1.0 - weight) * basis[previous[f.parent]]
            coefficients[f.name] = basis[previous[f.name]] + dt * parent
    new = torch.stack([coefficients[name] for name in [*inputs, *derived]], dim=1)  # (basis, n_in + n_der)
    return new[:core_size].float(), new[core_size:].float()


class WindowStep(nn.Module):
    """One free-run step of a window model (MLP, RNN, Transformer, linear) as one tensor-in tensor-out call,
    so that it can be captured (``learnsim.capture``); the eager rollout calls the same module.

    codes: (B, L, F) the window's network features (``encode_window``), oldest row first; each row is
        encoded once, when it is simulated, instead of the whole window at every step.
    last: (B, n_inputs) the window's last physical row.
    derived: (B, n_derived) the last derived outputs ((B, 0) when the schema has none).
    external: (B, n_inputs + n_derived) this step's external term (new external inputs through the relations).
    Returns (next codes (B, L, F), the new physical row (B, n_inputs), the new derived outputs (B, n_derived),
    the direct outputs y (B, n_direct)).
    """

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, codes, last, derived, external):
        y = self.model.forward_encoded(codes)
        row, derived = _update(self.model.step, last, derived, y, external)
        code = self.model.encode_window(row)  # (B, F): encode_window works row-wise on (..., n_in)
        return torch.cat([codes[:, 1:], code[:, None]], dim=1), row, derived, y


def _update(step: Step, last, derived, y, external):
    """The state update of one step: the new row (B, n_in) and derived outputs (B, n_der) from the last row,
    the last derived outputs, the direct outputs y and the step's external term."""
    new = torch.addmm(external, torch.cat([last, derived, y], dim=1), step.core)
    if step.has_angles:
        new = wrap_where(new, step.wrap)
    if step.n_derived:
        return new[:, : step.n_inputs], new[:, step.n_inputs :]
    return new, derived


# Largest batch whose no-grad free run uses one thread (see _threads_for).
SMALL_BATCH = 128


def rollout(
    model,
    window: torch.Tensor,
    external_series: torch.Tensor,
    horizon: int,
    derived_init: torch.Tensor | None = None,
    detach_every: int | None = None,
    compile: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run ``horizon`` simulation steps on packed tensors.

    window: (B, L, n_inputs) physical history (rows 0..L-1).
    external_series: (B, >= L + horizon, n_inputs); only its external-input columns are read (row L + k feeds
        step k), so a recorded trajectory can be passed as is.
    derived_init: (B, n_derived) last values of derived outputs (needed only by delta/derivative ones).
    detach_every: truncated backpropagation: cut the graph through the simulated state every N steps.
    Returns inputs (B, L + horizon, n_inputs) and outputs (B, horizon, n_outputs) in config order, where output
    row k belongs to input row L + k.

    Without gradients, a window model's step runs captured where that pays (``learnsim.capture``);
    ``compile``: captured with torch.compile instead of TorchScript.
    """
    if horizon < 1:
        raise SimulationInputError(f"horizon must be >= 1, got {horizon}")
    step = model.step
    L, n_der = window.shape[1], step.n_derived
    # Contribution of the new external values to every new row, for all steps at once: (B, T, n_in + n_der).
    external_term = external_series[:, : L + horizon] @ step.external
    if derived_init is None or not n_der:
        derived_init = window.new_zeros(window.shape[0], n_der)
    with _threads_for(window.shape[0], window.device):
        if model.stateful:
            trajectory = _latent_rollout(model, window, external_term, horizon, derived_init, detach_every)
        else:
            trajectory = _window_rollout(
                model, window, external_term, horizon, derived_init, detach_every, compile
            )
    inputs, outputs, derived_outputs = trajectory
    if n_der:
        outputs = torch.cat([outputs, derived_outputs], dim=2)[..., step.output_order]
    return inputs, outputs


@contextlib.contextmanager
def _threads_for(batch: int, device: torch.device):
    """One intra-op thread for a no-grad free run of a small batch on CPU: its steps are chains of tiny ops
    that one thread runs fastest, while a second OpenMP thread only spins between them. On 2 cores, validation
    inside training ran 3.8x faster this way (2.5 s -> 0.67 s for 20 evaluations); standalone, one thread
    wins up to batch 128 and loses from 256. Only on the main thread: the setting is process-wide."""
    if batch <= SMALL_BATCH and device.type == "cpu" and not torch.is_grad_enabled():
        with capture.one_thread():
            yield
    else:
        yield


def _window_rollout(model, window, external_term, horizon, derived, detach_every, compile):
    """A window model's free run: every input row (B, L + H, n_in), the direct outputs (B, H, n_direct) and the
    derived outputs (B, H, n_der), or None when the schema has none on the per-step path."""
    L = window.shape[1]
    body = WindowStep(model)
    # (B, L, F), (B, n_in); contiguous like the step's own outputs, so a compiled step sees one layout
    codes, last, derived = model.encode_window(window), window[:, -1].contiguous(), derived.contiguous()
    run = capture.step_runner(model, body, (codes, last, derived, external_term[:, L]), horizon, compile)
    if isinstance(run, capture.ScriptedStep) and run.loop is not None:
        # the whole free run as TorchScript calls (large CPU batches in chunks side by side); captured runs
        # have no gradients, so no truncation either
        new_rows, direct, derived_rows = run.free_run(codes, last, derived, external_term[:, L:])
        return torch.cat([window, new_rows], dim=1), direct, derived_rows
    terms = external_term.unbind(1)  # list indexing per step is cheaper than tensor slicing
    rows, direct_outputs, derived_outputs = list(window.unbind(1)), [], []
    for k in range(horizon):
        codes, last, derived, y = run(codes, last, derived, terms[L + k])
        rows.append(last)
        direct_outputs.append(y)
        derived_outputs.append(derived)
        if detach_every and (k + 1) % detach_every == 0:  # the loss keeps its gradient through `rows`
            codes, last, derived = codes.detach(), last.detach(), derived.detach()
    return _stacked(rows, direct_outputs, derived_outputs)


def _stacked(rows, direct_outputs, derived_outputs):
    """The per-step lists as (B, T, .) tensors; derived outputs only when the schema has some (else None)."""
    derived = torch.stack(derived_outputs, 1) if derived_outputs[0].shape[1] else None
    return torch.stack(rows, 1), torch.stack(direct_outputs, 1), derived


def _latent_rollout(model, window, external_term, horizon, derived, detach_every):
    """The same for a state-space model, which carries a latent state instead of reading a window."""
    L = window.shape[1]
    external_term = external_term.unbind(1)
    rows = list(window.unbind(1))
    last = rows[-1]
    latent = model.initial_state(window)  # (B, state_size)
    direct_outputs, derived_outputs = [], []
    for k in range(horizon):
        y = model.output_of(latent)  # (B, n_direct)
        last, derived = _update(model.step, last, derived, y, external_term[L + k])
        rows.append(last)
        direct_outputs.append(y)
        derived_outputs.append(derived)
        cut = detach_every and (k + 1) % detach_every == 0
        if cut:
            last, derived = last.detach(), derived.detach()
        if k + 1 < horizon:
            latent = model.advance(latent.detach() if cut else latent, last)
    return _stacked(rows, direct_outputs, derived_outputs)


@dataclass
class SimulationResult:
    """Named trajectories of a rollout.

    inputs[name]: (B, sequence_length + horizon, 1), history rows first.
    outputs[name]: (B, horizon, 1); outputs row k belongs to inputs row sequence_length + k.
    outside_training_range[name]: fraction of the simulated rows (states as simulated, external inputs as
    given) where an input is outside the range the model was trained on; far outside it, no model is
    trustworthy.
    """

    inputs: dict[str, torch.Tensor]
    outputs: dict[str, torch.Tensor]
    dt: float
    sequence_length: int
    outside_training_range: dict[str, float] = field(default_factory=dict)

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


def simulate(
    model,
    x0,
    external_inputs=None,
    horizon: int | None = None,
    grad: bool = False,
    *,
    compile: bool = False,
    sim_steps=None,
) -> SimulationResult:
    """Free-run ``model`` for ``horizon`` steps from a history window.

    x0: dict name -> (B, sequence_length, 1) history of every state input (and, for derived outputs with a
        delta/derivative relation, their values; the last row is used).
    external_inputs: dict name -> (B, sequence_length + horizon, 1) for every external input; may be
        omitted when the model has none. ``horizon`` defaults to what the external series allow.
    grad: keep the autograd graph (for training through the rollout); otherwise run without it.
    compile: run the step through torch.compile (fused kernels; compiled once per model and batch shape,
        which takes seconds): for large batches and long or repeated simulations. Without it the step is a
        TorchScript trace (``learnsim.capture``).
    sim_steps: the Onyx Engine's name for ``horizon``; accepted with a deprecation warning.
    Returns a ``SimulationResult``. Tensors may be numpy arrays; they are moved to the model's device.
    """
    horizon = horizon_alias(horizon, sim_steps)
    schema, L = model.schema, model.config.sequence_length
    parameter = next(model.parameters())
    device, dtype = parameter.device, parameter.dtype
    states = [f.name for f in schema.states]
    integrating = [f.name for f in schema.derived_outputs if f.relation != "equal"]
    externals = [f.name for f in schema.externals]
    _check_mappings(x0, external_inputs)
    x0, external_inputs = dict(x0), dict(external_inputs or {})
    _check_names("x0", x0, states + integrating, optional=[f.name for f in schema.derived_outputs])
    _check_names("external_inputs", external_inputs, externals, optional=[])
    tensors = {n: _as_tensor("x0", n, v, device, dtype) for n, v in x0.items()}
    tensors |= {n: _as_tensor("external_inputs", n, v, device, dtype) for n, v in external_inputs.items()}
    if horizon is None:
        if not externals:
            raise SimulationInputError("horizon is required when the model has no external inputs")
        horizon = tensors[externals[0]].shape[1] - L
        if horizon < 1:  # the user gave no horizon: say what their series lack, not what was derived
            raise SimulationInputError(
                f"external_inputs['{externals[0]}'] has {tensors[externals[0]].shape[1]} rows: it must cover "
                f"the {L}-row history and at least one step to simulate (sequence_length + horizon rows)"
            )
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
        raise SimulationInputError(f"horizon must be an integer >= 1, got {horizon!r}")
    B = _batch_size(tensors)
    for name, tensor in tensors.items():
        _check_finite("x0" if name in x0 else "external_inputs", name, tensor)
    for name in states + integrating:
        _check_length("x0", name, tensors[name], L, f"sequence_length ({L})")
    for name in externals:
        expected = f"sequence_length + horizon ({L} + {horizon})"
        _check_length("external_inputs", name, tensors[name], L + horizon, expected)

    series = torch.zeros(B, L + horizon, len(schema.inputs), device=device, dtype=dtype)
    for i, f in enumerate(schema.inputs):
        rows = slice(None) if f.parent is None else slice(0, L)
        series[:, rows, i] = tensors[f.name][..., 0]
    derived_init = None
    if schema.derived_outputs:
        zeros = torch.zeros(B, device=device, dtype=dtype)
        last = [tensors[f.name][:, -1, 0] if f.name in tensors else zeros for f in schema.derived_outputs]
        derived_init = torch.stack(last, dim=1)
    with torch.set_grad_enabled(grad and torch.is_grad_enabled()):
        inputs, outputs = rollout(model, series[:, :L], series, horizon, derived_init, compile=compile)
    with torch.no_grad():
        outside = model.outside_training_range(inputs[:, L:]).tolist()
        note = model.range_note(inputs[:, L:].detach())
    if note is not None:  # once per call: what the user is looking at is an extrapolation
        warnings.warn(note, OutsideTrainingRangeWarning, stacklevel=3)
    return SimulationResult(
        inputs={f.name: inputs[..., i : i + 1] for i, f in enumerate(schema.inputs)},
        outputs={f.name: outputs[..., i : i + 1] for i, f in enumerate(model.config.outputs)},
        dt=model.config.dt,
        sequence_length=L,
        outside_training_range={f.name: outside[i] for i, f in enumerate(schema.inputs)},
    )


def horizon_alias(horizon: int | None, sim_steps: int | None, stacklevel: int = 3) -> int | None:
    """``horizon``, or the deprecated ``sim_steps`` (the Onyx Engine's name) with a warning for the caller."""
    if sim_steps is None:
        return horizon
    warnings.warn("sim_steps= is deprecated; use horizon=", DeprecationWarning, stacklevel=stacklevel)
    return sim_steps if horizon is None else horizon


def _check_names(argument: str, given: dict, required: list[str], optional: list[str]) -> None:
    missing = [n for n in required if n not in given]
    extra = [n for n in given if n not in required and n not in optional]
    if missing or extra:
        parts = [f"missing {missing}"] if missing else []
        parts += [f"unexpected {extra}"] if extra else []
        raise SimulationInputError(f"{argument}: {'; '.join(parts)}; expected exactly {required}")


def _check_finite(argument: str, name: str, tensor: torch.Tensor) -> None:
    """NaN or inf in an input would run through the whole free run into every output: refuse it, naming
    where it is. One reduction per input (a device sync on GPU, once per call)."""
    bad = ~torch.isfinite(tensor)
    if bool(bad.any()):
        row, step, _ = (int(i) for i in bad.nonzero()[0])
        value = tensor[row, step, 0].item()
        raise SimulationInputError(
            f"{argument}['{name}'] holds a non-finite value ({value}) at batch row {row}, step {step}"
        )


def _check_mappings(x0, external_inputs) -> None:
    for argument, value in (("x0", x0), ("external_inputs", external_inputs)):
        if not isinstance(value, dict) and not (argument == "external_inputs" and value is None):
            raise SimulationInputError(
                f"{argument} must be a dict of feature name -> (B, T, 1) array, got {type(value).__name__}"
            )


def _as_tensor(argument: str, name: str, value, device, dtype) -> torch.Tensor:
    try:
        tensor = torch.as_tensor(value, device=device, dtype=dtype)
    except (TypeError, ValueError, RuntimeError):  # strings, objects, ragged lists
        kind = getattr(getattr(value, "dtype", None), "name", type(value).__name__)
        raise SimulationInputError(
            f"{argument}['{name}'] is not numeric ({kind}): give a (B, T, 1) array of numbers"
        ) from None
    if tensor.ndim != 3 or tensor.shape[2] != 1:
        raise SimulationInputError(
            f"{argument}['{name}'] has shape {tuple(tensor.shape)}; expected (B, T, 1)"
        )
    return tensor


def _batch_size(tensors: dict[str, torch.Tensor]) -> int:
    sizes = {t.shape[0] for t in tensors.values()}
    if len(sizes) > 1:
        listed = ", ".join(f"{n}: {t.shape[0]}" for n, t in tensors.items())
        raise SimulationInputError(f"all tensors must have the same batch size B; got {listed}")
    return sizes.pop() if sizes else 1


def _check_length(argument: str, name: str, tensor: torch.Tensor, expected: int, what: str) -> None:
    if tensor.shape[1] != expected:
        raise SimulationInputError(
            f"{argument}['{name}'] has {tensor.shape[1]} time steps; expected {what} = {expected}"
        )


@dataclass
class Trajectories:
    """Free-run simulations of recorded segments beside the recording, by feature name.

    simulated[name], recorded[name]: (S, H) for every simulated state and every direct output, where step k
    is the k-th simulated step (row sequence_length + k of its segment). ``valid``: (S, H) bool, False on
    padding past a shorter segment's end (None: every step is valid). ``angles``: the periodic features,
    whose errors are wrapped the short way round.
    """

    simulated: dict[str, torch.Tensor]
    recorded: dict[str, torch.Tensor]
    angles: frozenset[str]
    dt: float
    valid: torch.Tensor | None = None

    @property
    def horizon(self) -> int:
        return next(iter(self.simulated.values())).shape[1]

    @property
    def segments(self) -> int:
        return next(iter(self.simulated.values())).shape[0]

    def error(self, name: str) -> torch.Tensor:
        """(S, H) simulated minus recorded, wrapped to [-pi, pi) for angles; 0 on invalid steps."""
        error = self.simulated[name] - self.recorded[name]
        if name in self.angles:
            error = (error + math.pi) % (2 * math.pi) - math.pi
        return error if self.valid is None else error.where(self.valid, 0.0)

    def rmse(self, name: str) -> float:
        squared = self.error(name).double().square()
        count = squared.numel() if self.valid is None else int(self.valid.sum())
        return math.sqrt(squared.sum().item() / max(count, 1))

    def rmse_by_step(self, name: str) -> torch.Tensor:
        """(H,) RMSE over the segments that reach each simulated step."""
        squared = self.error(name).double().square()
        count = squared.shape[0] if self.valid is None else self.valid.sum(0).clamp(min=1)
        return (squared.sum(0) / count).sqrt()


@torch.no_grad()
def free_run(
    model,
    recorded_inputs: torch.Tensor,
    recorded_targets: torch.Tensor | None = None,
    valid: torch.Tensor | None = None,
) -> Trajectories:
    """Free-run ``model`` over recorded segments and pair each simulated feature with its recording.

    recorded_inputs: (S, L + H, n_inputs) physical rows of S recorded segments: the first L rows
        (L = sequence_length) are the history; external inputs drive all H steps; recorded state values after
        the history are only compared against, never fed back.
    recorded_targets: (S, H, n_direct) recorded direct outputs of rows L .. L + H - 1, or None to compare
        states only.
    valid: (S, H) bool marking real (not padded) steps of segments shorter than H.
    """
    L = model.config.sequence_length
    horizon = recorded_inputs.shape[1] - L
    model.eval()
    inputs, outputs = rollout(model, recorded_inputs[:, :L], recorded_inputs, horizon)
    schema, step = model.schema, model.step
    simulated, recorded = {}, {}
    for i, f in enumerate(model.config.inputs):
        if f.parent is not None:
            simulated[f.name], recorded[f.name] = inputs[:, L:, i], recorded_inputs[:, L:, i]
    if recorded_targets is not None:
        direct = outputs.index_select(2, step.direct_index)  # (S, H, n_direct)
        for j, f in enumerate(schema.direct_outputs):
            simulated[f.name], recorded[f.name] = direct[..., j], recorded_targets[..., j]
    angles = frozenset(name for name in simulated if schema.is_angle(name))
    return Trajectories(simulated, recorded, angles, model.config.dt, valid)

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
        # training range of each input (physical units): out-of-range reporting and networks that fade
        self.register_buffer("input_low", torch.full((len(config.inputs),), -torch.inf))
        self.register_buffer("input_high", torch.full((len(config.inputs),), torch.inf))
        plain, angle = config.plain_and_angle_inputs()
        self._has_angle_inputs = bool(angle)
        self.register_buffer("_angle_inputs", torch.tensor(angle, dtype=torch.long), persistent=False)
        self.register_buffer("_plain_inputs", torch.tensor(plain, dtype=torch.long), persistent=False)

    @property
    def direct_output_names(self) -> list[str]:
        return [f.name for f in self.schema.direct_outputs]

    def encode_window(self, window: torch.Tensor) -> torch.Tensor:
        """(B, L, n_inputs) physical -> (B, L, n_network_inputs) normalised network features; row by row, so
        any leading shape works ((B, n_inputs) -> (B, n_network_inputs))."""
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
        return self._physical(self.predict_normalized(window))

    def forward_encoded(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, L, n_network_inputs) encoded window (``encode_window``) -> (B, n_direct_outputs) physical.
        Encoding is row by row, so a free run encodes each new row once instead of the whole window."""
        return self._physical(self.network(codes))

    def _physical(self, normalized: torch.Tensor) -> torch.Tensor:
        y = self.output_scaler.denormalize(normalized)
        return wrap_where(y, self.step.direct_is_angle) if self.step.has_angle_outputs else y

    # A stateful network (a state-space model) carries a latent state through a free run instead of reading
    # the window at every step: the rollout asks for its initial state once, then alternates outputs and
    # advances. Window networks have no latent state (None).
    @property
    def stateful(self) -> bool:
        return getattr(self.network, "stateful", False)

    def initial_state(self, window: torch.Tensor) -> torch.Tensor | None:
        """(B, L, n_inputs) physical history -> (B, state_size) latent state of the next row, or None."""
        return self.network.initial_state(self.encode_window(window)) if self.stateful else None

    def output_of(self, state: torch.Tensor) -> torch.Tensor:
        """(B, state_size) latent state -> (B, n_direct_outputs) physical outputs of its row."""
        return self._physical(self.network.output(state))

    def advance(self, state: torch.Tensor, row: torch.Tensor) -> torch.Tensor:
        """Latent state of row k and the physical row k (B, n_inputs) -> the latent state of row k + 1."""
        return self.network.advance(state, self.encode_window(row[:, None])[:, 0])

    def wrap_output_residual(self, residual: torch.Tensor) -> torch.Tensor:
        """(..., n_direct_outputs) normalised residual with angle outputs' residuals wrapped the short way
        round (wrapped physical difference divided by the output scale); others unchanged."""
        if not self.step.has_angle_outputs:
            return residual
        scale = self.output_scaler.scale
        return (wrap_angle(residual * scale) / scale).where(self.step.direct_is_angle, residual)

    def set_statistics(
        self, stats: dict[str, tuple], ranges: dict[str, tuple[float, float]] | None = None
    ) -> None:
        """Set scalers from training statistics: ``stats[name] = (mean, std)`` per input and direct output,
        and the training range ``ranges[name] = (min, max)`` per input when known.

        Outputs without a dataset column use the statistics of their derived targets, keyed by name.
        """

        def rule(f):
            return None if self.schema.is_angle(f.name) else f.scale

        inputs = [scaling_for(rule(f), *stats[f.name][:2]) for f in self.config.inputs]
        outputs = [scaling_for(rule(f), *stats[f.name][:2]) for f in self.schema.direct_outputs]
        self.input_scaler.set_statistics([o for o, _ in inputs], [s for _, s in inputs])
        self.output_scaler.set_statistics([o for o, _ in outputs], [s for _, s in outputs])
        if getattr(self.config, "increments", False):
            self.network.set_step_gain(self.step_gains())
        if ranges is not None:
            self.input_low.copy_(torch.tensor([ranges[f.name][0] for f in self.config.inputs]))
            self.input_high.copy_(torch.tensor([ranges[f.name][1] for f in self.config.inputs]))
            if hasattr(self.network, "set_input_range"):
                self.network.set_input_range(*self.network_input_range())

    def step_gains(self) -> torch.Tensor:
        """(n_network_inputs,) per-step column of a model with ``increments``: a 'delta' input's scale over the
        scale of the direct output it integrates (so a normalised step between rows times it is that output,
        normalised: about unit spread); 1 elsewhere, and for a 'delta' input fed from another input."""
        plain, _ = self.config.plain_and_angle_inputs()
        direct = self.direct_output_names
        columns = self.config.increment_columns()  # plain inputs first, in ``plain`` order
        gains = torch.ones(len(columns), device=self.input_scaler.scale.device)
        for column, i in enumerate(plain):
            parent = self.config.inputs[i].parent
            if columns[column] and parent in direct:
                gains[column] = self.input_scaler.scale[i] / self.output_scaler.scale[direct.index(parent)]
        return gains

    def network_input_range(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(low, high) of each per-step network input over the training range: normalised plain inputs, then
        sin and cos of the angles (always within [-1, 1])."""
        low = self.input_scaler.normalize(self.input_low).index_select(0, self._plain_inputs)
        high = self.input_scaler.normalize(self.input_high).index_select(0, self._plain_inputs)
        unit = torch.ones(2 * len(self._angle_inputs), device=low.device)
        return torch.cat([low, -unit]), torch.cat([high, unit])

    def outside_training_range(self, inputs: torch.Tensor, margin: float = 0.0) -> torch.Tensor:
        """(n_inputs,) fraction of the rows of ``inputs`` (..., n_inputs) outside the training range, per input
        (angles never are); ``margin`` widens the range by that fraction of its width on each side."""
        width = (self.input_high - self.input_low).nan_to_num(0.0, posinf=0.0, neginf=0.0)
        low, high = self.input_low - margin * width, self.input_high + margin * width
        outside = (inputs < low) | (inputs > high)
        return outside.flatten(0, -2).float().mean(0)

    @property
    def extrapolation_margin(self) -> float:
        """How far past the training range (in range widths) the model is still trusted: its clip margin when
        its hidden layers are clamped there, else 0 (the whole network extrapolates past the range)."""
        config = self.config
        return (
            float(getattr(config, "clip_margin", 0.0) or 0.0)
            if getattr(config, "extrapolation", None) == "clip"
            else 0.0
        )

    def range_note(self, inputs: torch.Tensor, names: list[str] | None = None) -> str | None:
        """One line naming the inputs whose free-run rows (``inputs`` (..., n_inputs)) went beyond the training
        range past ``extrapolation_margin``, with the fraction of rows; None when none did."""
        fractions = self.outside_training_range(inputs, self.extrapolation_margin).tolist()
        names = names or [f.name for f in self.config.inputs]
        beyond = [
            f"{name} {fraction:.1%}" for name, fraction in zip(names, fractions, strict=True) if fraction > 0
        ]
        if not beyond:
            return None
        margin = self.extrapolation_margin
        past = f"past its margin of {margin:g} range widths" if margin else "where the network extrapolates"
        return f"the free run left the training range ({past}): {', '.join(beyond)} of the simulated steps"

    def simulate(
        self,
        x0,
        external_inputs=None,
        horizon: int | None = None,
        grad: bool = False,
        *,
        sim_steps=None,
        **options,
    ):
        """Free-run rollout; see ``learnsim.simulate.simulate`` for ``options`` (``compile``); ``sim_steps=`` is
        a deprecated alias of ``horizon``."""
        return simulate(self, x0, external_inputs, horizon_alias(horizon, sim_steps), grad, **options)

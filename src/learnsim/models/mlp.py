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


def hidden_stack(config, width: int, head: int, bias: bool = True, dropout: float = 0.0) -> nn.Sequential:
    """``config.hidden_layers`` layers of ``config.hidden_size`` with its activation (and dropout), from
    ``width`` inputs to ``head`` outputs: (..., width) -> (..., head)."""
    layers: list[nn.Module] = []
    for _ in range(config.hidden_layers):
        layers += [nn.Linear(width, config.hidden_size, bias=bias), ACTIVATIONS[config.activation]()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = config.hidden_size
    layers.append(nn.Linear(width, head, bias=bias))
    return nn.Sequential(*layers)


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
    rigid_body: bool = Field(
        default=False,
        description="Add a term shaped like rigid-body mechanics, M(q) a + C(q, v) v + g(q) = B(q) u: accelerations "
        "linear in the external inputs u and quadratic in the velocities v, with coefficients that depend on the "
        "positions q only, a second set of hidden layers (the same size) giving them from the newest row's "
        "positions. The main hidden layers still see the whole window and learn what the form leaves out "
        "(friction, contact). With extrapolation 'clip' the term sees positions and velocities clamped like the "
        "hidden layers, so beyond the data it stays bounded. Velocities are the inputs fed back from a predicted "
        "output by a derivative relation; positions the other states. Needs a derivative chain; not with "
        "control_affine. Off unless given: it helps chains of rigid links and ran away on systems with contacts.",
    )
    increments: bool = Field(
        default=False,
        description="Show the network a fed-back ('delta') input's history as its steps between the window's "
        "rows, scaled by the spread of the output that drives them, beside its newest value. The same window "
        "re-expressed (nothing is lost), so that finely sampled signals, whose steps are a small fraction of "
        "their range, are not learned through differences of nearly equal inputs. Needs a 'delta' input "
        "that is not an angle, and sequence_length >= 2.",
    )
    extrapolation: Literal["network", "linear", "clip"] = Field(
        default="network",
        description="Outside the training range: 'network' evaluates the whole network; 'linear' fades the "
        "hidden layers' contribution out (Gaussian in the distance beyond the range, in units of each input's "
        "scale), so the model degrades toward its linear part; 'clip' shows the hidden layers each input "
        "clamped to its training range (the linear part still sees it as it is), so what they add stays what "
        "they learnt at the edge of the data and cannot grow without bound. 'linear' and 'clip' need "
        "linear_skip. Left open, the recipe gives derivative chains 'clip' with clip_margin 0.5.",
    )
    clip_margin: float = Field(
        default=0.0,
        ge=0.0,
        le=100.0,
        description="With extrapolation 'clip': how far beyond each edge of the training range the hidden layers "
        "still see an input as it is, as a fraction of the range's width (0.5: half the width on each side, so "
        "the clamp acts only on what lies beyond twice the range about its centre).",
    )

    @model_validator(mode="after")
    def _fade_needs_linear_part(self):
        if self.extrapolation != "network" and not self.linear_skip:
            raise ValueError(
                f"extrapolation '{self.extrapolation}' needs linear_skip: true (the part that carries the model "
                "beyond the training range)"
            )
        if self.clip_margin and self.extrapolation != "clip":
            raise ValueError(
                f"clip_margin applies only with extrapolation 'clip' (this config has '{self.extrapolation}'); "
                "set extrapolation: clip, or leave clip_margin out"
            )
        return self

    @model_validator(mode="after")
    def _increments_need_a_delta_input(self):
        if self.increments and not (any(self.increment_columns()) and self.sequence_length >= 2):
            raise ValueError(
                "increments needs an input with relation 'delta' that is not an angle, and sequence_length "
                ">= 2 (the steps between the window's rows of such an input are what it shows the network)"
            )
        return self

    def increment_columns(self) -> list[bool]:
        """Per-step network column (``network_columns`` order): whether it is a fed-back 'delta' input."""
        plain, angle = self.plain_and_angle_inputs()
        delta = [self.inputs[i].relation == "delta" and self.inputs[i].parent is not None for i in plain]
        return delta + [False] * (2 * len(angle))

    def rigid_body_columns(self) -> tuple[list[int], list[int], list[int]]:
        """Per-step network columns (``network_columns`` order) of the velocities (inputs a derivative relation
        feeds from a predicted output), the positions (every other state) and the external inputs."""
        predicted = {f.name for f in self.outputs if f.parent is None}
        by_name = {f.name: f for f in self.inputs}
        velocity, position, external = [], [], []
        for column, (name, is_external) in enumerate(self.network_columns()):
            f = by_name[name]
            if is_external:
                external.append(column)
            elif f.relation == "derivative" and f.parent in predicted:
                velocity.append(column)
            else:
                position.append(column)
        return velocity, position, external

    @model_validator(mode="after")
    def _rigid_body_needs_a_derivative_chain(self):
        if self.rigid_body:
            velocity, position, _ = self.rigid_body_columns()
            if not velocity or not position:
                raise ValueError(
                    "rigid_body needs a derivative chain: an input fed from a predicted output by a 'derivative' "
                    "relation (a velocity) and another state (a position, e.g. integrating that velocity)"
                )
            if self.control_affine:
                raise ValueError(
                    "rigid_body and control_affine cannot be combined (rigid_body's term is already linear in "
                    "the external inputs); choose one"
                )
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
        self.layers = hidden_stack(config, width, head, bias=config.bias, dropout=config.dropout)
        self.skip = nn.Linear(flat, config.n_direct_outputs, bias=False) if config.linear_skip else None
        self.rigid = RigidBodyTerm(config, *config.rigid_body_columns()) if config.rigid_body else None
        self.increments = config.increments
        if self.increments:  # per-step column: a 'delta' input, and its step gain (set with the statistics)
            mask = torch.tensor(config.increment_columns())
            self.register_buffer("step_columns", mask, persistent=False)
            self.register_buffer("step_gain", torch.ones(len(mask)))
        self.fade, self.clip = config.extrapolation == "linear", config.extrapolation == "clip"
        self.clip_margin = config.clip_margin
        if self.fade or self.clip:  # normalised training range of each flattened window entry (statistics)
            self.register_buffer("low", torch.full((flat,), -torch.inf))
            self.register_buffer("high", torch.full((flat,), torch.inf))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        # z: (B, L, F) normalized window -> (B, n_direct_outputs) normalized outputs
        raw = z.flatten(1)
        flat = self.window_steps(z).flatten(1) if self.increments else raw
        hidden = flat  # what the hidden layers see: with 'clip', the window clamped to the training range
        if self.clip:
            seen = raw.clamp(self.low, self.high)
            hidden = self.window_steps(seen.view_as(z)).flatten(1) if self.increments else seen
        if self.affine:  # the gains multiply the inputs as they are: the output stays affine in them
            h = self.layers(hidden.index_select(1, self.s_columns))  # (B, n_out * (1 + n_u))
            out = affine_in_inputs(h, flat.index_select(1, self.u_columns), self.n_out)
        else:
            out = self.layers(hidden)
        if self.rigid is not None:  # states as the hidden layers see them (clamped), inputs as they are
            out = out + self.rigid(hidden.view_as(z)[:, -1], z[:, -1])
        if self.fade:  # (B, 1) trust in the hidden layers: 1 inside the range, -> 0 far outside
            excess = (raw - self.high).clamp(min=0) + (self.low - raw).clamp(min=0)
            out = out * torch.exp(-excess.amax(1, keepdim=True).square() / (2 * self.FADE_WIDTH**2))
        return out if self.skip is None else out + self.skip(flat)

    def window_steps(self, z: torch.Tensor) -> torch.Tensor:
        """(B, L, F) window -> (B, L, F): in the 'delta' columns, rows 0 .. L-2 become the steps to the next
        row times ``step_gain`` (about unit spread); the newest row and the other columns are unchanged."""
        steps = (z[:, 1:] - z[:, :-1]) * self.step_gain  # (B, L - 1, F)
        return torch.cat([torch.where(self.step_columns, steps, z[:, :-1]), z[:, -1:]], dim=1)

    def set_step_gain(self, gain: torch.Tensor) -> None:
        """(F,) factor turning a normalised step of each per-step column into about unit spread (the input's
        scale over the scale of the output it integrates); only the 'delta' columns use it."""
        self.step_gain.copy_(gain)

    def set_input_range(self, low: torch.Tensor, high: torch.Tensor) -> None:
        """Training range of the normalised per-step network inputs (F,), repeated over the window."""
        if self.fade or self.clip:
            if self.clip and self.clip_margin:  # widen by the margin; a zero-width range stays a point
                width = high - low
                low, high = low - self.clip_margin * width, high + self.clip_margin * width
            repeats = self.low.shape[0] // low.shape[0]
            self.low.copy_(low.repeat(repeats))
            self.high.copy_(high.repeat(repeats))

    @torch.no_grad()
    def start_from_linear(self, weight: torch.Tensor, bias: torch.Tensor) -> bool:
        """Make the network equal the linear map (weight (n_out, L*F), bias (n_out,)): the skip takes it and
        the last hidden-to-output layer starts at zero. False (nothing changed) without a linear skip."""
        if self.skip is None:
            return False
        if self.increments:  # the skip reads window_steps(z): re-express the map in those columns
            weight = self._on_steps(weight)
        self.skip.weight.copy_(weight)
        if self.rigid is not None:
            self.rigid.zero_()
        last = self.layers[-1]
        last.weight.zero_()
        if last.bias is not None:  # control-affine: f takes the bias, the gains start at zero
            last.bias.zero_()
            last.bias[: self.n_out].copy_(bias)
        return True

    def _on_steps(self, weight: torch.Tensor) -> torch.Tensor:
        """A linear map of the window z (n_out, L*F) as the same map of window_steps(z). In a step column, with
        t_k = g (z_{k+1} - z_k) for k < L-1 and t_{L-1} = z_{L-1}: z_k = t_{L-1} - (1/g) sum_{j>=k} t_j, so the
        newest row takes sum_k W_k and row j < L-1 takes -(1/g) sum_{k<=j} W_k."""
        w = weight.unflatten(1, (-1, self.step_gain.shape[0]))  # (n_out, L, F)
        on_steps = torch.cat([-w.cumsum(1)[:, :-1] / self.step_gain, w.sum(1, keepdim=True)], dim=1)
        return torch.where(self.step_columns, on_steps, w).flatten(1)


class RigidBodyTerm(nn.Module):
    """sum_b c_b(q) basis_b over the basis [v, v_i v_j (i <= j), u] of the newest row's velocities v and external
    inputs u, with coefficients c (n_out x n_basis) from hidden layers over its positions q. The constant term
    g(q) is left to the main hidden layers, which see q too."""

    def __init__(self, config: MLPConfig, velocity: list[int], position: list[int], external: list[int]):
        super().__init__()
        for name, columns in (("v_columns", velocity), ("q_columns", position), ("u_columns", external)):
            self.register_buffer(name, torch.tensor(columns, dtype=torch.long), persistent=False)
        pairs = torch.triu_indices(len(velocity), len(velocity))  # (2, n_v (n_v + 1) / 2)
        self.register_buffer("pair_i", pairs[0], persistent=False)
        self.register_buffer("pair_j", pairs[1], persistent=False)
        self.n_out, self.n_basis = config.n_direct_outputs, len(velocity) + pairs.shape[1] + len(external)
        self.coefficients = hidden_stack(config, len(position), self.n_out * self.n_basis)

    def forward(self, seen: torch.Tensor, row: torch.Tensor) -> torch.Tensor:
        # seen: (B, F) newest row as the hidden layers see it (clamped with 'clip'); row: (B, F) as it is.
        # With 'clip' the velocities are clamped too: v^2 beyond the data grows faster than anything the linear
        # part can hold (free runs of a ball on a paddle diverged in training), so the term stays bounded there
        # and linear in the inputs.
        v = seen.index_select(1, self.v_columns)  # (B, n_v)
        vv = v.index_select(1, self.pair_i) * v.index_select(1, self.pair_j)  # (B, n_v (n_v + 1) / 2)
        basis = torch.cat([v, vv, row.index_select(1, self.u_columns)], dim=1)  # (B, n_basis)
        c = self.coefficients(seen.index_select(1, self.q_columns)).unflatten(1, (self.n_out, self.n_basis))
        return (c * basis[:, None, :]).sum(-1)  # (B, n_out)

    @torch.no_grad()
    def zero_(self) -> None:
        """Start with the term off (its output layer at zero): the model is then the rest of the network."""
        last = self.coefficients[-1]
        last.weight.zero_()
        last.bias.zero_()


def mlp_network(config: MLPConfig) -> nn.Module:
    """The MLP of ``config``, or with ``members`` > 1 an ``Ensemble`` of that many (each its own init)."""
    if config.members == 1:
        return MLP(config)
    return Ensemble([MLP(config) for _ in range(config.members)])

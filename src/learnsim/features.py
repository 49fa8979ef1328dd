"""Declarative feature schema: ``Input`` and ``Output`` with state relations.

Mirrors the Onyx Engine schema robotics users know. A model predicts its *direct* outputs (outputs without a
parent); *derived* outputs follow from their parent output; *state* inputs (inputs with a parent) are
advanced from outputs or other states at every simulation step; *external* inputs (no parent) are given.

Relations, with ``p`` the parent's value at the new step and ``x`` the feature's value at the last step:

- ``equal``:      x_new = p
- ``delta``:      x_new = x + p
- ``derivative``: x_new = x + dt * (w * p + (1 - w) * p_old)   with w = ``integration`` (default 1:
  x_new = x + p * dt, semi-implicit Euler when chained: parents update first; 0.5: trapezoidal). Data
  recorded from a simulator that takes k substeps per row moves positions by w = (k + 1) / 2k; training
  estimates w from the recorded parent and feature when ``integration`` is not given.

``angle=True`` marks a periodic feature in radians: its values are wrapped to [-pi, pi), differences and
losses use the wrapped difference, and the network sees it as (sin, cos) so that +-pi is one point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from pydantic import ConfigDict, Field, field_validator

from learnsim.errors import SchemaError
from learnsim.strict import StrictModel

Relation = Literal["equal", "delta", "derivative"]


class _Feature(StrictModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, description="Feature name, unique across inputs and outputs.")
    dataset_feature: str | None = Field(
        default=None, description="Dataset column this feature reads; defaults to `name`."
    )
    scale: Literal["mean"] | tuple[float, float] | None = Field(
        default="mean",
        description="'mean': z-score with training statistics; [min, max]: mapped to [-1, 1]; None: as is.",
    )
    parent: str | None = Field(default=None, description="Feature this one is obtained from.")
    relation: Relation | None = Field(default=None, description="How the parent gives this feature.")
    angle: bool = Field(default=False, description="Periodic feature in radians, wrapped to [-pi, pi).")
    integration: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="derivative relation: weight w of the parent's new value in x += dt * (w * new + (1 - w) * "
        "old); 1 semi-implicit Euler, 0.5 trapezoidal; null: estimated from the data when training (1 "
        "elsewhere).",
    )

    def __init__(self, name: str | None = None, /, **data):
        # Allow the Onyx-style positional name: Output('acceleration').
        if name is not None:
            data["name"] = name
        super().__init__(**data)

    @field_validator("scale", mode="before")
    @classmethod
    def _scale_list_to_tuple(cls, value):
        return tuple(value) if isinstance(value, list) else value

    @property
    def column(self) -> str:
        """The dataset column this feature reads."""
        return self.dataset_feature or self.name


class Output(_Feature):
    """A model output. Without a parent it is predicted directly by the network."""

    kind: Literal["output"] = "output"


class Input(_Feature):
    """A model input. Without a parent it is external (given); with one it is a simulated state."""

    kind: Literal["input"] = "input"


def wrap_angle(x):
    """Wrap radians to [-pi, pi). Works on floats, numpy arrays and torch tensors."""
    return (x + math.pi) % (2 * math.pi) - math.pi


def wrap_where(x, mask):
    """Torch tensor ``x`` (..., n) with the columns where ``mask`` (n,) is True wrapped to [-pi, pi): the
    short-way-round difference for periodic features, unchanged values for the others."""
    return wrap_angle(x).where(mask, x)


@dataclass(frozen=True)
class FeatureSchema:
    """A validated set of inputs and outputs with their update order.

    Attributes are derived once here so that simulation and data code never re-derive them.
    """

    inputs: tuple[Input, ...]
    outputs: tuple[Output, ...]

    def __post_init__(self):
        validate_features(self.inputs, self.outputs)

    @property
    def direct_outputs(self) -> list[Output]:
        return [f for f in self.outputs if f.parent is None]

    @property
    def derived_outputs(self) -> list[Output]:
        """Derived outputs in dependency order (a parent always before its children)."""
        return [f for f in self.ordered() if f.kind == "output" and f.parent is not None]

    @property
    def states(self) -> list[Input]:
        """State inputs in update order: a parent state is updated before the states that read it."""
        return [f for f in self.ordered() if f.kind == "input" and f.parent is not None]

    @property
    def externals(self) -> list[Input]:
        return [f for f in self.inputs if f.parent is None]

    def feature(self, name: str) -> Input | Output:
        for f in (*self.inputs, *self.outputs):
            if f.name == name:
                return f
        raise KeyError(name)

    def is_angle(self, name: str) -> bool:
        """A feature is periodic if flagged, or if it copies ('equal') a periodic parent."""
        f = self.feature(name)
        if f.angle:
            return True
        return f.relation == "equal" and self.is_angle(f.parent)

    def ordered(self) -> list[Input | Output]:
        """Every feature, parents before the features derived from them (the order a step updates them)."""
        return _topological_order(self.inputs, self.outputs)


def validate_features(inputs, outputs) -> None:
    """Raise ``SchemaError`` naming the feature and the rule for the first broken rule."""
    features = [*outputs, *inputs]
    seen: set[str] = set()
    for f in features:
        if f.name in seen:
            raise SchemaError("duplicate_name", f"feature name '{f.name}' is used more than once")
        seen.add(f.name)
    by_name = {f.name: f for f in features}
    for f in features:
        if (f.parent is None) != (f.relation is None):
            which = "relation without parent" if f.parent is None else "parent without relation"
            raise SchemaError(
                "parent_relation",
                f"{f.kind} '{f.name}' has a {which}; give both `parent` and `relation` or neither",
            )
        if f.parent is not None:
            if f.parent not in by_name:
                raise SchemaError(
                    "unknown_parent", f"{f.kind} '{f.name}' has parent '{f.parent}', which is not a feature"
                )
            if f.parent == f.name:
                raise SchemaError("cycle", f"{f.kind} '{f.name}' is its own parent")
            parent = by_name[f.parent]
            if f.kind == "output" and parent.kind == "input":
                raise SchemaError(
                    "output_parent_is_input",
                    f"output '{f.name}' has input '{f.parent}' as parent; outputs may only derive from outputs",
                )
            if f.relation in ("delta", "derivative") and parent.angle:
                raise SchemaError(
                    "angle_integrated",
                    f"{f.kind} '{f.name}' integrates the periodic feature '{f.parent}' ({f.relation}); "
                    "integrating a wrapped angle is ill-defined",
                )
        if f.integration is not None and f.integration != 1.0:
            if f.relation != "derivative":
                raise SchemaError(
                    "integration",
                    f"{f.kind} '{f.name}' sets integration but its relation is {f.relation}, not derivative",
                )
            if by_name[f.parent].kind == "output" and by_name[f.parent].parent is None:
                raise SchemaError(
                    "integration",
                    f"{f.kind} '{f.name}' mixes old and new values of '{f.parent}', a direct output with no previous "
                    "value in a step; integrate a state (e.g. a velocity) instead",
                )
        if isinstance(f.scale, tuple):
            lo, hi = f.scale
            if not lo < hi:
                raise SchemaError(
                    "scale_range", f"{f.kind} '{f.name}' has scale [{lo}, {hi}]; need min < max"
                )
    _topological_order(inputs, outputs)
    if not any(f.parent is None for f in outputs):
        raise SchemaError("no_direct_output", "no direct output: at least one output must have no parent")


def _topological_order(inputs, outputs) -> list:
    """Derived features ordered parents-first; raises SchemaError('cycle') on a dependency cycle."""
    features = {f.name: f for f in (*outputs, *inputs)}
    order, state = [], {}  # state: 1 = visiting, 2 = done

    def visit(name: str, path: list[str]):
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = " -> ".join([*path[path.index(name) :], name])
            raise SchemaError("cycle", f"features form a dependency cycle: {cycle}")
        state[name] = 1
        parent = features[name].parent
        if parent is not None:
            visit(parent, [*path, name])
        state[name] = 2
        order.append(features[name])

    for name in features:
        visit(name, [])
    return order

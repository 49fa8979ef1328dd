"""Search spaces: every hyperparameter of a config is a fixed value, ``{"select": [...]}`` or
``{"range": [low, high(, step)]}`` (``"log": true`` for log-uniform), as in the Onyx Engine.

``searchable(Config)`` derives the search-space class of a config class (``MLPConfig`` ->
``MLPOptConfig``): the same fields, each also accepting a space, each space checked against the field's own
type and bounds, so a bad space is an error naming the field before any trial runs. ``sample`` turns a
space config into the concrete config of one trial through an Optuna trial.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any, get_args, get_origin

from pydantic import (
    BaseModel,
    Field,
    PrivateAttr,
    TypeAdapter,
    ValidationError,
    create_model,
    field_validator,
)

from learnsim.strict import StrictModel


class Select(StrictModel):
    """One of the listed values (categorical)."""

    select: list[Any] = Field(min_length=1, description="The candidate values.")


class Range(StrictModel):
    """A number in [low, high], on a grid of ``step`` when given, log-uniform with ``log: true``."""

    range: list[float] = Field(min_length=2, max_length=3, description="[low, high] or [low, high, step].")
    log: bool = Field(default=False, description="Sample uniformly in log space (lr, weight_decay).")
    _kind: type = PrivateAttr(default=float)  # int or float: the type of the field the range is for

    @field_validator("range")
    @classmethod
    def _ordered(cls, bounds):
        low, high = bounds[0], bounds[1]
        if not low < high:
            raise ValueError(f"range low ({low}) must be < high ({high})")
        if len(bounds) == 3 and not bounds[2] > 0:
            raise ValueError(f"range step must be > 0, got {bounds[2]}")
        return bounds

    @property
    def low(self) -> float:
        return self._kind(self.range[0])

    @property
    def high(self) -> float:
        return self._kind(self.range[1])

    @property
    def step(self) -> float | None:
        return self._kind(self.range[2]) if len(self.range) == 3 else None

    @property
    def cells(self) -> float | None:
        """(high - low) / step, the steps the range spans on its grid; None without a step."""
        return (self.range[1] - self.range[0]) / self.range[2] if len(self.range) == 3 else None


Space = Select | Range


def is_space(value) -> bool:
    return isinstance(value, Select | Range)


def _numeric_kind(annotation) -> type | None:
    """int or float when the field holds a number (``int | None`` counts), else None."""
    options = get_args(annotation) if get_origin(annotation) is not None else (annotation,)
    numbers = [t for t in options if t in (int, float)]
    if not numbers or any(t not in (int, float, type(None)) for t in options):
        return None
    return float if float in numbers else int


def _check_space(base: type[BaseModel], name: str, space, adapter: TypeAdapter) -> None:
    """Each candidate of ``space`` must be a valid value of ``base.<name>`` (``adapter`` validates one);
    a range needs a number field."""
    field = base.model_fields[name]
    if isinstance(space, Range):
        kind = _numeric_kind(field.annotation)
        if kind is None:
            raise ValueError(
                f"range needs a numeric field; {name} is {_describe(field.annotation)}: use select"
            )
        if kind is int and any(v != int(v) for v in space.range):
            raise ValueError(
                f"{name} is an integer: range bounds and step must be integers, got {space.range}"
            )
        if space.log and space.low <= 0:
            raise ValueError(f"a log range needs low > 0, got {space.low}")
        if space.log and space.step is not None:
            raise ValueError("a log range takes no step")
        if space.cells is not None:
            if not math.isclose(space.cells, round(space.cells), abs_tol=1e-9):
                raise ValueError(
                    f"range step {space.range[2]} does not divide [{space.range[0]}, {space.range[1]}]"
                )
        space._kind = kind
        candidates = [space.low, space.high]
    else:
        candidates = space.select
    for value in candidates:
        try:
            adapter.validate_python(value, strict=isinstance(value, bool))
        except ValidationError as error:
            problem = error.errors()[0]["msg"].removeprefix("Value error, ")
            raise ValueError(f"candidate {value!r} is not a valid {name}: {problem}") from None


def _describe(annotation) -> str:
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def searchable(
    base: type[BaseModel],
    name: str,
    *,
    fixed: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    nested: dict[str, type[BaseModel]] | None = None,
) -> type[BaseModel]:
    """The search-space class of ``base``: fields in ``fixed`` keep their type (the feature schema, the family
    tag), ``nested`` fields take another search-space class, every other field also accepts a space."""
    nested = nested or {}
    fields = {}
    for field_name, field in base.model_fields.items():
        if field_name in exclude:
            continue
        default = (
            {"default_factory": field.default_factory}
            if field.default_factory is not None
            else {"default": field.default}
        )
        if field_name in fixed:
            annotation = field.annotation
        elif field_name in nested:
            annotation = nested[field_name] | None
            default = {"default_factory": nested[field_name]}
        else:
            annotation = Any  # a value of the field's type, or a space; checked in _spaces below
        fields[field_name] = (annotation, Field(description=field.description, **default))

    plain = [f for f in fields if f not in fixed and f not in nested]
    # one validator per searchable field, built once: it checks a fixed value, or each candidate of a space
    adapters = {
        f: TypeAdapter(Annotated[base.model_fields[f].annotation, base.model_fields[f]]) for f in plain
    }

    def _spaces(cls, value, info):
        adapter = adapters[info.field_name]
        if isinstance(value, dict) and {"select", "range"} & set(value):
            value = (Select if "select" in value else Range).model_validate(value)
        if not is_space(value):  # a fixed value: checked as the base config checks it
            return adapter.validate_python(value, strict=isinstance(value, bool))
        _check_space(base, info.field_name, value, adapter)
        return value

    validators = {"_spaces": field_validator(*plain, mode="before")(_spaces)} if plain else {}
    model = create_model(name, __base__=StrictModel, __validators__=validators, **fields)
    model.__doc__ = f"Search space over ``{base.__name__}``: each field a value, a select or a range."
    model.base_config = base
    return model


def concrete(value, choose):
    """``value`` with every space replaced by ``choose(path, space)``: the fields the user set (and the
    family/optimizer tag) as a plain dict, untouched defaults left out so the base config (and the recipe)
    fills them."""
    return _concrete(value, choose, "")


def _concrete(value, choose, path: str):
    if is_space(value):
        return choose(path, value)
    if isinstance(value, BaseModel):
        given = [k for k in type(value).model_fields if k in value.model_fields_set or k == "type"]
        return {k: _concrete(getattr(value, k), choose, f"{path}.{k}" if path else k) for k in given}
    return value


def grid_size(space) -> int | None:
    """How many values ``space`` takes on a grid: a select's candidates, an integer range's integers (on its
    step), a float range's steps; None for a float range without a step (a continuum)."""
    if isinstance(space, Select):
        return len(space.select)
    if space.cells is None:  # an integer range steps by 1, a float one has no grid
        return int(space.high - space.low) + 1 if space._kind is int else None
    return round(space.cells) + 1


def first_candidate(path: str, space):
    """A stand-in for a space (its first select value, its low bound), used to check the rules between fields
    of a search config before any trial runs."""
    return space.select[0] if isinstance(space, Select) else space.low


def suggest(trial, prefix: str):
    """A ``choose`` for ``concrete`` that asks an Optuna trial; parameter names are ``prefix.path``, so
    conditional spaces (per family, per optimizer) stay apart."""

    def choose(path: str, space):
        name = f"{prefix}.{path}" if prefix else path
        if isinstance(space, Select):
            return categorical(trial, name, space.select)
        if space._kind is int:
            return trial.suggest_int(name, space.low, space.high, step=space.step or 1)
        if space.log:
            return trial.suggest_float(name, space.low, space.high, log=True)
        return trial.suggest_float(name, space.low, space.high, step=space.step)

    return choose


def categorical(trial, name: str, choices: list):
    """Optuna stores None, bool, int, float and str choices; anything else (a list, a dict) is chosen by
    its JSON text and decoded back."""
    if all(c is None or isinstance(c, bool | int | float | str) for c in choices):
        return trial.suggest_categorical(name, choices)
    encoded = [json.dumps(c, sort_keys=True) for c in choices]
    return json.loads(trial.suggest_categorical(name, encoded))

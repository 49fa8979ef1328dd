"""The base of every config model: unknown keys are errors, and a boolean is never taken for a number.

pydantic's lax mode turns ``dt: true`` into 1.0 and ``training_iters: true`` into 1; YAML makes such slips
easy (``yes``, ``on``), so numeric fields refuse booleans while every other coercion (an int for a float,
``"1e-3"`` from a command-line override) stays.
"""

from __future__ import annotations

import types
import typing

from pydantic import BaseModel, ConfigDict, model_validator


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # inf and nan are never a setting

    @model_validator(mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, data):
        if isinstance(data, dict):
            for name, value in data.items():
                field = cls.model_fields.get(name)
                if isinstance(value, bool) and field is not None and _numeric_only(field.annotation):
                    raise ValueError(f"{name}: expected a number, got the boolean {str(value).lower()}")
        return data


def _leaves(annotation) -> set:
    """The plain types an annotation admits (unions and Annotated unwrapped)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _leaves(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return set().union(*(_leaves(arg) for arg in typing.get_args(annotation)))
    if origin is typing.Literal:
        return {type(arg) for arg in typing.get_args(annotation)}
    return {annotation}


def _numeric_only(annotation) -> bool:
    leaves = _leaves(annotation)
    return bool(leaves & {int, float}) and bool not in leaves and typing.Any not in leaves

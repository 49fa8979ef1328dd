"""Fields every model family shares: the feature schema, the time step and the history length."""

from __future__ import annotations

from pydantic import Field, model_validator

from learnsim.features import FeatureSchema, Input, Output
from learnsim.strict import StrictModel


class ModelConfigBase(StrictModel):
    outputs: list[Output] = Field(
        min_length=1, description="Model outputs; those without parent are predicted."
    )
    inputs: list[Input] = Field(min_length=1, description="Model inputs: external ones and simulated states.")
    dt: float | None = Field(
        default=None,
        gt=0,
        description="Time step of the data and of simulation, in seconds; null: the dataset's.",
    )
    sequence_length: int = Field(
        default=16,
        ge=1,
        le=4096,
        description="History window length (time steps) the model sees (a state-space model's encoder window). "
        "Left out of a run config for an MLP, training's recipe sets it: 8 when every state is a derivative "
        "chain (positions and velocities recorded), else 16.",
    )

    @model_validator(mode="after")
    def _check_schema(self):
        FeatureSchema(tuple(self.inputs), tuple(self.outputs))  # raises SchemaError naming the rule
        return self

    @property
    def schema(self) -> FeatureSchema:
        return FeatureSchema(tuple(self.inputs), tuple(self.outputs))

    def plain_and_angle_inputs(self) -> tuple[list[int], list[int]]:
        """Indices into ``inputs`` of those the network sees scaled and of the angles it sees as (sin, cos).
        Per step the network's columns are the plain inputs, then the sines, then the cosines."""
        schema = self.schema
        angle = [i for i, f in enumerate(self.inputs) if schema.is_angle(f.name)]
        return [i for i in range(len(self.inputs)) if i not in angle], angle

    @property
    def n_network_inputs(self) -> int:
        """Per-step width the network sees: 1 per input, 2 per angle input (sin, cos)."""
        plain, angle = self.plain_and_angle_inputs()
        return len(plain) + 2 * len(angle)

    def network_columns(self) -> list[tuple[str, bool]]:
        """Per-step network inputs in the order the network sees them (``plain_and_angle_inputs``): (input
        name, whether it is external)."""
        plain, angle = self.plain_and_angle_inputs()
        return [(self.inputs[i].name, self.inputs[i].parent is None) for i in (*plain, *angle, *angle)]

    @property
    def n_direct_outputs(self) -> int:
        return sum(1 for f in self.outputs if f.parent is None)

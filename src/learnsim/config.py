"""One schema for Python, YAML and the CLI: ``RunConfig`` = dataset + model + training.

YAML files hold the same fields as the Python objects; ``--set a.b.c=value`` overrides any field before
validation; unknown keys and out-of-range values are errors naming the dotted field.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from learnsim.errors import ConfigError
from learnsim.models import ModelConfig
from learnsim.train.config import TrainingConfig


class RunConfig(BaseModel):
    """Everything a training run needs; saved resolved as ``config.yaml`` in the run directory."""

    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(description="Stored dataset 'NAME' or 'NAME@VERSION'.")
    model_name: str = Field(default="model", description="Name under which the best model is stored.")
    model: ModelConfig = Field(description="Model family, features and hyperparameters.")
    training: TrainingConfig = Field(default_factory=TrainingConfig, description="Training settings.")

    @model_validator(mode="after")
    def _multi_step_needs_states(self):
        check_compatible(self.model, self.training)
        return self


def check_compatible(model_config, training_config) -> None:
    """Cross-section rules: multi_step selection needs states; loss weights name direct outputs."""
    if training_config.checkpoint_type == "multi_step" and not model_config.schema.states:
        raise ValueError(
            "training.checkpoint_type 'multi_step' needs a model with states (inputs with a parent) "
            "to roll out; this model has none"
        )
    direct = [f.name for f in model_config.schema.direct_outputs]
    unknown = sorted(set(training_config.loss_weights) - set(direct))
    if unknown:
        raise ValueError(f"training.loss_weights names {unknown}, which are not direct outputs {direct}")


def format_validation_error(error: ValidationError) -> str:
    """One line per problem: 'dotted.field: message (got value)'."""
    lines = []
    for item in error.errors():
        parts = []
        for part in item["loc"]:
            # union members appear in locations as their tag ('training.optimizer.adamw.lr'): drop the tag
            if parts and parts[-1] in _UNION_FIELDS and isinstance(part, str) and part in _UNION_TAGS:
                continue
            parts.append(str(part))
        message = item["msg"].removeprefix("Value error, ")
        given = item.get("input")
        shown = "" if isinstance(given, dict | list) or given is None else f" (got {given!r})"
        lines.append(f"{'.'.join(parts)}: {message}{shown}" if parts else f"{message}{shown}")
    return "; ".join(lines)


_UNION_FIELDS = {"optimizer", "lr_scheduler", "model"}
_UNION_TAGS = {
    "adamw",
    "sgd",
    "torch",
    "cosine_decay_with_warmup",
    "cosine_annealing_warm_restarts",
    "mlp",
    "rnn",
    "transformer",
}


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Apply 'dotted.key=value' overrides (values parsed as YAML) to a nested dict, in order."""
    for override in overrides:
        key, sep, raw = override.partition("=")
        if not sep or not key:
            raise ConfigError(f"override '{override}' must look like section.field=value")
        target = data
        parts = key.split(".")
        for part in parts[:-1]:
            if target.get(part) is None:
                target[part] = {}
            if not isinstance(target[part], dict):
                raise ConfigError(f"override '{override}': '{part}' is a value, not a section")
            target = target[part]
        target[parts[-1]] = yaml.safe_load(raw) if raw else None
    return data


def load_run_config(
    path: str | Path | None = None, overrides: list[str] | None = None, data: dict | None = None
) -> RunConfig:
    """Read a YAML run config (or a dict), apply overrides, validate. Errors name the file and the field."""
    source = "config"
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: no such config file")
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as error:
            raise ConfigError(f"{path}: not valid YAML: {error}") from None
        source = str(path)
    data = dict(data or {})
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping with dataset, model and training sections")
    apply_overrides(data, overrides or [])
    try:
        return RunConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(f"{source}: {format_validation_error(error)}") from None


def dump_run_config(config: RunConfig) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)

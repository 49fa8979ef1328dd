"""Model families and the one explicit registry that builds them from configs."""

from __future__ import annotations

from typing import Annotated, Union

from pydantic import Discriminator, Tag, TypeAdapter

from learnsim.errors import ConfigError
from learnsim.models.linear import Linear, LinearConfig
from learnsim.models.mlp import MLPConfig, mlp_network
from learnsim.models.rnn import RNN, RNNConfig
from learnsim.models.simulator import SimulatorModel
from learnsim.models.ssm import SSM, SSMConfig
from learnsim.models.transformer import Transformer, TransformerConfig

# type -> (config class, network class or builder). Adding a family means adding a file and a line here; the config
# union below, and so the YAML/CLI schema and its error messages, follow from this dict.
MODEL_FAMILIES = {
    "mlp": (MLPConfig, mlp_network),
    "rnn": (RNNConfig, RNN),
    "transformer": (TransformerConfig, Transformer),
    "linear": (LinearConfig, Linear),
    "ssm": (SSMConfig, SSM),
}

DEFAULT_FAMILY = "mlp"


def _family_of(value) -> str | None:
    return value.get("type", DEFAULT_FAMILY) if isinstance(value, dict) else getattr(value, "type", None)


# A config without `type` is the default family's: a minimal config names only features.
ModelConfig = Annotated[
    Union[tuple(Annotated[config, Tag(tag)] for tag, (config, _) in MODEL_FAMILIES.items())],  # noqa: UP007
    Discriminator(_family_of),
]
_MODEL_CONFIG_ADAPTER = TypeAdapter(ModelConfig)


def parse_model_config(data: dict) -> ModelConfig:
    """Validate a plain dict (from YAML/JSON) into the config class its ``type`` names."""
    return _MODEL_CONFIG_ADAPTER.validate_python(data)


def model_from_config(config) -> SimulatorModel:
    """Build an untrained ``SimulatorModel`` (identity normalisation) for a model config."""
    if config.dt is None:
        raise ConfigError(
            "model.dt is not set; give it, or train on a dataset (training takes the dataset's dt)"
        )
    _, network_class = MODEL_FAMILIES[config.type]
    return SimulatorModel(config, network_class(config))


__all__ = [
    "MODEL_FAMILIES",
    "LinearConfig",
    "MLPConfig",
    "ModelConfig",
    "RNNConfig",
    "SSMConfig",
    "SimulatorModel",
    "TransformerConfig",
    "model_from_config",
    "parse_model_config",
]

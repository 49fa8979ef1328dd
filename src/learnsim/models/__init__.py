"""Model families and the one explicit registry that builds them from configs."""

from __future__ import annotations

from typing import Annotated, Union

from pydantic import Field, TypeAdapter

from learnsim.errors import ConfigError
from learnsim.models.linear import Linear, LinearConfig
from learnsim.models.mlp import MLP, MLPConfig
from learnsim.models.rnn import RNN, RNNConfig
from learnsim.models.simulator import SimulatorModel
from learnsim.models.ssm import SSM, SSMConfig
from learnsim.models.transformer import Transformer, TransformerConfig

# type -> (config class, network class). Adding a family means adding a file and a line here; the config
# union below, and so the YAML/CLI schema and its error messages, follow from this dict.
MODEL_FAMILIES = {
    "mlp": (MLPConfig, MLP),
    "rnn": (RNNConfig, RNN),
    "transformer": (TransformerConfig, Transformer),
    "linear": (LinearConfig, Linear),
    "ssm": (SSMConfig, SSM),
}

ModelConfig = Annotated[
    Union[tuple(config for config, _ in MODEL_FAMILIES.values())],  # noqa: UP007 (built from the registry)
    Field(discriminator="type"),
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

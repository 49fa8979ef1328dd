"""learnsim: learn neural simulators of physical systems from recorded trajectories, locally.

Public API (everything else is internal)::

    from learnsim import Input, Output, MLPConfig, model_from_config, simulate
"""

from learnsim.errors import (
    ConfigError,
    DataError,
    LearnsimError,
    SchemaError,
    SimulationInputError,
    StoreError,
    TrainingError,
)
from learnsim.features import FeatureSchema, Input, Output
from learnsim.models import (
    MODEL_FAMILIES,
    MLPConfig,
    RNNConfig,
    SimulatorModel,
    TransformerConfig,
    model_from_config,
    parse_model_config,
)
from learnsim.simulate import SimulationResult, simulate

__version__ = "0.1.0"

__all__ = [
    "MODEL_FAMILIES",
    "ConfigError",
    "DataError",
    "FeatureSchema",
    "Input",
    "LearnsimError",
    "MLPConfig",
    "Output",
    "RNNConfig",
    "SchemaError",
    "SimulationInputError",
    "SimulationResult",
    "SimulatorModel",
    "StoreError",
    "TrainingError",
    "TransformerConfig",
    "__version__",
    "model_from_config",
    "parse_model_config",
    "simulate",
]

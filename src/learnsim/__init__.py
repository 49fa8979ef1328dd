"""learnsim: learn neural simulators of physical systems from recorded trajectories, locally.

Public API (everything else is internal)::

    from learnsim import Input, Output, MLPConfig, model_from_config, simulate
"""

from learnsim.config import RunConfig, load_run_config
from learnsim.data.dataset import Dataset
from learnsim.data.examples import example_dataset, example_features
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
from learnsim.store.datasets import delete_dataset, list_datasets, load_dataset, save_dataset
from learnsim.store.models import list_models, load_model
from learnsim.train.config import (
    AdamWConfig,
    CosineAnnealingWarmRestartsConfig,
    CosineDecayWithWarmupConfig,
    SGDConfig,
    TorchOptimizerConfig,
    TorchSchedulerConfig,
    TrainingConfig,
)

# `train` stays in learnsim.train: exported here it would shadow that subpackage
from learnsim.train.loop import TrainResult, resume, train_model

__version__ = "0.1.0"

__all__ = [
    "MODEL_FAMILIES",
    "AdamWConfig",
    "CosineAnnealingWarmRestartsConfig",
    "CosineDecayWithWarmupConfig",
    "Dataset",
    "RunConfig",
    "SGDConfig",
    "TorchOptimizerConfig",
    "TorchSchedulerConfig",
    "TrainResult",
    "TrainingConfig",
    "delete_dataset",
    "example_dataset",
    "example_features",
    "list_datasets",
    "list_models",
    "load_dataset",
    "load_model",
    "load_run_config",
    "resume",
    "save_dataset",
    "train_model",
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

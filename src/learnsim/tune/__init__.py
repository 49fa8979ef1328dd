"""Hyperparameter search on Optuna: search spaces with the Onyx Engine's names, a study many workers share,
each trial an ordinary training run."""

from learnsim.tune.config import (
    AdamWOptConfig,
    CosineAnnealingWarmRestartsOptConfig,
    CosineDecayWithWarmupOptConfig,
    LinearOptConfig,
    MLPOptConfig,
    OptimizationConfig,
    RNNOptConfig,
    SearchConfig,
    SGDOptConfig,
    SSMOptConfig,
    TransformerOptConfig,
    load_search_config,
)
from learnsim.tune.optimize import OptimizeResult, optimize, optimize_model, show_study

__all__ = [
    "AdamWOptConfig",
    "CosineAnnealingWarmRestartsOptConfig",
    "CosineDecayWithWarmupOptConfig",
    "LinearOptConfig",
    "MLPOptConfig",
    "OptimizationConfig",
    "OptimizeResult",
    "RNNOptConfig",
    "SGDOptConfig",
    "SSMOptConfig",
    "SearchConfig",
    "TransformerOptConfig",
    "load_search_config",
    "optimize",
    "optimize_model",
    "show_study",
]

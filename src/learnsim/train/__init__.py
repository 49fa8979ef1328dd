"""Training: run configs, building a run, the loop, checkpoints, multi-step (rollout) training."""

from learnsim.train.config import RolloutConfig, RunConfig, TrainingConfig, load_run_config
from learnsim.train.finish import TrainResult
from learnsim.train.loop import resume, train, train_model
from learnsim.train.optim import (
    AdamWConfig,
    CosineAnnealingWarmRestartsConfig,
    CosineDecayWithWarmupConfig,
    SGDConfig,
    TorchOptimizerConfig,
    TorchSchedulerConfig,
)

__all__ = [
    "AdamWConfig",
    "CosineAnnealingWarmRestartsConfig",
    "CosineDecayWithWarmupConfig",
    "RolloutConfig",
    "RunConfig",
    "SGDConfig",
    "TorchOptimizerConfig",
    "TorchSchedulerConfig",
    "TrainResult",
    "TrainingConfig",
    "load_run_config",
    "resume",
    "train",
    "train_model",
]

"""Training: configs (imported eagerly, they are light) and the loop (imported on first use)."""

from learnsim.train.config import (
    AdamWConfig,
    CosineAnnealingWarmRestartsConfig,
    CosineDecayWithWarmupConfig,
    SGDConfig,
    TorchOptimizerConfig,
    TorchSchedulerConfig,
    TrainingConfig,
)

_LOOP_NAMES = ("TrainResult", "resume", "train", "train_model")


def __getattr__(name):
    # The loop imports learnsim.config, which imports this package's configs: loading it lazily breaks the cycle.
    if name in _LOOP_NAMES:
        from learnsim.train import loop

        return getattr(loop, name)
    raise AttributeError(name)


__all__ = [
    "AdamWConfig",
    "CosineAnnealingWarmRestartsConfig",
    "CosineDecayWithWarmupConfig",
    "SGDConfig",
    "TorchOptimizerConfig",
    "TorchSchedulerConfig",
    "TrainingConfig",
    *_LOOP_NAMES,
]

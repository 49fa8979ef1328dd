"""``learnsim quickstart``: the whole job on built-in data in well under a minute on 2 CPU cores.

Generates the example oscillator, stores it, trains the Onyx Engine example (acceleration predicted;
velocity and position integrated; MLP 3x64, sequence_length 8, AdamW 3e-4, cosine with warmup), simulates
the test episodes and prints one-step and rollout RMSE.
"""

from __future__ import annotations

from learnsim.data.examples import example_dataset, example_features
from learnsim.models import MLPConfig
from learnsim.store.datasets import save_dataset
from learnsim.train import (
    AdamWConfig,
    CosineDecayWithWarmupConfig,
    RunConfig,
    TrainingConfig,
    TrainResult,
    train,
)


def quickstart_config(training_iters: int = 2000, dataset: str = "oscillator") -> RunConfig:
    example = example_dataset("oscillator", episodes=1, steps=2)
    return RunConfig(
        dataset=dataset,
        model_name="quickstart",
        model=MLPConfig(
            **example_features("oscillator"),
            dt=example.dt,
            sequence_length=8,
            hidden_layers=3,
            hidden_size=64,
            activation="relu",
            linear_skip=False,
        ),
        training=TrainingConfig(
            training_iters=training_iters,
            train_batch_size=1024,
            optimizer=AdamWConfig(lr=3e-4),
            lr_scheduler=CosineDecayWithWarmupConfig(
                max_lr=3e-3,
                min_lr=3e-5,
                warmup_iters=min(100, training_iters // 4),
                decay_iters=training_iters,
            ),
            eval_every=max(training_iters // 4, 1),
            save_every=max(training_iters // 4, 1),
            checkpoint_type="single_step",
            rollout=None,
        ),
    )


def quickstart(training_iters: int = 2000, run_dir=None, monitor: bool = True) -> TrainResult:
    meta = save_dataset("oscillator", example_dataset("oscillator"))
    config = quickstart_config(training_iters, dataset=f"oscillator@{meta['version']}")
    return train(config, run_dir, monitor=monitor).wait()  # the whole job: plots included

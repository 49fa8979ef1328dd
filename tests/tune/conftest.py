"""Search configs and a small stored dataset shared by the tuning tests."""

from __future__ import annotations

import pytest
from reliability.conftest import BASE_FEATURES

pytest.importorskip("optuna")

FEATURES = BASE_FEATURES  # the Onyx example's schema, as the reliability corpus writes it


def search_data(num_trials: int = 4, training_iters: int = 40, **optimization) -> dict:
    """A quick search over the example oscillator: MLP or GRU, AdamW lr (constant lr), 2 evaluations."""
    fields = {
        "num_trials": num_trials,
        "training_iters": training_iters,
        "train_batch_size": 64,
        "checkpoint_type": "single_step",
        "opt_models": [
            {**FEATURES, "sequence_length": 4, "hidden_size": {"select": [8, 16]}},
            {"type": "rnn", **FEATURES, "sequence_length": 4, "hidden_size": {"range": [4, 8, 4]}},
        ],
        "opt_optimizers": [{"lr": {"range": [1e-3, 1e-2], "log": True}}],
        "opt_lr_schedulers": [None],
        "training": {"eval_every": training_iters // 2, "trackers": [], "rollout": None},
    }
    fields.update(optimization)
    return {"dataset": "osc", "model_name": "osc_tuned", "optimization": fields}


@pytest.fixture
def oscillator(isolated_home):
    from learnsim.data.examples import example_dataset
    from learnsim.store.datasets import save_dataset

    return save_dataset("osc", example_dataset("oscillator", episodes=6, steps=200))

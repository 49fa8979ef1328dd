"""``learnsim quickstart``: the whole job on built-in data in about a minute on 2 CPU cores.

Generates the example oscillator (a Duffing spring driven by a control input, 64 episodes), stores it and
trains it with the default recipe: a config that names only the dataset and the features (acceleration
predicted; velocity and position integrated from it; the control input given), as a user's first config
would. Only the step budget is set, to 2,000 steps. The run is tested by free-running whole held-out
episodes, beside the linear model and holding the last state.
"""

from __future__ import annotations

from learnsim.data.examples import example_dataset, example_features
from learnsim.models import MLPConfig
from learnsim.rundir import RunDir
from learnsim.store.datasets import save_dataset
from learnsim.train import RunConfig, TrainingConfig, TrainResult, train


def quickstart_config(training_iters: int = 2000, dataset: str = "oscillator") -> RunConfig:
    """The default recipe on the example oscillator: the features, and the step budget."""
    return RunConfig(
        dataset=dataset,
        model_name="quickstart",
        model=MLPConfig(**example_features("oscillator")),
        training=TrainingConfig(training_iters=training_iters),
    )


def test_episode_scores(result: TrainResult) -> dict[int, float]:
    """Whole-episode free-run nRMSE of the stored model on each test episode of the run (episode id -> score):
    the test table's one number is a mean over few episodes, which one hard episode can dominate."""
    import json

    from learnsim.evaluate.model import evaluate_model
    from learnsim.store.datasets import load_dataset

    lineage = json.loads(RunDir(result.run_dir).dataset.read_text())
    reference = f"{lineage['name']}@{lineage['version']}"
    dataset = load_dataset(reference)
    model = f"{result.model_name}@{result.model_version}"
    episodes = [int(dataset.episode[start]) for start, _ in lineage["split"]["test"]]
    return {e: evaluate_model(model, dataset, episodes=[e]).metrics["nrmse@full"] for e in episodes}


def quickstart(training_iters: int = 2000, run_dir=None, monitor: bool = True) -> TrainResult:
    meta = save_dataset("oscillator", example_dataset("oscillator"))
    config = quickstart_config(training_iters, dataset=f"oscillator@{meta['version']}")
    return train(config, run_dir, monitor=monitor).wait()  # the whole job: plots included

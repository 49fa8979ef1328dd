"""Separate validation and test datasets replace the splits; the test set never influences training."""

import json

import torch
from helpers import onyx_config
from safetensors.torch import load_file

from learnsim import example_dataset, save_dataset
from learnsim.train import RunConfig, TrainingConfig, train


def one_step_config(**datasets) -> RunConfig:
    training = TrainingConfig(
        training_iters=20,
        eval_every=10,
        train_batch_size=64,
        lr_scheduler=None,
        trackers=[],
        checkpoint_type="single_step",
        rollout=None,
    )
    return RunConfig(
        **datasets, model=onyx_config(sequence_length=4, hidden_layers=1, hidden_size=16), training=training
    )


def test_named_validation_and_test_datasets_replace_the_splits(tmp_path):
    save_dataset("train", example_dataset("oscillator", episodes=6, steps=120, seed=1))
    val = save_dataset("val", example_dataset("oscillator", episodes=2, steps=120, seed=2))
    test = save_dataset("test", example_dataset("oscillator", episodes=3, steps=100, seed=3))
    result = train(
        one_step_config(dataset="train", validation_dataset="val", test_dataset="test"),
        tmp_path / "run",
        monitor=False,
    )
    lineage = json.loads((tmp_path / "run" / "dataset.json").read_text())
    assert lineage["validation"] == {"name": "val", "version": val["version"]}
    assert lineage["test"] == {"name": "test", "version": test["version"]}
    split = lineage["split"]
    assert split["train"] == [[120 * i, 120 * (i + 1)] for i in range(6)]  # every training episode trains
    assert split["val"] == [[720, 840], [840, 960]] and len(split["test"]) == 3  # their rows follow
    assert result.report["test"]["test/rollout_horizon"] == 100 - 4  # a test episode's free run
    assert result.report["validation"]["val/rollout_horizon"] == 120 - 4


def test_the_test_dataset_never_influences_training(tmp_path):
    save_dataset("train", example_dataset("oscillator", episodes=6, steps=120, seed=1))
    save_dataset("test_a", example_dataset("oscillator", episodes=3, steps=100, seed=3))
    save_dataset("test_b", example_dataset("oscillator", episodes=2, steps=150, seed=4, dt=0.01))
    runs = {}
    for name in ("test_a", "test_b"):
        result = train(one_step_config(dataset="train", test_dataset=name), tmp_path / name, monitor=False)
        runs[name] = result
    weights = [
        load_file(str(tmp_path / n / "checkpoints" / "step-00000020" / "model.safetensors")) for n in runs
    ]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    assert runs["test_a"].report["validation"] == runs["test_b"].report["validation"]
    assert runs["test_a"].report["test"] != runs["test_b"].report["test"]


def test_split_seed_keeps_the_held_out_episodes_across_training_seeds(tmp_path):
    save_dataset("train", example_dataset("oscillator", episodes=10, steps=60, seed=1))

    def run(name, **training):
        config = one_step_config(dataset="train")
        config = config.model_copy(update={"training": config.training.model_copy(update=training)})
        result = train(config, tmp_path / name, monitor=False)
        split = json.loads((tmp_path / name / "dataset.json").read_text())["split"]
        weights = load_file(str(tmp_path / name / "checkpoints" / "step-00000020" / "model.safetensors"))
        return split, weights, result

    fixed = [run(f"fixed{seed}", seed=seed, split_seed=5) for seed in (0, 1)]
    assert fixed[0][0] == fixed[1][0] and fixed[0][0]["seed"] == 5  # same episodes held out
    assert not all(torch.equal(fixed[0][1][k], fixed[1][1][k]) for k in fixed[0][1])  # other weights
    free = [run(f"free{seed}", seed=seed) for seed in (0, 1)]
    assert free[0][0]["test"] != free[1][0]["test"]  # by default the seed moves the split too
    assert run("same", seed=5)[0] == fixed[0][0]  # split_seed 5 is the split of seed 5

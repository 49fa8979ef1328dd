"""The recipe fills what a config leaves open, from the training data only."""

import numpy as np
import pytest
import torch
from helpers import onyx_config

from learnsim import ConfigError, Input, MLPConfig, Output, example_dataset, example_features
from learnsim.data.examples import arm, cart_double_pendulum
from learnsim.train.recipe import estimate_integration, resolve_dt, resolve_features


@pytest.mark.parametrize(
    "system, substeps",
    [
        ("oscillator", 1),
        ("friction", 10),
        ("cartpole", 5),
        ("arm", arm.SUBSTEPS),
        ("cart_double_pendulum", cart_double_pendulum.SUBSTEPS),
        # not paddle_ball: a contact's force comes and goes within a row, so no constant-acceleration weight
        # holds there (its ball's estimate is 0.47 against 0.525)
    ],
)
def test_integration_weight_estimated_from_frame_skip_data(system, substeps):
    """A simulator taking k substeps per recorded row moves positions by w = (k + 1) / 2k of the new velocity
    (exact for constant acceleration over the row; the estimate sees real, varying accelerations)."""
    dataset = example_dataset(system, episodes=4, steps=200)
    config = MLPConfig(**example_features(system), dt=dataset.dt)
    resolved = {
        f.name: f.integration for f in resolve_features(config, dataset, dataset.episode_bounds())["inputs"]
    }
    positions = [
        f.name
        for f in config.inputs
        if f.relation == "derivative" and config.schema.feature(f.parent).kind == "input"
    ]
    for name in positions:
        assert resolved[name] == pytest.approx((substeps + 1) / (2 * substeps), abs=0.02), name
    velocities = [f.name for f in config.inputs if f.relation == "derivative" and f.name not in positions]
    assert all(resolved[name] is None for name in velocities)  # their parents are predicted outputs


def test_an_explicit_integration_weight_is_kept():
    dataset = example_dataset("friction", episodes=2, steps=100)
    features = example_features("friction")
    features["inputs"][1] = Input("x", parent="v", relation="derivative", integration=0.5)
    config = MLPConfig(**features, dt=dataset.dt)
    assert resolve_features(config, dataset, dataset.episode_bounds())["inputs"][1].integration == 0.5


def test_estimate_is_exact_on_synthetic_rows():
    rng = np.random.default_rng(0)
    velocity = np.cumsum(rng.normal(size=500))
    position = np.concatenate([[0.0], np.cumsum(0.1 * (0.7 * velocity[1:] + 0.3 * velocity[:-1]))])
    assert estimate_integration(position, velocity, 0.1, [(0, 500)], angle=False) == pytest.approx(0.7)
    assert (
        estimate_integration(position, np.zeros(500), 0.1, [(0, 500)], angle=False) == 1.0
    )  # nothing to fit


def test_dt_comes_from_the_data_and_a_different_dt_is_an_error():
    dataset = example_dataset("oscillator", episodes=2, steps=20)
    assert resolve_dt(onyx_config(dt=None), dataset) == 0.01
    assert resolve_dt(onyx_config(dt=0.01 * (1 + 1e-9)), dataset) == pytest.approx(0.01)
    with pytest.raises(
        ConfigError, match=r"model.dt is 0.02 s but dataset example:oscillator is sampled every 0.01 s"
    ):
        resolve_dt(onyx_config(dt=0.02), dataset)


def test_a_model_without_dt_cannot_be_built_outside_training():
    from learnsim.models import model_from_config

    with pytest.raises(ConfigError, match="model.dt is not set"):
        model_from_config(MLPConfig(outputs=[Output("y")], inputs=[Input("u")]))


def test_the_window_is_short_for_derivative_chains_and_long_for_narx_unless_given(tmp_path, isolated_home):
    import yaml

    from learnsim import save_dataset
    from learnsim.train import RunConfig, TrainingConfig, load_run_config, train
    from learnsim.train.recipe import HISTORY_WINDOW, STATE_WINDOW, resolve_network

    def window(model: dict) -> int:
        return resolve_network(
            RunConfig.model_validate({"dataset": "d", "model": model})
        ).model.sequence_length

    mechanical = example_features("oscillator")  # velocity and position integrated from the acceleration
    narx = {
        "outputs": [{"name": "dy"}],
        "inputs": [{"name": "y", "parent": "dy", "relation": "delta"}, {"name": "u"}],
    }
    assert (STATE_WINDOW, HISTORY_WINDOW) == (8, 16)
    assert window(mechanical) == 8 and window(narx) == 16
    assert window(mechanical | {"sequence_length": 16}) == 16  # given: kept
    assert window(mechanical | {"type": "rnn"}) == 16  # another family: its own default
    assert window({"outputs": [{"name": "y"}], "inputs": [{"name": "u"}]}) == 16  # no state
    # a run saves the window it trained with, and its resume keeps it
    save_dataset("d", example_dataset("oscillator", episodes=4, steps=60))
    config = RunConfig(
        dataset="d", model=MLPConfig(**mechanical), training=TrainingConfig(training_iters=4, trackers=[])
    )
    result = train(config, tmp_path / "run", monitor=False)
    saved = yaml.safe_load((result.run_dir / "config.yaml").read_text())
    assert saved["model"]["sequence_length"] == 8 and result.model.config.sequence_length == 8
    assert load_run_config(result.run_dir / "config.yaml").model.sequence_length == 8


def warm_started(tmp_path, system: str, old_fields: dict, training, **dataset):
    """(old, new): a model of ``system`` trained with ``old_fields`` (selected by validation loss: no linear
    candidate, a 1-member linear map, takes its place), then a minimal config warm-started from it."""
    from learnsim import save_dataset
    from learnsim.train import RunConfig, train

    save_dataset(system, example_dataset(system, **dataset))
    features = example_features(system)
    one_step = training.model_copy(update={"checkpoint_type": "single_step"})
    old_config = MLPConfig(**features, **old_fields)
    old = train(
        RunConfig(dataset=system, model_name="old", model=old_config, training=one_step),
        tmp_path / "old",
        monitor=False,
    )
    new = train(
        RunConfig(dataset=system, model=MLPConfig(**features), training=training),
        tmp_path / "new",
        warm_start=f"old@{old.model_version}",
        monitor=False,
    )
    return old, new


def test_a_warm_start_keeps_its_models_window_when_the_config_leaves_it_open(tmp_path, isolated_home):
    from learnsim.train import TrainingConfig

    fields = dict(sequence_length=16, hidden_size=128, activation="tanh", members=2, control_affine=True)
    fields |= dict(extrapolation="clip", clip_margin=1.0)
    training = TrainingConfig(training_iters=4, trackers=[])
    _, new = warm_started(tmp_path, "oscillator", fields, training, episodes=4, steps=60)
    assert new.model.config.sequence_length == 16  # the recipe's 8 would not fit the 16-row weights
    assert new.model.config.hidden_size == 128  # nor the small-data width its 240 rows would get
    assert new.model.config.activation == "tanh"  # nor the activation the recipe gives small data
    assert new.model.config.members == 2 and len(new.model.network.members) == 2  # nor the default 1
    assert (new.model.config.extrapolation, new.model.config.clip_margin) == ("clip", 1.0)  # nor 0.5
    assert (
        new.model.config.control_affine and new.model.network.members[0].affine
    )  # its gain head fits only it


def test_a_warm_start_keeps_its_models_increments(tmp_path):
    from learnsim.train import TrainingConfig

    training = TrainingConfig(
        training_iters=4, trackers=[], checkpoint_type="single_step", test_dataset_size=0
    )
    old, new = warm_started(tmp_path, "tanks", {"increments": True}, training, steps=300)
    assert new.model.config.increments and new.model.network.increments  # its hidden layers learnt on steps
    torch.testing.assert_close(new.model.network.step_gain, old.model.network.step_gain)


def test_the_width_and_activation_follow_the_training_rows_unless_given():
    from learnsim.train.recipe import SMALL_DATA_ROWS, SMALL_WIDTH, resolve_size

    features = example_features("oscillator")  # a derivative chain
    narx = {"outputs": [{"name": "dy"}], "inputs": [{"name": "y", "parent": "dy", "relation": "delta"}]}
    assert (SMALL_DATA_ROWS, SMALL_WIDTH) == (10_000, 32)
    small, large = (
        resolve_size(MLPConfig(**features), SMALL_DATA_ROWS - 1),
        resolve_size(MLPConfig(**features), SMALL_DATA_ROWS),
    )
    assert (small.hidden_size, small.activation) == (32, "silu")
    assert (large.hidden_size, large.activation) == (128, "silu_relu")
    for rows in (500, 50_000):  # NARX schemas keep SiLU at any size
        assert resolve_size(MLPConfig(**narx), rows).activation == "silu"
    given = resolve_size(MLPConfig(**features, hidden_size=128, activation="tanh"), 500)
    assert (given.hidden_size, given.activation) == (128, "tanh")  # given: kept
    again = resolve_size(MLPConfig.model_validate(small.model_dump()), 50_000)  # idempotent
    assert (again.hidden_size, again.activation) == (32, "silu")


def test_derivative_chains_clip_their_hidden_layers_beyond_half_a_range_past_the_data_unless_given():
    from learnsim.train.recipe import resolve_size

    features = example_features("oscillator")  # a derivative chain
    narx = {"outputs": [{"name": "dy"}], "inputs": [{"name": "y", "parent": "dy", "relation": "delta"}]}
    for rows in (500, 50_000):
        chain = resolve_size(MLPConfig(**features), rows)
        assert (chain.extrapolation, chain.clip_margin) == ("clip", 0.5)
        assert resolve_size(MLPConfig(**narx), rows).extrapolation == "network"  # NARX: the whole network
    kept = {"extrapolation": "network"}, {"extrapolation": "clip", "clip_margin": 2.0}, {"linear_skip": False}
    for given in kept:  # what the config gives is kept; without a linear part there is nothing to clip to
        config = resolve_size(MLPConfig(**features, **given), 50_000)
        assert (config.extrapolation, config.clip_margin, config.linear_skip) == (
            given.get("extrapolation", "network"),
            given.get("clip_margin", 0.0),
            given.get("linear_skip", True),
        )
    again = resolve_size(MLPConfig.model_validate(chain.model_dump()), 500)  # idempotent
    assert (again.extrapolation, again.clip_margin) == ("clip", 0.5)


def test_the_rigid_body_term_is_the_users_choice_and_a_warm_start_keeps_it():
    from learnsim.train import RunConfig, TrainingConfig
    from learnsim.train.recipe import resolve_network, resolve_size

    features = example_features("arm")  # a derivative chain
    for rows in (500, 50_000):  # off unless asked for (it runs away on systems with contacts)
        assert not resolve_size(MLPConfig(**features), rows).rigid_body
        assert resolve_size(MLPConfig(**features, rigid_body=True), rows).rigid_body
    # a warm start keeps its model's setting either way: the new weights must fit the old ones
    config = RunConfig(dataset="arm", model=MLPConfig(**features), training=TrainingConfig(trackers=[]))
    for setting in (True, False):
        warm = resolve_network(config, warm_start=MLPConfig(**features, rigid_body=setting)).model
        assert resolve_size(warm, 50_000).rigid_body is setting


def test_the_rollout_weighting_is_balanced_for_derivative_chains_unless_given():
    from learnsim.train import RunConfig
    from learnsim.train.recipe import resolve_network, resolve_training

    def weighting(model: dict, rollout: dict | None = None) -> str:
        config = RunConfig.model_validate(
            {"dataset": "d", "model": model, "training": {"rollout": rollout or {}}}
        )
        config = resolve_network(config)
        resolved = resolve_training(config.training, config.model, 20_000)
        again = resolve_training(resolved, config.model, 20_000)  # idempotent
        assert again.rollout.weighting == resolved.rollout.weighting
        return resolved.rollout.weighting

    narx = {
        "outputs": [{"name": "dy"}],
        "inputs": [{"name": "y", "parent": "dy", "relation": "delta"}, {"name": "u"}],
    }
    assert weighting(example_features("arm")) == "balanced"
    assert weighting(narx) == "uniform"
    assert weighting(example_features("arm"), {"weighting": "uniform"}) == "uniform"  # given: kept
    assert weighting(example_features("arm"), {"max_horizon": 16}) == "balanced"  # other fields given


def test_the_step_budget_is_a_step_per_row_from_the_full_width_and_half_that_below():
    from learnsim.train.recipe import MAX_STEPS, MIN_STEPS, SMALL_DATA_ROWS, training_budget

    assert (MIN_STEPS, MAX_STEPS, SMALL_DATA_ROWS) == (2000, 30000, 10_000)
    rows = (800, 2_400, 8_900, SMALL_DATA_ROWS - 1, SMALL_DATA_ROWS, 17_900, 29_600, 60_000, 10**7)
    assert [training_budget(n) for n in rows] == [
        *(2000, 2000),  # small data: the floor (more steps overfit 8-episode sets)
        *(4000, 5000),  # below the full width: one step per two rows
        *(10000, 18000, 30000),  # one step per row
        *(30000, 30000),  # the ceiling
    ]

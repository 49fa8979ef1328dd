"""Search spaces: what a valid space samples to, and errors naming the dotted field for bad ones."""

from __future__ import annotations

import copy

import optuna
import pytest
from tune.conftest import search_data

from learnsim.errors import ConfigError
from learnsim.train.config import RunConfig
from learnsim.tune.config import load_search_config
from learnsim.tune.study import trial_run_config


def _set(data: dict, path: str, value) -> dict:
    data = copy.deepcopy(data)
    parts = path.split(".")
    target = data
    for part in parts[:-1]:
        target = target[int(part)] if part.isdigit() else target.setdefault(part, {})
    target[parts[-1]] = value
    return data


BAD = [
    ("optimization.opt_models.0.hidden_size", {"select": []}, "at least 1 item"),
    ("optimization.opt_models.0.hidden_size", {"select": [16, 0]}, "candidate 0 is not a valid hidden_size"),
    ("optimization.opt_models.0.activation", {"range": [0, 1]}, "range needs a numeric field"),
    ("optimization.opt_models.0.bias", {"range": [0, 1]}, "range needs a numeric field"),
    ("optimization.opt_models.0.hidden_size", {"range": [16, 8]}, "low (16.0) must be < high (8.0)"),
    ("optimization.opt_models.0.hidden_size", {"range": [8, 16, 2.5]}, "must be integers"),
    ("optimization.opt_models.0.dropout", {"range": [0.0, 0.5, 0.3]}, "does not divide"),
    ("optimization.opt_models.0.hidden_size", True, "valid integer"),
    ("optimization.opt_models.0.widths", 3, "Extra inputs are not permitted"),
    ("optimization.opt_models.0.hidden_size", {"pick": [1]}, "valid integer"),
    ("optimization.opt_optimizers.0.lr", {"range": [0, 1e-2], "log": True}, "log range needs low > 0"),
    ("optimization.opt_optimizers.0.lr", {"range": [1e-4, 1e-2, 1e-4], "log": True}, "takes no step"),
    ("optimization.training.rollout", {"noise_std": {"range": [-1, 1]}}, "not a valid noise_std"),
    ("optimization.training.loss", {"select": ["mse", "hinge"]}, "not a valid loss"),
    ("optimization.training.optimizer", {"lr": 1}, "Extra inputs"),
    ("optimization.num_trials", 0, "greater than or equal to 1"),
    ("optimization.sampler", "bayes", "Input should be"),
    (
        "optimization.opt_lr_schedulers",
        [None, {"max_lr": 1e-3, "min_lr": 1e-2}],
        "min_lr (0.01) must be <= max_lr",
    ),
    ("optimization.opt_models.1.type", "cnn", "unknown type 'cnn'"),
    ("model_name", "../x", "invalid model name"),
]


@pytest.mark.parametrize(("path", "value", "message"), BAD, ids=[b[0] + ":" + str(b[1])[:20] for b in BAD])
def test_bad_search_config_names_the_field(path, value, message):
    with pytest.raises(ConfigError) as error:
        load_search_config(data=_set(search_data(), path, value))
    assert path.split(".")[-1] in str(error.value) or path.rsplit(".", 1)[0] in str(error.value)
    assert message in str(error.value)


def test_multi_step_objective_needs_states():
    data = _set(search_data(), "optimization.checkpoint_type", "multi_step")
    data["optimization"]["opt_models"][1]["inputs"] = [{"name": "control_input"}]
    with pytest.raises(ConfigError, match=r"checkpoint_type 'multi_step' needs states.*opt_models.1 \(rnn\)"):
        load_search_config(data=data)


def test_searching_lr_under_a_schedule_that_sets_it_is_refused():
    data = _set(search_data(), "optimization.opt_lr_schedulers", [{"type": "cosine_decay_with_warmup"}])
    with pytest.raises(ConfigError, match=r"opt_optimizers.0.lr is searched.*max_lr"):
        load_search_config(data=data)


def test_trials_sample_inside_their_spaces_and_build_valid_run_configs():
    config = load_search_config(data=search_data())
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    families = set()
    for _ in range(30):
        trial = study.ask()
        run = RunConfig.model_validate(trial_run_config(config, trial))
        families.add(run.model.type)
        assert 1e-3 <= run.training.optimizer.lr <= 1e-2
        assert run.training.lr_scheduler is None
        if run.model.type == "mlp":
            assert run.model.hidden_size in (8, 16) and "mlp.hidden_size" in trial.params
        else:
            assert run.model.hidden_size in (4, 8) and "rnn.hidden_size" in trial.params
        assert run.model.sequence_length == 4 and run.training.training_iters == 40
        study.tell(trial, 0.0)
    assert families == {"mlp", "rnn"}


def test_untouched_fields_keep_their_defaults_for_the_recipe():
    config = load_search_config(data=search_data())
    trial = optuna.create_study().ask({"model": optuna.distributions.CategoricalDistribution(["mlp", "rnn"])})
    data = trial_run_config(config, trial)
    assert "hidden_layers" not in data["model"]  # left to the family default
    assert "seed" not in data["training"]


def _grid(**optimization) -> dict:
    """The shared search on the grid: MLP width 8 or 16, or GRU width 4 or 8, each with lr 1e-3 or 1e-2."""
    data = _set(search_data(**optimization), "optimization.sampler", "grid")
    return _set(data, "optimization.opt_optimizers.0.lr", {"select": [1e-3, 1e-2]})


def test_the_grid_counts_each_choices_own_spaces():
    config = load_search_config(data=_grid(num_trials=8))
    assert config.optimization.grid_combinations() == (2 + 2) * 2  # (mlp widths + gru widths) x lrs
    rollout = _set(_grid(), "optimization.training.rollout", {"noise_std": {"range": [0.0, 0.2, 0.1]}})
    assert load_search_config(data=rollout).optimization.grid_combinations() == 4 * 2 * 3


def test_the_grid_refuses_more_trials_than_combinations_and_a_float_range_without_a_step():
    with pytest.raises(
        ConfigError, match=r"num_trials is 9 but the grid \(sampler 'grid'\) has 8 combinations"
    ):
        load_search_config(data=_grid(num_trials=9))
    continuum = _set(_grid(), "optimization.opt_optimizers.0.lr", {"range": [1e-3, 1e-2], "log": True})
    with pytest.raises(ConfigError, match=r"opt_optimizers.0.lr is a float range without a step"):
        load_search_config(data=continuum)

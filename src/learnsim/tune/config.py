"""Search configs: the Onyx Engine's ``OptimizationConfig`` with ``MLPOptConfig``, ``AdamWOptConfig``, ... and
the training fields learnsim has beyond Onyx, each of which may hold a search space. ``SearchConfig`` adds
the dataset and model name: it is what ``learnsim optimize search.yaml`` reads.

Every ``*OptConfig`` class is derived from its config class through the registries (``MODEL_FAMILIES``,
``OPTIMIZERS``, ``SCHEDULERS``), so a new family or optimizer is searchable with no code here.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from learnsim.config_io import format_validation_error, load_config
from learnsim.models import MODEL_FAMILIES
from learnsim.strict import StrictModel
from learnsim.train.config import (
    RolloutConfig,
    RunConfig,
    TrainingConfig,
    _checked_name,
    checked_dataset_reference,
)
from learnsim.train.optim import OPTIMIZERS, SCHEDULERS, tagged_union
from learnsim.tune.samplers import PRUNERS, SAMPLERS  # the names, listed once with their builders
from learnsim.tune.space import concrete, first_candidate, grid_size, is_space, searchable


def _opt_name(config_class: type) -> str:
    return config_class.__name__.removesuffix("Config") + "OptConfig"


# The feature schema and the time step are what is modelled, not hyperparameters: never searched.
MODEL_OPT_CONFIGS = {
    tag: searchable(config, _opt_name(config), fixed=("type", "outputs", "inputs", "dt"))
    for tag, (config, _) in MODEL_FAMILIES.items()
}
OPTIMIZER_OPT_CONFIGS = {
    tag: searchable(config, _opt_name(config), fixed=("type",)) for tag, config in OPTIMIZERS.items()
}
SCHEDULER_OPT_CONFIGS = {
    tag: searchable(config, _opt_name(config), fixed=("type",)) for tag, config in SCHEDULERS.items()
}
RolloutOptConfig = searchable(RolloutConfig, "RolloutOptConfig")
# Fields OptimizationConfig holds itself (Onyx's names) are left out of the nested training section.
_TOP_LEVEL = (
    "training_iters",
    "train_batch_size",
    "train_val_split_ratio",
    "test_dataset_size",
    "checkpoint_type",
    "optimizer",
    "lr_scheduler",
)
TrainingOptConfig = searchable(
    TrainingConfig,
    "TrainingOptConfig",
    fixed=("trackers", "device"),
    exclude=_TOP_LEVEL,
    nested={"rollout": RolloutOptConfig},
)

ModelOptConfig = tagged_union(MODEL_OPT_CONFIGS, "mlp")
OptimizerOptConfig = tagged_union(OPTIMIZER_OPT_CONFIGS, "adamw")
SchedulerOptConfig = tagged_union(SCHEDULER_OPT_CONFIGS, "cosine_decay_with_warmup")


class OptimizationConfig(StrictModel):
    """What to search (families, optimizers, schedules and training fields, each a value or a space) and
    how (trials, budget per trial, sampler, pruner)."""

    opt_models: list[ModelOptConfig] = Field(min_length=1, description="Model families to search over.")
    opt_optimizers: list[OptimizerOptConfig] = Field(
        default_factory=lambda: [OPTIMIZER_OPT_CONFIGS["adamw"]()],
        min_length=1,
        description="Optimizers to search over.",
    )
    opt_lr_schedulers: list[SchedulerOptConfig | None] = Field(
        default_factory=lambda: [SCHEDULER_OPT_CONFIGS["cosine_decay_with_warmup"]()],
        min_length=1,
        description="Learning-rate schedules to search over (null: constant learning rate).",
    )
    num_trials: int = Field(ge=1, description="Trials to finish (completed or pruned) in the study.")
    training_iters: int | None = Field(
        default=None, ge=1, description="Optimizer steps per trial; null: the recipe's budget."
    )
    train_batch_size: int = Field(default=1024, ge=1, description="Windows per step.")
    train_val_split_ratio: float = Field(
        default=0.9, gt=0, lt=1, description="Training share of non-test data."
    )
    test_dataset_size: int | float = Field(default=0.1, ge=0, description="Test hold-out (rows or fraction).")
    checkpoint_type: Literal["single_step", "multi_step"] | None = Field(
        default=None,
        description="Objective and checkpoint selection: one-step validation loss, or validation free-run "
        "error (needs states); null: multi_step when the model has states.",
    )
    training: TrainingOptConfig = Field(
        default_factory=TrainingOptConfig,
        description="Any other training field (rollout, loss, precision, seed, ...), fixed or searched.",
    )
    sampler: Literal[tuple(SAMPLERS)] = Field(
        default="tpe",
        description="Optuna sampler. 'grid' tries each combination of the searched values once (Optuna's "
        "brute-force sampler): every space a select or a range with a step (integers count), and num_trials "
        "at most the number of combinations.",
    )
    pruner: Literal[tuple(PRUNERS)] = Field(
        default="median", description="Optuna pruner, asked at every validation of a trial."
    )
    seed: int = Field(default=0, ge=0, description="Seed of the sampler.")

    @model_validator(mode="after")
    def _every_choice_trains(self):
        """Each family with the first optimizer and schedule, and the first candidate of every space, must
        make a valid run config: rules between fields fail here, before any trial runs."""
        for index, model in enumerate(self.opt_models):
            if self.checkpoint_type == "multi_step":
                schema = model.base_config.model_validate(concrete(model, first_candidate)).schema
                if not schema.states:
                    raise ValueError(
                        f"checkpoint_type 'multi_step' needs states (inputs with a parent) to roll out; "
                        f"opt_models.{index} ({model.type}) has none"
                    )
        self._learning_rate_searched_where_it_acts()
        if self.sampler == "grid":
            combinations = self.grid_combinations()
            if self.num_trials > combinations:
                raise ValueError(
                    f"num_trials is {self.num_trials} but the grid (sampler 'grid') has {combinations} "
                    f"combination{'s' if combinations > 1 else ''}: set num_trials to {combinations} or less"
                )
        first = self.opt_models[0]
        probes = [(f"opt_models.{i}", (model, None, 0)) for i, model in enumerate(self.opt_models)]
        probes += [(f"opt_optimizers.{i}", (first, o, 0)) for i, o in enumerate(self.opt_optimizers)]
        probes += [(f"opt_lr_schedulers.{i}", (first, None, s)) for i, s in enumerate(self.opt_lr_schedulers)]
        for where, (model, optimizer, scheduler) in probes:
            try:
                RunConfig.model_validate(
                    self.run_config_data("probe", "probe", model, _first, optimizer, scheduler)
                )
            except ValidationError as error:
                raise ValueError(f"{where}: {format_validation_error(error)}") from None
        return self

    def grid_combinations(self) -> int:
        """Distinct trials on the grid: per family, optimizer and schedule the product of their spaces' sizes
        (a space belongs to its choice), summed over the choices, times the training section's spaces. A
        float range without a step has no grid: a ValueError naming it."""

        def combinations(option, where: str) -> int:
            sizes = []

            def count(path: str, space):
                size = grid_size(space)
                if size is None:
                    raise ValueError(
                        f"sampler 'grid' needs every space on a grid, but {where}.{path} is a float range "
                        "without a step: give it one ([low, high, step]) or list its values with select"
                    )
                sizes.append(size)
                return first_candidate(path, space)

            if option is not None:
                concrete(option, count)
            return math.prod(sizes)

        parts = [
            sum(combinations(m, f"opt_models.{i}") for i, m in enumerate(self.opt_models)),
            sum(combinations(o, f"opt_optimizers.{i}") for i, o in enumerate(self.opt_optimizers)),
            sum(combinations(s, f"opt_lr_schedulers.{i}") for i, s in enumerate(self.opt_lr_schedulers)),
            combinations(self.training, "training"),
        ]
        return math.prod(parts)

    def _learning_rate_searched_where_it_acts(self) -> None:
        """A cosine-with-warmup schedule sets the learning rate itself (max_lr): searching the optimizer's lr
        when every schedule is one would spend trials on a parameter that changes nothing."""
        if not all(getattr(s, "type", None) == "cosine_decay_with_warmup" for s in self.opt_lr_schedulers):
            return
        for index, optimizer in enumerate(self.opt_optimizers):
            if is_space(getattr(optimizer, "lr", None)):
                raise ValueError(
                    f"opt_optimizers.{index}.lr is searched, but every schedule in opt_lr_schedulers is "
                    "cosine_decay_with_warmup, which sets the learning rate (max_lr) in every trial: search "
                    "max_lr instead, or add null (a constant learning rate) to opt_lr_schedulers"
                )

    def run_config_data(
        self, dataset: str, model_name: str, model, choose, optimizer=None, scheduler=0
    ) -> dict:
        """The plain run config of one choice of family, optimizer and schedule (defaults: the first ones).
        ``choose(part, path, space)`` picks each space's value; ``part`` is 'model', 'optimizer',
        'lr_scheduler' or 'training'."""
        optimizer = self.opt_optimizers[0] if optimizer is None else optimizer
        scheduler = self.opt_lr_schedulers[0] if scheduler == 0 else scheduler

        def part(name: str):
            return lambda path, space: choose(name, path, space)

        training = concrete(self.training, part("training"))
        training |= {
            "optimizer": concrete(optimizer, part("optimizer")),
            "lr_scheduler": None if scheduler is None else concrete(scheduler, part("lr_scheduler")),
            "train_batch_size": self.train_batch_size,
            "train_val_split_ratio": self.train_val_split_ratio,
            "test_dataset_size": self.test_dataset_size,
            "checkpoint_type": self.checkpoint_type,
        }
        if self.training_iters is not None:
            training["training_iters"] = self.training_iters
        model_data = concrete(model, part("model"))
        return {"dataset": dataset, "model_name": model_name, "model": model_data, "training": training}


def _first(part: str, path: str, space):
    return first_candidate(path, space)


class SearchConfig(StrictModel):
    """A search: the data and model name of ``RunConfig``, a study name, and the ``optimization`` section."""

    dataset: str = Field(description="Stored dataset 'NAME' or 'NAME@VERSION' to train every trial on.")
    validation_dataset: str | None = Field(default=None, description="As in a run config.")
    test_dataset: str | None = Field(default=None, description="As in a run config.")
    model_name: str = Field(default="model", description="Every finished trial is a version of this model.")
    study_name: str | None = Field(default=None, description="Optuna study name; null: the model name.")
    optimization: OptimizationConfig = Field(description="What to search and how.")

    @field_validator("model_name", "study_name")
    @classmethod
    def _store_name(cls, name: str | None) -> str | None:
        return None if name is None else _checked_name(name, "model")

    @field_validator("dataset", "validation_dataset", "test_dataset")
    @classmethod
    def _dataset_reference(cls, reference: str | None) -> str | None:
        return checked_dataset_reference(reference)

    @property
    def study(self) -> str:
        return self.study_name or self.model_name


def load_search_config(
    path=None, overrides: list[str] | None = None, data: dict | None = None
) -> SearchConfig:
    """Read a YAML search config (or a dict), apply ``--set`` overrides, validate; errors name the field."""
    return load_config(
        SearchConfig, path, overrides, data, what="dataset, model_name and optimization sections"
    )


# The Onyx Engine's names for the search-space classes.
MLPOptConfig = MODEL_OPT_CONFIGS["mlp"]
RNNOptConfig = MODEL_OPT_CONFIGS["rnn"]
TransformerOptConfig = MODEL_OPT_CONFIGS["transformer"]
LinearOptConfig = MODEL_OPT_CONFIGS["linear"]
SSMOptConfig = MODEL_OPT_CONFIGS["ssm"]
AdamWOptConfig = OPTIMIZER_OPT_CONFIGS["adamw"]
SGDOptConfig = OPTIMIZER_OPT_CONFIGS["sgd"]
CosineDecayWithWarmupOptConfig = SCHEDULER_OPT_CONFIGS["cosine_decay_with_warmup"]
CosineAnnealingWarmRestartsOptConfig = SCHEDULER_OPT_CONFIGS["cosine_annealing_warm_restarts"]

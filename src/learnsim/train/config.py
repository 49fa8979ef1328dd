"""Run configs: ``TrainingConfig`` (the Onyx Engine training fields plus what a serious trainer needs),
``RolloutConfig`` (multi-step training) and ``RunConfig`` = dataset + model + training, the one schema for
Python, YAML files and ``--set`` overrides. The resolved ``RunConfig`` is saved as a run's ``config.yaml``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from learnsim.config_io import dump_yaml, load_config
from learnsim.errors import StoreError
from learnsim.models import ModelConfig
from learnsim.store.versions import validate_name
from learnsim.strict import StrictModel
from learnsim.track.hub import TRACKERS
from learnsim.train.losses import LOSSES
from learnsim.train.optim import AdamWConfig, CosineDecayWithWarmupConfig, OptimizerConfig, SchedulerConfig


class _Strict(StrictModel):
    pass


class RolloutConfig(_Strict):
    """Train on free-run simulation error (multi-step) over a growing horizon curriculum.

    The loss runs the same differentiable ``simulate`` code path as evaluation: what is trained is what is
    simulated. Horizon 0 in the curriculum means one-step training for that stage.
    """

    horizons: list[int] | None = Field(
        default=None, description="Horizon of each curriculum stage, e.g. [1, 8, 32, 128]; null: automatic."
    )
    start_iters: list[int] | None = Field(
        default=None,
        description="Iteration at which each stage starts (first 0); null: evenly spaced stages.",
    )
    max_horizon: int | None = Field(
        default=None,
        ge=1,
        description="Automatic curriculum's last horizon; null: min(64, training segment).",
    )
    curriculum_fraction: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Share of training_iters over which the automatic curriculum grows.",
    )
    weighting: Literal["uniform", "exponential", "balanced"] = Field(
        default="uniform",
        description="Loss over rollout steps: the mean of their errors (uniform), weighted by discount**k "
        "(exponential), or the mean of their logs (balanced: halving the error at any step counts the same, "
        "so long horizons do not drown out short ones). Left open, the recipe gives derivative-chain schemas "
        "balanced.",
    )
    one_step_weight: float = Field(
        default=1.0,
        ge=0,
        description="Weight of a teacher-forced one-step loss on train_batch_size windows added at every "
        "rollout step (same scale as the rollout loss).",
    )
    curriculum: Literal["grow", "mix"] = Field(
        default="grow",
        description="grow: train each stage's horizon in turn; mix: draw every step's horizon from the stages "
        "reached so far, so shorter horizons keep being trained.",
    )
    discount: float = Field(default=0.99, gt=0, le=1, description="Per-step factor of exponential weighting.")
    tbptt: int | None = Field(
        default=None, ge=1, description="Truncate backpropagation every N rollout steps."
    )
    loss_on: Literal["outputs", "states", "both"] = Field(
        default="both", description="Features in the rollout loss: direct outputs, simulated states, or both."
    )
    noise_std: float = Field(
        default=0.0,
        ge=0,
        description="Gaussian noise on the history window's states, in units of their scale.",
    )
    ema_decay: float | None = Field(
        default=None,
        gt=0,
        lt=1,
        description="Evaluate and save an exponential moving average of the weights.",
    )
    batch_size: int | Literal["per_horizon"] | None = Field(
        default=None,
        description="Sequences per rollout step; null: max(32, train_batch_size // 8) at every horizon; "
        "'per_horizon': max(32, train_batch_size // horizon), fewer as the horizon grows (the rule before 0.2).",
    )

    @field_validator("batch_size")
    @classmethod
    def _positive_batch(cls, size):
        if isinstance(size, int) and size < 1:
            raise ValueError(f"batch_size must be >= 1, got {size}")
        return size

    @model_validator(mode="after")
    def _schedule(self):
        if (self.horizons is None) != (self.start_iters is None):
            raise ValueError("give both horizons and start_iters, or neither (automatic curriculum)")
        if self.horizons is not None:
            if len(self.horizons) != len(self.start_iters) or not self.horizons:
                raise ValueError(
                    f"horizons {self.horizons} and start_iters {self.start_iters} must have the "
                    "same, non-zero length"
                )
            if self.start_iters[0] != 0 or any(
                b <= a for a, b in zip(self.start_iters, self.start_iters[1:], strict=False)
            ):
                raise ValueError(f"start_iters {self.start_iters} must start at 0 and increase strictly")
            if any(h < 0 for h in self.horizons):
                raise ValueError(f"horizons {self.horizons} must be >= 0")
        return self


class TrainingConfig(_Strict):
    """How to train: steps, batches, splits, optimisation, evaluation, checkpoints."""

    training_iters: int | None = Field(
        default=None, ge=1, description="Optimizer steps; null: scaled from the training data (the recipe)."
    )
    train_batch_size: int = Field(default=1024, ge=1, description="Windows per step.")
    train_val_split_ratio: float = Field(
        default=0.9, gt=0, lt=1, description="Fraction of non-test data (episodes or rows) used for training."
    )
    test_dataset_size: int | float = Field(
        default=0.1, ge=0, description="Test hold-out: rows (int) or a fraction of all rows (float < 1)."
    )
    checkpoint_type: Literal["single_step", "multi_step"] | None = Field(
        default=None,
        description="Best checkpoint by one-step validation loss, or by free-run error over selection_horizons "
        "(needs states); null: multi_step when the model has states.",
    )
    optimizer: OptimizerConfig = Field(default_factory=AdamWConfig, description="Optimizer.")
    lr_scheduler: SchedulerConfig | None = Field(
        default_factory=CosineDecayWithWarmupConfig, description="Learning-rate schedule, or null."
    )
    seed: int = Field(
        default=0,
        ge=0,
        description="Seed of weights and batch sampling, and of the split unless split_seed is set.",
    )
    split_seed: int | None = Field(
        default=None,
        ge=0,
        description="Seed of the train/validation/test split; null: seed. Fix it to train several seeds on "
        "the same held-out episodes (to compare seeds, or to average their models).",
    )
    start_from_linear_fit: bool = Field(
        default=False,
        description="Models with a linear part (linear, MLP with linear_skip) start as the least-squares "
        "linear model of the training windows, and their nonlinear part learns the residual.",
    )
    device: str = Field(
        default="auto", description="'auto' (cuda, mps, cpu), 'cpu', 'cuda', 'cuda:N' or 'mps'."
    )
    precision: Literal["32", "bf16-mixed", "16-mixed"] = Field(
        default="32", description="Float32, or autocast mixed precision (16-mixed uses a grad scaler)."
    )
    float32_matmul_precision: Literal["highest", "high", "medium"] | None = Field(
        default=None,
        description="torch.set_float32_matmul_precision for this run: 'high' lets CUDA use TF32 (faster, "
        "~1e-3 relative matmul error); null leaves torch's setting.",
    )
    compile: bool = Field(
        default=False,
        description="torch.compile the training step (one graph per rollout horizon); compile time is "
        "reported separately in report.json (compile_seconds) and kept out of the throughput.",
    )
    cuda_graphs: bool = Field(
        default=False,
        description="On CUDA, capture the training step as CUDA graphs (torch.compile mode 'reduce-overhead': "
        "one graph per rollout horizon, replayed with one launch; pays for small MLPs and Transformers). "
        "On a CPU, and for RNNs (whose cuDNN kernels it cannot capture; measured slower partly captured), "
        "the step runs uncaptured, with a one-line notice. Free runs (validation, simulate) replay CUDA "
        "graphs whenever they run on CUDA.",
    )
    grad_clip: float | None = Field(default=1.0, gt=0, description="Max global gradient norm, or null.")
    loss: Literal[tuple(LOSSES)] = Field(default="mse", description="Loss on normalised outputs.")
    loss_weights: dict[str, float] = Field(
        default_factory=dict, description="Per-output loss weight by output name (default 1)."
    )
    eval_every: int | None = Field(
        default=None,
        ge=1,
        description="Validate (one-step and rollout) every N steps; null: 20 times per run.",
    )
    eval_horizon: int = Field(
        default=1000,
        ge=1,
        description="Max rollout steps for validation/test rollouts (capped by episode length).",
    )
    selection_horizons: list[int | Literal["full"]] = Field(
        default=[1, 10, 50, "full"],
        min_length=1,
        description="Horizons (simulated steps; 'full': the whole validation free run) at which validation "
        "and test are scored; multi_step selection minimises the geometric mean of their nRMSE.",
    )
    eval_max_windows: int = Field(
        default=16384, ge=1, description="Max windows for one-step validation metrics."
    )
    eval_max_rows: int = Field(
        default=262144,
        ge=1,
        description="Max recorded rows free-run by one validation or test evaluation (and the plots): a split "
        "with more is scored on evenly spaced segments (episodes, or pieces of a long recording) holding about "
        "this many, so evaluating millions of rows costs bounded time and memory.",
    )
    log_every: int = Field(default=50, ge=1, description="Log training loss every N steps.")
    save_every: int | None = Field(
        default=None,
        ge=1,
        description="Write a resumable checkpoint every N steps; null: at every evaluation.",
    )
    early_stop_patience: int | None = Field(
        default=None, ge=1, description="Stop after N evaluations without improvement, or null."
    )
    save_top_k: int = Field(default=1, ge=1, description="Keep the K best checkpoints (and the latest).")
    trackers: list[Literal[tuple(TRACKERS)]] | None = Field(
        default=None,
        description="Experiment trackers; null: MLflow when installed (JSON lines are always written).",
    )
    rollout: RolloutConfig | None = Field(
        default_factory=RolloutConfig,
        description="Multi-step (free-run) training, on by default for models with states; null: one-step only.",
    )

    @field_validator("device")
    @classmethod
    def _device_name(cls, device):
        if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", device):
            raise ValueError(f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got '{device}'")
        return device

    @field_validator("test_dataset_size")
    @classmethod
    def _fraction_below_one(cls, size):
        if isinstance(size, float) and size >= 1:
            raise ValueError(
                f"a fractional test_dataset_size must be < 1, got {size}; give rows as an integer"
            )
        return size

    @field_validator("selection_horizons")
    @classmethod
    def _horizons_positive(cls, horizons):
        bad = [h for h in horizons if h != "full" and h < 1]
        if bad:
            raise ValueError(f"selection horizons must be >= 1 or 'full', got {bad}")
        return horizons

    @model_validator(mode="after")
    def _schedule_fits(self):
        scheduler = self.lr_scheduler
        if getattr(scheduler, "type", None) == "cosine_decay_with_warmup" and self.training_iters is not None:
            scheduler.resolved(self.training_iters)  # raises when warmup would not end before the decay
        return self

    @field_validator("loss_weights")
    @classmethod
    def _positive_weights(cls, weights):
        bad = {k: v for k, v in weights.items() if not v >= 0}
        if bad:
            raise ValueError(f"loss weights must be >= 0, got {bad}")
        return weights


class RunConfig(_Strict):
    """Everything a training run needs; saved resolved as ``config.yaml`` in the run directory."""

    dataset: str = Field(description="Stored dataset 'NAME' or 'NAME@VERSION' to train on.")
    validation_dataset: str | None = Field(
        default=None,
        description="Stored dataset 'NAME[@VERSION]' to validate on (checkpoint selection, early stopping) instead "
        "of a split of `dataset`.",
    )
    test_dataset: str | None = Field(
        default=None,
        description="Stored dataset 'NAME[@VERSION]' to test the best checkpoint on instead of a split of "
        "`dataset`; it is read only after training, so it never influences a modelling decision.",
    )
    model_name: str = Field(default="model", description="Name under which the best model is stored.")
    model: ModelConfig = Field(description="Model family, features and hyperparameters.")
    training: TrainingConfig = Field(default_factory=TrainingConfig, description="Training settings.")

    @field_validator("model_name")
    @classmethod
    def _store_name(cls, name: str) -> str:
        return _checked_name(name, "model")

    @field_validator("dataset", "validation_dataset", "test_dataset")
    @classmethod
    def _dataset_reference(cls, reference: str | None) -> str | None:
        return checked_dataset_reference(reference)

    @model_validator(mode="after")
    def _sections_agree(self):
        check_compatible(self.model, self.training)
        return self


def _checked_name(name: str, kind: str) -> str:
    """The store's own naming rule, applied when the config is read, so nothing runs under a bad name."""
    try:
        return validate_name(name, kind)
    except StoreError as error:
        raise ValueError(str(error)) from None


def checked_dataset_reference(reference: str | None) -> str | None:
    """'NAME[@VERSION]' whose name follows the store's naming rule (None passes)."""
    if reference is not None:
        _checked_name(reference.partition("@")[0], "dataset")
    return reference


def check_compatible(model_config, training_config) -> None:
    """Cross-section rules: multi_step selection needs states; loss weights name direct outputs."""
    if training_config.checkpoint_type == "multi_step" and not model_config.schema.states:
        raise ValueError(
            "training.checkpoint_type 'multi_step' needs a model with states (inputs with a parent) "
            "to roll out; this model has none"
        )
    direct = [f.name for f in model_config.schema.direct_outputs]
    unknown = sorted(set(training_config.loss_weights) - set(direct))
    if unknown:
        raise ValueError(f"training.loss_weights names {unknown}, which are not direct outputs {direct}")


def load_run_config(
    path: str | Path | None = None, overrides: list[str] | None = None, data: dict | None = None
) -> RunConfig:
    """Read a YAML run config (or a dict), apply overrides, validate. Errors name the file and the field."""
    return load_config(RunConfig, path, overrides, data, what="dataset, model and training sections")


def dump_run_config(config: RunConfig) -> str:
    return dump_yaml(config)

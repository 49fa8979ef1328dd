"""``TrainingConfig``: the Onyx Engine training fields plus what a serious trainer needs.

Optimizers and schedulers are discriminated unions on ``type``; a dict without ``type`` means the default
('adamw'; 'cosine_decay_with_warmup'), so ``--set training.optimizer.lr=1e-3`` works on a config that never
named its optimizer.
"""

from __future__ import annotations

import inspect
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AdamWConfig(_Strict):
    """torch.optim.AdamW (fused/foreach kernels where the device has them)."""

    type: Literal["adamw"] = "adamw"
    lr: float = Field(default=3e-4, gt=0, description="Learning rate (the scheduler's max_lr overrides it).")
    weight_decay: float = Field(default=1e-2, ge=0, description="Decoupled weight decay.")
    betas: tuple[float, float] = Field(default=(0.9, 0.999), description="Adam betas, each in [0, 1).")

    @field_validator("betas")
    @classmethod
    def _betas_in_range(cls, betas):
        if not all(0 <= b < 1 for b in betas):
            raise ValueError(f"betas must be in [0, 1), got {betas}")
        return betas


class SGDConfig(_Strict):
    """torch.optim.SGD."""

    type: Literal["sgd"] = "sgd"
    lr: float = Field(default=1e-2, gt=0, description="Learning rate.")
    momentum: float = Field(default=0.9, ge=0, lt=1, description="Momentum.")
    weight_decay: float = Field(default=0.0, ge=0, description="L2 weight decay.")


class TorchOptimizerConfig(_Strict):
    """Any ``torch.optim`` optimizer by class name, with keyword parameters (checked against its signature)."""

    type: Literal["torch"] = "torch"
    name: str = Field(description="Class name in torch.optim, e.g. 'RAdam'.")
    params: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments, e.g. {lr: 1e-3}.")

    @model_validator(mode="after")
    def _exists(self):
        import torch.optim

        _check_torch_class(torch.optim, self.name, self.params, "torch.optim", skip=("params",))
        return self


class CosineDecayWithWarmupConfig(_Strict):
    """Linear warmup to max_lr over warmup_iters, cosine decay to min_lr at decay_iters, then flat."""

    type: Literal["cosine_decay_with_warmup"] = "cosine_decay_with_warmup"
    max_lr: float = Field(default=3e-4, gt=0, description="Peak learning rate.")
    min_lr: float = Field(default=3e-5, ge=0, description="Final learning rate.")
    warmup_iters: int = Field(default=200, ge=0, description="Steps of linear warmup.")
    decay_iters: int = Field(default=3000, ge=1, description="Step at which decay reaches min_lr.")

    @model_validator(mode="after")
    def _ordered(self):
        if self.min_lr > self.max_lr:
            raise ValueError(f"min_lr ({self.min_lr}) must be <= max_lr ({self.max_lr})")
        if self.warmup_iters >= self.decay_iters:
            raise ValueError(f"warmup_iters ({self.warmup_iters}) must be < decay_iters ({self.decay_iters})")
        return self


class CosineAnnealingWarmRestartsConfig(_Strict):
    """torch.optim.lr_scheduler.CosineAnnealingWarmRestarts."""

    type: Literal["cosine_annealing_warm_restarts"] = "cosine_annealing_warm_restarts"
    T_0: int = Field(default=500, ge=1, description="Steps until the first restart.")
    T_mult: int = Field(default=1, ge=1, description="Period growth factor after each restart.")
    eta_min: float = Field(default=0.0, ge=0, description="Minimum learning rate.")


class TorchSchedulerConfig(_Strict):
    """Any ``torch.optim.lr_scheduler`` by class name (stepped once per training step)."""

    type: Literal["torch"] = "torch"
    name: str = Field(description="Class name in torch.optim.lr_scheduler, e.g. 'StepLR'.")
    params: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments.")

    @model_validator(mode="after")
    def _exists(self):
        import torch.optim.lr_scheduler as schedulers

        _check_torch_class(
            schedulers, self.name, self.params, "torch.optim.lr_scheduler", skip=("optimizer",)
        )
        return self


def _check_torch_class(module, name: str, params: dict, where: str, skip: tuple[str, ...]) -> None:
    cls = getattr(module, name, None)
    if not inspect.isclass(cls):
        raise ValueError(f"'{name}' is not a class in {where}")
    signature = inspect.signature(cls.__init__)
    accepted = {p for p in signature.parameters if p not in ("self", *skip)}
    unknown = sorted(set(params) - accepted)
    if unknown and not any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values()):
        raise ValueError(f"{where}.{name} has no parameter(s) {unknown}; it takes {sorted(accepted)}")


def _tag(default: str):
    def pick(value):
        if isinstance(value, dict):
            return value.get("type", default)
        return getattr(value, "type", None)

    return Discriminator(pick)


OptimizerConfig = Annotated[
    Annotated[AdamWConfig, Tag("adamw")]
    | Annotated[SGDConfig, Tag("sgd")]
    | Annotated[TorchOptimizerConfig, Tag("torch")],
    _tag("adamw"),
]
SchedulerConfig = Annotated[
    Annotated[CosineDecayWithWarmupConfig, Tag("cosine_decay_with_warmup")]
    | Annotated[CosineAnnealingWarmRestartsConfig, Tag("cosine_annealing_warm_restarts")]
    | Annotated[TorchSchedulerConfig, Tag("torch")],
    _tag("cosine_decay_with_warmup"),
]


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
        description="Automatic curriculum's last horizon; null: min(256, training segment).",
    )
    curriculum_fraction: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Share of training_iters over which the automatic curriculum grows.",
    )
    weighting: Literal["uniform", "exponential"] = Field(
        default="uniform", description="Loss weight over rollout steps: equal, or discount**k."
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
    batch_size: int | None = Field(
        default=None,
        ge=1,
        description="Sequences per rollout step; null: max(32, train_batch_size // horizon).",
    )

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

    training_iters: int = Field(default=3000, ge=1, description="Optimizer steps.")
    train_batch_size: int = Field(default=1024, ge=1, description="Windows per step.")
    train_val_split_ratio: float = Field(
        default=0.9, gt=0, lt=1, description="Fraction of non-test data (episodes or rows) used for training."
    )
    test_dataset_size: int | float = Field(
        default=0.1, ge=0, description="Test hold-out: rows (int) or a fraction of all rows (float < 1)."
    )
    checkpoint_type: Literal["single_step", "multi_step"] = Field(
        default="single_step",
        description="Best checkpoint by one-step validation loss, or by free-run rollout error (needs states).",
    )
    optimizer: OptimizerConfig = Field(default_factory=AdamWConfig, description="Optimizer.")
    lr_scheduler: SchedulerConfig | None = Field(
        default_factory=CosineDecayWithWarmupConfig, description="Learning-rate schedule, or null."
    )
    seed: int = Field(default=0, ge=0, description="Seed of weights, split and batch sampling.")
    device: str = Field(
        default="auto", description="'auto' (cuda, mps, cpu), 'cpu', 'cuda', 'cuda:N' or 'mps'."
    )
    precision: Literal["32", "bf16-mixed", "16-mixed"] = Field(
        default="32", description="Float32, or autocast mixed precision (16-mixed uses a grad scaler)."
    )
    grad_clip: float | None = Field(default=1.0, gt=0, description="Max global gradient norm, or null.")
    loss: Literal["mse", "huber", "l1"] = Field(default="mse", description="Loss on normalised outputs.")
    loss_weights: dict[str, float] = Field(
        default_factory=dict, description="Per-output loss weight by output name (default 1)."
    )
    eval_every: int = Field(default=500, ge=1, description="Validate (one-step and rollout) every N steps.")
    eval_horizon: int = Field(
        default=1000,
        ge=1,
        description="Max rollout steps for validation/test rollouts (capped by episode length).",
    )
    eval_max_windows: int = Field(
        default=16384, ge=1, description="Max windows for one-step validation metrics."
    )
    log_every: int = Field(default=50, ge=1, description="Log training loss every N steps.")
    save_every: int = Field(default=500, ge=1, description="Write a resumable checkpoint every N steps.")
    early_stop_patience: int | None = Field(
        default=None, ge=1, description="Stop after N evaluations without improvement, or null."
    )
    save_top_k: int = Field(default=1, ge=1, description="Keep the K best checkpoints (and the latest).")
    trackers: list[Literal["mlflow", "tensorboard", "wandb"]] | None = Field(
        default=None,
        description="Experiment trackers; null: MLflow when installed (JSON lines are always written).",
    )
    rollout: RolloutConfig | None = Field(
        default=None, description="Multi-step (free-run) training; null: one-step training only."
    )

    @field_validator("device")
    @classmethod
    def _device_name(cls, device):
        import re

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

    @field_validator("loss_weights")
    @classmethod
    def _positive_weights(cls, weights):
        bad = {k: v for k, v in weights.items() if not v >= 0}
        if bad:
            raise ValueError(f"loss weights must be >= 0, got {bad}")
        return weights

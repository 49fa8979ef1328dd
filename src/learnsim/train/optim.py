"""Optimizers and learning-rate schedules: one config class per choice, each building its torch object, and
one registry per kind from which the config unions (and so the YAML/CLI schema) are derived.

A dict without ``type`` means the default ('adamw'; 'cosine_decay_with_warmup'), so
``--set training.optimizer.lr=1e-3`` works on a config that never named its optimizer. torch is imported
only when an optimizer or scheduler is built.
"""

from __future__ import annotations

import inspect
import math
from typing import Annotated, Any, Literal, Union

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from learnsim.strict import StrictModel


class _Strict(StrictModel):
    pass


def _fast_kernels(device) -> dict:
    """Fused kernels on CUDA, foreach (multi-tensor) kernels elsewhere."""
    return {"fused": True} if device.type == "cuda" else {"foreach": True}


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

    def build(self, parameters, device):
        import torch

        kernels = _fast_kernels(device)
        return torch.optim.AdamW(
            parameters, lr=self.lr, weight_decay=self.weight_decay, betas=self.betas, **kernels
        )


class SGDConfig(_Strict):
    """torch.optim.SGD."""

    type: Literal["sgd"] = "sgd"
    lr: float = Field(default=1e-2, gt=0, description="Learning rate.")
    momentum: float = Field(default=0.9, ge=0, lt=1, description="Momentum.")
    weight_decay: float = Field(default=0.0, ge=0, description="L2 weight decay.")

    def build(self, parameters, device):
        import torch

        kernels = _fast_kernels(device)
        return torch.optim.SGD(
            parameters, lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay, **kernels
        )


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

    def build(self, parameters, device):
        import torch

        return getattr(torch.optim, self.name)(parameters, **self.params)


class CosineDecayWithWarmupConfig(_Strict):
    """Linear warmup to max_lr over warmup_iters, cosine decay to min_lr at decay_iters, then flat."""

    type: Literal["cosine_decay_with_warmup"] = "cosine_decay_with_warmup"
    max_lr: float = Field(default=2e-3, gt=0, description="Peak learning rate.")
    min_lr: float = Field(default=2e-5, ge=0, description="Final learning rate.")
    warmup_iters: int | None = Field(
        default=None, ge=0, description="Steps of linear warmup; null: a tenth of training, at most 200."
    )
    decay_iters: int | None = Field(
        default=None, ge=1, description="Step at which decay reaches min_lr; null: the last training step."
    )

    @model_validator(mode="after")
    def _ordered(self):
        if self.min_lr > self.max_lr:
            raise ValueError(f"min_lr ({self.min_lr}) must be <= max_lr ({self.max_lr})")
        if (
            self.warmup_iters is not None
            and self.decay_iters is not None
            and self.warmup_iters >= self.decay_iters
        ):
            raise ValueError(f"warmup_iters ({self.warmup_iters}) must be < decay_iters ({self.decay_iters})")
        return self

    def resolved(self, training_iters: int) -> CosineDecayWithWarmupConfig:
        """This schedule with open lengths set for a run of ``training_iters`` steps."""
        decay = self.decay_iters or training_iters
        warmup = self.warmup_iters if self.warmup_iters is not None else min(200, decay // 10)
        if warmup >= decay:
            raise ValueError(f"warmup_iters ({warmup}) must be < decay_iters ({decay}, the training_iters)")
        return self.model_copy(update={"warmup_iters": warmup, "decay_iters": decay})

    def build(self, optimizer):
        import torch

        for group in optimizer.param_groups:
            group["lr"] = self.max_lr
        return torch.optim.lr_scheduler.LambdaLR(optimizer, self.factor)

    def factor(self, step: int) -> float:
        """LR relative to max_lr at 0-based step ``step``: linear warmup, cosine decay, then min_lr."""
        if step < self.warmup_iters:
            return (step + 1) / (self.warmup_iters + 1)
        if step >= self.decay_iters:
            return self.min_lr / self.max_lr
        progress = (step - self.warmup_iters) / (self.decay_iters - self.warmup_iters)
        lr = self.min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (self.max_lr - self.min_lr)
        return lr / self.max_lr


class CosineAnnealingWarmRestartsConfig(_Strict):
    """torch.optim.lr_scheduler.CosineAnnealingWarmRestarts."""

    type: Literal["cosine_annealing_warm_restarts"] = "cosine_annealing_warm_restarts"
    T_0: int = Field(default=500, ge=1, description="Steps until the first restart.")
    T_mult: int = Field(default=1, ge=1, description="Period growth factor after each restart.")
    eta_min: float = Field(default=0.0, ge=0, description="Minimum learning rate.")

    def build(self, optimizer):
        import torch

        return torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
            optimizer, T_0=self.T_0, T_mult=self.T_mult, eta_min=self.eta_min
        )


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

    def build(self, optimizer):
        import torch

        return getattr(torch.optim.lr_scheduler, self.name)(optimizer, **self.params)


def _check_torch_class(module, name: str, params: dict, where: str, skip: tuple[str, ...]) -> None:
    cls = getattr(module, name, None)
    if not inspect.isclass(cls):
        raise ValueError(f"'{name}' is not a class in {where}")
    signature = inspect.signature(cls.__init__)
    accepted = {p for p in signature.parameters if p not in ("self", *skip)}
    unknown = sorted(set(params) - accepted)
    if unknown and not any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values()):
        raise ValueError(f"{where}.{name} has no parameter(s) {unknown}; it takes {sorted(accepted)}")


OPTIMIZERS = {"adamw": AdamWConfig, "sgd": SGDConfig, "torch": TorchOptimizerConfig}
SCHEDULERS = {
    "cosine_decay_with_warmup": CosineDecayWithWarmupConfig,
    "cosine_annealing_warm_restarts": CosineAnnealingWarmRestartsConfig,
    "torch": TorchSchedulerConfig,
}


def tagged_union(registry: dict[str, type], default: str):
    """A pydantic discriminated union of the registry's config classes on ``type``; a dict without
    ``type`` is the ``default`` member."""

    def pick(value):
        return value.get("type", default) if isinstance(value, dict) else getattr(value, "type", None)

    members = tuple(Annotated[cls, Tag(tag)] for tag, cls in registry.items())
    return Annotated[Union[members], Discriminator(pick)]  # noqa: UP007 (built from the registry)


OptimizerConfig = tagged_union(OPTIMIZERS, "adamw")
SchedulerConfig = tagged_union(SCHEDULERS, "cosine_decay_with_warmup")


def build_optimizer(config, parameters, device):
    """The optimizer over the trainable ``parameters``."""
    return config.build([p for p in parameters if p.requires_grad], device)


def build_scheduler(config, optimizer):
    """A scheduler stepped once per optimizer step, or None."""
    return None if config is None else config.build(optimizer)

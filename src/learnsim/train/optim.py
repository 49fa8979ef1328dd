"""Optimizer and learning-rate scheduler from their configs."""

from __future__ import annotations

import math

import torch


def build_optimizer(config, parameters, device: torch.device) -> torch.optim.Optimizer:
    """AdamW/SGD use fused kernels on CUDA and foreach (multi-tensor) kernels elsewhere."""
    parameters = [p for p in parameters if p.requires_grad]
    fast = {"fused": True} if device.type == "cuda" else {"foreach": True}
    if config.type == "adamw":
        return torch.optim.AdamW(
            parameters, lr=config.lr, weight_decay=config.weight_decay, betas=config.betas, **fast
        )
    if config.type == "sgd":
        return torch.optim.SGD(
            parameters, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay, **fast
        )
    return getattr(torch.optim, config.name)(parameters, **config.params)


def build_scheduler(config, optimizer: torch.optim.Optimizer):
    """A scheduler stepped once per optimizer step, or None."""
    if config is None:
        return None
    if config.type == "cosine_decay_with_warmup":
        for group in optimizer.param_groups:
            group["lr"] = config.max_lr
        return torch.optim.lr_scheduler.LambdaLR(optimizer, CosineDecayWithWarmup(config))
    if config.type == "cosine_annealing_warm_restarts":
        return torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
            optimizer, T_0=config.T_0, T_mult=config.T_mult, eta_min=config.eta_min
        )
    return getattr(torch.optim.lr_scheduler, config.name)(optimizer, **config.params)


class CosineDecayWithWarmup:
    """LR factor (relative to max_lr) at step ``step``: linear warmup, cosine decay, then min_lr."""

    def __init__(self, config):
        self.max_lr, self.min_lr = config.max_lr, config.min_lr
        self.warmup, self.decay = config.warmup_iters, config.decay_iters

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / (self.warmup + 1)
        if step >= self.decay:
            return self.min_lr / self.max_lr
        progress = (step - self.warmup) / (self.decay - self.warmup)
        lr = self.min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (self.max_lr - self.min_lr)
        return lr / self.max_lr

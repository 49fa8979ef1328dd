"""Multi-step (free-run) training: the horizon curriculum, the rollout loss, and an EMA of weights.

A rollout sample is a start row s of a training segment: history rows s .. s+L-1, then H steps driven by
the recorded external inputs of rows s+L .. s+L+H-1, compared with the recorded states and output targets
of those rows. The loss is computed on the trajectory that ``learnsim.simulate.rollout`` produces with
gradients on, the code path evaluation uses.
"""

from __future__ import annotations

import copy
import math

import torch

from learnsim.data.windows import queued_copy, runs, window_starts
from learnsim.features import wrap_where
from learnsim.simulate import rollout
from learnsim.train import distributed
from learnsim.train.distributed import Shard
from learnsim.train.losses import elementwise

# The automatic curriculum's last horizon. Measured on the arm: 64 and 256 give the same free-run accuracy
# (full-episode nRMSE 0.655 vs 0.672 at 3000 steps) at a quarter of the cost per step.
DEFAULT_MAX_HORIZON = 64

# Floor of the balanced (log) loss, in squared normalised units: errors below 1e-3 of a feature's scale stop
# gaining weight, so a near-perfect early step cannot dominate the gradient.
BALANCED_FLOOR = 1e-6


def balanced(loss: torch.Tensor, shard: Shard = Shard()) -> torch.Tensor:
    """log(loss + floor) - log(floor): zero for a perfect fit, and its gradient scales as 1 / loss, so every
    term it is applied to counts by its relative, not absolute, improvement.

    ``loss`` is this rank's mean over its share of the batch. The log of the global mean is not the mean of
    the ranks' logs, so with several ranks each returns the first-order expansion around the global mean g:
    balanced(g) + (loss - g) / (g + floor). Averaged over ranks (as DDP averages gradients) its value is
    balanced(g) and its gradient grad(g) / (g + floor): exactly the one-process loss of the whole batch.
    """
    if not shard.active:
        return torch.log(loss + BALANCED_FLOOR) - math.log(BALANCED_FLOOR)
    whole = distributed.global_mean(shard, loss)
    return balanced(whole) + (loss - whole) / (whole + BALANCED_FLOOR)


def sequences_per_step(config, train_batch_size: int, horizon: int) -> int:
    """Rollout sequences in one step's batch (see RolloutConfig.batch_size)."""
    if config.batch_size == "per_horizon":
        return max(32, train_batch_size // horizon)
    return config.batch_size or max(32, train_batch_size // 8)


class Curriculum:
    """Horizon per training step: an explicit schedule, or doubling stages from 1 to ``max_horizon`` spread
    over the first ``curriculum_fraction`` of training, then ``max_horizon`` to the end. With
    ``curriculum: mix`` each step draws its horizon among the stages reached so far."""

    def __init__(self, config, training_iters: int, longest_possible: int):
        self.mix = config.curriculum == "mix"
        if config.horizons is not None:
            self.horizons = [min(h, longest_possible) for h in config.horizons]
            self.start_iters = list(config.start_iters)
        else:
            top = min(config.max_horizon or DEFAULT_MAX_HORIZON, longest_possible)
            horizons = [1]
            while horizons[-1] < top:
                horizons.append(min(horizons[-1] * 2, top))
            span = config.curriculum_fraction * training_iters
            self.horizons = horizons
            self.start_iters = [int(round(i * span / len(horizons))) for i in range(len(horizons))]

    def horizon_at(self, step: int, generator: torch.Generator | None = None) -> int:
        """Horizon at ``step`` (0-based optimizer step): the current stage's, or under ``mix`` one of the
        stages reached so far, drawn from ``generator``."""
        reached = [h for start, h in zip(self.start_iters, self.horizons, strict=True) if step >= start]
        if self.mix and generator is not None and len(reached) > 1:
            return reached[int(torch.randint(len(reached), (1,), generator=generator))]
        return reached[-1]

    def describe(self) -> str:
        return ", ".join(f"H={h} from step {s}" for h, s in zip(self.horizons, self.start_iters, strict=True))


class RolloutSampler:
    """Start rows of (L + H)-row training sequences, per horizon (computed once per horizon)."""

    def __init__(self, data, sequence_length: int):
        self.data, self.sequence_length = data, sequence_length
        self._starts: dict[int, torch.Tensor] = {}
        segments = data.segments("train")
        self.longest_possible = max(e - s for s, e in segments) - sequence_length

    def sample(self, horizon: int, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        """(batch_size,) start rows of (sequence_length + horizon)-row training sequences, drawn uniformly."""
        if horizon not in self._starts:
            starts = window_starts(self.data.segments("train"), self.sequence_length + horizon)
            self._starts[horizon] = torch.as_tensor(starts, device=self.data.inputs.device)
        starts = self._starts[horizon]
        index = torch.randint(len(starts), (batch_size,), generator=generator)
        return starts[queued_copy(index, starts.device)]


def history_noise(
    model, config, batch: int, generator: torch.Generator, device: torch.device
) -> torch.Tensor | None:
    """(batch, L, n_states) standard normal noise for the states of each rollout's history, on ``device``
    (drawn from the CPU ``generator``), or None when the rollout config adds none."""
    step = model.step
    if config.noise_std <= 0 or not len(step.state_index):
        return None
    L = model.config.sequence_length
    return queued_copy(torch.randn(batch, L, len(step.state_index), generator=generator), device)


def rollout_loss(
    model,
    data,
    targets_normalized: torch.Tensor,
    starts: torch.Tensor,
    horizon: int,
    config,
    noise: torch.Tensor | None,
    loss_kind: str,
    shard: Shard = Shard(),
) -> torch.Tensor:
    """Weighted free-run error over ``horizon`` steps from each start row, in normalised units.

    starts: (B,) start rows of the global batch; this rank trains on ``shard.take`` of them and of
    ``noise`` (``history_noise``, drawn for the global batch so every rank's generator stays in step).
    States are compared with the recorded rows (angle-wrapped), direct outputs with their targets;
    residuals are divided by each feature's scale so features count alike.
    """
    L, step = model.config.sequence_length, model.step
    starts = shard.take(starts)
    recorded = runs(data.inputs, starts, L + horizon)  # (B, L + H, n_in)
    history = recorded[:, :L]
    if noise is not None:
        noise = shard.take(noise)
        scale = model.input_scaler.scale[step.state_index]
        history = history.index_add(2, step.state_index, noise * config.noise_std * scale)
    inputs, outputs = rollout(model, history, recorded, horizon, detach_every=config.tbptt)
    residuals = []
    if config.loss_on in ("states", "both") and len(step.state_index):
        error = (inputs[:, L:] - recorded[:, L:]).index_select(2, step.state_index)  # (B, H, n_states)
        error = wrap_where(error, step.state_is_angle) if step.has_angles else error
        residuals.append(error / model.input_scaler.scale[step.state_index])
    if config.loss_on in ("outputs", "both") or not len(step.state_index):
        predicted = model.output_scaler.normalize(outputs.index_select(2, step.direct_index))
        target = runs(targets_normalized, starts + L, horizon)  # (B, H, n_direct)
        residuals.append(model.wrap_output_residual(predicted - target))
    residual = torch.cat(residuals, dim=2)  # (B, H, n_features)
    per_step = elementwise(loss_kind, residual).mean(dim=(0, 2))  # (H,)
    if config.weighting == "balanced":
        return balanced(per_step, shard).mean()
    if config.weighting == "exponential":
        weight = config.discount ** torch.arange(horizon, device=per_step.device, dtype=per_step.dtype)
        return (per_step * weight).sum() / weight.sum()
    return per_step.mean()


class EMA:
    """Exponential moving average of a model's parameters (buffers copied), used for evaluation."""

    def __init__(self, model, decay: float):
        self.decay = decay
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model) -> None:
        ema = list(self.model.parameters())
        torch._foreach_lerp_(ema, list(model.parameters()), 1.0 - self.decay)
        for target, source in zip(self.model.buffers(), model.buffers(), strict=True):
            target.copy_(source)

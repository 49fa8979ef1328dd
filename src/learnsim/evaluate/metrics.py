"""Validation and test metrics in physical units: one-step RMSE and free-run rollout RMSE of a data split.

Squared errors are accumulated and converted to RMSE once at the end. Rollouts start from the first
``sequence_length`` recorded rows of each segment (episode, or time block) of a split and run for the
shortest segment's remaining length, capped at ``horizon``; all segments of the split run as one batch.
"""

from __future__ import annotations

import math

import torch

from learnsim.features import wrap_where
from learnsim.simulate import Trajectories, free_run


def rmse(squared_sum: torch.Tensor, count: int) -> list[float]:
    """RMSE per column from an accumulated sum of squared errors (never averaged after the root)."""
    return [math.sqrt(v / max(count, 1)) for v in squared_sum.tolist()]


def evenly_spaced(starts: torch.Tensor, limit: int) -> torch.Tensor:
    """At most ``limit`` of ``starts``, evenly spaced (deterministic, so evaluations compare)."""
    if len(starts) <= limit:
        return starts
    return starts[torch.linspace(0, len(starts) - 1, limit, device=starts.device).long()]


@torch.no_grad()
def one_step_metrics(model, data, split: str, loss_fn, max_windows: int, batch_size: int = 8192) -> dict:
    """Loss and RMSE per direct output over (an evenly spaced subset of) a split's windows."""
    starts = evenly_spaced(data.starts[split], max_windows)
    if len(starts) == 0:
        return {}
    model.eval()
    squared = torch.zeros(len(model.direct_output_names), dtype=torch.float64, device=starts.device)
    loss_sum = 0.0
    for chunk in starts.split(batch_size):
        window, target = data.gather(chunk)
        prediction = model.predict_normalized(window)
        loss_sum += loss_fn(prediction, model.output_scaler.normalize(target)).item() * len(chunk)
        error = wrap_where(model.output_scaler.denormalize(prediction) - target, model.step.direct_is_angle)
        squared += error.double().square().sum(0)
    metrics = {f"{split}/loss": loss_sum / len(starts)}
    for name, value in zip(model.direct_output_names, rmse(squared, len(starts)), strict=True):
        metrics[f"{split}/rmse/{name}"] = value
    return metrics


def split_trajectories(model, data, split: str, horizon: int) -> Trajectories | None:
    """Free-run every segment of ``split`` from its first ``sequence_length`` rows for a common horizon
    (the shortest segment's remaining rows, at most ``horizon``); None when no segment is long enough."""
    L = model.config.sequence_length
    segments = [(s, e) for s, e in data.segments(split) if e - s > L]
    if not segments:
        return None
    horizon = min(min(e - s for s, e in segments) - L, horizon)
    rows = torch.stack([torch.arange(s, s + L + horizon) for s, _ in segments]).to(data.inputs.device)
    return free_run(model, data.inputs[rows], data.targets[rows[:, L:]])


@torch.no_grad()
def rollout_metrics(model, data, split: str, horizon: int) -> dict:
    """Free-run RMSE per state and per direct output over the split's segments; plus a scale-free score.

    ``<split>/rollout_score`` is the mean over states (or direct outputs when there are no states) of RMSE
    divided by the feature's scale (angles: RMSE in radians): the number multi-step selection minimises.
    """
    trajectories = split_trajectories(model, data, split, horizon)
    if trajectories is None:
        return {}
    metrics = {f"{split}/rollout_horizon": trajectories.horizon}
    # angle features are never scaled (scale 1), so their score is the RMSE in radians
    scales = {f.name: model.input_scaler.scale[i].item() for i, f in enumerate(model.config.inputs)}
    scales |= {name: model.output_scaler.scale[j].item() for j, name in enumerate(model.direct_output_names)}
    states = {f.name for f in model.schema.states}
    state_scores, output_scores = [], []
    for name in trajectories.simulated:
        value = trajectories.rmse(name)
        metrics[f"{split}/rollout_rmse/{name}"] = value
        (state_scores if name in states else output_scores).append(value / scales[name])
    scores = state_scores or output_scores
    metrics[f"{split}/rollout_score"] = sum(scores) / len(scores)
    return metrics


def split_metrics(model, data, split: str, loss_fn, max_windows: int, horizon: int) -> dict:
    """One-step and free-run metrics of ``split``, physical units, keys ``<split>/...``."""
    return one_step_metrics(model, data, split, loss_fn, max_windows) | rollout_metrics(
        model, data, split, horizon
    )

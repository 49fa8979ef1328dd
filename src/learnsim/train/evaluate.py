"""Validation and test metrics in physical units: one-step RMSE and free-run rollout RMSE.

Squared errors are accumulated and converted to RMSE once at the end. Rollouts start from the first
``sequence_length`` recorded rows of each episode (segment) of a split and run for the shortest segment's
remaining length, capped at ``horizon``; all segments of the split run as one batch.
"""

from __future__ import annotations

import math

import torch

from learnsim.features import wrap_angle
from learnsim.simulate import rollout
from learnsim.train.losses import rmse


@torch.no_grad()
def one_step_metrics(model, data, split: str, loss_fn, max_windows: int, batch_size: int = 8192) -> dict:
    """Loss and RMSE per direct output over (an evenly spaced subset of) a split's windows."""
    starts = data.starts[split]
    if len(starts) == 0:
        return {}
    if len(starts) > max_windows:
        starts = starts[torch.linspace(0, len(starts) - 1, max_windows, device=starts.device).long()]
    model.eval()
    squared = torch.zeros(len(model.direct_output_names), dtype=torch.float64, device=starts.device)
    loss_sum = 0.0
    for chunk in starts.split(batch_size):
        window, target = data.gather(chunk)
        prediction = model.predict_normalized(window)
        loss_sum += loss_fn(prediction, model.output_scaler.normalize(target)).item() * len(chunk)
        error = model.output_scaler.denormalize(prediction) - target
        if model._angle_direct:
            error[:, model._angle_direct] = wrap_angle(error[:, model._angle_direct])
        squared += error.double().square().sum(0)
    metrics = {f"{split}/loss": loss_sum / len(starts)}
    for name, value in zip(model.direct_output_names, rmse(squared, len(starts)), strict=True):
        metrics[f"{split}/rmse/{name}"] = value
    return metrics


@torch.no_grad()
def rollout_metrics(model, data, split: str, horizon: int) -> dict:
    """Free-run RMSE per state and per direct output over the split's segments; plus a scale-free score.

    ``<split>/rollout_score`` is the mean over states (or direct outputs when there are no states) of RMSE
    divided by the feature's scale: the number multi-step checkpoint selection minimises.
    """
    trajectories = rollout_batch(model, data, split, horizon)
    if trajectories is None:
        return {}
    inputs, outputs, true_inputs, true_targets = trajectories
    L = model.config.sequence_length
    schema = model.schema
    metrics = {f"{split}/rollout_horizon": outputs.shape[1]}
    scores = []
    for i, f in enumerate(model.config.inputs):
        if f.parent is None:
            continue
        error = inputs[:, L:, i] - true_inputs[:, L:, i]
        if schema.is_angle(f.name):
            error = wrap_angle(error)
        value = math.sqrt(error.double().square().mean().item())
        metrics[f"{split}/rollout_rmse/{f.name}"] = value
        scores.append(value / model.input_scaler.scale[i].item() if not schema.is_angle(f.name) else value)
    direct = [f.name for f in schema.direct_outputs]
    order = [f.name for f in model.config.outputs]
    output_scores = []
    for j, name in enumerate(direct):
        error = outputs[..., order.index(name)] - true_targets[..., j]
        if schema.is_angle(name):
            error = wrap_angle(error)
        value = math.sqrt(error.double().square().mean().item())
        metrics[f"{split}/rollout_rmse/{name}"] = value
        output_scores.append(value / model.output_scaler.scale[j].item())
    metrics[f"{split}/rollout_score"] = sum(scores or output_scores) / len(scores or output_scores)
    return metrics


def rollout_batch(model, data, split: str, horizon: int):
    """Simulate every segment of ``split`` for a common horizon.

    Returns (simulated inputs (S, L+H, n_in), simulated outputs (S, H, n_out), recorded inputs (S, L+H, n_in),
    recorded direct-output targets (S, H, n_direct)), or None when no segment is long enough.
    """
    L = model.config.sequence_length
    segments = [(s, e) for s, e in data.segments(split) if e - s > L]
    if not segments:
        return None
    H = min(min(e - s for s, e in segments) - L, horizon)
    rows = torch.stack([torch.arange(s, s + L + H) for s, _ in segments]).to(data.inputs.device)
    recorded = data.inputs[rows]  # (S, L + H, n_in)
    model.eval()
    inputs, outputs = rollout(model, recorded[:, :L], recorded, H)
    return inputs, outputs, recorded, data.targets[rows[:, L:]]

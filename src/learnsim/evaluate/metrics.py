"""Validation and test metrics of a data split in physical units: one-step RMSE, and free-run metrics under
the evaluation protocol (``learnsim.evaluate.protocol``).

Squared errors are accumulated and converted to RMSE once at the end. Free runs start from the first
``sequence_length`` recorded rows of each segment (episode, or a piece of a long time block) and run to its
end, at most ``horizon`` steps; all segments of the split run as one padded batch.
"""

from __future__ import annotations

import math

import torch

from learnsim.evaluate.protocol import DEFAULT_HORIZONS, chunks, evaluate_batch, segment_batch
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


def split_trajectories(
    model, data, split: str, horizon: int, max_rows: int | None = None
) -> Trajectories | None:
    """Free-run every segment of ``split`` from its first ``sequence_length`` rows (long segments cut into
    pieces of sequence_length + horizon rows), padded to a common length; None when none is long enough.
    ``max_rows``: only evenly spaced segments holding about that many rows (``spaced_segments``)."""
    batch = split_batch(model, data, split, horizon, max_rows)
    return None if batch is None else free_run(model, batch.inputs, batch.targets, batch.valid)


def split_batch(model, data, split: str, horizon: int, max_rows: int | None = None):
    L = model.config.sequence_length
    segments = spaced_segments(chunks(data.segments(split), L + horizon), max_rows)
    return segment_batch(data.inputs, data.targets, segments, L, max_horizon=horizon)


def spaced_segments(segments: list[tuple[int, int]], max_rows: int | None) -> list[tuple[int, int]]:
    """Every ``stride``-th segment, the smallest stride whose share of the rows is at most ``max_rows``
    (at least one segment); all of them when they hold no more (or ``max_rows`` is None). Deterministic, so
    evaluations compare."""
    rows = sum(e - s for s, e in segments)
    if max_rows is None or rows <= max_rows:
        return segments
    stride = -(-rows // max_rows)
    return segments[::stride]


@torch.no_grad()
def rollout_metrics(
    model, data, split: str, horizon: int, selection=DEFAULT_HORIZONS, baselines=None, max_rows=None
) -> dict:
    """Free-run metrics of the split's segments under the evaluation protocol, keys ``<split>/...``:
    ``rollout_rmse/<feature>`` (whole free run), ``nrmse@h`` and ``nrmse@h/<feature>``, ``fit/<feature>``,
    ``rollout_horizon``, the baselines' ``<name>/nrmse@h`` with ``skill_vs_<name>@h``, and
    ``rollout_score``: the geometric mean over the ``selection`` horizons of the overall nRMSE (metrics are
    reported at those and at 1, 10, 50 and full), the number multi-step
    checkpoint selection minimises (a geometric mean, so halving the error at any horizon counts the same).
    ``max_rows``: score evenly spaced segments holding about that many rows (``spaced_segments``)."""
    batch = split_batch(model, data, split, horizon, max_rows)
    if batch is None:
        return {}
    horizons = list(dict.fromkeys([*DEFAULT_HORIZONS, *selection]))
    scores = evaluate_batch(model, batch, horizons, baselines)
    metrics = {f"{split}/rollout_horizon": scores.pop("horizon")}
    for key, value in scores.items():
        if key.startswith("rmse@full/"):
            metrics[f"{split}/rollout_rmse/{key.removeprefix('rmse@full/')}"] = value
        elif not key.startswith("rmse@"):
            metrics[f"{split}/{key}"] = value
    overall = [scores[f"nrmse@{h}"] for h in selection if f"nrmse@{h}" in scores]
    metrics[f"{split}/rollout_score"] = math.exp(sum(math.log(max(v, 1e-12)) for v in overall) / len(overall))
    return metrics


def split_metrics(
    model,
    data,
    split: str,
    loss_fn,
    max_windows: int,
    horizon: int,
    horizons=DEFAULT_HORIZONS,
    baselines=None,
    max_rows: int | None = None,
) -> dict:
    """One-step and free-run metrics of ``split``, physical units, keys ``<split>/...``."""
    one_step = one_step_metrics(model, data, split, loss_fn, max_windows)
    return one_step | rollout_metrics(model, data, split, horizon, horizons, baselines, max_rows)

"""The evaluation protocol: free-run recorded segments from their first rows and score the simulation at
several horizons, beside baselines that need no learning.

A segment is a run of recorded rows (an episode, or a block of one long recording). Its first ``warmup`` rows
are history (the model reads the last ``sequence_length`` of them); the rest is simulated, driven by the
recorded external inputs only. At horizon h the RMSE covers the first h simulated steps of every segment
('full': all of them); nRMSE divides it by the spread of the recording (standard deviation; for angles the
circular spread); fit = 100 (1 - nRMSE at full). Validation and test during training, ``learnsim evaluate``
and the accuracy benchmark all score with ``score``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from learnsim.simulate import Trajectories, free_run

DEFAULT_HORIZONS = (1, 10, 50, "full")


def parse_horizons(text: str | list) -> list[int | str]:
    """'1,10,50,full' (or a list) -> [1, 10, 50, 'full']; errors name the bad entry."""
    from learnsim.errors import ConfigError

    parts = text.split(",") if isinstance(text, str) else list(text)
    horizons: list[int | str] = []
    for part in parts:
        part = part.strip() if isinstance(part, str) else part
        if part == "full":
            horizons.append("full")
            continue
        try:
            value = int(part)
        except (TypeError, ValueError):
            value = 0
        if isinstance(part, bool) or value < 1 or str(value) != str(part):
            raise ConfigError(f"horizons: {part!r} must be an integer >= 1 or 'full'")
        horizons.append(value)
    if not horizons:
        raise ConfigError("horizons: give at least one, e.g. 1,10,50,full")
    return horizons


@dataclass
class SegmentBatch:
    """Recorded segments padded to a common length. inputs: (S, L + H, n_inputs) physical rows, the first L
    the history; targets: (S, H, n_direct) recorded direct outputs of the simulated rows; valid: (S, H);
    last_targets: (S, n_direct) the outputs recorded at the last history row (what 'hold' repeats)."""

    inputs: torch.Tensor
    targets: torch.Tensor
    valid: torch.Tensor
    last_targets: torch.Tensor


def segment_batch(
    inputs: torch.Tensor,
    targets: torch.Tensor,
    segments: list[tuple[int, int]],
    sequence_length: int,
    warmup: int | None = None,
    max_horizon: int | None = None,
) -> SegmentBatch | None:
    """Gather segments [start, end) of the row tensors inputs (N, n_in) and targets (N, n_direct).

    Each segment's history ends at row start + warmup (default: sequence_length) and its simulation runs to
    its end, at most ``max_horizon`` steps. Rows past a shorter segment's end repeat its last row (so the
    padded free run stays finite) and are marked invalid. None when no segment is longer than its warmup.
    """
    L, warmup = sequence_length, max(warmup or sequence_length, sequence_length)
    spans = [(s + warmup, min(e, s + warmup + (max_horizon or e))) for s, e in segments if e - s > warmup]
    if not spans:
        return None
    horizon = max(end - first for first, end in spans)
    offsets = torch.arange(-L, horizon, device=inputs.device)
    rows = torch.stack([(first + offsets).clamp(max=end - 1) for first, end in spans])  # (S, L + H)
    lengths = torch.tensor([end - first for first, end in spans], device=inputs.device)
    valid = torch.arange(horizon, device=inputs.device) < lengths[:, None]
    return SegmentBatch(inputs[rows], targets[rows[:, L:]], valid, targets[rows[:, L - 1]])


def chunks(segments: list[tuple[int, int]], length: int) -> list[tuple[int, int]]:
    """Cut segments into consecutive pieces of ``length`` rows (a shorter remainder is kept), so one long
    recording gives many free runs, each from its own history."""
    pieces = []
    for start, end in segments:
        pieces += [(s, min(s + length, end)) for s in range(start, end, length)]
    return pieces


def spread(values: torch.Tensor, angle: bool) -> float:
    """Standard deviation of recorded values, or for an angle the circular spread sqrt(-2 ln R) (capped at
    the spread of a uniform angle, pi / sqrt(3)); the nRMSE denominator."""
    values = values.double()
    if not angle:
        return values.std(correction=0).item()
    resultant = torch.complex(values.cos().mean(), values.sin().mean()).abs().item()
    return min(math.sqrt(-2 * math.log(max(resultant, 1e-12))), math.pi / math.sqrt(3))


def spreads(trajectories: Trajectories) -> dict[str, float]:
    """Per feature: the spread of its recorded values over the valid steps."""
    valid = trajectories.valid
    return {
        name: spread(recorded if valid is None else recorded[valid], name in trajectories.angles)
        for name, recorded in trajectories.recorded.items()
    }


def score(
    trajectories: Trajectories,
    horizons,
    normalizers: dict[str, float],
    scored: list[str],
) -> dict[str, float]:
    """Flat metrics of one simulation: ``rmse@h/<f>``, ``nrmse@h/<f>`` per feature and horizon, ``nrmse@h``
    (mean over the ``scored`` features), ``fit/<f>``. Horizons longer than the simulation are left out
    (but 'full' always stays). A diverged simulation (non-finite values) scores inf."""
    H = trajectories.horizon
    valid = (
        trajectories.valid
        if trajectories.valid is not None
        else torch.ones_like(trajectories.error(scored[0]), dtype=torch.bool)
    )
    counts = valid.double().cumsum(1).sum(0)  # (H,) valid steps up to each horizon
    metrics: dict[str, float] = {}
    steps = {h: (H if h == "full" else h) for h in horizons if h == "full" or h <= H} | {"full": H}
    for name in trajectories.simulated:
        error = trajectories.error(name).double()
        squared = torch.where(error.isfinite(), error.square(), math.inf).cumsum(1).sum(0)  # (H,)
        scale = normalizers[name] if normalizers[name] > 0 else 1.0
        for label, h in steps.items():
            rmse = math.sqrt(squared[h - 1].item() / max(counts[h - 1].item(), 1))
            metrics[f"rmse@{label}/{name}"] = rmse
            metrics[f"nrmse@{label}/{name}"] = rmse / scale
        metrics[f"fit/{name}"] = 100.0 * (1.0 - metrics[f"nrmse@full/{name}"])
    for label in steps:
        metrics[f"nrmse@{label}"] = sum(metrics[f"nrmse@{label}/{n}"] for n in scored) / len(scored)
    return metrics


def hold_last(trajectories: Trajectories, batch: SegmentBatch, model) -> Trajectories:
    """The no-model baseline beside a model's trajectories: every state holds its last history value and
    every direct output its last recorded value."""
    L = model.config.sequence_length
    names = [f.name for f in model.config.inputs]
    direct = [f.name for f in model.schema.direct_outputs]
    simulated = {}
    for name, recorded in trajectories.recorded.items():
        if name in names:
            last = batch.inputs[:, L - 1, names.index(name)]
        else:
            last = batch.last_targets[:, direct.index(name)]
        simulated[name] = last[:, None].expand_as(recorded)
    return Trajectories(
        simulated, trajectories.recorded, trajectories.angles, trajectories.dt, trajectories.valid
    )


def scored_features(model) -> list[str]:
    """The features a model's overall score averages: its simulated states, or its direct outputs when it
    has none."""
    states = [f.name for f in model.schema.states]
    return states or [f.name for f in model.schema.direct_outputs]


@torch.no_grad()
def evaluate_batch(
    model, batch: SegmentBatch, horizons=DEFAULT_HORIZONS, baselines: dict | None = None, trajectories=None
) -> dict:
    """Score ``model`` on a segment batch, and each baseline (name -> a model in the same schema, or 'hold'
    for the hold-last-state baseline) on the same segments. Keys: the model's own metrics (see ``score``),
    ``<baseline>/nrmse@h`` and ``skill_vs_<baseline>@h`` = 1 - nRMSE / baseline nRMSE. ``trajectories``: the
    model's free run of the batch when the caller already has it."""
    trajectories = trajectories or free_run(model, batch.inputs, batch.targets, batch.valid)
    normalizers, scored = spreads(trajectories), scored_features(model)
    metrics = score(trajectories, horizons, normalizers, scored)
    metrics["horizon"] = trajectories.horizon
    for name, baseline in (baselines or {}).items():
        other = (
            hold_last(trajectories, batch, model)
            if baseline == "hold"
            else free_run(baseline, batch.inputs, batch.targets, batch.valid)
        )
        theirs = score(other, horizons, normalizers, scored)
        for key, value in theirs.items():
            if key.startswith("nrmse@") and "/" not in key:
                metrics[f"{name}/{key}"] = value
                ours = metrics[key]
                metrics[f"skill_vs_{name}@{key.removeprefix('nrmse@')}"] = (
                    1.0 - ours / value if value > 0 else 0.0
                )
    return metrics

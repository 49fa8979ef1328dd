"""Every plot of a finished run: loss curves, free-run rollouts against the recording, rollout error against
horizon and one-step predicted-vs-true, drawn by ``learnsim.track.plots`` from a split's trajectories.

Two halves: ``plot_inputs`` does the model's work (a free run, one-step predictions) and ``draw`` only
draws from small CPU tensors. A run's plots are drawn on the background thread, and torch work there would
start a second OpenMP thread team beside the training's (on 2 cores, later rollout training ran 2-3x
slower); the model's work stays on the caller's thread."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import torch

from learnsim.evaluate.metrics import evenly_spaced, split_trajectories
from learnsim.rundir import RunDir
from learnsim.track import plots


@dataclass
class PlotInputs:
    records: list[dict]  # metrics.jsonl records (loss curves)
    split: str  # the split the rollouts and predictions come from
    trajectories: object | None  # a CPU ``Trajectories`` of the split's free run, None when none fits
    predicted: torch.Tensor | None  # (N, n_direct) CPU one-step predictions, physical units
    true: torch.Tensor | None  # (N, n_direct) their targets
    output_names: list[str]


@torch.no_grad()
def plot_inputs(
    model, data, records: list[dict], split: str = "test", horizon: int = 1000, max_rows: int | None = None
) -> PlotInputs:
    """The model's part of the plots, on ``split`` (validation if it has no windows); ``max_rows``: free-run
    only evenly spaced segments holding about that many rows."""
    if not len(data.starts[split]):
        split = "val"
    trajectories = split_trajectories(model, data, split, horizon, max_rows)
    if trajectories is not None:
        cpu = {
            k: {n: t.cpu() for n, t in getattr(trajectories, k).items()} for k in ("simulated", "recorded")
        }
        valid = None if trajectories.valid is None else trajectories.valid.cpu()
        trajectories = replace(trajectories, **cpu, valid=valid)
    predicted = true = None
    starts = evenly_spaced(data.starts[split], 4096)
    if len(starts):
        window, target = data.gather(starts)
        predicted, true = model(window).cpu(), target.cpu()
    return PlotInputs(records, split, trajectories, predicted, true, model.direct_output_names)


def draw(out: Path, inputs: PlotInputs) -> list[Path]:
    """Write the plots into ``out`` (created) and return their paths; matplotlib only."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [plots.loss_curves(inputs.records, out / "loss_curves.png")]
    trajectories, split = inputs.trajectories, inputs.split
    if trajectories is not None:
        title = f"Free-run simulation vs recording ({split} episodes)"
        paths.append(plots.rollout_traces(trajectories, out / f"rollout_{split}.png", title))
        title = f"Rollout RMSE vs horizon ({split}, {trajectories.segments} episodes)"
        paths.append(plots.error_vs_horizon(trajectories, out / f"rollout_error_{split}.png", title))
    if inputs.predicted is not None:
        path = out / f"one_step_{split}.png"
        paths.append(plots.one_step_scatter(inputs.predicted, inputs.true, inputs.output_names, path))
    return paths


def run_plots(
    run_dir: Path, model, data, records: list[dict], split: str = "test", horizon: int = 1000
) -> list[Path]:
    """Write the plots into ``run_dir/plots`` and return their paths."""
    return draw(RunDir(run_dir).plots, plot_inputs(model, data, records, split, horizon))

"""Every plot of a finished run: loss curves, free-run rollouts against the recording, rollout error against
horizon and one-step predicted-vs-true, drawn by ``learnsim.track.plots`` from a split's trajectories."""

from __future__ import annotations

from pathlib import Path

import torch

from learnsim.evaluate.metrics import evenly_spaced, split_trajectories
from learnsim.track import plots


@torch.no_grad()
def run_plots(
    run_dir: Path, model, data, records: list[dict], split: str = "test", horizon: int = 1000
) -> list[Path]:
    """Write the plots into ``run_dir/plots`` and return their paths; uses ``split`` (validation if it has
    no windows)."""
    out = Path(run_dir) / "plots"
    out.mkdir(exist_ok=True)
    paths = [plots.loss_curves(records, out / "loss_curves.png")]
    if not len(data.starts[split]):
        split = "val"
    trajectories = split_trajectories(model, data, split, horizon)
    if trajectories is not None:
        title = f"Free-run simulation vs recording ({split} episodes)"
        paths.append(plots.rollout_traces(trajectories, out / f"rollout_{split}.png", title))
        title = f"Rollout RMSE vs horizon ({split}, {trajectories.segments} episodes)"
        paths.append(plots.error_vs_horizon(trajectories, out / f"rollout_error_{split}.png", title))
    starts = evenly_spaced(data.starts[split], 4096)
    if len(starts):
        window, target = data.gather(starts)
        path = out / f"one_step_{split}.png"
        paths.append(
            plots.one_step_scatter(model(window).cpu(), target.cpu(), model.direct_output_names, path)
        )
    return paths

"""Plot drawing (PNG, matplotlib imported lazily): loss curves, free-run rollouts against the recording,
rollout error against horizon, one-step predicted-vs-true scatter.

Figures are made with matplotlib's object API (``Figure``), never through pyplot's global figure manager, so
that the plots can be drawn on the background thread while the user's own code uses pyplot."""

from __future__ import annotations

from pathlib import Path

import torch

from learnsim.durable import replacing


def _figure(figsize: tuple[float, float]):
    from matplotlib.figure import Figure

    return Figure(figsize=figsize)


def loss_curves(records: list[dict], path: Path) -> Path:
    """Two panels, since the two losses are on different scales: the training objective (with rollout
    training, the free run's error over the curriculum's horizon plus the one-step term; with the balanced
    weighting a log, which may be negative) and the validation scores (one-step loss, free-run selection
    score). The linear candidate, validated at step 0 before training, is a dashed line, not a curve point."""
    fig = _figure((7, 6))
    top, bottom = fig.subplots(2, 1, sharex=True)
    rollout = any("train/horizon" in r for r in records)
    train = [(r["step"], r["train/loss"]) for r in records if r.get("train/loss") is not None]
    if train:
        top.plot(*zip(*train, strict=True), "-", label="train/loss", linewidth=1.0)
        if all(v > 0 for _, v in train):
            top.set_yscale("log")
    top.set_ylabel("rollout training loss" if rollout else "one-step training loss (MSE)")
    top.set_title(
        "Training objective" + (" (free-run error over the curriculum's horizon)" if rollout else "")
    )
    for key, style in (("val/loss", "o-"), ("val/rollout_score", "s-")):
        points = [(r["step"], r[key]) for r in records if r.get(key) is not None and r["step"] > 0]
        if points:
            bottom.plot(*zip(*points, strict=True), style, label=key, markersize=3)
        linear = [r[key] for r in records if r.get(key) is not None and r["step"] == 0]
        if linear:
            bottom.axhline(linear[0], linestyle="--", linewidth=1.0, color="gray", label=f"{key}, linear fit")
    bottom.set_yscale("log")
    bottom.set_ylabel("validation (normalised)")
    bottom.set_title("Validation: one-step loss and free-run selection score")
    bottom.set_xlabel("step")
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def rollout_traces(
    trajectories, path: Path, title: str, episodes: int = 3, labels: list[str] | None = None
) -> Path:
    """Grid: one row per feature, one column per segment (at most ``episodes``); simulated (free run) over
    recorded, against time in seconds from the first simulated step. ``trajectories``: a
    ``learnsim.simulate.Trajectories``; ``labels`` name the columns (default 'episode i')."""
    names = list(trajectories.simulated)
    columns = min(episodes, trajectories.segments)
    time = torch.arange(1, trajectories.horizon + 1) * trajectories.dt
    fig = _figure((4.2 * columns, 2.4 * len(names)))
    axes = fig.subplots(len(names), columns, squeeze=False)
    for row, name in enumerate(names):
        for col in range(columns):
            ax = axes[row][col]
            ax.plot(
                time, trajectories.recorded[name][col].cpu(), color="black", linewidth=1.0, label="recorded"
            )
            simulated = trajectories.simulated[name][col].cpu()
            ax.plot(time, simulated, color="tab:orange", linewidth=1.0, linestyle="--", label="simulated")
            if col == 0:
                ax.set_ylabel(name)
            if row == 0:
                ax.set_title(labels[col] if labels else f"episode {col}")
            if row == len(names) - 1:
                ax.set_xlabel("time (s)")
            ax.grid(alpha=0.3)
    axes[0][0].legend(loc="best", fontsize=8)
    fig.suptitle(title)
    return _save(fig, path)


def error_vs_horizon(trajectories, path: Path, title: str) -> Path:
    """RMSE over segments at each simulated step, one line per feature, against the horizon in seconds."""
    fig = _figure((7, 4))
    ax = fig.subplots()
    time = torch.arange(1, trajectories.horizon + 1) * trajectories.dt
    for name in trajectories.simulated:
        ax.plot(time, trajectories.rmse_by_step(name).cpu(), label=name)
    ax.set_xlabel("horizon (s)")
    ax.set_ylabel("RMSE (physical units)")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title)
    return _save(fig, path)


def one_step_scatter(predicted: torch.Tensor, true: torch.Tensor, names: list[str], path: Path) -> Path:
    """predicted/true: (N, n_outputs) physical one-step predictions and targets."""
    fig = _figure((4 * len(names), 4))
    axes = fig.subplots(1, len(names), squeeze=False)
    for i, name in enumerate(names):
        ax = axes[0][i]
        ax.scatter(true[:, i], predicted[:, i], s=2, alpha=0.3)
        lo, hi = float(true[:, i].min()), float(true[:, i].max())
        ax.plot([lo, hi], [lo, hi], color="black", linewidth=0.8)
        ax.set_xlabel(f"true {name}")
        ax.set_ylabel(f"predicted {name}")
        ax.set_title(f"one-step: {name}")
        ax.grid(alpha=0.3)
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    with replacing(path) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    return path

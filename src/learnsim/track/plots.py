"""Plots of a run (PNG, matplotlib imported lazily with the Agg backend): loss curves, free-run rollouts
against the recording, rollout error against horizon, one-step predicted-vs-true scatter."""

from __future__ import annotations

from pathlib import Path

import torch

from learnsim.features import wrap_angle


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def loss_curves(records: list[dict], path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for key, style in (("train/loss", "-"), ("val/loss", "o-")):
        points = [(r["step"], r[key]) for r in records if r.get(key) is not None]
        if points:
            ax.plot(*zip(*points, strict=True), style, label=key, markersize=3)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (normalised units)")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("Training and validation loss")
    return _save(fig, path)


def rollout_traces(
    time: torch.Tensor,
    simulated: dict[str, torch.Tensor],
    recorded: dict[str, torch.Tensor],
    path: Path,
    title: str,
    episodes: int = 3,
) -> Path:
    """Grid: one row per feature, one column per episode; simulated (free run) over recorded.

    simulated/recorded[name]: (S, T) tensors on the same time axis ``time`` (T,) in seconds.
    """
    plt = _pyplot()
    names = list(simulated)
    columns = min(episodes, next(iter(simulated.values())).shape[0])
    fig, axes = plt.subplots(len(names), columns, figsize=(4.2 * columns, 2.4 * len(names)), squeeze=False)
    for row, name in enumerate(names):
        for col in range(columns):
            ax = axes[row][col]
            ax.plot(time, recorded[name][col], color="black", linewidth=1.0, label="recorded")
            ax.plot(
                time,
                simulated[name][col],
                color="tab:orange",
                linewidth=1.0,
                linestyle="--",
                label="simulated",
            )
            if col == 0:
                ax.set_ylabel(name)
            if row == 0:
                ax.set_title(f"episode {col}")
            if row == len(names) - 1:
                ax.set_xlabel("time (s)")
            ax.grid(alpha=0.3)
    axes[0][0].legend(loc="best", fontsize=8)
    fig.suptitle(title)
    return _save(fig, path)


def error_vs_horizon(dt: float, errors: dict[str, torch.Tensor], path: Path, title: str) -> Path:
    """errors[name]: (H,) RMSE over episodes at each rollout step."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, values in errors.items():
        ax.plot(torch.arange(1, len(values) + 1) * dt, values, label=name)
    ax.set_xlabel("horizon (s)")
    ax.set_ylabel("RMSE (physical units)")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title)
    return _save(fig, path)


def one_step_scatter(predicted: torch.Tensor, true: torch.Tensor, names: list[str], path: Path) -> Path:
    """predicted/true: (N, n_outputs) physical one-step predictions and targets."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 4), squeeze=False)
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


@torch.no_grad()
def run_plots(
    run_dir: Path, model, data, records: list[dict], split: str = "test", horizon: int = 1000
) -> list[Path]:
    """Every plot of a finished run, into ``run_dir/plots``; uses ``split`` (validation if it has no data)."""
    from learnsim.train.evaluate import rollout_batch

    out = Path(run_dir) / "plots"
    out.mkdir(exist_ok=True)
    paths = [loss_curves(records, out / "loss_curves.png")]
    if not len(data.starts[split]):
        split = "val"
    model.eval()
    batch = rollout_batch(model, data, split, horizon)
    if batch is not None:
        inputs, outputs, recorded, targets = batch
        L = model.config.sequence_length
        schema = model.schema
        states = [(i, f.name) for i, f in enumerate(model.config.inputs) if f.parent is not None]
        order = [f.name for f in model.config.outputs]
        simulated, truth, errors = {}, {}, {}
        for i, name in states:
            simulated[name], truth[name] = inputs[:, L:, i].cpu(), recorded[:, L:, i].cpu()
        for j, f in enumerate(schema.direct_outputs):
            simulated[f.name], truth[f.name] = outputs[..., order.index(f.name)].cpu(), targets[..., j].cpu()
        for name in simulated:
            error = simulated[name] - truth[name]
            if schema.is_angle(name):
                error = wrap_angle(error)
            errors[name] = error.double().square().mean(0).sqrt()
        time = torch.arange(1, outputs.shape[1] + 1) * model.config.dt
        paths.append(
            rollout_traces(
                time,
                simulated,
                truth,
                out / f"rollout_{split}.png",
                f"Free-run simulation vs recording ({split} episodes)",
            )
        )
        paths.append(
            error_vs_horizon(
                model.config.dt,
                errors,
                out / f"rollout_error_{split}.png",
                f"Rollout RMSE vs horizon ({split}, {inputs.shape[0]} episodes)",
            )
        )
    starts = data.starts[split]
    if len(starts):
        starts = starts[torch.linspace(0, len(starts) - 1, min(len(starts), 4096)).long().to(starts.device)]
        window, target = data.gather(starts)
        paths.append(
            one_step_scatter(
                model(window).cpu(), target.cpu(), model.direct_output_names, out / f"one_step_{split}.png"
            )
        )
    return paths


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path

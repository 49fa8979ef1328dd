"""``learnsim evaluate``: free-run a stored model on every episode of a dataset and score it at several
horizons beside the hold-last-state and linear baselines."""

from __future__ import annotations

from pathlib import Path

import typer


def evaluate(
    model: str = typer.Argument(
        ...,
        help="Stored model NAME[@VERSION]; a bare NAME is its version marked best by a search, else the newest.",
    ),
    dataset: str = typer.Option(..., "--dataset", help="Stored dataset NAME[@VERSION] to evaluate on."),
    warmup: int = typer.Option(
        None, "--warmup", min=1, help="Recorded rows before each free run (default: sequence_length)."
    ),
    horizons: str = typer.Option(
        "1,10,50,full", "--horizons", help="Simulated steps to score at; 'full': whole episodes."
    ),
    episodes: str = typer.Option(
        None,
        "--episodes",
        help="Comma-separated episode ids, or 'all'. Default: on the dataset version the model was trained on, "
        "the run's test split only; on any other, every episode.",
    ),
    out: Path = typer.Option(None, "--out", help="Write evaluation.json (and plots) into this folder."),
    plot: bool = typer.Option(False, "--plot", help="With --out: error-vs-horizon and trajectory plots."),
    fail_if_worse: bool = typer.Option(
        False,
        "--fail-if-worse",
        help="Exit with code 3 when holding the last state or the linear model beats the model at any horizon "
        "(for CI pipelines).",
    ),
):
    """Score MODEL's free-run simulation of DATASET: RMSE, nRMSE and fit per feature and horizon, with skill
    against holding the last state and against the linear model fitted to the same training data. On the
    dataset the model was trained on, only its run's held-out test split is scored (--episodes all: every
    episode, marked as including training data)."""
    from learnsim.cli.simulate import _episode_list
    from learnsim.evaluate.model import evaluate_model
    from learnsim.evaluate.protocol import parse_horizons
    from learnsim.store.models import pinned
    from learnsim.track.console import evaluation_header, evaluation_table, show

    model, line = pinned(model)
    show(line)
    evaluation = evaluate_model(
        model,
        dataset,
        warmup=warmup,
        horizons=parse_horizons(horizons),
        episodes="all" if episodes == "all" else _episode_list(episodes),
        out=out,
        plot=plot,
    )
    show(evaluation_header(evaluation))
    show(evaluation_table(evaluation))
    for line in [*evaluation.losses, *([evaluation.range_note] if evaluation.range_note else [])]:
        show(f"warning: {line}")
    if out is not None:
        show(f"wrote {out / 'evaluation.json'}")
    if fail_if_worse and evaluation.losses:
        import sys

        print(
            f"error: a baseline beats the model at {len(evaluation.losses)} horizon(s) (--fail-if-worse)",
            file=sys.stderr,
        )
        raise typer.Exit(code=3)

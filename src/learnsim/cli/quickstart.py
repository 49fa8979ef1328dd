"""``learnsim quickstart``: the whole job on built-in example data."""

from __future__ import annotations

from pathlib import Path

import typer


def quickstart(
    training_iters: int = typer.Option(2000, min=1, help="Training steps."),
    run_dir: Path = typer.Option(None, "--run-dir", help="Where to write the run."),
):
    """Generate the example oscillator, train the Onyx example model, report one-step and rollout RMSE."""
    from learnsim.quickstart import quickstart as run_quickstart

    run_quickstart(training_iters, run_dir)

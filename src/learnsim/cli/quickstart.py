"""``learnsim quickstart``: the whole job on built-in example data."""

from __future__ import annotations

from pathlib import Path

import typer


def quickstart(
    training_iters: int = typer.Option(2000, min=1, help="Training steps."),
    run_dir: Path = typer.Option(None, "--run-dir", help="Where to write the run."),
):
    """Generate the example oscillator, train the Onyx example model, report one-step and rollout RMSE,
    write the run's HTML report with plots."""
    from learnsim.quickstart import quickstart as run_quickstart
    from learnsim.report import write_report

    result = run_quickstart(training_iters, run_dir)
    page = write_report(result.run_dir)
    # plain lines: people copy the path and the command from them
    print(f"report with plots: {page}")
    print(f"look around (lineage, runs, data, simulate): learnsim ui   then open http://127.0.0.1:8765/runs/{result.run_dir.name}")

"""``learnsim benchmark``: standard protocols on real data, printed beside published results."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(
    rich_markup_mode=None,
    help="Run real-data benchmarks with their standard protocols.",
    no_args_is_help=True,
)


@app.command("silverbox")
def silverbox(
    data: Path = typer.Option(..., "--data", help="SNLS80mV.csv, or the folder holding it."),
    config: Path = typer.Option(
        None, "--config", help="Run config YAML (default: the recipe shipped with learnsim)."
    ),
    set_: list[str] = typer.Option(
        [], "--set", help="Override a config field, e.g. training.training_iters=5000."
    ),
    run_dir: Path = typer.Option(None, "--run-dir", help="Where to write the run."),
    quiet: bool = typer.Option(False, "--quiet", help="Only the final table."),
):
    """Train on the estimation data, free-run the multisine and arrow test sets, print RMSE (mV)."""
    from learnsim.protocols.silverbox import run_silverbox

    run_silverbox(data, config, set_, run_dir, monitor=not quiet)

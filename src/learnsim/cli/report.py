"""``learnsim report``: one self-contained HTML page about a finished run."""

from __future__ import annotations

from pathlib import Path

import typer


def report(run_dir: Path = typer.Argument(..., help="A finished run directory.")):
    """Write RUN_DIR/report.html: config, dataset lineage, metric tables and plots in one page."""
    from rich.console import Console

    from learnsim.report import ensure_plots, write_report

    console = Console()
    with console.status("making plots"):
        ensure_plots(run_dir)
    console.print(f"wrote {write_report(run_dir)}")

"""``learnsim report``, ``learnsim simulate`` and ``learnsim ui``: look at runs and models."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

console = Console()


def register_inspection_commands(app: typer.Typer) -> None:
    @app.command()
    def report(run_dir: Path = typer.Argument(..., help="A finished run directory.")):
        """Write RUN_DIR/report.html: config, dataset lineage, metric tables and plots in one page."""
        from learnsim.track.rebuild import ensure_plots
        from learnsim.track.report import write_report

        with console.status("making plots"):
            ensure_plots(run_dir)
        console.print(f"wrote {write_report(run_dir)}")

    @app.command()
    def simulate(
        model: str = typer.Argument(..., help="Stored model NAME[@VERSION]."),
        dataset: str = typer.Option(..., "--dataset", help="Stored dataset NAME[@VERSION] to simulate on."),
        episodes: str = typer.Option(None, "--episodes", help="Comma-separated episode ids (default: all)."),
        steps: int = typer.Option(
            None, "--steps", min=1, help="Max steps per episode (default: whole episode)."
        ),
        plot: bool = typer.Option(False, "--plot", help="Also write one PNG per episode (needs matplotlib)."),
        out: Path = typer.Option(
            None, "--out", help="Output folder (default $LEARNSIM_HOME/simulations/...)."
        ),
    ):
        """Free-run MODEL on recorded episodes: write predicted vs recorded trajectories (Parquet) and plots."""
        from learnsim.simulation_job import simulate_recorded

        path = simulate_recorded(model, dataset, _episode_list(episodes), steps, plot, out, console)
        console.print(f"wrote {path}")

    @app.command()
    def ui(
        port: int = typer.Option(5000, help="Port on localhost."),
        host: str = typer.Option("127.0.0.1", help="Interface to bind (localhost by default)."),
    ):
        """Start the MLflow UI on the local tracking store and print its address."""
        import importlib.util
        import subprocess
        import sys

        from learnsim.errors import ConfigError

        if importlib.util.find_spec("mlflow") is None:
            raise ConfigError("learnsim ui needs MLflow: pip install 'learnsim[mlflow]'")
        from learnsim.track.mlflow_tracker import artifact_root, tracking_uri

        # one plain line, whatever the terminal width: scripts and people copy the address from it
        print(f"MLflow UI at http://{host}:{port} for {tracking_uri()} (Ctrl-C to stop)", flush=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "mlflow",
                "ui",
                "--backend-store-uri",
                tracking_uri(),
                "--default-artifact-root",
                artifact_root(),
                "--host",
                host,
                "--port",
                str(port),
            ]
        )


def _episode_list(text: str | None) -> list[int] | None:
    if text is None:
        return None
    from learnsim.errors import ConfigError

    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"--episodes must be comma-separated integers, got '{text}'") from None

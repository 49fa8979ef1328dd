"""``learnsim train`` and ``learnsim quickstart``."""

from __future__ import annotations

from pathlib import Path

import typer


def register_training_commands(app: typer.Typer) -> None:
    @app.command()
    def train(
        config: Path = typer.Argument(None, help="Run config YAML (dataset, model, training sections)."),
        set_: list[str] = typer.Option(
            [], "--set", help="Override a field: --set training.optimizer.lr=1e-3."
        ),
        resume: Path = typer.Option(
            None, "--resume", help="Continue this run directory from its last checkpoint."
        ),
        run_dir: Path = typer.Option(
            None, "--run-dir", help="Where to write the run (default $LEARNSIM_HOME/runs/...)."
        ),
        warm_start: str = typer.Option(
            None, "--warm-start", help="Initialise weights from stored model NAME[@VERSION]."
        ),
        quiet: bool = typer.Option(False, "--quiet", help="No progress output."),
    ):
        """Train a model from a YAML run config, or --resume a killed run exactly."""
        from learnsim.config import load_run_config
        from learnsim.errors import ConfigError
        from learnsim.train.loop import resume as resume_run
        from learnsim.train.loop import train as run_training

        if resume is not None:
            if config is not None or set_ or warm_start:
                raise ConfigError(
                    "--resume continues a run with its own saved config; drop CONFIG/--set/--warm-start"
                )
            resume_run(resume, monitor=not quiet)
            return
        if config is None:
            raise ConfigError("give a run config YAML, or --resume RUN_DIR")
        run_training(load_run_config(config, set_), run_dir, monitor=not quiet, warm_start=warm_start)

    @app.command()
    def quickstart(
        training_iters: int = typer.Option(2000, min=1, help="Training steps."),
        run_dir: Path = typer.Option(None, "--run-dir", help="Where to write the run."),
    ):
        """Generate the example oscillator, train the Onyx example model, report one-step and rollout RMSE."""
        from learnsim.quickstart import quickstart as run_quickstart

        run_quickstart(training_iters, run_dir)

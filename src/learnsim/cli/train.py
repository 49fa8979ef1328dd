"""``learnsim train``: train from a YAML run config, or resume a killed run exactly."""

from __future__ import annotations

from pathlib import Path

import typer


def train(
    config: Path = typer.Argument(None, help="Run config YAML (dataset, model, training sections)."),
    set_: list[str] = typer.Option([], "--set", help="Override a field: --set training.optimizer.lr=1e-3."),
    resume: Path = typer.Option(
        None,
        "--resume",
        help="Continue this run directory from its last checkpoint (--set may extend training_iters).",
    ),
    run_dir: Path = typer.Option(
        None, "--run-dir", help="Where to write the run (default $LEARNSIM_HOME/runs/...)."
    ),
    warm_start: str = typer.Option(
        None,
        "--warm-start",
        help="Initialise weights from stored model NAME[@VERSION] (a bare NAME: its search's best, else the newest).",
    ),
    quiet: bool = typer.Option(False, "--quiet", help="No progress output."),
):
    """Train a model from a YAML run config, or --resume a killed run exactly."""
    from learnsim.errors import ConfigError

    if resume is not None:
        if config is not None or warm_start or run_dir is not None:
            raise ConfigError(
                "--resume continues a run with its own saved config; drop CONFIG/--run-dir/--warm-start "
                "(--set may change only training_iters, eval_every, save_every, log_every, "
                "early_stop_patience, save_top_k and trackers)"
            )
        from learnsim.train import resume as resume_run

        resume_run(resume, overrides=set_, monitor=not quiet).wait()  # plots and trackers too
        return
    if config is None:
        raise ConfigError("give a run config YAML, or --resume RUN_DIR")
    from learnsim.train import load_run_config
    from learnsim.train import train as run_training

    config = load_run_config(config, set_)
    if warm_start:
        from learnsim.store.models import pinned

        warm_start, line = pinned(warm_start)
        print(line)

    result = run_training(config, run_dir, monitor=not quiet, warm_start=warm_start)
    result.wait()  # the command ends when its plots are drawn and its trackers closed

"""``learnsim optimize``: run a hyperparameter search (an Optuna study), or show one."""

from __future__ import annotations

from pathlib import Path

import typer


def optimize(
    config: Path = typer.Argument(None, help="Search config YAML (dataset, model_name, optimization)."),
    set_: list[str] = typer.Option([], "--set", help="Override a field: --set optimization.num_trials=40."),
    workers: int = typer.Option(
        1, "--workers", help="Worker processes on this machine (1 torch thread each)."
    ),
    storage: str = typer.Option(
        None,
        "--storage",
        help="Optuna storage URL shared by workers on many machines, e.g. postgresql://user:pw@host/db "
        "(default: SQLite under $LEARNSIM_HOME/studies).",
    ),
    show: str = typer.Option(
        None,
        "--show",
        help="Show study STUDY: trials, plots, study.html, and the best trial's run config as best.yaml.",
    ),
    out: Path = typer.Option(
        None,
        "--out",
        help="With --show: the folder for plots, study.html and best.yaml (default: the study's).",
    ),
    quiet: bool = typer.Option(False, "--quiet", help="No progress output."),
):
    """Search model families, optimizers, schedules and training fields; every finished trial is a stored
    model version and the best is NAME@best. Killed and started again, it continues the same study."""
    from learnsim.errors import ConfigError
    from learnsim.tune.study import require_optuna

    require_optuna()
    if show is not None:
        if config is not None:
            raise ConfigError("give either a search config to run, or --show STUDY, not both")
        _show(show, storage, out)
        return
    if config is None:
        raise ConfigError("give a search config YAML, or --show STUDY")
    from learnsim.track.console import show as print_out
    from learnsim.tune.config import load_search_config
    from learnsim.tune.optimize import optimize as run_search

    result = run_search(load_search_config(config, set_), workers=workers, storage=storage, monitor=not quiet)
    print_out(_table(result.trials))
    if result.model_reference:
        print_out(
            f"best: {result.model_reference} (also {result.model_reference.split('@')[0]}@best), "
            f"value {result.best_value:.6g}; learnsim optimize --show {result.study_name} for plots"
        )
    else:
        print_out("no trial completed (every trial was pruned or failed); see the table above")


def _show(study: str, storage: str | None, out: Path | None) -> None:
    from learnsim.track.console import show as print_out
    from learnsim.tune.optimize import show_study

    shown = show_study(study, storage, out)
    print_out(_table(shown["trials"]))
    print_out("\n".join(f"wrote {path}" for path in shown["files"]))
    if shown["best_file"]:
        path = shown["best_file"]
        print_out(f"wrote {path}: best trial {shown['best'].number} as a run config (learnsim train {path})")


def _table(rows: list[dict]):
    from rich.table import Table

    table = Table("#", "state", "value", "duration s", "params", "model version", title="trials")
    for row in rows:
        params = ", ".join(
            f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in row["params"].items()
        )
        value = "-" if row["value"] is None else f"{row['value']:.4g}"
        duration = "-" if row["duration_s"] is None else f"{row['duration_s']:.1f}"
        state = row["state"] if not row.get("error") else f"{row['state']}: {row['error'][:60]}"
        table.add_row(str(row["number"]), state, value, duration, params, row["model_version"] or "-")
    return table

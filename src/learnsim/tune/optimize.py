"""``optimize_model`` / ``learnsim optimize``: run a search with N local workers on one study, mark the best
trial's model, and show a study: the trials table, the best config as a run config, and plots.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from learnsim.config_io import dump_yaml, validate
from learnsim.durable import write_text
from learnsim.errors import ConfigError, TrainingError
from learnsim.rundir import RunDir
from learnsim.tune.config import OptimizationConfig, SearchConfig
from learnsim.tune.study import counts, open_study, storage_url, studies_dir, trial_run_config, work


@dataclass
class OptimizeResult:
    model: object | None  # the best trial's model (None when no trial completed)
    model_reference: str | None  # 'NAME@VERSION' of the best model, also reachable as 'NAME@best'
    best_value: float | None
    trials: list[dict]  # one row per trial: number, state, value, params, duration_s, run_dir, model_version
    study_name: str
    storage: str
    best_config: str | None  # the best trial's run config as YAML, ready for `learnsim train`


def optimize(
    config: SearchConfig, *, workers: int = 1, storage: str | None = None, monitor: bool = True
) -> OptimizeResult:
    """Run (or continue) the study of ``config`` until it holds ``num_trials`` finished trials.

    workers: worker processes on this machine (1: this process); each trains with one torch thread when more
    than one share the machine. storage: an Optuna RDB URL shared by workers on other machines
    (``postgresql://user@host/db``); default: SQLite under ``$LEARNSIM_HOME/studies``.
    """
    if workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    from learnsim.store.datasets import dataset_meta
    from learnsim.store.versions import parse_reference

    for reference in filter(None, (config.dataset, config.validation_dataset, config.test_dataset)):
        dataset_meta(*parse_reference(reference))  # a missing dataset fails here, before any study exists
    url = storage_url(storage)
    study = open_study(config, url)  # validates the storage and the config against a stored study first
    progress = StudyProgress(config.optimization.num_trials, monitor)
    _start_tracking(study, config)
    if workers == 1:
        work(config, url, 0, on_trial=progress.update)
    else:
        _run_workers(config, url, workers, progress)
    progress.update(study)
    progress.close()
    return _result(study, config, url)


def optimize_model(
    model_name: str,
    model_config: OptimizationConfig,
    dataset_name: str,
    *,
    study_name: str | None = None,
    workers: int = 1,
    storage: str | None = None,
    monitor: bool = True,
) -> OptimizeResult:
    """Onyx-style entry point: search ``model_config`` (an ``OptimizationConfig``) on a stored dataset; every
    finished trial is stored as a version of ``model_name`` and the best is marked ``NAME@best``."""
    fields = {
        "dataset": dataset_name,
        "model_name": model_name,
        "study_name": study_name,
        "optimization": model_config,
    }
    return optimize(validate(SearchConfig, fields), workers=workers, storage=storage, monitor=monitor)


def _run_workers(config: SearchConfig, url: str, workers: int, progress) -> None:
    """``workers`` processes of ``learnsim.tune.worker`` on one study; this process shows their progress."""
    import os
    import subprocess
    import sys

    env = os.environ | {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    processes = []
    for worker in range(workers):
        process = subprocess.Popen(
            [sys.executable, "-m", "learnsim.tune.worker", url, str(worker)],
            stdin=subprocess.PIPE,
            env=env,
            text=True,
        )
        process.stdin.write(config.model_dump_json())
        process.stdin.close()
        processes.append(process)
    study = open_study(config, url)
    try:
        while any(p.poll() is None for p in processes):
            progress.update(study)
            time.sleep(1.0)
    except BaseException:  # Ctrl-C: stop the workers; their running trials are retried on the next start
        for process in processes:
            process.terminate()
        raise
    failed = [(w, p.returncode) for w, p in enumerate(processes) if p.returncode != 0]
    if failed:
        raise TrainingError(
            "worker(s) stopped with an error: "
            + ", ".join(f"{w} (exit code {code})" for w, code in failed)
            + "; the study is intact: run the same command again to continue it"
        )


def _start_tracking(study, config: SearchConfig) -> None:
    """The study's own MLflow run, parent of every trial's run (when trials track with MLflow)."""
    trackers = config.optimization.training.trackers
    if study.user_attrs.get("mlflow_run_id") or (trackers is not None and "mlflow" not in trackers):
        return
    from learnsim.track.hub import available_default_trackers

    if trackers is None and "mlflow" not in available_default_trackers():
        return
    from learnsim.track.mlflow_tracker import start_parent_run

    study.set_user_attr(
        "mlflow_run_id", start_parent_run(f"study {config.study}", {"learnsim.study": config.study})
    )


def _result(study, config: SearchConfig, url: str) -> OptimizeResult:
    from optuna.trial import TrialState

    from learnsim.store.models import load_model, model_store

    rows = trials_table(study)
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        return OptimizeResult(None, None, None, rows, config.study, url, None)
    best = min(complete, key=lambda t: t.value)
    version = best.user_attrs["model_version"]
    model_store().set_alias(config.model_name, "best", version)
    study.set_user_attr("best_model", f"{config.model_name}@{version}")
    model = load_model(config.model_name, version)
    return OptimizeResult(
        model, f"{config.model_name}@{version}", best.value, rows, config.study, url, best_config(study, best)
    )


def trials_table(study) -> list[dict]:
    """Every trial but the surplus ones: number, state, value, params, duration, run directory, model."""
    rows = []
    trials = study.get_trials(deepcopy=False)
    retried = {t.user_attrs.get("retry_of") for t in trials}
    for trial in trials:
        if trial.user_attrs.get("surplus"):
            continue
        state = trial.state.name.lower()
        if state == "fail" and "error" not in trial.user_attrs and trial.number in retried:
            state = "retried"  # its worker died; the trial was run again under a new number
        duration = (
            (trial.datetime_complete - trial.datetime_start).total_seconds()
            if trial.datetime_complete and trial.datetime_start
            else None
        )
        rows.append(
            {
                "number": trial.number,
                "state": state,
                "value": trial.value,
                "params": dict(trial.params),
                "duration_s": duration,
                "steps": trial.user_attrs.get("steps"),
                "run_dir": trial.user_attrs.get("run_dir"),
                "model_version": trial.user_attrs.get("model_version"),
                "error": trial.user_attrs.get("error"),
                "counts": counts(trial),
            }
        )
    return rows


def best_config(study, trial) -> str:
    """The run config of ``trial`` as YAML: the search config with the trial's parameters, so what the search
    left to the recipe stays open (the schedule's warmup and decay lengths then follow the
    ``training_iters`` a user sets, where the trial's resolved config.yaml pins them to the trial's budget).
    A study without its search config (made before it was kept) gives the trial's resolved config.yaml."""
    run_dir = trial.user_attrs.get("run_dir")
    if "search_config" not in study.user_attrs and run_dir and RunDir(run_dir).config.is_file():
        return RunDir(run_dir).config.read_text()
    import optuna

    config = SearchConfig.model_validate(study.user_attrs["search_config"])
    fixed = optuna.trial.FixedTrial(trial.params, trial.number)
    from learnsim.train.config import RunConfig

    return dump_yaml(validate(RunConfig, trial_run_config(config, fixed)))


class StudyProgress:
    """Trials done / pruned / running and the best value so far: a rich bar on terminals, lines elsewhere."""

    def __init__(self, total: int, enabled: bool):
        from rich.console import Console

        self.total, self.enabled = total, enabled
        self.console = Console()
        self._bar = None
        self._last = None
        if enabled and self.console.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(
                TextColumn("trials"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[info]}"),
                console=self.console,
            )
            self._task = self._bar.add_task("trials", total=total, info="")
            self._bar.start()

    def update(self, study) -> None:
        from optuna.trial import TrialState

        if not self.enabled:
            return
        trials = study.get_trials(deepcopy=False)
        done = sum(counts(t) for t in trials)
        pruned = sum(t.state == TrialState.PRUNED for t in trials)
        running = sum(t.state == TrialState.RUNNING for t in trials)
        values = [t.value for t in trials if t.state == TrialState.COMPLETE]
        best = f"{min(values):.4g}" if values else "-"
        info = f"pruned {pruned} running {running} best {best}"
        if self._bar is not None:
            self._bar.update(self._task, completed=min(done, self.total), info=info)
        elif (done, info) != self._last:
            self._last = (done, info)
            print(f"trials {done}/{self.total} {info}", flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def study_dir(study_name: str) -> Path:
    return studies_dir() / study_name


def load_study(study_name: str, storage: str | None = None):
    """An existing study, for showing it; a clear error naming the known studies when it is not there."""
    import optuna

    from learnsim.tune.study import open_storage

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    if storage is None and not (studies_dir() / "optuna.db").is_file():  # showing creates nothing
        raise ConfigError(f"no study named '{study_name}': no search has run under {studies_dir()} yet")
    url = storage_url(storage)
    store = open_storage(url)
    known = [s.study_name for s in optuna.get_all_study_summaries(store, include_best_trial=False)]
    if study_name not in known:
        raise ConfigError(f"no study named '{study_name}' in {url}; known: {known or 'none'}")
    return optuna.load_study(study_name=study_name, storage=store)


def show_study(study_name: str, storage: str | None = None, out: Path | None = None) -> dict:
    """The trials table, the best config (YAML) and plots of a study. Plots (optimisation history, parameter
    importance, parallel coordinates; PNG) and ``study.html`` go to ``out`` (default: the study's directory
    under ``$LEARNSIM_HOME/studies``), and the best trial's run config to ``best.yaml`` there. Returns
    {'trials', 'best_config', 'best', 'files', 'best_file'}."""
    from optuna.trial import TrialState

    if out is not None and Path(out).exists() and not Path(out).is_dir():
        raise ConfigError(f"--out {out} is a file: give a folder for the plots, study.html and best.yaml")
    study = load_study(study_name, storage)
    rows = trials_table(study)
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    best = min(complete, key=lambda t: t.value) if complete else None
    config_yaml = best_config(study, best) if best else None
    out = Path(out) if out is not None else study_dir(study_name)
    files = study_plots(study, out) if len(complete) >= 2 else []
    files.append(write_text(out / "study.html", study_html(study_name, rows, config_yaml, files)))
    best_file = write_text(out / "best.yaml", config_yaml) if config_yaml else None
    return {"trials": rows, "best_config": config_yaml, "best": best, "files": files, "best_file": best_file}


def study_plots(study, out: Path) -> list[Path]:
    """Optuna's matplotlib plots of the study, as PNG files (none when matplotlib is not installed)."""
    import importlib.util
    import warnings

    if importlib.util.find_spec("matplotlib") is None:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.exceptions import ExperimentalWarning
    from optuna.visualization import matplotlib as views

    out.mkdir(parents=True, exist_ok=True)
    files = []
    plots = {
        "history": views.plot_optimization_history,
        "importance": views.plot_param_importances,
        "parallel_coordinate": views.plot_parallel_coordinate,
    }
    for name, plot in plots.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ExperimentalWarning)
                axes = plot(study)
        except (ValueError, RuntimeError, ZeroDivisionError):  # e.g. importance with a single parameter value
            continue
        figure = (axes.flat[0] if hasattr(axes, "flat") else axes).get_figure()
        figure.set_size_inches(9, 5)
        figure.tight_layout()
        path = out / f"{name}.png"
        tmp = path.with_name(f".{path.name}.tmp")
        figure.savefig(tmp, format="png", dpi=90)
        plt.close(figure)
        tmp.replace(path)
        files.append(path)
    return files


def study_html(study_name: str, rows: list[dict], config_yaml: str | None, plots: list[Path]) -> str:
    """One self-contained page: trials table, best config, plots inlined as data URIs."""
    import base64
    import html

    def cell(value) -> str:
        if isinstance(value, float):
            return f"{value:.4g}"
        return html.escape("-" if value is None else str(value))

    head = "".join(f"<th>{h}</th>" for h in ("#", "state", "value", "duration s", "params", "model"))
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{cell(v)}</td>"
            for v in (
                r["number"],
                r["state"],
                r["value"],
                r["duration_s"],
                ", ".join(f"{k}={cell(p)}" for k, p in r["params"].items()),
                r["model_version"],
            )
        )
        + "</tr>"
        for r in rows
    )
    images = "".join(
        f'<h2>{html.escape(p.stem.replace("_", " "))}</h2><img alt="{p.stem}" '
        f'src="data:image/png;base64,{base64.b64encode(p.read_bytes()).decode()}">'
        for p in plots
        if p.suffix == ".png"
    )
    best = f"<h2>best run config</h2><pre>{html.escape(config_yaml)}</pre>" if config_yaml else ""
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>study {html.escape(study_name)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 8px;text-align:left}"
        "tr:nth-child(even){background:#f4f4f4}</style></head><body>"
        f"<h1>study {html.escape(study_name)}</h1><table><tr>{head}</tr>{body}</table>{best}{images}</body></html>"
    )

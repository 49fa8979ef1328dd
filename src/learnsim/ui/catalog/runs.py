"""Runs: ``runs/<run>`` and a search's ``studies/<study>/trial-NNNN``, their summaries (cached by the
modification times of the files they come from, so hundreds of runs list without re-reading what did not
change) and details."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import yaml

from learnsim.errors import ConfigError
from learnsim.rundir import RunDir
from learnsim.store.versions import learnsim_home
from learnsim.ui.catalog.common import clean, read_json_or_none

LIVE_SECONDS = 120  # a run without report.json whose metrics changed this recently is shown as running
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def runs_dir() -> Path:
    return learnsim_home() / "runs"


_RUN_CACHE: dict[str, tuple[tuple, dict]] = {}


def run_summary(run_dir: Path) -> dict:
    """id, status (running / finished / pruned / stopped), step, steps, dataset, model, selection metric."""
    layout = RunDir(run_dir)
    files = [layout.config, layout.metrics, layout.report, layout.dataset]
    stamps = tuple(p.stat().st_mtime_ns if p.exists() else 0 for p in files)
    cached = _RUN_CACHE.get(str(run_dir))
    if cached and cached[0] == stamps:
        summary = cached[1]
    else:
        summary = _read_run_summary(run_dir)
        _RUN_CACHE[str(run_dir)] = (stamps, summary)
    if summary["status"] == "running" and time.time() - stamps[1] / 1e9 > LIVE_SECONDS:
        return {**summary, "status": "stopped"}  # killed or crashed: resumable from its last checkpoint
    return summary


def _read_run_summary(run_dir: Path) -> dict:
    config = {}
    try:
        config = yaml.load(RunDir(run_dir).config.read_text(), Loader=_Loader) or {}
    except (OSError, yaml.YAMLError):
        pass
    training = config.get("training") or {}
    report = read_json_or_none(RunDir(run_dir).report)
    lineage = read_json_or_none(RunDir(run_dir).dataset) or {}
    last = _last_record(RunDir(run_dir).metrics)
    status = "running"
    if report is not None:
        status = "pruned" if report.get("pruned") else "finished"
    model = (report or {}).get("model") or None
    selection = (report or {}).get("selection") or {}
    created = RunDir(run_dir).config.stat().st_mtime if RunDir(run_dir).config.exists() else None
    return clean(
        {
            "id": run_id(run_dir),
            "type": "run",
            "status": status,
            "step": (report or {}).get("steps", last.get("step", 0)),
            "steps": training.get("training_iters"),
            "model_name": config.get("model_name"),
            "family": (config.get("model") or {}).get("type"),
            "dataset": {"name": lineage.get("name"), "version": lineage.get("version")},
            "model": model,
            "metric": selection.get("value"),
            "metric_name": selection.get("metric"),
            "test_nrmse": ((report or {}).get("test") or {}).get("test/nrmse@full"),
            "tags": (report or {}).get("tags") or {},
            "created": created,
        }
    )


def _last_record(path: Path) -> dict:
    """The last complete JSON line of a metrics file, reading only its tail."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 4096))
            lines = handle.read().splitlines()
    except OSError:
        return {}
    for line in reversed(lines):
        try:
            return json.loads(line)
        except ValueError:
            continue
    return {}


def _run_dirs() -> list[Path]:
    """Every run directory: ``runs/<run>`` and each search's trials, ``studies/<study>/trial-NNNN``."""
    found = []
    for root, depth in ((runs_dir(), 1), (learnsim_home() / "studies", 2)):
        if root.is_dir():
            pattern = "*" if depth == 1 else "*/trial-*"
            found += [p for p in root.glob(pattern) if p.is_dir() and not p.name.startswith(".")]
    return found


def run_id(run_dir: str | Path) -> str:
    """A run's id in the app's URLs: its folder name under ``runs/``, or ``<study>/trial-NNNN`` for a
    search's trial."""
    run_dir = Path(run_dir)
    studies = learnsim_home() / "studies"
    return f"{run_dir.parent.name}/{run_dir.name}" if run_dir.parent.parent == studies else run_dir.name


def list_runs() -> list[dict]:
    runs = [run_summary(p) for p in _run_dirs()]
    return sorted(runs, key=lambda r: r["created"] or 0, reverse=True)


def run_path(run_id: str) -> Path:
    """The folder of run ``run_id`` (see ``run_id``); anything else (a path trick, a run that is not there)
    is a clear error."""
    parts = run_id.split("/")
    safe = all(part and not part.startswith(".") and "\\" not in part and "\0" not in part for part in parts)
    if len(parts) == 1:
        path = runs_dir() / run_id
    elif len(parts) == 2 and parts[1].startswith("trial-"):
        path = learnsim_home() / "studies" / parts[0] / parts[1]
    else:
        safe = False
    if not safe or not RunDir(path).config.is_file():
        raise ConfigError(f"no run '{run_id}' under {runs_dir()} or {learnsim_home() / 'studies'}")
    return path


def run_detail(run_id: str, since: int = 0) -> dict:
    """Summary, metric records after line ``since`` (for live updates), resolved config, lineage,
    checkpoints, report and plot files."""
    path = run_path(run_id)
    records, count = [], 0
    try:
        with open(RunDir(path).metrics) as handle:
            for count, line in enumerate(handle, 1):
                if count > since:
                    try:
                        records.append(json.loads(line))
                    except ValueError:
                        break  # a line being written
    except OSError:
        pass
    checkpoints = []
    for meta in sorted(RunDir(path).checkpoints.glob("step-*/meta.json")):
        data = read_json_or_none(meta) or {}
        checkpoints.append({"name": meta.parent.name, "step": data.get("step"), "metric": data.get("metric")})
    linear = read_json_or_none(RunDir(path).candidates / "linear" / "meta.json")
    if linear is not None:  # the least-squares fit, a candidate of selection beside the checkpoints
        checkpoints.insert(
            0, {"name": "linear fit", "step": linear.get("step"), "metric": linear.get("metric")}
        )
    plots = sorted(p.name for p in RunDir(path).plots.glob("*.png")) if RunDir(path).plots.is_dir() else []
    return clean(
        {
            **run_summary(path),
            "records": records,
            "lines": count if count >= since else since,
            "config": RunDir(path).config.read_text(),
            "lineage": read_json_or_none(RunDir(path).dataset),
            "checkpoints": checkpoints,
            "report": read_json_or_none(RunDir(path).report),
            "plots": plots,
            "has_report_html": RunDir(path).report_html.is_file(),
            "mlflow_run": (read_json_or_none(RunDir(path).trackers) or {}).get("mlflow"),
        }
    )

"""What the web app shows, read from the same files the CLI writes under ``$LEARNSIM_HOME`` (never a copy):
dataset and model versions (their meta.json), run directories (config.yaml, metrics.jsonl, report.json,
checkpoints) and tuning studies (the Optuna storage). Every function returns plain JSON-able values.

Run summaries are cached by the modification times of the files they come from, so a store with hundreds
of runs is listed without re-reading what did not change.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import numpy as np
import yaml

from learnsim.errors import ConfigError, LearnsimError
from learnsim.store.datasets import dataset_store, list_datasets
from learnsim.store.models import list_models, model_store
from learnsim.store.versions import learnsim_home, parse_reference

LIVE_SECONDS = 120  # a run without report.json whose metrics changed this recently is shown as running
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def clean(value):
    """JSON-safe: NaN and infinities become None (JSON has no such numbers)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------- runs
def runs_dir() -> Path:
    return learnsim_home() / "runs"


_RUN_CACHE: dict[str, tuple[tuple, dict]] = {}


def run_summary(run_dir: Path) -> dict:
    """id, status (running / finished / pruned / stopped), step, steps, dataset, model, selection metric."""
    files = [run_dir / name for name in ("config.yaml", "metrics.jsonl", "report.json", "dataset.json")]
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
        config = yaml.load((run_dir / "config.yaml").read_text(), Loader=_Loader) or {}
    except (OSError, yaml.YAMLError):
        pass
    training = config.get("training") or {}
    report = _read_json(run_dir / "report.json")
    lineage = _read_json(run_dir / "dataset.json") or {}
    last = _last_record(run_dir / "metrics.jsonl")
    status = "running"
    if report is not None:
        status = "pruned" if report.get("pruned") else "finished"
    model = (report or {}).get("model") or None
    selection = (report or {}).get("selection") or {}
    created = (run_dir / "config.yaml").stat().st_mtime if (run_dir / "config.yaml").exists() else None
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
    if not safe or not (path / "config.yaml").is_file():
        raise ConfigError(f"no run '{run_id}' under {runs_dir()} or {learnsim_home() / 'studies'}")
    return path


def run_detail(run_id: str, since: int = 0) -> dict:
    """Summary, metric records after line ``since`` (for live updates), resolved config, lineage,
    checkpoints, report and plot files."""
    path = run_path(run_id)
    records, count = [], 0
    try:
        with open(path / "metrics.jsonl") as handle:
            for count, line in enumerate(handle, 1):
                if count > since:
                    try:
                        records.append(json.loads(line))
                    except ValueError:
                        break  # a line being written
    except OSError:
        pass
    checkpoints = []
    for meta in sorted((path / "checkpoints").glob("step-*/meta.json")):
        data = _read_json(meta) or {}
        checkpoints.append({"name": meta.parent.name, "step": data.get("step"), "metric": data.get("metric")})
    linear = _read_json(path / "candidates" / "linear" / "meta.json")
    if linear is not None:  # the least-squares fit, a candidate of selection beside the checkpoints
        checkpoints.insert(
            0, {"name": "linear fit", "step": linear.get("step"), "metric": linear.get("metric")}
        )
    plots = sorted(p.name for p in (path / "plots").glob("*.png")) if (path / "plots").is_dir() else []
    return clean(
        {
            **run_summary(path),
            "records": records,
            "lines": count if count >= since else since,
            "config": (path / "config.yaml").read_text(),
            "lineage": _read_json(path / "dataset.json"),
            "checkpoints": checkpoints,
            "report": _read_json(path / "report.json"),
            "plots": plots,
            "has_report_html": (path / "report.html").is_file(),
            "mlflow_run": (_read_json(path / "trackers.json") or {}).get("mlflow"),
        }
    )


# ---------------------------------------------------------------------------------------------- datasets
def dataset_detail(name: str, version: str | None) -> dict:
    path, meta = dataset_store().resolve(name, version)
    bounds = _episode_bounds(name, meta["version"])
    users = [
        r for r in list_runs() if r["dataset"]["name"] == name and r["dataset"]["version"] == meta["version"]
    ]
    size = sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())
    return clean(
        {
            **meta,
            "size_bytes": size,
            "episode_ids": [int(e) for e in bounds],
            "versions": [m["version"] for m in dataset_store().versions(name)],
            "runs": [{"id": r["id"], "status": r["status"], "model": r["model"]} for r in users],
        }
    )


_DATASETS: dict[tuple[str, str], object] = {}


def _dataset(name: str, version: str):
    """A loaded dataset, kept for the next request (the latest few only)."""
    from learnsim.store.datasets import load_dataset

    key = (name, version)
    if key not in _DATASETS:
        if len(_DATASETS) >= 4:
            _DATASETS.pop(next(iter(_DATASETS)))
        _DATASETS[key] = load_dataset(name, version)
    return _DATASETS[key]


def _episode_bounds(name: str, version: str) -> dict[int, tuple[int, int]]:
    dataset = _dataset(name, version)
    bounds = dataset.episode_bounds()
    ids = dataset.episode_ids() if dataset.episode is not None else [0]
    return dict(zip(ids, bounds, strict=True))


def dataset_series(
    name: str, version: str | None, feature: str, episode: int | None, points: int = 2000,
    start: float | None = None, end: float | None = None,
) -> dict:  # fmt: skip
    """One feature of one episode (or the whole recording), downsampled on the server to at most ``points``
    x-values by keeping each bucket's minimum and maximum (so spikes stay visible). ``start``/``end`` (s)
    select a zoomed range, downsampled afresh."""
    _, meta = dataset_store().resolve(name, version)
    dataset = _dataset(name, meta["version"])
    if feature not in dataset.columns:
        raise ConfigError(
            f"dataset {name}@{meta['version']} has no feature '{feature}'; it has {list(dataset.columns)}"
        )
    bounds = _episode_bounds(name, meta["version"])
    if episode is not None and episode not in bounds:
        raise ConfigError(f"dataset {name}@{meta['version']} has no episode {episode}")
    first, last = (0, dataset.n_rows) if episode is None else bounds[episode]
    origin = first  # t = 0 at the episode's first row
    if start is not None:
        first = min(max(first, origin + int(math.floor(start / dataset.dt))), last - 1)
    if end is not None:
        last = max(min(last, origin + int(math.ceil(end / dataset.dt)) + 1), first + 1)
    values = dataset.columns[feature][first:last]
    t = (np.arange(first, last) - origin) * dataset.dt
    t, y = downsample(t, values, points)
    return clean(
        {"feature": feature, "episode": episode, "rows": int(last - first), "t": t.tolist(), "y": y.tolist()}
    )


def downsample(t: np.ndarray, y: np.ndarray, points: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``points`` samples: per bucket of consecutive rows, the minimum and the maximum in time order."""
    n = len(y)
    if n <= points:
        return t, y
    buckets = max(points // 2, 1)
    size = n // buckets
    usable = size * buckets
    shaped = y[:usable].reshape(buckets, size)  # (buckets, size)
    low, high = shaped.argmin(1), shaped.argmax(1)
    first, second = np.minimum(low, high), np.maximum(low, high)
    index = (np.arange(buckets) * size)[:, None] + np.stack([first, second], 1)  # (buckets, 2)
    index = index.ravel()
    return t[index], y[index]


# ---------------------------------------------------------------------------------------------- models
def model_detail(name: str, version: str | None) -> dict:
    from learnsim.store.models import load_model

    path, meta = model_store().resolve(name, version)
    config = (_read_json(Path(path) / "model.json") or {}).get("config", {})
    model = load_model(name, meta["version"])  # safetensors weights: no code runs from the file
    scaling = []
    for role, features, scaler in (
        ("input", model.config.inputs, model.input_scaler),
        ("output", model.schema.direct_outputs, model.output_scaler),
    ):
        for i, f in enumerate(features):
            scaling.append({"role": role, "name": f.name, "relation": getattr(f, "relation", None),
                            "parent": getattr(f, "parent", None), "offset": float(scaler.offset[i]),
                            "scale": float(scaler.scale[i])})  # fmt: skip
    return clean(
        {
            **meta,
            "config": config,
            "scaling": scaling,
            "parameters": sum(p.numel() for p in model.parameters()),
            "versions": [m["version"] for m in model_store().versions(name)],
            "aliases": model_store().aliases(name),
            "run": run_id(meta["lineage"]["run_dir"]) if (meta.get("lineage") or {}).get("run_dir") else None,
            "stored": _stored(meta.get("lineage") or {}),
        }
    )


def _stored(lineage: dict) -> str | None:
    """Which candidate the run stored and why (network or linear fit), or None for older models."""
    from learnsim.train.candidates import explain

    return explain(lineage["candidate"], lineage["candidates"]) if lineage.get("candidates") else None


MAX_SIMULATED_STEPS = 20_000  # one simulate request: a second or two of CPU, a few MB of JSON


def simulate_episode(
    model: str, version: str | None, dataset: str, episode: int | None, warmup: int, horizon: int | None
) -> dict:
    """Free-run a stored model on one recorded episode: the first ``warmup`` rows are recorded (at least the
    model's sequence_length), then ``horizon`` simulated steps (default: to the episode's end, at most
    ``MAX_SIMULATED_STEPS``; a longer horizon is refused: ``learnsim simulate`` runs any length)."""
    import torch

    if horizon is not None and not 1 <= horizon <= MAX_SIMULATED_STEPS:
        raise ConfigError(
            f"horizon must be 1 to {MAX_SIMULATED_STEPS} steps in the web app, got {horizon}; "
            "learnsim simulate runs longer free runs"
        )
    if not 0 <= warmup <= MAX_SIMULATED_STEPS:
        raise ConfigError(f"warm-up must be 0 to {MAX_SIMULATED_STEPS} rows, got {warmup}")

    from learnsim.data.windows import direct_targets
    from learnsim.evaluate.lineage import role_of, run_split
    from learnsim.simulate import free_run
    from learnsim.store.models import load_model

    simulator = load_model(model, version)
    _, model_meta = model_store().resolve(model, version)
    name, data_version = parse_reference(dataset)
    _, meta = dataset_store().resolve(name, data_version)
    data = _dataset(name, meta["version"])
    bounds = _episode_bounds(name, meta["version"])
    split = run_split(data, model_meta)  # the model's own training data: default to a held-out test episode
    held_out = [e for e, (s, end) in bounds.items() if role_of(split, s, end) == "test"]
    key = episode if episode is not None else (held_out or list(bounds))[0]
    if key not in bounds:
        raise ConfigError(f"dataset {name}@{meta['version']} has no episode {key}")
    start, end = bounds[key]
    L = simulator.config.sequence_length
    warmup = max(int(warmup), L)
    steps = min((end - start) - warmup, horizon or MAX_SIMULATED_STEPS)
    if steps < 1:
        raise ConfigError(
            f"episode {key} has {end - start} rows: nothing left to simulate after {warmup} warm-up rows"
        )
    columns = [f.column for f in simulator.config.inputs]
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise ConfigError(f"dataset {name} lacks the model's input columns {missing}")
    rows = slice(start + warmup - L, start + warmup + steps)
    recorded = torch.as_tensor(np.stack([data.columns[c][rows] for c in columns], 1), dtype=torch.float32)
    targets = torch.as_tensor(np.nan_to_num(direct_targets(data, simulator.config)[start + warmup : start + warmup + steps]),
                              dtype=torch.float32)  # fmt: skip
    with torch.no_grad():
        result = free_run(simulator, recorded[None], targets[None])
    t = (np.arange(steps) + warmup) * data.dt
    features = {
        feature: {
            "simulated": result.simulated[feature][0].tolist(),
            "recorded": result.recorded[feature][0].tolist(),
        }
        for feature in result.simulated
    }
    from learnsim.evaluate.model import simulated_rows

    range_note = simulator.range_note(simulated_rows(simulator, recorded[None], result)[0])
    role = role_of(split, start, end)
    note = (
        "not from the model's training data"
        if role == "other"
        else f"{role} split of the model's training run"
    )
    if "train" in role or "val" in role:
        note += ": seen in training"
    return clean({"episode": key, "warmup": warmup, "steps": steps, "t": t.tolist(), "features": features,
                  "split": role, "split_note": note, "range_note": range_note})  # fmt: skip


# ---------------------------------------------------------------------------------------------- studies
def list_studies() -> list[dict]:
    """Studies in the default Optuna storage (``$LEARNSIM_HOME/studies/optuna.db``); none when no search ran."""
    database = learnsim_home() / "studies" / "optuna.db"
    if not database.is_file():
        return []
    import optuna

    from learnsim.tune.study import open_storage, storage_url

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    storage = open_storage(storage_url(None))
    summaries = optuna.get_all_study_summaries(storage, include_best_trial=True)
    return clean(
        [
            {
                "id": s.study_name,
                "type": "study",
                "status": "finished" if s.n_trials else "empty",
                "trials": s.n_trials,
                "metric": s.best_trial.value if s.best_trial else None,
                "created": s.datetime_start.timestamp() if s.datetime_start else None,
            }
            for s in summaries
        ]
    )


def study_detail(name: str) -> dict:
    from learnsim.tune.optimize import load_study, trials_table

    study = load_study(name)
    rows = [
        row | {"run": run_id(row["run_dir"]) if row.get("run_dir") else None} for row in trials_table(study)
    ]
    importance = {}
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if len(complete) >= 3 and study.best_trial.params:
        try:
            import optuna

            importance = optuna.importance.get_param_importances(study)
        except (RuntimeError, ValueError, ImportError):
            importance = {}
    model_name = (study.user_attrs.get("search_config") or {}).get("model_name")
    return clean({"id": name, "trials": rows, "importance": importance, "direction": study.direction.name.lower(),
                  "model_name": model_name, "best_model": study.user_attrs.get("best_model")})  # fmt: skip


# ---------------------------------------------------------------------------------------------- overview
def objects(include_studies: bool = True) -> list[dict]:
    """Every dataset version, model version, run and (when asked) study, one row each."""
    rows = []
    for meta in list_datasets():
        rows.append(
            {
                "id": f"{meta['name']}@{meta['version']}",
                "type": "dataset",
                "name": meta["name"],
                "version": meta["version"],
                "status": "damaged" if meta.get("error") else "stored",
                "created": (meta.get("created_ns") or 0) / 1e9,
                "metric": None,
                "detail": f"{meta.get('rows', '?')} rows, {meta.get('episodes', '?')} episodes",
            }
        )
    for meta in list_models():
        lineage = meta.get("lineage") or {}
        metrics = meta.get("metrics") or {}
        rows.append(
            {
                "id": f"{meta['name']}@{meta['version']}",
                "type": "model",
                "name": meta["name"],
                "version": meta["version"],
                "status": _model_status(meta),
                "created": (meta.get("created_ns") or 0) / 1e9,
                "metric": metrics.get("test/nrmse@full"),
                "detail": f"{meta.get('family', '')} from {lineage.get('dataset', '?')}",
            }
        )
    for run in list_runs():
        rows.append(
            {
                "id": run["id"],
                "type": "run",
                "name": run["model_name"] or run["id"],
                "version": None,
                "status": run["status"],
                "created": run["created"],
                "metric": run["test_nrmse"] if run["test_nrmse"] is not None else run["metric"],
                "detail": f"step {run['step']}/{run['steps']}",
            }
        )
    if include_studies:
        try:
            for study in list_studies():
                rows.append(
                    {**study, "name": study["id"], "version": None, "detail": f"{study['trials']} trials"}
                )
        except (ImportError, LearnsimError):
            pass
    return clean(rows)


def _model_status(meta: dict) -> str:
    """damaged, pruned, 'worse than holding' (its free run lost to holding the last state) or stored."""
    lineage = meta.get("lineage") or {}
    if meta.get("error"):
        return "damaged"
    if lineage.get("pruned"):
        return "pruned"
    return "worse than holding" if lineage.get("warnings") else "stored"


def lineage(max_runs: int = 200) -> dict:
    """Nodes (datasets, runs, models, studies) and edges dataset -> run -> model, study -> run, for the
    ``max_runs`` most recent runs (and every dataset and model they touch)."""
    runs = list_runs()
    shown = runs[:max_runs]
    nodes, edges = {}, []
    for meta in list_datasets():
        key = f"dataset:{meta['name']}@{meta['version']}"
        nodes[key] = {"id": key, "kind": "dataset", "label": f"{meta['name']}@{meta['version'][:8]}",
                      "detail": f"{meta.get('rows', '?')} rows", "status": "stored",
                      "href": f"/datasets/{meta['name']}/{meta['version']}"}  # fmt: skip
    for meta in list_models():
        key = f"model:{meta['name']}@{meta['version']}"
        value = (meta.get("metrics") or {}).get("test/nrmse@full")
        nodes[key] = {"id": key, "kind": "model", "label": f"{meta['name']}@{meta['version'][:8]}",
                      "detail": f"nRMSE {value:.3g}" if isinstance(value, float) else "",
                      "status": _model_status(meta),
                      "href": f"/models/{meta['name']}/{meta['version']}"}  # fmt: skip
    for run in shown:
        key = f"run:{run['id']}"
        nodes[key] = {"id": key, "kind": "run", "label": run["id"], "status": run["status"],
                      "detail": f"step {run['step']}/{run['steps']}", "href": f"/runs/{run['id']}"}  # fmt: skip
        data = run["dataset"]
        if data["name"]:
            edges.append([f"dataset:{data['name']}@{data['version']}", key])
        if run["model"]:
            edges.append([key, f"model:{run['model']['name']}@{run['model']['version']}"])
        study = (run.get("tags") or {}).get("study")
        if study:
            nodes.setdefault(f"study:{study}", {"id": f"study:{study}", "kind": "study", "label": study,
                                                "status": "", "detail": "", "href": f"/studies/{study}"})  # fmt: skip
            edges.append([f"study:{study}", key])
    try:  # a study whose trials are older than the runs shown still has its node
        for study in list_studies():
            nodes.setdefault(f"study:{study['id']}", {"id": f"study:{study['id']}", "kind": "study", "label": study["id"],
                             "status": study["status"], "detail": f"{study['trials']} trials",
                             "href": f"/studies/{study['id']}"})  # fmt: skip
    except (ImportError, LearnsimError):
        pass
    edges = [e for e in edges if e[0] in nodes and e[1] in nodes]
    return {"nodes": list(nodes.values()), "edges": edges, "runs_total": len(runs), "runs_shown": len(shown)}

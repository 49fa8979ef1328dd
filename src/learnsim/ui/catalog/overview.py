"""The overview: every object in one table, and the lineage graph dataset -> run -> model, study -> run."""

from __future__ import annotations

from learnsim.errors import LearnsimError
from learnsim.store.datasets import list_datasets
from learnsim.store.models import list_models
from learnsim.ui.catalog.common import clean
from learnsim.ui.catalog.runs import list_runs
from learnsim.ui.catalog.studies import list_studies


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

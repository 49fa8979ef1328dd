"""Tuning studies in the default Optuna storage, with their trials' runs and models."""

from __future__ import annotations

from learnsim.store.versions import learnsim_home
from learnsim.ui.catalog.common import clean
from learnsim.ui.catalog.runs import run_id


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

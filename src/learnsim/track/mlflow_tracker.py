"""MLflow tracker: a local SQLite store and artifact folder under ``$LEARNSIM_HOME/mlflow`` (nothing leaves
the machine; ``learnsim ui`` serves it).

Params are the flattened resolved config, tags name the dataset, model and run directory, metrics keep
their namespaced keys (with '@' written ':', which MLflow allows: ``val/nrmse@10`` is ``val/nrmse:10``), and
the config and plots are artifacts. A resumed learnsim run continues the same
MLflow run (its id is kept in the run directory's ``trackers.json``).
"""

from __future__ import annotations

import math
from pathlib import Path

from learnsim.rundir import RunDir
from learnsim.store.versions import learnsim_home


def mlflow_home() -> Path:
    home = learnsim_home() / "mlflow"
    home.mkdir(parents=True, exist_ok=True)
    return home


def tracking_uri() -> str:
    return f"sqlite:///{(mlflow_home() / 'mlflow.db').resolve()}"


def artifact_root() -> str:
    return (mlflow_home() / "artifacts").resolve().as_uri()


def flatten(config: dict, prefix: str = "") -> dict[str, str]:
    flat = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat |= flatten(value, f"{name}.")
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for i, item in enumerate(value):
                flat |= flatten(item, f"{name}.{i}.")
        else:
            flat[name] = str(value)[:500]
    return flat


def client():
    """An MLflow client on the local store, with MLflow's and Alembic's INFO lines (``Creating initial MLflow
    database tables`` and the migrations, on a new store) kept out of the console's progress bar."""
    import logging

    from mlflow.tracking import MlflowClient

    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return MlflowClient(tracking_uri=tracking_uri())


def _experiment_id(client) -> str:
    experiment = client.get_experiment_by_name("learnsim")
    if experiment:
        return experiment.experiment_id
    return client.create_experiment("learnsim", artifact_location=artifact_root())


def start_parent_run(name: str, tags: dict) -> str:
    """An MLflow run standing for a study; trials' runs name it as their parent. Returns its id."""
    mlflow_client = client()
    run = mlflow_client.create_run(
        _experiment_id(mlflow_client), run_name=name, tags={**tags, "learnsim.kind": "study"}
    )
    return run.info.run_id


class MLflowTracker:
    def __init__(self):
        import mlflow

        self.mlflow = mlflow
        self.client = None
        self.run_id = None

    def start(self, run_dir: Path, config: dict, resume_token: str | None) -> str:
        self.client = client()
        if resume_token:
            self.run_id = resume_token
            self.client.update_run(self.run_id, status="RUNNING")
            return self.run_id
        run = self.client.create_run(
            _experiment_id(self.client),
            run_name=Path(run_dir).name,
            tags={
                "learnsim.run_dir": str(run_dir),
                "learnsim.dataset": config.get("dataset", ""),
                "learnsim.model_name": config.get("model_name", ""),
                "learnsim.family": config["model"]["type"],
            },
        )
        self.run_id = run.info.run_id
        params = flatten(config)
        from mlflow.entities import Param

        items = [Param(k, v) for k, v in params.items()]
        for i in range(0, len(items), 100):
            self.client.log_batch(self.run_id, params=items[i : i + 100])
        if RunDir(run_dir).config.is_file():
            self.client.log_artifact(self.run_id, str(RunDir(run_dir).config))
        return self.run_id

    def set_tags(self, tags: dict) -> None:
        """Tags of the run (``learnsim.<key>``); a run tagged with a study becomes a child of the study's run."""
        for key, value in tags.items():
            self.client.set_tag(self.run_id, f"learnsim.{key}", str(value))
        if "study" in tags:
            experiment = self.client.get_run(self.run_id).info.experiment_id
            parents = self.client.search_runs(
                [experiment],
                f"tags.`learnsim.kind` = 'study' and tags.`learnsim.study` = '{tags['study']}'",
                max_results=1,
            )
            if parents:
                self.client.set_tag(self.run_id, "mlflow.parentRunId", parents[0].info.run_id)

    def log(self, category: str, metrics: dict, step: int) -> None:
        self.log_many([(category, metrics, step)])

    def log_many(self, batch: list[tuple[str, dict, int]]) -> None:
        """Every (category, metrics, step) of a flush in as few requests as MLflow allows (1000 metrics)."""
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [
            Metric(k.replace("@", ":"), float(v), now, step)
            for _, metrics, step in batch
            for k, v in metrics.items()
            if isinstance(v, int | float) and math.isfinite(v)
        ]
        for i in range(0, len(items), 1000):
            self.client.log_batch(self.run_id, metrics=items[i : i + 1000])

    def log_artifact(self, path: Path) -> None:
        self.client.log_artifact(
            self.run_id, str(path), artifact_path="plots" if path.suffix == ".png" else None
        )

    def finish(self) -> None:
        self.client.set_terminated(self.run_id, status="FINISHED")

"""The metrics hub: one ``log(category, metrics, step)`` that fans out to every destination.

Categories are ``train``, ``val``, ``test`` and ``custom``; metric keys are namespaced (``train/loss``,
``val/rollout_rmse/<feature>``, ``lr``). Trackers follow the ``Tracker`` protocol; plain callables
``fn(category, metrics, step)`` attached by the user receive the same calls.

The JSON-lines file and the user's callables get every call at once. Trackers are off the training's hot
path: their calls run on the background thread (``learnsim.track.background``), and metrics reach them in
batches at every ``flush()``, which the loop calls at each evaluation and checkpoint, so a tracker holds
exactly what a resumed run keeps. A tracker that fails is warned about once and dropped; the run goes on.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from learnsim.durable import write_json
from learnsim.errors import ConfigError
from learnsim.rundir import RunDir
from learnsim.track import background
from learnsim.track.jsonl import MetricsFile

Logger = Callable[[str, dict, int], None]


class Tracker(Protocol):
    """An experiment tracker. ``start`` returns a resume token stored in the run directory."""

    def start(self, run_dir: Path, config: dict, resume_token: str | None) -> str | None: ...

    def log(self, category: str, metrics: dict, step: int) -> None: ...

    def log_artifact(self, path: Path) -> None: ...

    def finish(self) -> None: ...


def _mlflow():
    from learnsim.track.mlflow_tracker import MLflowTracker

    return MLflowTracker()


def _tensorboard():
    from learnsim.track.tensorboard_tracker import TensorBoardTracker

    return TensorBoardTracker()


def _wandb():
    from learnsim.track.wandb_tracker import WandbTracker

    return WandbTracker()


# name -> (the package it needs, factory); the tracker modules import their heavy library only when built
TRACKERS: dict[str, tuple[str, Callable[[], Tracker]]] = {
    "mlflow": ("mlflow", _mlflow),
    "tensorboard": ("tensorboard", _tensorboard),
    "wandb": ("wandb", _wandb),
}


def available_default_trackers() -> list[str]:
    """MLflow when its package is installed; nothing otherwise (JSON lines are always written)."""
    return ["mlflow"] if importlib.util.find_spec("mlflow") is not None else []


class MetricsHub:
    def __init__(self, run_dir: Path, trackers: list[str], loggers: list[Logger] | None = None):
        self.run_dir = Path(run_dir)
        self.file = MetricsFile(RunDir(self.run_dir).metrics)
        self.loggers = list(loggers or [])
        self.trackers: dict[str, Tracker] = {}
        for name in trackers:
            package, build = TRACKERS[name]
            if importlib.util.find_spec(package) is None:
                raise ConfigError(
                    f"training.trackers lists '{name}' but the {package} package is not "
                    f"installed: pip install 'learnsim[{name}]'"
                )
            self.trackers[name] = build()
        self._pending: list[tuple[str, dict, int]] = []
        self._failed: set[str] = set()

    def start(self, config: dict, tags: dict | None = None) -> None:
        """Start every tracker; a run directory that already has tracker tokens (a resumed run) continues
        the trackers' own runs. ``tags`` (e.g. study and trial) go to trackers that take tags."""
        if self.trackers:
            background.wait()  # a resumed run reads the tokens its first attempt's trackers wrote
            background.submit(self._start, config, tags, what="starting the trackers")

    def _start(self, config: dict, tags: dict | None) -> None:
        tokens_path = RunDir(self.run_dir).trackers
        tokens = json.loads(tokens_path.read_text()) if tokens_path.is_file() else {}
        for name, tracker in self._live():
            try:
                tokens[name] = tracker.start(self.run_dir, config, tokens.get(name))
                if tags and hasattr(tracker, "set_tags"):
                    tracker.set_tags(tags)
            except Exception as error:  # noqa: BLE001 - see _drop
                self._drop(name, "start", error)
        write_json(tokens_path, tokens)

    def log(self, category: str, metrics: dict, step: int) -> None:
        if not metrics:
            return
        self.file.log(metrics, step)
        if self.trackers:
            self._pending.append((category, dict(metrics), step))
        for logger in self.loggers:
            logger(category, dict(metrics), step)  # a copy: the caller's dict may be reused

    def flush(self) -> None:
        """Hand the metrics logged since the last flush to the trackers (on the background thread)."""
        if self._pending:
            batch, self._pending = self._pending, []
            background.submit(self._send, batch, what="sending metrics to the trackers")

    def _send(self, batch: list[tuple[str, dict, int]]) -> None:
        for name, tracker in self._live():
            try:
                if hasattr(tracker, "log_many"):
                    tracker.log_many(batch)
                else:
                    for category, metrics, step in batch:
                        tracker.log(category, metrics, step)
            except Exception as error:  # noqa: BLE001 - see _drop
                self._drop(name, "log", error)

    def log_artifact(self, path: Path) -> None:
        if self.trackers:
            background.submit(self._call, "log_artifact", Path(path), what=f"logging {Path(path).name}")

    def finish(self) -> None:
        """Flush and close the trackers (after everything already submitted, plots included)."""
        self.flush()
        if self.trackers:
            background.submit(self._call, "finish", what="closing the trackers")

    def _call(self, method: str, *args) -> None:
        for name, tracker in self._live():
            try:
                getattr(tracker, method)(*args)
            except Exception as error:  # noqa: BLE001 - see _drop
                self._drop(name, method, error)

    def _live(self) -> list[tuple[str, Tracker]]:
        return [(n, t) for n, t in self.trackers.items() if n not in self._failed]

    def _drop(self, name: str, method: str, error: Exception) -> None:
        """A tracker's failure (its server or store unreachable, say) must not end a run whose own files are
        complete: warn once and stop calling it."""
        self._failed.add(name)
        background.warn(
            f"learnsim: the {name} tracker failed in {method} ({type(error).__name__}: {error}); "
            "the run goes on without it (metrics.jsonl has every metric)"
        )


class SilentHub:
    """The hub of a distributed run's ranks other than 0: they log nothing (rank 0 writes every metric)."""

    file = None

    def start(self, config: dict, tags: dict | None = None) -> None:
        pass

    def log(self, category: str, metrics: dict, step: int) -> None:
        pass

    def flush(self) -> None:
        pass

    def log_artifact(self, path: Path) -> None:
        pass

    def finish(self) -> None:
        pass

"""The metrics hub: one ``log(category, metrics, step)`` that fans out to every destination.

Categories are ``train``, ``val``, ``test`` and ``custom``; metric keys are namespaced (``train/loss``,
``val/rollout_rmse/<feature>``, ``lr``). Trackers follow the ``Tracker`` protocol; plain callables
``fn(category, metrics, step)`` attached by the user receive the same calls.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from learnsim.durable import write_json
from learnsim.errors import ConfigError
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


# name -> factory; the tracker modules import their heavy library only when built
TRACKERS: dict[str, Callable[[], Tracker]] = {"mlflow": _mlflow, "tensorboard": _tensorboard, "wandb": _wandb}
_PACKAGES = {"mlflow": "mlflow", "tensorboard": "tensorboard", "wandb": "wandb"}


def available_default_trackers() -> list[str]:
    """MLflow when its package is installed; nothing otherwise (JSON lines are always written)."""
    return ["mlflow"] if importlib.util.find_spec("mlflow") is not None else []


class MetricsHub:
    def __init__(self, run_dir: Path, trackers: list[str], loggers: list[Logger] | None = None):
        self.run_dir = Path(run_dir)
        self.file = MetricsFile(self.run_dir / "metrics.jsonl")
        self.loggers = list(loggers or [])
        self.trackers: dict[str, Tracker] = {}
        for name in trackers:
            if importlib.util.find_spec(_PACKAGES[name]) is None:
                raise ConfigError(
                    f"training.trackers lists '{name}' but the {_PACKAGES[name]} package is not "
                    f"installed: pip install 'learnsim[{name}]'"
                )
            self.trackers[name] = TRACKERS[name]()

    def start(self, config: dict, tags: dict | None = None) -> None:
        """Start every tracker; a run directory that already has tracker tokens (a resumed run) continues
        the trackers' own runs. ``tags`` (e.g. study and trial) go to trackers that take tags."""
        tokens_path = self.run_dir / "trackers.json"
        tokens = json.loads(tokens_path.read_text()) if tokens_path.is_file() else {}
        for name, tracker in self.trackers.items():
            tokens[name] = tracker.start(self.run_dir, config, tokens.get(name))
            if tags and hasattr(tracker, "set_tags"):
                tracker.set_tags(tags)
        if self.trackers:
            write_json(tokens_path, tokens)

    def log(self, category: str, metrics: dict, step: int) -> None:
        if not metrics:
            return
        self.file.log(metrics, step)
        for tracker in self.trackers.values():
            tracker.log(category, metrics, step)
        for logger in self.loggers:
            logger(category, dict(metrics), step)  # a copy: the caller's dict may be reused

    def log_artifact(self, path: Path) -> None:
        for tracker in self.trackers.values():
            tracker.log_artifact(Path(path))

    def finish(self) -> None:
        for tracker in self.trackers.values():
            tracker.finish()


class SilentHub:
    """The hub of a distributed run's ranks other than 0: they log nothing (rank 0 writes every metric)."""

    file = None

    def start(self, config: dict, tags: dict | None = None) -> None:
        pass

    def log(self, category: str, metrics: dict, step: int) -> None:
        pass

    def log_artifact(self, path: Path) -> None:
        pass

    def finish(self) -> None:
        pass

"""The run directory's layout, named once. Every module that reads or writes a run asks ``RunDir`` for a
path instead of spelling the file name:

    run_dir/
      config.yaml        the resolved run config (what was trained)
      dataset.json       dataset name, version and split (the exact rows of each role)
      metrics.jsonl      one JSON line per logged record
      checkpoints/       step-N/ folders: weights, optimizer, scheduler and RNG state, meta.json
      candidates/        the linear candidate of selection (candidates/linear/)
      report.json        best step, stored candidate, validation and test metrics (a finished run)
      report.html        the self-contained report (learnsim report)
      plots/             PNG plots drawn at the end
      trackers.json      the trackers' own run ids, so a resumed run continues them
      tensorboard/       TensorBoard's event files
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunDir:
    path: Path

    def __init__(self, path: str | Path):
        object.__setattr__(self, "path", Path(path))

    @property
    def config(self) -> Path:
        return self.path / "config.yaml"

    @property
    def dataset(self) -> Path:
        return self.path / "dataset.json"

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def candidates(self) -> Path:
        return self.path / "candidates"

    @property
    def report(self) -> Path:
        return self.path / "report.json"

    @property
    def report_html(self) -> Path:
        return self.path / "report.html"

    @property
    def plots(self) -> Path:
        return self.path / "plots"

    @property
    def trackers(self) -> Path:
        return self.path / "trackers.json"

    @property
    def tensorboard(self) -> Path:
        return self.path / "tensorboard"

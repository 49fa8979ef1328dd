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

from pathlib import Path
from typing import overload


class _File:
    """One entry of the layout: on a ``RunDir``, its path; on the class, the entry (``RunDir.config.name``)."""

    def __init__(self, name: str):
        self.name = name

    @overload
    def __get__(self, run_dir: None, owner: type) -> _File: ...

    @overload
    def __get__(self, run_dir: RunDir, owner: type) -> Path: ...

    def __get__(self, run_dir: RunDir | None, owner: type) -> Path | _File:
        return self if run_dir is None else run_dir.path / self.name


class RunDir:
    """A run directory: ``RunDir(path).config`` is ``path / 'config.yaml'``, and so on for each entry."""

    config = _File("config.yaml")
    dataset = _File("dataset.json")
    metrics = _File("metrics.jsonl")
    checkpoints = _File("checkpoints")
    candidates = _File("candidates")
    report = _File("report.json")
    report_html = _File("report.html")
    plots = _File("plots")
    trackers = _File("trackers.json")
    tensorboard = _File("tensorboard")

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @classmethod
    def entries(cls) -> dict[str, str]:
        """attribute -> file name, for every entry of the layout."""
        return {k: v.name for k, v in vars(cls).items() if isinstance(v, _File)}

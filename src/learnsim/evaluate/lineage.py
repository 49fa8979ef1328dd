"""Which split of its training run a recorded segment belongs to: evaluation on the very data a model was
trained on must say so (or leave the training rows out), since a model's error on rows it has seen flatters
it."""

from __future__ import annotations

import json

from learnsim.data.splits import Split
from learnsim.rundir import RunDir


def run_split(dataset, meta: dict) -> Split | None:
    """The split of the run that trained the stored model (its ``meta``), when ``dataset`` is that run's very
    dataset version; None for any other data, or a model whose run directory is gone."""
    lineage = meta.get("lineage") or {}
    if not lineage.get("run_dir") or getattr(dataset, "store_version", None) is None:
        return None
    if (lineage.get("dataset"), lineage.get("dataset_version")) != (
        dataset.store_name,
        dataset.store_version,
    ):
        return None
    try:
        run = json.loads(RunDir(lineage["run_dir"]).dataset.read_text())
        return Split.from_dict(run["split"])
    except (KeyError, OSError, ValueError, TypeError):
        return None


def role_of(split: Split | None, start: int, end: int) -> str:
    """'train', 'val' or 'test' for rows [start, end) inside one split; joined with '+' when they span
    several ('test+train+val' for a whole recording); 'other' without a split."""
    if split is None:
        return "other"
    inside = sorted(
        role for role in ("train", "val", "test") for s, e in getattr(split, role) if s < end and start < e
    )
    return "+".join(inside) if inside else "other"


def includes_training(role: str) -> bool:
    return "train" in role or "val" in role


def described(role: str) -> str:
    """Where a segment came from, in words (plot titles, the web app's panel)."""
    if role == "other":
        return "not from the model's training data"
    return f"{role} split of the model's training run" + (
        ": seen in training" if includes_training(role) else ""
    )

"""Rebuild a finished run's model and data from its directory (for plots and reports after the fact)."""

from __future__ import annotations

import json
from pathlib import Path

from learnsim.config import load_run_config
from learnsim.data.splits import Split
from learnsim.data.windows import WindowedData
from learnsim.models.files import read_model
from learnsim.store.datasets import load_dataset
from learnsim.track.jsonl import MetricsFile


def ensure_plots(run_dir: Path) -> list[Path]:
    """The run's plots, made from its best checkpoint and exact dataset version when missing."""
    import importlib.util

    run_dir = Path(run_dir)
    existing = sorted((run_dir / "plots").glob("*.png")) if (run_dir / "plots").is_dir() else []
    if existing or importlib.util.find_spec("matplotlib") is None:
        return existing
    from learnsim.track.plots import run_plots

    config = load_run_config(run_dir / "config.yaml")
    reference = json.loads((run_dir / "dataset.json").read_text())
    report = json.loads((run_dir / "report.json").read_text())
    dataset = load_dataset(reference["name"], reference["version"])
    split = Split(
        **{
            **reference["split"],
            **{k: [tuple(s) for s in reference["split"][k]] for k in ("train", "val", "test")},
        }
    )
    data = WindowedData.build(dataset, config.model, split)
    model = read_model(run_dir / "checkpoints" / report["best_checkpoint"], "cpu")
    records = MetricsFile(run_dir / "metrics.jsonl").read()
    return run_plots(run_dir, model, data, records, "test", config.training.eval_horizon)

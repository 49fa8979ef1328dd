"""Model versions: metrics, normalisation, what was stored and why, and the simulate panel's free run."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from learnsim.errors import ConfigError
from learnsim.store.datasets import dataset_store
from learnsim.store.models import model_store
from learnsim.store.versions import parse_reference
from learnsim.ui.catalog.common import clean, read_json_or_none
from learnsim.ui.catalog.datasets import episode_bounds, loaded_dataset
from learnsim.ui.catalog.runs import run_id


def model_detail(name: str, version: str | None) -> dict:
    from learnsim.store.models import load_model

    path, meta = model_store().resolve(name, version)
    config = (read_json_or_none(Path(path) / "model.json") or {}).get("config", {})
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
    from learnsim.evaluate.lineage import described, role_of, run_split
    from learnsim.simulate import free_run
    from learnsim.store.models import load_model

    simulator = load_model(model, version)
    _, model_meta = model_store().resolve(model, version)
    name, data_version = parse_reference(dataset)
    _, meta = dataset_store().resolve(name, data_version)
    data = loaded_dataset(name, meta["version"])
    bounds = episode_bounds(name, meta["version"])
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
    note = described(role)
    return clean({"episode": key, "warmup": warmup, "steps": steps, "t": t.tolist(), "features": features,
                  "split": role, "split_note": note, "range_note": range_note})  # fmt: skip

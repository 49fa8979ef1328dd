"""Simulate a stored model on recorded episodes of a stored dataset (``learnsim simulate``)."""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
import torch

from learnsim.data.validate import validate_dataset
from learnsim.data.windows import direct_targets
from learnsim.durable import replacing
from learnsim.errors import ConfigError, DataError
from learnsim.evaluate.lineage import described, role_of, run_split
from learnsim.evaluate.model import simulated_rows
from learnsim.simulate import free_run
from learnsim.store.datasets import load_dataset
from learnsim.store.models import load_model, model_meta
from learnsim.store.versions import learnsim_home, parse_reference


@torch.no_grad()
def simulate_recorded(
    model_ref: str,
    dataset_ref: str,
    episodes: list[int] | None,
    horizon: int | None,
    plot: bool,
    out: Path | None,
    console=None,
) -> Path:
    """Free-run each chosen episode from its first ``sequence_length`` recorded rows, driven by its recorded
    external inputs, for ``horizon`` steps (default: the whole episode). Writes ``predictions.parquet``
    (episode, the split of the model's training run it belongs to, step, time, simulated and recorded
    features) and, with ``plot``, ``episode_<id>.png`` titled with that split;
    returns the output folder."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from rich.progress import Progress

    name, version = parse_reference(model_ref)
    model = load_model(name, version)
    meta = model_meta(name, version)
    label = f"{name}@{meta['version']}"
    dataset = load_dataset(dataset_ref)
    split = run_split(dataset, meta)  # the model's own training data: each plot says which split it shows
    validate_dataset(dataset, model.config).raise_for_errors()
    bounds = _chosen_episodes(dataset, episodes)
    L = model.config.sequence_length
    targets = torch.as_tensor(direct_targets(dataset, model.config), dtype=torch.float32)
    recorded = torch.as_tensor(np.stack([dataset.columns[f.column] for f in model.config.inputs], 1)).float()
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(out) if out else learnsim_home() / "simulations" / f"{name}-{dataset.store_name}-{stamp}"
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file, not a folder")
    out.mkdir(parents=True, exist_ok=True)
    columns: dict[str, list] = {}
    visited = []  # (H, n_inputs) rows of each free run, for the one note on the training range
    with Progress(console=console, transient=True, disable=console is None) as progress:
        task = progress.add_task("simulating episodes", total=len(bounds))
        for episode, (start, end) in bounds.items():
            steps = min(end - start - L, horizon or end - start)
            if steps < 1:
                raise DataError(
                    f"{dataset.source}: episode {episode} has {end - start} rows; simulating needs more "
                    f"than sequence_length = {L}"
                )
            rows = slice(start, start + L + steps)
            trajectories = free_run(model, recorded[None, rows], targets[None, start + L : rows.stop])
            visited.append(simulated_rows(model, recorded[None, rows], trajectories)[0])
            role = role_of(split, start, end)
            table = {
                "episode": np.full(steps, episode),
                "split": np.full(steps, role),  # of the model's training run: train, val, test, or other data
                "step": np.arange(L, L + steps),
                "time": np.arange(L, L + steps) * dataset.dt,
            }
            for feature in trajectories.simulated:
                table[feature] = trajectories.simulated[feature][0].numpy()
                table[f"{feature}_recorded"] = trajectories.recorded[feature][0].numpy()
            for key, values in table.items():
                columns.setdefault(key, []).append(values)
            if plot:
                _plot_episode(
                    out / f"episode_{episode}.png",
                    trajectories,
                    f"episode {episode} ({described(role)})",
                    label,
                )
            progress.advance(task)
    note = model.range_note(torch.cat(visited)) if visited else None
    if note is not None and console is not None:
        console.print(f"warning: {note}", soft_wrap=True, markup=False)
    with replacing(out / "predictions.parquet") as tmp:
        pq.write_table(pa.table({k: np.concatenate(v) for k, v in columns.items()}), tmp)
    return out


def _chosen_episodes(dataset, episodes: list[int] | None) -> dict[int, tuple[int, int]]:
    """episode id -> row range [start, end) of the chosen episodes (all by default), in the order given."""
    ids = dataset.episode_ids()
    bounds = dict(zip(ids, dataset.episode_bounds(), strict=True))
    chosen = ids if episodes is None else episodes
    unknown = [e for e in chosen if e not in bounds]
    if unknown:
        more = " ..." if len(ids) > 20 else ""
        raise DataError(f"{dataset.source}: no episode(s) {unknown}; episodes are {ids[:20]}{more}")
    return {e: bounds[e] for e in chosen}


def _plot_episode(path: Path, trajectories, episode: str, label: str) -> None:
    from learnsim.track.plots import rollout_traces

    rollout_traces(trajectories, path, f"{label}: {episode}", episodes=1, labels=[episode])

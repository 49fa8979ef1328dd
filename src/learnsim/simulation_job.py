"""Simulate a stored model on recorded episodes of a stored dataset (``learnsim simulate``)."""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
import torch

from learnsim.data.validate import validate_dataset
from learnsim.data.windows import direct_targets
from learnsim.errors import DataError
from learnsim.store.datasets import load_dataset
from learnsim.store.models import load_model, model_meta
from learnsim.store.versions import learnsim_home, parse_reference


@torch.no_grad()
def simulate_recorded(
    model_ref: str,
    dataset_ref: str,
    episodes: list[int] | None,
    steps: int | None,
    plot: bool,
    out: Path | None,
    console=None,
) -> Path:
    """Free-run each chosen episode from its first ``sequence_length`` recorded rows, driven by its recorded
    external inputs. Writes ``predictions.parquet`` (episode, step, time, simulated and recorded features)
    and, with ``plot``, ``episode_<id>.png``; returns the output folder."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    name, version = parse_reference(model_ref)
    model = load_model(name, version)
    meta = model_meta(name, version)
    dataset = load_dataset(dataset_ref)
    config = model.config
    L = config.sequence_length
    validate_dataset(dataset, config).raise_for_errors()
    ids = dataset.episode_ids()
    bounds = dict(zip(ids, dataset.episode_bounds(), strict=True))
    chosen = ids if episodes is None else episodes
    unknown = [e for e in chosen if e not in bounds]
    if unknown:
        raise DataError(
            f"{dataset.source}: no episode(s) {unknown}; episodes are {ids[:20]}{' ...' if len(ids) > 20 else ''}"
        )
    targets = direct_targets(dataset, config)
    recorded = np.stack([dataset.columns[f.column] for f in config.inputs], axis=1)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(out) if out else learnsim_home() / "simulations" / f"{name}-{dataset.store_name}-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    columns: dict[str, list] = {}
    from rich.progress import Progress

    with Progress(console=console, transient=True, disable=console is None) as progress:
        task = progress.add_task("simulating episodes", total=len(chosen))
        for episode in chosen:
            start, end = bounds[episode]
            horizon = min(end - start - L, steps or end - start)
            if horizon < 1:
                raise DataError(
                    f"{dataset.source}: episode {episode} has {end - start} rows; simulating needs more "
                    f"than sequence_length = {L}"
                )
            series = torch.as_tensor(recorded[start : start + L + horizon], dtype=torch.float32)[None]
            inputs, outputs = _rollout(model, series, horizon)
            rows = {
                "episode": np.full(horizon, episode),
                "step": np.arange(L, L + horizon),
                "time": np.arange(L, L + horizon) * dataset.dt,
            }
            for i, f in enumerate(config.inputs):
                if f.parent is not None:
                    rows[f.name] = inputs[0, L:, i].numpy()
                    rows[f"{f.name}_recorded"] = series[0, L:, i].numpy()
            for j, f in enumerate(model.schema.direct_outputs):
                rows[f.name] = outputs[0, :, [o.name for o in config.outputs].index(f.name)].numpy()
                rows[f"{f.name}_recorded"] = targets[start + L : start + L + horizon, j]
            for key, values in rows.items():
                columns.setdefault(key, []).append(values)
            if plot:
                _plot_episode(out / f"episode_{episode}.png", rows, episode, f"{name}@{meta['version']}")
            progress.advance(task)
    table = pa.table({k: np.concatenate(v) for k, v in columns.items()})
    tmp = out / "predictions.parquet.tmp"
    pq.write_table(table, tmp)
    tmp.replace(out / "predictions.parquet")
    return out


def _rollout(model, series: torch.Tensor, horizon: int):
    from learnsim.simulate import rollout

    L = model.config.sequence_length
    return rollout(model, series[:, :L], series, horizon)


def _plot_episode(path: Path, rows: dict, episode: int, label: str) -> None:
    from learnsim.track.plots import rollout_traces

    names = [k for k in rows if f"{k}_recorded" in rows]
    rollout_traces(
        torch.as_tensor(rows["time"]),
        {n: torch.as_tensor(rows[n])[None] for n in names},
        {n: torch.as_tensor(rows[f"{n}_recorded"])[None] for n in names},
        path,
        f"{label}: episode {episode}",
        episodes=1,
    )

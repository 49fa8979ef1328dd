"""``evaluate_model`` and ``learnsim evaluate``: the evaluation protocol on a stored model and a dataset.

Every scored episode (or block of one long recording) is free-run from its first ``warmup`` recorded rows,
driven by its recorded external inputs. On the very dataset version the model was trained on, only the run's
test split is scored by default (training and validation episodes would flatter it); ``episodes="all"``
scores everything and says that it includes training data. Any other dataset is scored whole. Then the simulation is scored at each horizon (RMSE, nRMSE, fit) beside the
hold-last-state baseline and the linear model fitted to the model's own training data (found through its
lineage; fitted to the evaluated data, and said so, when the lineage is gone).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from learnsim.data.splits import Split
from learnsim.data.validate import validate_dataset
from learnsim.data.windows import WindowedData, direct_targets
from learnsim.durable import write_json
from learnsim.errors import DataError, LearnsimError
from learnsim.evaluate.baselines import fit_linear
from learnsim.evaluate.lineage import includes_training, role_of, run_split
from learnsim.evaluate.protocol import DEFAULT_HORIZONS, evaluate_batch, segment_batch
from learnsim.rundir import RunDir
from learnsim.simulate import free_run


@dataclass
class Evaluation:
    """The result of ``evaluate_model``. metrics: flat keys as in ``protocol.score`` (``nrmse@10/<feature>``,
    ``nrmse@full``, ``fit/<feature>``, ``hold/nrmse@h``, ``skill_vs_linear@h`` ...); outside_training_range:
    per input, the fraction of simulated rows outside the range the model was trained on."""

    model: str
    dataset: str
    horizons: list
    warmup: int
    episodes: int
    metrics: dict
    outside_training_range: dict[str, float]
    linear_fitted_on: str | None
    features: list[str] = field(default_factory=list)
    scope: str = "the whole dataset"  # which rows were scored, in words (the table's header)
    losses: list[str] = field(default_factory=list)  # each horizon where a baseline beats the model, in words
    range_note: str | None = None  # the inputs whose free run left the training range past the margin
    scored: list[dict] = field(default_factory=list)  # {"episode", "split", "rows": [start, end]} per segment
    includes_training_data: bool = False

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def evaluate_model(
    model,
    dataset,
    *,
    warmup: int | None = None,
    horizons=DEFAULT_HORIZONS,
    episodes: list[int] | str | None = None,
    out: str | Path | None = None,
    plot: bool = False,
) -> Evaluation:
    """Evaluate ``model`` (a ``SimulatorModel`` or stored 'NAME[@VERSION]') on ``dataset`` (a ``Dataset`` or
    stored 'NAME[@VERSION]') under the protocol; with ``out``, write ``evaluation.json`` there (and plots
    with ``plot``). ``episodes``: ids to score, ``"all"``, or None: the run's test split when ``dataset`` is
    the version the stored model was trained on, else every episode."""
    from learnsim.store.datasets import load_dataset
    from learnsim.store.models import load_model, model_meta

    label, meta = str(model), {}
    if isinstance(model, str):
        meta = model_meta(model)
        label, model = f"{meta['name']}@{meta['version']}", load_model(model)
    if isinstance(dataset, str):
        dataset = load_dataset(dataset)
    config, L = model.config, model.config.sequence_length
    warmup = max(warmup or L, L)
    longest = max(end - start for start, end in dataset.episode_bounds())
    if warmup >= longest:
        raise DataError(
            f"warmup of {warmup} rows leaves nothing to simulate: the longest episode of {dataset.source} "
            f"has {longest} rows"
        )
    validate_dataset(dataset, config, min_episode_rows=warmup + 1).raise_for_errors()
    segments, scored, scope = _scored(dataset, meta, episodes)
    inputs = torch.as_tensor(
        np.stack([dataset.columns[f.column] for f in config.inputs], 1), dtype=torch.float32
    )
    targets = torch.as_tensor(np.nan_to_num(direct_targets(dataset, config)), dtype=torch.float32)
    batch = segment_batch(inputs, targets, list(segments.values()), L, warmup)
    if batch is None:
        raise DataError(f"{dataset.source}: no episode is longer than the warmup of {warmup} rows")
    model = model.cpu().eval()
    linear, fitted_on = _linear_baseline(model, meta, dataset)
    baselines = {"hold": "hold"} | ({"linear": linear} if linear is not None else {})
    simulated = free_run(model, batch.inputs, batch.targets, batch.valid)
    metrics = evaluate_batch(model, batch, horizons, baselines, simulated)
    outside, range_note = _outside_range(model, batch, simulated)
    evaluation = Evaluation(
        model=label,
        dataset=dataset.source,
        horizons=list(horizons),
        warmup=warmup,
        episodes=len(segments),
        metrics=metrics,
        outside_training_range=outside,
        range_note=range_note,
        linear_fitted_on=fitted_on,
        features=list(simulated.simulated),
        scope=scope,
        scored=scored,
        includes_training_data=any(includes_training(s["split"]) for s in scored),
        losses=losses_to_baselines(metrics, horizons),
    )
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "evaluation.json", evaluation.to_dict())
        if plot:
            _plots(
                out,
                model,
                batch,
                simulated,
                [f"episode {s['episode']} ({s['split']})" for s in scored],
                label,
            )
    return evaluation


BASELINE_NAMES = {"hold": "holding the last state", "linear": "the linear model"}


def losses_to_baselines(metrics: dict, horizons) -> list[str]:
    """One line per horizon where holding the last state or the linear model free-runs better than the model
    (overall nRMSE), e.g. 'h=full: the linear model 0.101 beats the model's 1.87'."""
    lines = []
    for horizon in horizons:
        model = metrics.get(f"nrmse@{horizon}")
        for name, words in BASELINE_NAMES.items():
            baseline = metrics.get(f"{name}/nrmse@{horizon}")
            if model is not None and baseline is not None and baseline < model:
                lines.append(f"h={horizon}: {words} {baseline:.3g} beats the model's {model:.3g}")
    return lines


def _scored(dataset, meta: dict, episodes) -> tuple[dict[int, tuple[int, int]], list[dict], str]:
    """The segments to score (label -> rows), each with the split of the model's run it belongs to, and the
    scope in words. See the module docstring for the rule."""
    split = run_split(dataset, meta)
    if split is not None and episodes is None and split.test:
        # the held-out test split only: whole episodes, or the test block(s) of one recording
        labels = [
            int(dataset.episode[s]) if dataset.episode is not None else i
            for i, (s, _) in enumerate(split.test)
        ]
        segments = dict(zip(labels, split.test, strict=True))
        unit = "episode(s)" if split.by == "episode" else "block(s) of the recording"
        scope = f"the test split of the run that trained it ({len(segments)} {unit} held out from training)"
    else:
        segments = _chosen(dataset, None if episodes == "all" else episodes)
        scope = "the whole dataset" if episodes in (None, "all") else f"episode(s) {list(segments)}"
    scored = [
        {"episode": label, "split": role_of(split, start, end), "rows": [start, end]}
        for label, (start, end) in segments.items()
    ]
    if any(includes_training(item["split"]) for item in scored):
        scope += ": INCLUDES TRAINING DATA (the model was trained on this dataset version)"
    return segments, scored, scope


def _chosen(dataset, episodes: list[int] | None) -> dict[int, tuple[int, int]]:
    bounds = dict(zip(dataset.episode_ids(), dataset.episode_bounds(), strict=True))
    unknown = [e for e in episodes or [] if e not in bounds]
    if unknown:
        raise DataError(f"{dataset.source}: no episode(s) {unknown}; episodes are {list(bounds)[:20]}")
    return {e: bounds[e] for e in episodes} if episodes else bounds


def _linear_baseline(model, meta: dict, dataset):
    """The linear model fitted to the model's training split (from its lineage), or to ``dataset``."""
    if not model.schema.states:
        return None, None
    lineage = meta.get("lineage", {})
    try:
        from learnsim.store.datasets import load_dataset

        run = json.loads(RunDir(lineage["run_dir"]).dataset.read_text())
        training = load_dataset(run["name"], run["version"])
        split, fitted_on = Split.from_dict(run["split"]), f"{run['name']}@{run['version']} (training split)"
    except (KeyError, OSError, ValueError, LearnsimError):
        training, fitted_on = (
            dataset,
            f"{dataset.source} (the evaluated data: the model's training data is not in the store)",
        )
        split = Split(dataset.episode_bounds(), [], [], "episode", 0)
    data = WindowedData.build(training, model.config, split)
    return fit_linear(model.config, data, data.training_statistics(model.config)), fitted_on


def simulated_rows(model, recorded: torch.Tensor, trajectories) -> torch.Tensor:
    """(S, H, n_inputs) the rows a free run went through: states as simulated, external inputs as recorded
    (``recorded`` (S, L + H, n_inputs) holds the history and the recording)."""
    rows = recorded[:, model.config.sequence_length :].clone()
    for i, f in enumerate(model.config.inputs):
        if f.name in trajectories.simulated:
            rows[..., i] = trajectories.simulated[f.name]
    return rows


def _outside_range(model, batch, trajectories) -> tuple[dict[str, float], str | None]:
    """Per input: fraction of the simulated rows outside the model's training range; and the one-line note
    when some went past its extrapolation margin."""
    rows = simulated_rows(model, batch.inputs, trajectories)[batch.valid]
    fractions = model.outside_training_range(rows).tolist()
    return {f.name: fractions[i] for i, f in enumerate(model.config.inputs)}, model.range_note(rows)


def _plots(out: Path, model, batch, trajectories, episode_labels: list[str], label: str) -> None:
    from learnsim.track.plots import error_vs_horizon, rollout_traces

    error_vs_horizon(trajectories, out / "error_vs_horizon.png", f"{label}: RMSE vs horizon")
    rollout_traces(
        trajectories, out / "trajectories.png", f"{label}: free run vs recording", 3, episode_labels[:3]
    )

"""Finishing a run: test the best checkpoint, store it as a model version, write ``report.json``; then, on
the background thread (``learnsim.track.background``), draw the plots, hand them to the trackers and close
those. ``train`` returns once the model and report are written; ``TrainResult.wait()`` waits for the rest."""

from __future__ import annotations

import importlib.util
import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from learnsim.durable import write_json
from learnsim.evaluate.metrics import split_metrics
from learnsim.models.files import read_model
from learnsim.rundir import RunDir
from learnsim.store.models import save_model
from learnsim.track import background
from learnsim.track.console import metrics_table, show
from learnsim.train import candidates, checkpoint
from learnsim.train.run import Run


@dataclass
class TrainResult:
    model: torch.nn.Module | None  # best checkpoint's model, eval mode (None: the run was pruned)
    metrics: dict  # test metrics of the best model (and best validation metrics)
    run_dir: Path
    model_name: str
    model_version: str | None
    report: dict

    def wait(self) -> TrainResult:
        """Block until the run's background work (plots, trackers) is done; returns self."""
        background.wait()
        return self


def finish(run: Run, monitor: bool = True) -> TrainResult:
    """Test the best checkpoint (the latest when none was scored), store it, report, plot."""
    tc, run_dir, state = run.config.training, run.run_dir, run.state
    if state.pruned:
        return _finish_pruned(run)
    best = checkpoint.best_checkpoints(run.checkpoint_dir, 1)
    best_path, best_meta = best[0] if best else checkpoint.checkpoints(run.checkpoint_dir)[-1]
    records = run.hub.file.read()
    linear = candidates.linear_candidate(run_dir)
    table = candidates.scores((best_meta, _validation_at(records, best_meta)), linear and linear[1])
    if linear is not None and candidates.replaces(linear[1], best_meta, _validation_at(records, best_meta)):
        best_path, best_meta = (
            linear  # no checkpoint free-runs the validation data better than the linear fit
        )
    kept = best_meta.get("candidate") or "network"
    why = candidates.explain(kept, table)
    model = read_model(best_path, run.device)
    test = {}
    if len(run.data.starts["test"]):
        test = split_metrics(
            model,
            run.data,
            "test",
            run.loss_fn,
            tc.eval_max_windows,
            tc.eval_horizon,
            tc.selection_horizons,
            run.baselines,
            tc.eval_max_rows,
        )
    best_val = _validation_at(records, best_meta)
    warnings = _worse_than_holding(run, model)
    lineage = _lineage(run, best_meta["step"]) | {
        "candidate": kept,
        "candidates": table,
        "warnings": warnings,
    }
    stored = save_model(run.config.model_name, model.cpu(), metrics=test, lineage=lineage)
    model.to(run.device)
    report = {
        "model": {"name": run.config.model_name, "version": stored["version"]},
        "dataset": json.loads(RunDir(run_dir).dataset.read_text()),
        "best_step": best_meta["step"],
        "best_checkpoint": best_path.name,
        "best_candidate": best_meta.get("candidate"),  # 'linear': the linear fit won the selection
        "candidates": table,  # each candidate's selection metric and whole-validation error
        "stored": why,
        "warnings": warnings,  # e.g. a free run worse than holding the last state: said loudly everywhere
        "selection": {"metric": best_meta["metric_name"], "value": best_meta["metric"]},
        "stopped_early": state.stopped_early,
        "steps": state.step,
        # samples x simulated steps per second of training (a one-step sample counts one step)
        "train_sample_steps_per_second": state.sample_steps / state.train_seconds
        if state.train_seconds
        else None,
        "compile_seconds": run.compile_seconds if run.compiled else None,
        "validation": {k: v for k, v in best_val.items() if k != "step"},
        "test": test,
        "versions": checkpoint.library_versions(),
        "tags": run.tags,
    }
    run.hub.log("test", test, state.step)
    write_json(RunDir(run_dir).report, report)
    if importlib.util.find_spec("matplotlib") is not None:
        from learnsim.evaluate.plots import plot_inputs

        # the model's part here (torch stays on this thread); the drawing, about 1 s, in the background
        inputs = plot_inputs(model, run.data, records, "test", tc.eval_horizon, tc.eval_max_rows)
        background.submit(_plots, run.hub, run_dir, inputs, what=f"drawing the plots of {run_dir}")
    run.hub.finish()  # queued after the plots, so trackers receive them before they close
    if monitor:
        what = "the linear fit" if kept == "linear" else f"best checkpoint, step {best_meta['step']}"
        _announce(run, test, what, why, stored["version"], warnings)
    metrics = {**report["validation"], **test}
    return TrainResult(model, metrics, run_dir, run.config.model_name, stored["version"], report)


def _announce(run: Run, test: dict, what: str, why: str, version: str, warnings: list[str]) -> None:
    """The console's end of a run: the test table, which candidate was stored and why, where it all is."""
    if test:
        show(metrics_table(f"test ({what})", test, "test"))
    show(why)
    for warning in warnings:
        show(f"WARNING: {warning}")
    name = run.config.model_name
    show(f"run directory: {run.run_dir}\nmodel: {name}@{version} (load_model('{name}'))")


def _lineage(run: Run, best_step: int) -> dict:
    """Where a stored model came from: dataset version, run, step, and the run's tags (study, trial)."""
    return {
        "dataset": run.dataset_name,
        "dataset_version": run.dataset_version,
        "run_dir": str(run.run_dir),
        "best_step": best_step,
        **run.tags,
    }


def _worse_than_holding(run: Run, model) -> list[str]:
    """A warning when the stored model free-runs the validation data (whole episodes) worse than holding the
    last state: it has learned nothing usable over that horizon, and must not pass silently. One more
    validation free run, with the hold baseline beside it."""
    tc = run.config.training
    if not len(run.data.starts["val"]):
        return []
    val = split_metrics(model, run.data, "val", run.loss_fn, tc.eval_max_windows, tc.eval_horizon, ("full",),
                        {"hold": "hold"}, tc.eval_max_rows)  # fmt: skip
    mine, hold = val.get("val/nrmse@full"), val.get("val/hold/nrmse@full")
    if mine is None or hold is None or (math.isfinite(mine) and mine <= hold):
        return []
    return [
        f"the stored model free-runs the validation data worse than holding the last state (whole-episode "
        f"nRMSE {mine:.3g} against {hold:.3g}): it has not learned to simulate this system; do not deploy it"
    ]


def _validation_at(records: list[dict], meta: dict) -> dict:
    """The validation record logged at the step of a checkpoint (``meta``), or {}."""
    at = (r for r in records if r["step"] == meta["step"] and any(k.startswith("val/") for k in r))
    return next(at, {})


def _plots(hub, run_dir: Path, inputs) -> None:
    """Draw into a private staging folder, then copy the finished files into the run directory in one short
    burst, and only if it still exists: a caller that removes the run right after ``train`` returns (a
    temporary directory, say) finds nothing being written into it for the second the drawing takes."""
    import tempfile

    from learnsim.durable import write_bytes
    from learnsim.evaluate.plots import draw

    with tempfile.TemporaryDirectory(prefix="learnsim-plots-") as staging:
        drawn = draw(Path(staging), inputs)
        if not run_dir.is_dir():
            return
        RunDir(run_dir).plots.mkdir(exist_ok=True)
        paths = [write_bytes(RunDir(run_dir).plots / p.name, p.read_bytes()) for p in drawn]
    for path in paths:
        hub.log_artifact(path)


def _finish_pruned(run: Run) -> TrainResult:
    """A run its ``should_stop`` ended (a tuner pruned it): its best checkpoint so far is stored as a model
    version marked ``pruned`` in the lineage, untested (the test split is for finished candidates); its
    checkpoints are removed (a pruned run is never resumed), its metrics and config stay for the record."""
    state = run.state
    best = (
        checkpoint.best_checkpoints(run.checkpoint_dir, 1) or checkpoint.checkpoints(run.checkpoint_dir)[-1:]
    )
    stored = None
    if best:
        path, meta = best[0]
        lineage = _lineage(run, meta["step"]) | {"pruned": True}
        validation = {run.selection: state.best_metric}
        stored = save_model(
            run.config.model_name, read_model(path, "cpu"), metrics=validation, lineage=lineage
        )
    run.hub.finish()
    shutil.rmtree(run.checkpoint_dir, ignore_errors=True)
    report = {
        "pruned": True,
        "model": None if stored is None else {"name": run.config.model_name, "version": stored["version"]},
        "steps": state.step,
        "selection": {"metric": run.selection, "value": state.best_metric},
        "tags": run.tags,
        "versions": checkpoint.library_versions(),
    }
    write_json(RunDir(run.run_dir).report, report)
    version = None if stored is None else stored["version"]
    return TrainResult(None, {}, run.run_dir, run.config.model_name, version, report)

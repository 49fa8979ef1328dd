"""``train()``: the one training function. Setup, print what was derived, then one loop with "every N steps"
blocks for logging, evaluation, checkpoints and early stopping; then test the best checkpoint and store it.
"""

from __future__ import annotations

import contextlib
import datetime
import importlib.util
import json
import math
import os
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from learnsim.config import RunConfig, dump_run_config, load_run_config
from learnsim.data.splits import split_rows
from learnsim.data.validate import validate_dataset
from learnsim.data.windows import WindowedData
from learnsim.errors import ConfigError, TrainingError
from learnsim.models import model_from_config
from learnsim.models.files import read_model
from learnsim.store.datasets import load_dataset
from learnsim.store.models import load_model, save_model
from learnsim.store.versions import learnsim_home, parse_reference
from learnsim.track.console import TrainingProgress, metrics_table
from learnsim.track.hub import Logger, MetricsHub, available_default_trackers
from learnsim.train import checkpoint as ckpt
from learnsim.train.evaluate import one_step_metrics, rollout_metrics
from learnsim.train.losses import make_loss
from learnsim.train.optim import build_optimizer, build_scheduler
from learnsim.train.rollout import EMA, Curriculum, RolloutSampler, rollout_loss

EvalFn = Callable[[torch.nn.Module, int], dict]


@dataclass
class TrainResult:
    model: torch.nn.Module  # best checkpoint's model, eval mode
    metrics: dict  # test metrics of the best model (and best validation metrics)
    run_dir: Path
    model_name: str
    model_version: str
    report: dict


def train(
    config: RunConfig,
    run_dir: str | Path | None = None,
    *,
    resume: bool = False,
    monitor: bool = True,
    eval_fn: EvalFn | None = None,
    warm_start: str | None = None,
    loggers: list[Logger] | None = None,
) -> TrainResult:
    """Train ``config.model`` on ``config.dataset``; resumable from ``run_dir`` with ``resume=True``.

    eval_fn(model, step) -> {name: value}: a user check (e.g. closed loop in their own simulator) run at
    every evaluation; its values are logged as ``custom/<name>``.
    loggers: plain callables ``fn(category, metrics, step)`` receiving every metric logged (categories
    train, val, custom, test), beside the JSON lines file and the configured trackers.
    warm_start: 'NAME[@VERSION]' of a stored model whose weights (and normalisation) initialise this run.
    """
    tc, mc = config.training, config.model
    run_dir = _prepare_run_dir(config, run_dir, resume)
    checkpoint_dir = run_dir / "checkpoints"
    trackers = tc.trackers if tc.trackers is not None else available_default_trackers()
    hub = MetricsHub(run_dir, trackers, loggers)

    # ---- data: the exact stored version, validated, split without leakage, on the device
    device = resolve_device(tc.device)
    _seed_everything(tc.seed)
    dataset_ref = json.loads((run_dir / "dataset.json").read_text()) if resume else None
    name, version = parse_reference(config.dataset)
    dataset = load_dataset(name, dataset_ref["version"] if resume else version)
    validate_dataset(dataset, mc).raise_for_errors()
    split = split_rows(
        dataset.episode_bounds(),
        tc.train_val_split_ratio,
        tc.test_dataset_size,
        mc.sequence_length + 1,
        tc.seed,
    )
    data = WindowedData.build(dataset, mc, split, device)
    if len(data.starts["train"]) == 0 or len(data.starts["val"]) == 0:
        raise ConfigError(
            "the split leaves no training or no validation windows; lower test_dataset_size or "
            "change train_val_split_ratio"
        )
    if not resume:
        (run_dir / "dataset.json").write_text(
            json.dumps({"name": name, "version": dataset.store_version, "split": split.to_dict()}, indent=2)
        )

    # ---- model, optimisation
    model = model_from_config(mc)
    model.set_statistics(data.training_statistics(mc))
    if warm_start:
        _load_warm_start(model, warm_start)
    model.to(device)
    optimizer = build_optimizer(tc.optimizer, model.parameters(), device)
    scheduler = build_scheduler(tc.lr_scheduler, optimizer)
    scaler = torch.amp.GradScaler(device.type) if tc.precision == "16-mixed" else None
    autocast = _autocast(tc.precision, device)
    loss_fn = make_loss(tc.loss, tc.loss_weights, model)
    targets = model.output_scaler.normalize(data.targets)  # (N, n_out), normalised once, not per step
    generator = torch.Generator().manual_seed(tc.seed)  # batch sampler and noise; its state is checkpointed
    curriculum = sampler = ema = None
    if tc.rollout is not None:
        sampler = RolloutSampler(data, mc.sequence_length)
        curriculum = Curriculum(tc.rollout, tc.training_iters, sampler.longest_possible)
        ema = EMA(model, tc.rollout.ema_decay) if tc.rollout.ema_decay else None
    eval_model = ema.model if ema else model  # what is evaluated, checkpointed as the model, and stored
    state = {"step": 0, "best_metric": math.inf, "evals_since_best": 0, "stopped_early": False}
    if resume:
        state = _restore(
            checkpoint_dir, model, ema, optimizer, scheduler, scaler, generator, device, hub.file
        )
    selection = "val/loss" if tc.checkpoint_type == "single_step" else "val/rollout_score"

    hub.start(config.model_dump(mode="json"), resume)
    progress = TrainingProgress(tc.training_iters, state["step"], monitor)
    progress.print(
        f"run {run_dir}\n  dataset {name}@{dataset.store_version}: {dataset.n_rows} rows, split by {split.by}: "
        f"{len(data.starts['train'])} train / {len(data.starts['val'])} val / {len(data.starts['test'])} test windows\n"
        f"  model {mc.type}: {sum(p.numel() for p in model.parameters()):,} parameters on {device}; "
        f"selection by {selection}"
        + (f"; resuming at step {state['step']}" if resume else "")
        + (f"\n  rollout curriculum: {curriculum.describe()}" if curriculum else "")
    )

    # ---- the loop
    model.train()
    train_time, sample_steps = 0.0, 0
    tick = time.perf_counter()
    step = state["step"]
    while step < tc.training_iters and not state["stopped_early"]:
        horizon = curriculum.horizon_at(step) if curriculum else 0
        with autocast:
            if horizon == 0:  # one-step: windows (B, L, n_in) -> next-row outputs (B, n_out)
                starts = data.sample_starts(tc.train_batch_size, generator)
                window, target = data.windows(starts), targets[starts + mc.sequence_length]
                loss = loss_fn(model.predict_normalized(window), target)
            else:  # multi-step: free-run `horizon` steps from each start, through simulate's code path
                batch = tc.rollout.batch_size or max(32, tc.train_batch_size // horizon)
                starts = sampler.sample(horizon, batch, generator)
                loss = rollout_loss(model, data, targets, starts, horizon, tc.rollout, generator, tc.loss)
        sample_steps += len(starts) * max(horizon, 1)
        if not torch.isfinite(loss):
            last = ckpt.checkpoints(checkpoint_dir)
            kept = f"; the last good checkpoint is {last[-1][0]}" if last else ""
            raise TrainingError(
                f"non-finite training loss ({loss.item()}) at step {step + 1}: training "
                f"diverged or the data holds extreme values; lower the learning rate{kept}"
            )
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
        else:
            loss.backward()
        if tc.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip, foreach=True)
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        if scheduler is not None:
            scheduler.step()
        if ema is not None:
            ema.update(model)
        step += 1

        # -- every log_every steps: training loss and learning rate
        if step % tc.log_every == 0 or step == tc.training_iters:
            train_metrics = {"train/loss": loss.item(), "lr": optimizer.param_groups[0]["lr"]}
            if curriculum:
                train_metrics["train/horizon"] = horizon
            hub.log("train", train_metrics, step)
            progress.update(step, loss=train_metrics["train/loss"], lr=train_metrics["lr"])

        evaluate_now = step % tc.eval_every == 0 or step == tc.training_iters
        if not (evaluate_now or step % tc.save_every == 0):
            continue
        train_time += time.perf_counter() - tick  # throughput counts training steps only

        # -- every eval_every steps: validation, best-checkpoint selection, early stopping
        metric = None
        if evaluate_now:
            metrics = evaluate(eval_model, data, "val", loss_fn, tc)
            hub.log("val", metrics, step)
            if eval_fn is not None:
                custom = {f"custom/{k}": float(v) for k, v in eval_fn(eval_model, step).items()}
                hub.log("custom", custom, step)
                metrics = {**metrics, **custom}
            metric = metrics[selection]
            if metric < state["best_metric"]:
                state["best_metric"], state["evals_since_best"] = metric, 0
            else:
                state["evals_since_best"] += 1
            if tc.early_stop_patience and state["evals_since_best"] >= tc.early_stop_patience:
                state["stopped_early"] = True
                progress.print(
                    f"early stop at step {step}: no improvement in {tc.early_stop_patience} evaluations"
                )
            progress.update(step, **{selection: metric})
            progress.print(metrics_table(f"validation, step {step}", metrics, "val"))
            model.train()

        # -- every save_every steps (and at every evaluation): an atomic, resumable checkpoint
        state["step"] = step
        ckpt.save_checkpoint(
            checkpoint_dir,
            step,
            eval_model,
            {
                "train_weights": model.state_dict() if ema else None,
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict() if scheduler else None,
                "scaler": scaler.state_dict() if scaler else None,
                "rng": ckpt.rng_state(generator),
                "state": dict(state),
            },
            {"metric": metric, "metric_name": selection, "config": config.model_dump(mode="json")},
            tc.save_top_k,
        )
        tick = time.perf_counter()
    progress.close()
    return _finish(
        config,
        run_dir,
        data,
        loss_fn,
        device,
        sample_steps,
        train_time,
        progress,
        hub,
        dataset.store_version,
        state,
    )


def evaluate(model, data, split: str, loss_fn, tc) -> dict:
    """One-step loss/RMSE and free-run rollout RMSE of ``split``, physical units."""
    return one_step_metrics(model, data, split, loss_fn, tc.eval_max_windows) | rollout_metrics(
        model, data, split, tc.eval_horizon
    )


def resume(
    run_dir: str | Path,
    *,
    monitor: bool = True,
    eval_fn: EvalFn | None = None,
    loggers: list[Logger] | None = None,
) -> TrainResult:
    """Continue a run from its latest checkpoint, with the run's own resolved config and dataset version."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise TrainingError(f"{run_dir}: not a learnsim run directory (no config.yaml)")
    if (run_dir / "report.json").is_file():
        raise TrainingError(f"{run_dir}: this run already finished (report.json exists); nothing to resume")
    return train(
        load_run_config(run_dir / "config.yaml"),
        run_dir,
        resume=True,
        monitor=monitor,
        eval_fn=eval_fn,
        loggers=loggers,
    )


def train_model(
    model_name: str,
    model_config,
    dataset_name: str,
    training_config=None,
    monitor_training: bool = True,
    *,
    run_dir: str | Path | None = None,
    eval_fn: EvalFn | None = None,
    warm_start: str | None = None,
    loggers: list[Logger] | None = None,
) -> TrainResult:
    """Onyx-style entry point: train ``model_config`` on a stored dataset and save the best model as
    a new version of ``model_name``. Returns the trained model, its metrics and where everything is."""
    from learnsim.train.config import TrainingConfig

    fields = {
        "dataset": dataset_name,
        "model_name": model_name,
        "model": model_config,
        "training": training_config or TrainingConfig(),
    }
    from pydantic import ValidationError

    from learnsim.config import format_validation_error

    try:
        config = RunConfig.model_validate(fields)
    except ValidationError as error:
        raise ConfigError(format_validation_error(error)) from None
    return train(
        config, run_dir, monitor=monitor_training, eval_fn=eval_fn, warm_start=warm_start, loggers=loggers
    )


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"training.device is '{name}' but no CUDA device is available")
    return torch.device(name)


# ---------------------------------------------------------------- helpers


def _prepare_run_dir(config: RunConfig, run_dir, resume: bool) -> Path:
    if run_dir is None:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        run_dir = learnsim_home() / "runs" / f"{config.model_name}-{stamp}-{uuid.uuid4().hex[:4]}"
    run_dir = Path(run_dir)
    if not resume:
        if run_dir.exists() and any(run_dir.iterdir()):
            raise ConfigError(
                f"run directory {run_dir} is not empty; resume it with --resume or pick another"
            )
        run_dir.mkdir(parents=True, exist_ok=True)
        tmp = run_dir / "config.yaml.tmp"
        tmp.write_text(dump_run_config(config))
        os.replace(tmp, run_dir / "config.yaml")
    return run_dir


def _seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def _autocast(precision: str, device: torch.device):
    if precision == "32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16-mixed" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def _load_warm_start(model, reference: str) -> None:
    source = load_model(reference)
    try:
        model.load_state_dict(source.state_dict())
    except RuntimeError as error:
        raise ConfigError(
            f"warm start from '{reference}': its weights do not fit this model config "
            f"({str(error).splitlines()[0]})"
        ) from None


def _restore(
    checkpoint_dir, model, ema, optimizer, scheduler, scaler, generator, device, metrics_file
) -> dict:
    found = ckpt.checkpoints(checkpoint_dir)
    if not found:
        raise TrainingError(f"{checkpoint_dir}: no complete checkpoint to resume from")
    path, _ = found[-1]
    saved = read_model(path, device)
    training_state = ckpt.load_training_state(path)
    if ema is not None:  # the checkpointed model is the average; the raw weights travel in the state
        ema.model.load_state_dict(saved.state_dict())
        model.load_state_dict(training_state["train_weights"])
    else:
        model.load_state_dict(saved.state_dict())
    optimizer.load_state_dict(training_state["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(training_state["scheduler"])
    if scaler is not None:
        scaler.load_state_dict(training_state["scaler"])
    ckpt.restore_rng_state(training_state["rng"], generator)
    state = dict(training_state["state"])
    metrics_file.truncate_after(state["step"])
    return state


def _finish(
    config,
    run_dir: Path,
    data,
    loss_fn,
    device,
    sample_steps: int,
    train_time: float,
    progress: TrainingProgress,
    hub: MetricsHub,
    dataset_version: str,
    state: dict,
) -> TrainResult:
    """Test the best checkpoint, write the report and plots, store the model."""
    tc = config.training
    best = ckpt.best_checkpoints(run_dir / "checkpoints", 1)
    best_path, best_meta = best[0] if best else ckpt.checkpoints(run_dir / "checkpoints")[-1]
    model = read_model(best_path, device)
    test = evaluate(model, data, "test", loss_fn, tc) if len(data.starts["test"]) else {}
    records = hub.file.read()
    best_val = next(
        (r for r in records if r["step"] == best_meta["step"] and any(k.startswith("val/") for k in r)), {}
    )
    # samples x simulated steps per second of training (a one-step sample counts one step)
    samples_per_second = sample_steps / train_time if train_time > 0 else None
    stored = save_model(
        config.model_name,
        model.cpu(),
        metrics=test,
        lineage={
            "dataset": parse_reference(config.dataset)[0],
            "dataset_version": dataset_version,
            "run_dir": str(run_dir),
            "best_step": best_meta["step"],
        },
    )
    model.to(device)
    report = {
        "model": {"name": config.model_name, "version": stored["version"]},
        "dataset": json.loads((run_dir / "dataset.json").read_text()),
        "best_step": best_meta["step"],
        "best_checkpoint": best_path.name,
        "selection": {"metric": best_meta["metric_name"], "value": best_meta["metric"]},
        "stopped_early": state["stopped_early"],
        "steps": state["step"],
        "train_sample_steps_per_second": samples_per_second,
        "validation": {k: v for k, v in best_val.items() if k != "step"},
        "test": test,
        "versions": ckpt.library_versions(),
    }
    hub.log("test", test, state["step"])
    if importlib.util.find_spec("matplotlib") is not None:
        from learnsim.track.plots import run_plots

        for path in run_plots(run_dir, model, data, records, "test", tc.eval_horizon):
            hub.log_artifact(path)
    hub.finish()
    tmp = run_dir / "report.json.tmp"
    tmp.write_text(json.dumps(report, indent=2))
    os.replace(tmp, run_dir / "report.json")
    if test:
        progress.print(metrics_table(f"test (best checkpoint, step {best_meta['step']})", test, "test"))
    progress.print(
        f"run directory: {run_dir}\nmodel: {config.model_name}@{stored['version']} "
        f"(load_model('{config.model_name}'))"
    )
    return TrainResult(
        model, {**report["validation"], **test}, run_dir, config.model_name, stored["version"], report
    )

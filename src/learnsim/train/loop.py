"""``train()``: build a run, run the loop, finish. The loop reads top to bottom: one optimizer step, then the
"every N steps" blocks for logging, validation with best-checkpoint selection and early stopping, and
checkpoints. Resuming builds the same run and loads the latest checkpoint into it.
"""

from __future__ import annotations

import datetime
import math
import time
import uuid
from pathlib import Path

import torch

from learnsim.config_io import validate
from learnsim.durable import read_json, write_json, write_text
from learnsim.errors import ConfigError, FileCorruptError, TrainingError
from learnsim.evaluate.metrics import split_metrics
from learnsim.rundir import RunDir
from learnsim.store.versions import learnsim_home
from learnsim.track.console import TrainingProgress, metrics_table
from learnsim.track.hub import Logger
from learnsim.train import candidates, checkpoint, distributed
from learnsim.train.config import RunConfig, TrainingConfig, dump_run_config, load_run_config
from learnsim.train.finish import TrainResult, finish
from learnsim.train.objective import draw
from learnsim.train.run import EvalFn, Run, StopFn, build_run, restore_checkpoint, training_state


def train(
    config: RunConfig,
    run_dir: str | Path | None = None,
    *,
    monitor: bool = True,
    eval_fn: EvalFn | None = None,
    warm_start: str | None = None,
    loggers: list[Logger] | None = None,
    should_stop: StopFn | None = None,
    tags: dict | None = None,
) -> TrainResult:
    """Train ``config.model`` on ``config.dataset`` and store the best checkpoint as a model version.

    Returns when the model is stored and ``report.json`` written; the plots are drawn and the trackers
    closed on a background thread right after: ``result.wait()`` blocks until they are (the CLI does, and so
    does the interpreter at exit).

    eval_fn(model, step) -> {name: value}: a user check (e.g. closed loop in their own simulator) run at
    every evaluation; its values are logged as ``custom/<name>``.
    loggers: plain callables ``fn(category, metrics, step)`` receiving every metric logged (categories
    train, val, custom, test), beside the JSON lines file and the configured trackers.
    warm_start: 'NAME[@VERSION]' of a stored model whose weights (and normalisation) initialise this run.
    should_stop(step, metric) -> bool: asked after every validation with the selection metric; True ends the
    run as pruned (a tuner's pruner): no test, no stored model, ``report.json`` says ``pruned``.
    tags: recorded in the stored model's lineage and the report (e.g. the study and trial of a search).
    """
    shard = distributed.from_environment(config.training.device)
    # rank 0 names (and checks) the run directory; every rank uses that one
    run_dir = distributed.broadcast(shard, _new_run_dir(config, run_dir) if shard.is_main else None)
    run = build_run(config, run_dir, warm_start=warm_start, eval_fn=eval_fn, loggers=loggers, shard=shard)
    run.should_stop, run.tags = should_stop, dict(tags or {})
    if shard.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_text(RunDir(run_dir).config, dump_run_config(run.config))  # resolved: says what was trained
        lineage = {**run.datasets["train"], "split": run.data.split.to_dict()}
        lineage |= {"validation": run.datasets.get("val"), "test": run.datasets.get("test")}
        write_json(RunDir(run_dir).dataset, lineage)
    run.hub.start(run.config.model_dump(mode="json"), run.tags)
    return _loop_and_finish(run, monitor)


def _loop_and_finish(run: Run, monitor: bool) -> TrainResult:
    """Run the loop; rank 0 then finishes (test, store, report) while the other ranks leave."""
    shard = run.shard
    try:
        run_loop(run, monitor and shard.is_main)
    except RuntimeError as error:  # gloo/NCCL failures: torch.distributed.DistError is a RuntimeError
        if not shard.active or isinstance(error, TrainingError) or not _is_collective_failure(error):
            raise
        found = checkpoint.checkpoints(run.checkpoint_dir)
        note = f"; the last checkpoint is {found[-1][0]}" if found else ""
        raise distributed.lost_rank(shard, error, note) from None
    finally:
        if shard.active:
            # The objective (DDP, whose reducer holds the process group) and the run refer to each other, so
            # only the cycle collector would free them: at interpreter exit, after the group is gone, where
            # gloo's teardown aborts the process (about 1 run in 4). Release it while the group still stands.
            run.objective = None
            distributed.shutdown(shard)
    if not shard.is_main:
        return TrainResult(None, {}, run.run_dir, run.config.model_name, None, {})
    return finish(run, monitor)


def _is_collective_failure(error: RuntimeError) -> bool:
    import torch.distributed as dist

    return isinstance(error, getattr(dist, "DistError", ())) or any(
        word in str(error) for word in ("Gloo", "gloo", "NCCL", "Connection", "connection", "peer")
    )


def resume(
    run_dir: str | Path,
    *,
    overrides: list[str] | None = None,
    monitor: bool = True,
    eval_fn: EvalFn | None = None,
    loggers: list[Logger] | None = None,
    should_stop: StopFn | None = None,
    tags: dict | None = None,
) -> TrainResult:
    """Continue a run from its latest checkpoint, with the run's own resolved config and dataset version.

    The run's config.yaml must equal the config its checkpoint was trained with (an edit is refused, naming
    the fields). ``overrides`` ('training.training_iters=20000') may change only the fields in
    ``SAFE_ON_RESUME``: how long to train and how often to evaluate, save and log.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise TrainingError(f"{run_dir}: no such run directory")
    if not RunDir(run_dir).config.is_file():
        raise TrainingError(f"{run_dir}: not a learnsim run directory (no config.yaml)")
    if RunDir(run_dir).report.is_file():
        raise TrainingError(f"{run_dir}: this run already finished (report.json exists); nothing to resume")
    config = load_run_config(RunDir(run_dir).config)
    found = checkpoint.checkpoints(RunDir(run_dir).checkpoints)
    if not found:
        raise TrainingError(f"{RunDir(run_dir).checkpoints}: no complete checkpoint to resume from")
    _refuse_changes(config.model_dump(mode="json"), found[-1][1].get("config"), RunDir(run_dir).config)
    if overrides:
        unsafe = sorted({o.partition("=")[0] for o in overrides} - set(SAFE_ON_RESUME))
        if unsafe:
            raise ConfigError(
                f"--set {', '.join(unsafe)} cannot change on resume (only {', '.join(SAFE_ON_RESUME)} can); "
                "to train a changed model from this run's weights, start a new run with --warm-start"
            )
        config = load_run_config(data=config.model_dump(mode="json"), overrides=overrides)
        done = found[-1][1]["step"]
        if config.training.training_iters < done:
            raise ConfigError(
                f"--set training.training_iters={config.training.training_iters} is below the {done} steps this "
                f"run has already trained (its latest checkpoint, {found[-1][0].name}): give {done} or more"
            )
    lineage = read_json(RunDir(run_dir).dataset, "run lineage")
    try:  # the exact versions the run started on
        pinned = {"dataset": f"{lineage['name']}@{lineage['version']}"}
        for role, field in (("validation", "validation_dataset"), ("test", "test_dataset")):
            if lineage.get(role):
                pinned[field] = f"{lineage[role]['name']}@{lineage[role]['version']}"
    except (KeyError, TypeError):
        raise FileCorruptError(f"{RunDir(run_dir).dataset}: no dataset name and version") from None
    shard = distributed.from_environment(config.training.device)
    run = build_run(config.model_copy(update=pinned), run_dir, eval_fn=eval_fn, loggers=loggers, shard=shard)
    run.should_stop, run.tags = should_stop, dict(tags or {})
    restore_checkpoint(run)
    if overrides and shard.is_main:  # the run's config is now the overridden one; the next resume compares
        write_text(RunDir(run_dir).config, dump_run_config(config))
    run.hub.start(run.config.model_dump(mode="json"), run.tags)
    return _loop_and_finish(run, monitor)


# Fields a resume may change: they decide how long and how visibly the run goes on, not what it learns.
SAFE_ON_RESUME = (
    "training.training_iters",
    "training.eval_every",
    "training.save_every",
    "training.log_every",
    "training.early_stop_patience",
    "training.save_top_k",
    "training.trackers",
)


def _refuse_changes(current: dict, started: dict | None, path: Path) -> None:
    """An error listing every field of ``current`` (config.yaml) that differs from the checkpoint's config."""
    if started is None:
        return
    now, then = _flat(current), _flat(started)
    pinned = ("dataset", "validation_dataset", "test_dataset")  # dataset.json pins the exact versions
    changed = sorted(k for k in now.keys() | then.keys() if now.get(k) != then.get(k) and k not in pinned)
    for key in pinned:  # a version may be pinned on one side only; the name, and a version given, must agree
        (name, version), (was, was_version) = _reference(now.get(key)), _reference(then.get(key))
        if name != was or (version and was_version and not was_version.startswith(version)):
            changed.append(key)
    if changed:
        raise TrainingError(
            f"{path} was edited after the run started; changed: {', '.join(changed)}. A resume continues the "
            "run exactly as it began: undo the edit, give training_iters/eval_every/save_every/log_every/"
            "trackers as --set on resume, or start a new run with --warm-start from this run's model"
        )


def _reference(value: str | None) -> tuple[str | None, str | None]:
    """'NAME@VERSION' -> (name, version); None -> (None, None)."""
    if not value:
        return None, None
    name, _, version = str(value).partition("@")
    return name, version or None


def _flat(value, prefix: str = "") -> dict:
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in _flat(item, f"{prefix}{key}.").items()} or {
            prefix[:-1]: {}
        }
    return {prefix[:-1]: value}


def train_model(
    model_name: str,
    model_config,
    dataset_name: str,
    training_config: TrainingConfig | None = None,
    monitor_training: bool = True,
    *,
    run_dir: str | Path | None = None,
    eval_fn: EvalFn | None = None,
    warm_start: str | None = None,
    loggers: list[Logger] | None = None,
) -> TrainResult:
    """Onyx-style entry point: train ``model_config`` on a stored dataset and save the best model as
    a new version of ``model_name``. Returns the trained model, its metrics and where everything is."""
    fields = {
        "dataset": dataset_name,
        "model_name": model_name,
        "model": model_config,
        "training": training_config or TrainingConfig(),
    }
    config = validate(RunConfig, fields)
    return train(
        config, run_dir, monitor=monitor_training, eval_fn=eval_fn, warm_start=warm_start, loggers=loggers
    )


def run_loop(run: Run, monitor: bool) -> Run:
    """Train from ``run.state.step`` to ``training_iters`` (or an early stop); returns the run."""
    tc, state = run.config.training, run.state
    progress = TrainingProgress(tc.training_iters, state.step, monitor)
    progress.print(describe(run))
    if state.step == 0 and candidates.applies(run):  # the linear fit, scored before any step
        candidates.write_linear_candidate(run, lambda model: validate_model(run, model, user_check=False))
    run.model.train()
    tick, compiled = time.perf_counter(), set()
    while state.step < tc.training_iters and not state.stopped_early:
        horizon = run.curriculum.horizon_at(state.step, run.generator) if run.curriculum else 0
        began = time.perf_counter()
        loss = training_step(run, horizon)
        if run.compiled and horizon not in compiled:  # this step compiled a graph: timed apart
            compiled.add(horizon)
            check_finite(run, state.step + 1)  # waits for the step on CUDA
            took = time.perf_counter() - began
            run.compile_seconds += took
            tick += took
        state.step += 1
        step = state.step

        # -- every log_every steps: training loss and learning rate
        if step % tc.log_every == 0 or step == tc.training_iters:
            check_finite(run, step)
            mean_loss = distributed.mean(run.shard, loss.detach())  # over the global batch
            metrics = {"train/loss": mean_loss, "lr": run.optimizer.param_groups[0]["lr"]}
            if run.curriculum:
                metrics["train/horizon"] = horizon
            run.hub.log("train", metrics, step)
            progress.update(step, loss=metrics["train/loss"], lr=metrics["lr"])

        evaluate_now = step % tc.eval_every == 0 or step == tc.training_iters
        if not (evaluate_now or step % tc.save_every == 0):
            continue
        check_finite(run, step)  # on CUDA this also waits for the queued steps, so that they are timed
        state.train_seconds += time.perf_counter() - tick  # throughput counts training steps only

        # -- every eval_every steps: validation, best-checkpoint selection, early stopping (rank 0 decides)
        metric = evaluate_and_decide(run, progress) if evaluate_now else None

        # -- every save_every steps (and at every evaluation): an atomic, resumable checkpoint
        if run.shard.is_main:
            meta = {
                "metric": metric,
                "metric_name": run.selection,
                "config": run.config.model_dump(mode="json"),
            }
            checkpoint.save_checkpoint(
                run.checkpoint_dir, step, run.eval_model, training_state(run), meta, tc.save_top_k
            )
        run.hub.flush()  # trackers receive what this checkpoint keeps, in one batch, off the hot path
        tick = time.perf_counter()
    progress.close()
    return run


def evaluate_and_decide(run: Run, progress: TrainingProgress) -> float | None:
    """Validate on rank 0, update the best metric, decide early stopping and pruning; other ranks receive
    rank 0's decisions. Returns the selection metric (None on other ranks)."""
    tc, state, step = run.config.training, run.state, run.state.step
    metric = None
    if run.shard.is_main:
        metrics = validate_model(run)
        metric = metrics[run.selection]
        if metric < state.best_metric:
            state.best_metric, state.evals_since_best = metric, 0
        else:
            state.evals_since_best += 1
        if tc.early_stop_patience and state.evals_since_best >= tc.early_stop_patience:
            state.stopped_early = True
            progress.print(
                f"early stop at step {step}: no improvement in {tc.early_stop_patience} evaluations"
            )
        if _diverged(state, metrics):
            state.stopped_early = True
            progress.print(
                f"early stop at step {step}: the validation free run has diverged for {DIVERGED_EVALUATIONS} "
                f"evaluations in a row (whole-episode nRMSE {metrics.get('val/nrmse@full'):.3g}, more than "
                f"{DIVERGED_FACTOR:g}x holding the last state's {metrics.get('val/hold/nrmse@full'):.3g}); the best "
                f"checkpoint, step {step - state.evals_since_best * tc.eval_every}, is kept"
            )
        if run.should_stop is not None and run.should_stop(step, metric):
            state.stopped_early = state.pruned = True
            progress.print(f"pruned at step {step} ({run.selection} {metric:.4g})")
        progress.update(step, **{run.selection: metric})
        progress.validation(
            step, metrics_table(f"validation, step {step}", metrics, "val"), run.selection, metric
        )
        run.model.train()
    if run.shard.active:
        decided = distributed.broadcast(run.shard, state.checkpointed())
        for key, value in decided.items():
            setattr(state, key, value)
    return metric


# A free run "diverged" when its whole-episode error is not finite or over 10x holding the last state's; once
# that lasts 5 validations (a quarter of the recipe's 20) since the best checkpoint, the rest of the budget
# would be spent making it worse (the arm that ran 77 minutes kept its step 4,500 of 30,000).
DIVERGED_FACTOR, DIVERGED_EVALUATIONS = 10.0, 5


def _diverged(state, metrics: dict) -> bool:
    """Count this validation towards a diverged stretch (reset by an improvement or a sane free run);
    whether the stretch is long enough to stop."""
    full, hold = metrics.get("val/nrmse@full"), metrics.get("val/hold/nrmse@full")
    if full is None or hold is None:
        return False
    far = not math.isfinite(full) or full > DIVERGED_FACTOR * hold
    state.evals_diverged = state.evals_diverged + 1 if far and state.evals_since_best > 0 else 0
    return state.evals_diverged >= DIVERGED_EVALUATIONS


def training_step(run: Run, horizon: int) -> torch.Tensor:
    """One optimizer step on a sampled batch (this rank's share of it when sharded); ``horizon`` 0 is
    one-step training. Returns the loss."""
    tc = run.config.training
    with run.autocast:
        loss, count = run.objective(horizon, *draw(run, horizon))
    run.state.sample_steps += count * run.shard.world_size  # samples x simulated steps, all ranks
    note_nonfinite(run, loss)
    run.optimizer.zero_grad(set_to_none=True)
    if run.scaler is not None:
        run.scaler.scale(loss).backward()
        run.scaler.unscale_(run.optimizer)
    else:
        loss.backward()
    if tc.grad_clip is not None:
        torch.nn.utils.clip_grad_norm_(run.model.parameters(), tc.grad_clip, foreach=True)
    if run.scaler is not None:
        run.scaler.step(run.optimizer)
        run.scaler.update()
    else:
        run.optimizer.step()
    if run.scheduler is not None:
        run.scheduler.step()
    if run.ema is not None:
        run.ema.update(run.model)
    return loss


def note_nonfinite(run: Run, loss: torch.Tensor) -> None:
    """Stop at a non-finite loss. On the CPU at once. On CUDA, where asking would make the host wait for
    the GPU every step, the losses are summed on the device (one kernel; a NaN or inf stays in the sum)
    and ``check_finite`` raises where the loop waits for the GPU anyway: at logging, and before every
    checkpoint, so that none holds diverged weights."""
    step = run.state.step + 1
    if not run.defer_loss_check:
        if not torch.isfinite(loss):
            raise_nonfinite(run, f"({loss.item()}) at step {step}")
        return
    if run.loss_check is None:
        run.loss_check = (torch.zeros((), dtype=torch.float32, device=loss.device), step)
    run.loss_check[0].add_(loss.detach())


def check_finite(run: Run, through: int) -> None:
    """Raise if a step since the last check, up to step ``through``, had a non-finite loss (CUDA; the CPU
    raised at the step)."""
    if run.loss_check is None:
        return
    total, first = run.loss_check
    run.loss_check = None
    if not math.isfinite(total.item()):
        raise_nonfinite(run, f"in steps {first}-{through}")


def raise_nonfinite(run: Run, where: str) -> None:
    last = checkpoint.checkpoints(run.checkpoint_dir)
    kept = f"; the last good checkpoint is {last[-1][0]}" if last else ""
    raise TrainingError(
        f"non-finite training loss {where}: training diverged or the data holds extreme values; "
        f"lower the learning rate{kept}"
    )


def validate_model(run: Run, model: torch.nn.Module | None = None, user_check: bool = True) -> dict:
    """Validation metrics of ``model`` (default ``run.eval_model``) and the user's eval_fn (``user_check``),
    logged at the current step; returns them all."""
    tc, step = run.config.training, run.state.step
    model = run.eval_model if model is None else model
    metrics = split_metrics(
        model,
        run.data,
        "val",
        run.loss_fn,
        tc.eval_max_windows,
        tc.eval_horizon,
        tc.selection_horizons,  # what rollout_score, the multi-step selection metric, averages
        {"hold": "hold"},  # holding the last state: the yardstick of a diverged free run (no model work)
        max_rows=tc.eval_max_rows,
    )
    run.hub.log("val", metrics, step)
    if user_check and run.eval_fn is not None:
        custom = {f"custom/{k}": float(v) for k, v in run.eval_fn(run.eval_model, step).items()}
        run.hub.log("custom", custom, step)
        metrics = {**metrics, **custom}
    return metrics


def describe(run: Run) -> str:
    """What was derived, printed before the first step."""
    data, mc = run.data, run.config.model
    windows = " / ".join(f"{len(data.starts[s])} {s}" for s in ("train", "val", "test"))
    text = (
        f"run {run.run_dir}\n  dataset {run.dataset_name}@{run.dataset_version}: {data.inputs.shape[0]} rows, "
        f"split by {data.split.by}: {windows} windows\n"
        f"  model {mc.type}: {sum(p.numel() for p in run.model.parameters()):,} parameters on {run.device}"
        f"{f' x {run.shard.world_size} ranks (DDP)' if run.shard.active else ''}; "
        f"selection by {run.selection}"
    )
    if run.state.step:
        text += f"; resuming at step {run.state.step}"
    if run.curriculum:
        text += f"\n  rollout curriculum: {run.curriculum.describe()}"
    return text


def _new_run_dir(config: RunConfig, run_dir) -> Path:
    if run_dir is None:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        return learnsim_home() / "runs" / f"{config.model_name}-{stamp}-{uuid.uuid4().hex[:4]}"
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"run directory (--run-dir) {run_dir} is a file")
    if run_dir.exists() and any(run_dir.iterdir()):
        raise ConfigError(f"run directory {run_dir} is not empty; resume it with --resume or pick another")
    return run_dir

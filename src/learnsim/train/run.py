"""Building a training run: the exact dataset versions split without leakage, the config resolved by the
recipe, the model with training statistics, optimiser, schedule, curriculum, baselines, metric hub and the
loop state, in one ``Run``.

A new run and a resumed run are built the same way; resuming is then ``restore_checkpoint(run)``, which
loads the latest checkpoint's weights, optimiser, schedule, RNG and loop state into the built run.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from learnsim.data.windows import WindowedData
from learnsim.errors import ConfigError, TrainingError
from learnsim.evaluate.baselines import fit_linear
from learnsim.models import model_from_config
from learnsim.models.files import read_model
from learnsim.rundir import RunDir
from learnsim.store.models import load_model
from learnsim.track.hub import Logger, MetricsHub, SilentHub, available_default_trackers
from learnsim.train import checkpoint, distributed
from learnsim.train.config import RunConfig
from learnsim.train.data import load_run_datasets, split_run_data
from learnsim.train.distributed import Shard
from learnsim.train.losses import make_loss
from learnsim.train.objective import StepObjective
from learnsim.train.optim import build_optimizer, build_scheduler
from learnsim.train.recipe import resolve, resolve_network
from learnsim.train.rollout import EMA, Curriculum, RolloutSampler

EvalFn = Callable[[torch.nn.Module, int], dict]
StopFn = Callable[[int, float], bool]  # (step, validation selection metric) -> stop this run now?


@dataclass
class LoopState:
    """What the loop carries from step to step. The fields up to ``pruned`` are checkpointed, so a resumed
    run continues exactly; the throughput counters cover this process's training steps only."""

    step: int = 0
    best_metric: float = math.inf
    evals_since_best: int = 0
    evals_diverged: int = 0  # validations in a row, since the best, whose free run ran far past holding still
    stopped_early: bool = False
    pruned: bool = False  # stopped by should_stop (a tuner's pruner): finished without test or stored model
    train_seconds: float = field(default=0.0, compare=False)
    sample_steps: int = field(default=0, compare=False)  # samples x simulated steps (one-step sample: 1)

    def checkpointed(self) -> dict:
        keys = ("step", "best_metric", "evals_since_best", "evals_diverged", "stopped_early", "pruned")
        return {key: getattr(self, key) for key in keys}


@dataclass
class Run:
    """Everything one training run uses. ``eval_model`` is what is evaluated, checkpointed and stored: the
    EMA of the weights when rollout training keeps one, else the trained model."""

    config: RunConfig  # resolved: every field the recipe fills in is set
    run_dir: Path
    datasets: dict[str, dict]  # role ('train', 'val', 'test') -> {'name', 'version'} of each dataset used
    data: WindowedData
    device: torch.device
    model: torch.nn.Module
    ema: EMA | None
    optimizer: torch.optim.Optimizer
    scheduler: object | None
    scaler: torch.amp.GradScaler | None
    autocast: contextlib.AbstractContextManager
    loss_fn: Callable
    targets: torch.Tensor  # (N, n_direct_outputs) normalised once, not per step
    generator: torch.Generator  # batch sampling and history noise; its state is checkpointed
    curriculum: Curriculum | None
    sampler: RolloutSampler | None
    hub: MetricsHub | SilentHub  # silent on ranks other than 0: only rank 0 writes
    shard: Shard = field(default_factory=Shard)  # this process's rank in a torchrun job
    objective: torch.nn.Module | None = None  # StepObjective, under DistributedDataParallel when sharded
    baselines: dict = field(default_factory=dict)  # name -> 'hold' or a fitted model; validation/test compare
    eval_fn: EvalFn | None = None
    should_stop: StopFn | None = None
    tags: dict = field(default_factory=dict)  # recorded in the stored model's lineage (e.g. study and trial)
    state: LoopState = field(default_factory=LoopState)
    compile_seconds: float = 0.0  # first step of each compiled horizon, beyond its later steps' time
    compiled: bool = False  # the step is torch.compile'd (compile: true, or cuda_graphs on CUDA)
    warm_started: bool = False  # initialised from a stored model (no linear candidate: train.candidates)
    # on CUDA the loss is checked for NaN at each log and checkpoint, not every step (loop.note_nonfinite)
    defer_loss_check: bool = False
    loss_check: tuple[torch.Tensor, int] | None = None  # the deferred check: () sum of losses since a step

    @property
    def dataset_name(self) -> str:
        return self.datasets["train"]["name"]

    @property
    def dataset_version(self) -> str:
        return self.datasets["train"]["version"]

    @property
    def eval_model(self) -> torch.nn.Module:
        return self.ema.model if self.ema else self.model

    @property
    def selection(self) -> str:
        """The validation metric that picks the best checkpoint."""
        return "val/loss" if self.config.training.checkpoint_type == "single_step" else "val/rollout_score"

    @property
    def checkpoint_dir(self) -> Path:
        return RunDir(self.run_dir).checkpoints


def build_run(
    config: RunConfig,
    run_dir: Path,
    *,
    warm_start: str | None = None,
    eval_fn: EvalFn | None = None,
    loggers: list[Logger] | None = None,
    shard: Shard = Shard(),
) -> Run:
    """Build every piece of a run from its config (``config.dataset`` names the exact version to use).
    Every rank of a distributed job builds the same run (same seed: same weights, same generator)."""
    device = distributed.device_for(shard, resolve_device(config.training.device))
    if config.training.float32_matmul_precision is not None:
        torch.set_float32_matmul_precision(config.training.float32_matmul_precision)
    distributed.check_batch(shard, config.training.train_batch_size)
    seed_everything(config.training.seed)
    source = load_model(warm_start) if warm_start else None  # a warm start keeps its model's window
    # the split and the windows need the window; it depends on the schema (or the warm start) alone
    config = resolve_network(config, source.config if source is not None else None)
    run_data = split_run_data(config, load_run_datasets(config), device)
    config = resolve(
        config, run_data
    )  # the recipe fills what the config leaves open, from training data only
    tc, mc, data = config.training, config.model, run_data.data
    statistics = data.training_statistics(mc)
    check_memory(config, device)
    model = model_from_config(mc)
    if hasattr(model.network, "set_shard"):  # an ensemble cuts its members' rows from the global batch
        model.network.set_shard(shard.rank, shard.world_size)
    model.set_statistics(statistics, data.training_ranges(mc))
    # The linear model fitted to the training windows: a baseline, and where a linear part starts from.
    linear = fit_linear(mc, data, statistics)
    if tc.start_from_linear_fit and hasattr(model.network, "start_from_linear"):
        model.network.start_from_linear(linear.network.layer.weight, linear.network.layer.bias)
    if source is not None:
        load_warm_start(model, source, warm_start)
    model.to(device)
    optimizer = build_optimizer(tc.optimizer, model.parameters(), device)
    curriculum = sampler = None
    if tc.rollout is not None:
        sampler = RolloutSampler(data, mc.sequence_length)
        curriculum = Curriculum(tc.rollout, tc.training_iters, sampler.longest_possible)
    trackers = tc.trackers if tc.trackers is not None else available_default_trackers()
    baselines = {"hold": "hold", "linear": linear} if mc.schema.states else {}
    run = Run(
        config=config,
        run_dir=run_dir,
        datasets=run_data.references,
        data=data,
        device=device,
        model=model,
        ema=EMA(model, tc.rollout.ema_decay) if tc.rollout and tc.rollout.ema_decay else None,
        optimizer=optimizer,
        scheduler=build_scheduler(tc.lr_scheduler, optimizer),
        scaler=torch.amp.GradScaler(device.type) if tc.precision == "16-mixed" else None,
        autocast=autocast(tc.precision, device),
        loss_fn=make_loss(tc.loss, tc.loss_weights, model),
        targets=data.normalized_targets(model.output_scaler),
        generator=torch.Generator().manual_seed(tc.seed),
        curriculum=curriculum,
        sampler=sampler,
        hub=MetricsHub(run_dir, trackers, loggers) if shard.is_main else SilentHub(),
        shard=shard,
        baselines=baselines,
        eval_fn=eval_fn,
        warm_started=source is not None,
        defer_loss_check=device.type == "cuda",
    )
    objective = distributed.wrap(shard, StepObjective(run), device)
    # compiled around DDP, as torch recommends: DDP's bucketing then splits the graph at the all-reduces
    run.objective = compiled_objective(objective, tc, device, config.model)
    run.compiled = run.objective is not objective
    return run


def compiled_objective(objective, tc, device, model_config):
    """The objective as the step will call it: eager, compiled, or compiled with CUDA-graph capture."""
    uncaptured = None
    if tc.cuda_graphs and device.type != "cuda":
        uncaptured = f"needs a CUDA device; the step on {device} runs uncaptured"
    elif tc.cuda_graphs and getattr(model_config, "type", None) == "rnn":
        # torch.compile leaves cuDNN's RNN kernels out of the graphs: on an H200 the split, partly captured
        # GRU step ran at 0.67-0.72x the eager one (benchmarks/README.md, "On a GPU")
        uncaptured = "does not capture cuDNN's RNN kernels (slower partly captured); the RNN runs uncaptured"
    if uncaptured:
        warnings.warn(f"learnsim: training.cuda_graphs {uncaptured}", RuntimeWarning, stacklevel=3)
    elif tc.cuda_graphs:
        return torch.compile(objective, mode="reduce-overhead")
    return torch.compile(objective) if tc.compile else objective


def training_state(run: Run) -> dict:
    """Everything beside the model's weights that a checkpoint needs to resume exactly."""
    return {
        "train_weights": run.model.state_dict() if run.ema else None,
        "optimizer": run.optimizer.state_dict(),
        "scheduler": run.scheduler.state_dict() if run.scheduler else None,
        "scaler": run.scaler.state_dict() if run.scaler else None,
        "rng": checkpoint.rng_state(run.generator),
        "state": run.state.checkpointed(),
        "world_size": run.shard.world_size,
    }


def restore_checkpoint(run: Run) -> None:
    """Load the latest complete checkpoint into a built run and drop metrics logged after it."""
    found = checkpoint.checkpoints(run.checkpoint_dir)
    if not found:
        raise TrainingError(f"{run.checkpoint_dir}: no complete checkpoint to resume from")
    path, _ = found[-1]
    saved = read_model(path, run.device).state_dict()
    state = checkpoint.load_training_state(path)
    saved_world = state.get("world_size", 1)
    if saved_world != run.shard.world_size:
        raise TrainingError(
            f"{path}: this run trained with {saved_world} process(es) and is being resumed with "
            f"{run.shard.world_size}; an exact resume needs the same number (torchrun --nproc_per_node "
            f"{saved_world}, or a plain `learnsim train --resume` for 1)"
        )
    try:
        if run.ema is not None:  # the checkpointed model is the average; the raw weights travel in the state
            run.ema.model.load_state_dict(saved)
            run.model.load_state_dict(state["train_weights"])
        else:
            run.model.load_state_dict(saved)
        run.optimizer.load_state_dict(state["optimizer"])
        if run.scheduler is not None:
            run.scheduler.load_state_dict(state["scheduler"])
        if run.scaler is not None:
            run.scaler.load_state_dict(state["scaler"])
        checkpoint.restore_rng_state(state["rng"], run.generator)
        run.state = LoopState(**state["state"])
    except (RuntimeError, KeyError, TypeError, ValueError) as error:
        problem = str(error).strip().splitlines()[-1].strip() if str(error).strip() else type(error).__name__
        raise TrainingError(
            f"{path}: does not fit this run's config ({problem[:300]}); resume needs the config the run "
            "started with"
        ) from None
    if run.shard.is_main:
        run.hub.file.truncate_after(run.state.step)


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


def check_memory(config: RunConfig, device: torch.device) -> None:
    """Refuse a model whose weights, gradients and optimiser state alone exceed the memory available, before
    anything is allocated (the parameters are counted on torch's meta device) or written."""
    with torch.device("meta"):
        parameters = sum(p.numel() for p in model_from_config(config.model).parameters())
    copies = 4 + (1 if config.training.rollout and config.training.rollout.ema_decay else 0)
    need = parameters * 4 * copies  # float32: weights, gradients, two AdamW moments (+ EMA weights)
    available = available_memory(device)
    if available is not None and need > 0.8 * available:
        raise ConfigError(
            f"model is too large for the memory available: {parameters:,} parameters need about "
            f"{need / 2**30:.1f} GiB for weights, gradients and optimiser state, and {device} has "
            f"{available / 2**30:.1f} GiB free; reduce model.hidden_size / hidden_layers (or n_embd / n_layer)"
        )


def available_memory(device: torch.device) -> int | None:
    """Bytes free for a new allocation on ``device``, or None when unknown."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    if device.type != "cpu":
        return None
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    if precision == "32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16-mixed" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def load_warm_start(model, source, reference: str) -> None:
    """Copy the stored model ``source`` (named ``reference``) into ``model``; a named error if it does not fit."""
    try:
        model.load_state_dict(source.state_dict())
    except RuntimeError as error:
        raise ConfigError(
            f"warm start from '{reference}': its weights do not fit this model config "
            f"({str(error).splitlines()[0]})"
        ) from None

"""The study: Optuna storage, one worker's loop, and one trial as an ordinary training run.

Storage is a SQLite file under ``$LEARNSIM_HOME/studies`` by default, or any Optuna RDB URL
(``postgresql://...``) that workers on many machines share. The loop is written so that the study ends with
exactly ``num_trials`` finished trials (completed, pruned, or failed on a config or a diverging run) however
many workers run and whichever of them is killed:

- a worker claims a trial only while finished + running trials < num_trials; two workers racing for the last
  slot both create a trial, and the one with the higher trial number marks its own ``surplus`` (failed,
  ignored by the sampler and by the count) before training anything;
- a trial whose worker died is failed and re-enqueued with the same parameters: at once when the worker ran on
  this machine and its process is gone, else when Optuna's heartbeat goes stale; the retry resumes the dead
  trial's run directory from its last checkpoint.
"""

from __future__ import annotations

import inspect
import json
import os
import socket
import time
import warnings
from pathlib import Path

from learnsim.config_io import validate
from learnsim.errors import ConfigError, LearnsimError
from learnsim.rundir import RunDir
from learnsim.store.versions import learnsim_home
from learnsim.tune.config import SearchConfig
from learnsim.tune.samplers import PRUNERS, SAMPLERS
from learnsim.tune.space import categorical, suggest

HEARTBEAT_SECONDS = 5  # a worker's trial is stale after GRACE_SECONDS without a heartbeat
GRACE_SECONDS = 20
POLL_SECONDS = 1.0


class SurplusTrial(Exception):
    """This worker lost the race for the last trial slot."""


class TrialFailed(Exception):
    """The trial's config or run failed in a way that counts as a finished (failed) trial."""


def studies_dir() -> Path:
    return learnsim_home() / "studies"


def storage_url(storage: str | None) -> str:
    """The given Optuna storage URL, or the default SQLite file under ``$LEARNSIM_HOME/studies``."""
    if storage:
        return storage
    studies_dir().mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(studies_dir() / 'optuna.db').resolve()}"


def require_optuna() -> None:
    import importlib.util

    if importlib.util.find_spec("optuna") is None:
        raise ConfigError("tuning needs Optuna, which is not installed: pip install 'learnsim[tune]'")


def open_storage(url: str):
    require_optuna()
    import optuna

    engine = {"connect_args": {"timeout": 120}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    # The stale-trial callback's keyword was renamed in optuna 4.9; take whichever this optuna has.
    renamed = "heartbeat_stale_trial_callback" in inspect.signature(optuna.storages.RDBStorage).parameters
    callback = {"heartbeat_stale_trial_callback" if renamed else "failed_trial_callback": retry_trial}
    for attempt in range(3):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    url,
                    engine_kwargs=engine,
                    heartbeat_interval=HEARTBEAT_SECONDS,
                    grace_period=GRACE_SECONDS,
                    **callback,
                )
        except Exception as error:  # sqlalchemy's errors: a bad URL, no server, no driver, ...
            racing = ("already exists", "UNIQUE constraint", "duplicate key", "database is locked")
            if any(text in str(error) for text in racing) and attempt < 2:
                time.sleep(0.5)  # workers starting together on a new database race to create its tables
                continue
            raise ConfigError(f"storage {url!r}: cannot open it ({type(error).__name__}: {error})") from None


def make_sampler(config: SearchConfig, worker: int):
    """The configured sampler, seeded per worker so that workers do not propose the same points."""
    return SAMPLERS[config.optimization.sampler](config.optimization.seed + worker)


def make_pruner(config: SearchConfig):
    return PRUNERS[config.optimization.pruner]()


def open_study(config: SearchConfig, url: str, worker: int = 0):
    """Create the study, or load it when it exists with the same search config (``num_trials`` may grow)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(
        study_name=config.study,
        storage=open_storage(url),
        sampler=make_sampler(config, worker),
        pruner=make_pruner(config),
        direction="minimize",
        load_if_exists=True,
    )
    mine = _comparable(config.model_dump(mode="json"))
    stored = study.user_attrs.get("search_config")
    if stored is None:
        study.set_user_attr("search_config", config.model_dump(mode="json"))
    else:
        theirs = _comparable(stored)
        changed = sorted(k for k in mine.keys() | theirs.keys() if mine.get(k) != theirs.get(k))
        if changed:
            raise ConfigError(
                f"study '{config.study}' in {url} was started with a different search config (changed: "
                f"{', '.join(changed)}); give it another study_name, or restore the config"
            )
    return study


def _comparable(data: dict) -> dict:
    """The search config as flat fields, without the ones that may change between sessions of one study."""
    optimization = {k: v for k, v in data.get("optimization", {}).items() if k != "num_trials"}
    flat = {f"optimization.{k}": json.dumps(v, sort_keys=True) for k, v in optimization.items()}
    return flat | {k: json.dumps(v) for k, v in data.items() if k != "optimization"}


def counts(trial) -> bool:
    """A finished trial: completed, pruned, or failed for a reason of its own (not a dead worker, not surplus)."""
    from optuna.trial import TrialState

    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
        return True
    return trial.state == TrialState.FAIL and "error" in trial.user_attrs


def retry_trial(study, frozen) -> None:
    """Enqueue a dead worker's trial again with the same parameters (Optuna calls this for stale trials)."""
    if frozen.user_attrs.get("surplus") or "error" in frozen.user_attrs:
        return
    attrs = {"retry_of": frozen.number}
    if frozen.user_attrs.get("run_dir"):
        attrs["resume_dir"] = frozen.user_attrs["run_dir"]
    study.enqueue_trial(frozen.params, user_attrs=attrs, skip_if_exists=False)


def fail_dead_trials(study) -> None:
    """Fail (and retry) running trials whose worker was a process on this machine that no longer exists;
    trials of other machines are left to the heartbeat."""
    from optuna.exceptions import ExperimentalWarning
    from optuna.storages import fail_stale_trials
    from optuna.trial import TrialState

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        fail_stale_trials(study)
    host = socket.gethostname()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        pid = trial.user_attrs.get("pid")
        if trial.user_attrs.get("host") != host or pid is None or _alive(pid):
            continue
        try:
            study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        except Exception:  # another worker failed it first (optuna's UpdateFinishedTrialError)
            continue
        retry_trial(study, trial)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    # A zombie (killed child not yet reaped by its parent) still answers kill(pid, 0).
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][:1] != "Z"
    except OSError:
        return True


def work(config: SearchConfig, url: str, worker: int = 0, on_trial=None) -> None:
    """One worker: train trials until the study holds ``num_trials`` finished ones."""
    from optuna.trial import TrialState

    study = open_study(config, url, worker)
    total = config.optimization.num_trials
    while True:
        fail_dead_trials(study)
        trials = study.get_trials(deepcopy=False)
        done = sum(counts(t) for t in trials)
        running = sum(t.state == TrialState.RUNNING for t in trials)
        if done >= total:
            return
        if done + running >= total:  # the last trials are running elsewhere: wait for them (or their death)
            time.sleep(POLL_SECONDS)
            continue
        study.optimize(
            lambda trial: objective(trial, config, total),
            n_trials=1,
            catch=(SurplusTrial, TrialFailed),
            gc_after_trial=False,
        )
        if on_trial is not None:
            on_trial(study)


def _surplus(trial, total: int) -> bool:
    """Trials numbered below this one that are finished or running already fill every slot."""
    from optuna.trial import TrialState

    before = [
        t
        for t in trial.study.get_trials(deepcopy=False)
        if t.number < trial.number and (counts(t) or t.state == TrialState.RUNNING)
    ]
    return len(before) >= total


def trial_run_config(config: SearchConfig, trial) -> dict:
    """The plain run config of one trial: family, optimizer and schedule chosen by categorical parameters
    ('model', 'optimizer', 'lr_scheduler') when there is a choice, every space sampled. A space's parameter
    is named after its choice ('mlp.hidden_size', 'adamw.lr', 'training.rollout.noise_std'), so the sampler
    only ever compares it with itself."""
    opt = config.optimization
    model, model_label = _choose(trial, "model", opt.opt_models)
    optimizer, optimizer_label = _choose(trial, "optimizer", opt.opt_optimizers)
    scheduler, scheduler_label = _choose(trial, "lr_scheduler", opt.opt_lr_schedulers)
    prefixes = {
        "model": model_label,
        "optimizer": optimizer_label,
        "lr_scheduler": scheduler_label,
        "training": "training",
    }
    choosers = {part: suggest(trial, prefix) for part, prefix in prefixes.items()}

    def choose(part: str, path: str, space):
        return choosers[part](path, space)

    data = opt.run_config_data(config.dataset, config.model_name, model, choose, optimizer, scheduler)
    for field in ("validation_dataset", "test_dataset"):
        if getattr(config, field):
            data[field] = getattr(config, field)
    return data


def _choose(trial, name: str, options: list) -> tuple:
    """(option, label): one of ``options`` (configs or None), by a categorical parameter when there is a choice."""
    labels = [_label(option, options, i) for i, option in enumerate(options)]
    label = categorical(trial, name, labels) if len(options) > 1 else labels[0]
    return options[labels.index(label)], label


def _label(option, options: list, index: int) -> str:
    if option is None:
        return "none"
    same = [o for o in options if o is not None and o.type == option.type]
    return option.type if len(same) == 1 else f"{option.type}{index}"


def objective(trial, config: SearchConfig, total: int) -> float:
    """One trial: a training run like ``train_model``'s, in its own run directory; reports every validation
    to the pruner. Returns the best validation metric (the run's checkpoint selection metric)."""
    import optuna

    from learnsim.train import resume, train
    from learnsim.train.config import RunConfig

    trial.set_user_attr("host", socket.gethostname())
    trial.set_user_attr("pid", os.getpid())
    if _surplus(trial, total):
        trial.set_user_attr("surplus", True)
        raise SurplusTrial
    tags = {"study": config.study, "trial": trial.number}
    try:
        run_config = validate(RunConfig, trial_run_config(config, trial), f"trial {trial.number}")
    except ConfigError as error:  # a combination the schema refuses (e.g. min_lr > max_lr)
        trial.set_user_attr("error", str(error))
        raise TrialFailed(str(error)) from None

    def should_stop(step: int, metric: float) -> bool:
        trial.report(metric, step)
        return trial.should_prune()

    resume_dir = trial.user_attrs.get("resume_dir")
    try:
        if resume_dir and RunDir(resume_dir).checkpoints.is_dir() and _has_checkpoint(resume_dir):
            trial.set_user_attr("run_dir", resume_dir)
            result = resume(resume_dir, monitor=False, should_stop=should_stop, tags=tags)
        else:
            run_dir = studies_dir() / config.study / f"trial-{trial.number:04d}"
            trial.set_user_attr("run_dir", str(run_dir))
            result = train(run_config, run_dir, monitor=False, should_stop=should_stop, tags=tags)
    except LearnsimError as error:  # e.g. a diverging run: a finished, failed trial
        trial.set_user_attr("error", str(error))
        raise TrialFailed(str(error)) from None
    result.wait()  # a finished trial has its plots and a closed tracker run
    trial.set_user_attr("steps", result.report["steps"])
    trial.set_user_attr("model_version", result.model_version)
    if result.report.get("pruned"):
        raise optuna.TrialPruned()
    return result.report["selection"]["value"]


def _has_checkpoint(run_dir: str) -> bool:
    from learnsim.train import checkpoint

    return bool(checkpoint.checkpoints(RunDir(run_dir).checkpoints))

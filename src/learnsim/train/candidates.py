"""The least-squares linear model as a candidate of checkpoint selection.

Before the first step, the network is set to the linear model fitted to the training windows (the linear
skip takes the fit, the last hidden layer starts at zero: ``start_from_linear``), validated like any
checkpoint and written to ``candidates/linear/`` in the run directory. The run then trains from its own
initialisation as usual. At the end the candidate replaces the best checkpoint when it is better by the
selection metric *and* over the whole validation free run: the selection metric's geometric mean rewards
the linear fit's one-step accuracy, and on a small data set it can win by that alone while its long free
runs are worse (measured on the 8-episode arm). So a network that never free-runs the validation data
better than the linear model (a small data set it overfits, a system that is nearly linear at its
excitation) is not stored in its place: the model falls back to its linear part.

Only for runs selected by free-run error (``multi_step``), with validation data, a network that can hold
the linear model (an MLP with ``linear_skip``, the recipe's family; of an ensemble, the candidate is one
member: every member would hold the same map) and no warm start (its weights are the
starting point the user chose). Written before the first checkpoint, so a resumed run finds it in place.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

from learnsim.durable import publish_directory, read_json, staging_directory
from learnsim.errors import FileCorruptError
from learnsim.models.files import write_model
from learnsim.rundir import RunDir

NAME = "linear"
FULL = "val/nrmse@full"  # the whole validation free run


def candidate_dir(run_dir: Path) -> Path:
    return RunDir(run_dir).candidates / NAME


def applies(run) -> bool:
    """Whether ``run`` gets a linear candidate (see the module docstring); rank 0 alone writes it."""
    tc = run.config.training
    return (
        run.shard.is_main
        and not run.warm_started
        and tc.checkpoint_type == "multi_step"
        and "linear" in run.baselines
        and len(run.data.starts["val"]) > 0
        and all(getattr(net, "skip", None) is not None for net in _networks(run.model.network))
    )


def _networks(network) -> list:
    """An ensemble's members, or the network itself."""
    return list(getattr(network, "members", [network]))


def write_linear_candidate(run, validate) -> None:
    """Validate the linear fit as the network's weights (``validate(model) -> metrics``) and write it as the
    run's candidate with its selection metric and whole-validation error."""
    linear = run.baselines["linear"].network.layer
    model = copy.deepcopy(run.eval_model)
    if hasattr(model.network, "members"):  # an ensemble of one linear map is that map: keep one member
        model.network = model.network.members[0]
        model.config = model.config.model_copy(update={"members": 1})
    model.network.start_from_linear(linear.weight.to(run.device), linear.bias.to(run.device))
    model.eval()
    metrics = validate(model)
    meta = {
        "step": 0,  # the fields of a checkpoint's meta.json, so finishing treats both alike
        "metric": float(metrics[run.selection]),
        "metric_name": run.selection,
        "candidate": NAME,
        FULL: metrics.get(FULL),
    }
    with staging_directory(candidate_dir(run.run_dir).parent) as tmp:
        write_model(model, tmp)
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
        publish_directory(tmp, candidate_dir(run.run_dir), replace=True)


def linear_candidate(run_dir: Path) -> tuple[Path, dict] | None:
    """(path, meta) of the run's linear candidate, or None."""
    directory = candidate_dir(run_dir)
    if not (directory / "meta.json").is_file():
        return None
    try:
        return directory, read_json(directory / "meta.json", "linear candidate metadata")
    except FileCorruptError as error:
        raise FileCorruptError(
            f"{error}; delete {directory} to finish without the linear candidate"
        ) from None


def replaces(candidate: dict, best_meta: dict, best_validation: dict) -> bool:
    """Whether the candidate (its meta) beats the best checkpoint (its meta and validation metrics): a lower
    selection metric and a lower whole-validation free-run error (when both runs report one)."""
    if best_meta.get("metric") is None:
        return True
    if candidate["metric"] >= best_meta["metric"]:
        return False
    full, best_full = candidate.get(FULL), best_validation.get(FULL)
    return full is None or best_full is None or full < best_full


def scores(network: tuple[dict, dict], linear: dict | None) -> dict:
    """Each candidate's selection metric and whole-validation free-run error, for the report, the model's
    lineage and every surface that says what was stored: ``network`` is (best checkpoint's meta, its
    validation record), ``linear`` the candidate's meta (None: the run had none)."""
    meta, validation = network
    table = {"network": {"step": meta["step"], "selection": meta.get("metric"), FULL: validation.get(FULL)}}
    if linear is not None:
        table[NAME] = {"step": 0, "selection": linear["metric"], FULL: linear.get(FULL)}
    return table


def explain(stored: str, table: dict) -> str:
    """One line: which candidate was stored and why, with both scores."""

    def score(name: str) -> str:
        entry = table[name]
        full, selection = entry.get(FULL), entry["selection"]
        text = "not scored" if selection is None else f"selection {selection:.4g}"
        return text + (f", whole-validation nRMSE {full:.4g}" if full is not None else "")

    if NAME not in table:
        return f"stored the network's best checkpoint (step {table['network']['step']}; {score('network')})"
    if stored == NAME:
        return (
            f"stored the LINEAR FIT, not the network: no checkpoint free-ran the validation data better "
            f"(linear: {score(NAME)}; best network checkpoint, step {table['network']['step']}: {score('network')})"
        )
    return (
        f"stored the network's best checkpoint, step {table['network']['step']} ({score('network')}); "
        f"the linear fit scored {score(NAME)}"
    )

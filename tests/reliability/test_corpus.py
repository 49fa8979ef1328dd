"""The bad-input corpus: every case must exit 2 (or raise a LearnsimError from the Python API) with one
paragraph naming the culprit, print no traceback, and leave LEARNSIM_HOME byte-for-byte as it was."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from files import (
    GOOD_CSV,
    config_file,
    csv_file,
    edit_csv,
    edit_json,
    edit_yaml,
    flip_last_byte,
    latest_checkpoint,
    model_dir,
    pickle_bomb,
    truncate,
    unfinished_run,
)
from reliability.conftest import run_cli, snapshot


@dataclass
class Case:
    area: str
    id: str
    setup: Callable  # (home, tmp) -> argv list (CLI) or a zero-argument callable (Python API)
    expect: tuple[str, ...]  # each must appear in the message (case-insensitive)


CASES: list[Case] = []


def case(area: str, id: str, *expect: str):
    def register(setup):
        CASES.append(Case(area, id, setup, expect))
        return setup

    return register


def simple(area: str, id: str, setup, *expect: str) -> None:
    CASES.append(Case(area, id, setup, expect))


def _folder(path: Path) -> Path:
    path.mkdir()
    return path


def imp(path: str, *extra: str, name: str = "imported", dt: str = "0.01") -> list[str]:
    return ["data", "import", path, "--name", name, "--dt", dt, "--episode-column", "episode", *extra]


def train_with(change=None, *extra: str, raw: str | None = None):
    return lambda home, tmp: ["train", config_file(tmp, change, raw=raw), "--quiet", *extra]


def set_(path: str, value):
    def change(config):
        target = config
        parts = path.split(".")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value

    return change


# -- data import ---------------------------------------------------------------------------------------------
simple("data", "missing-file", lambda h, t: imp(str(t / "nope.csv")), "nope.csv")
simple("data", "directory-as-file", lambda h, t: imp(str(t)), "work")
simple("data", "unknown-extension", lambda h, t: imp(csv_file(t, name="data.txt")), ".txt")
simple("data", "empty-file", lambda h, t: imp(csv_file(t, "")), "data.csv")
simple("data", "header-only", lambda h, t: imp(csv_file(t, GOOD_CSV.splitlines()[0] + "\n")), "data.csv")
simple(
    "data",
    "text-in-column",
    lambda h, t: imp(csv_file(t, GOOD_CSV.replace("\n0.05,", "\nabc,", 1))),
    "position",
)
simple(
    "data",
    "nan-in-column",
    lambda h, t: imp(csv_file(t, edit_csv(lambda ls: ls[:5] + [ls[5].replace("0.04", "nan", 1)] + ls[6:]))),
    "position",
)
simple(
    "data",
    "inf-in-column",
    lambda h, t: imp(
        csv_file(t, edit_csv(lambda ls: ls[:9] + ["inf" + ls[9][ls[9].index(",") :]] + ls[10:]))
    ),
    "position",
)
simple("data", "dt-zero", lambda h, t: imp(csv_file(t), dt="0"), "dt")
simple("data", "dt-negative", lambda h, t: imp(csv_file(t), dt="-1"), "dt")
simple("data", "dt-nan", lambda h, t: imp(csv_file(t), dt="nan"), "dt")
simple("data", "dt-text", lambda h, t: imp(csv_file(t), dt="fast"), "dt")
simple("data", "name-escapes", lambda h, t: imp(csv_file(t), name="../escape"), "name", "../escape")
simple("data", "csv-is-a-folder", lambda h, t: imp(str(_folder(t / "recording.csv"))), "a folder, not a file")
simple("data", "name-with-space", lambda h, t: imp(csv_file(t), name="my data"), "name")
simple("data", "name-empty", lambda h, t: imp(csv_file(t), name=""), "name")
simple(
    "data",
    "episode-column-missing",
    lambda h, t: ["data", "import", csv_file(t), "--name", "x", "--dt", "0.01", "--episode-column", "run"],
    "run",
)
simple("data", "time-column-missing", lambda h, t: imp(csv_file(t), "--time-column", "stamp"), "stamp")
simple(
    "data",
    "time-not-increasing",
    lambda h, t: imp(
        csv_file(
            t,
            GOOD_CSV.replace("episode", "episode,t")
            .replace("\n", ",0.5\n")
            .replace("episode,t,0.5", "episode,t"),
        ),
        "--time-column",
        "t",
    ),
    "t",
)


def timed_csv(step: float, jump_at: int | None = None) -> str:
    """GOOD_CSV with a leading 'time' column of ``step`` s steps (one step of 5x at row ``jump_at``)."""
    lines, stamps, now = GOOD_CSV.splitlines(), [], 0.0
    for i in range(len(lines) - 1):
        now += 0 if i == 0 else (5 * step if i == jump_at else step)
        stamps.append(now)
    return (
        "time,"
        + lines[0]
        + "\n"
        + "".join(f"{s:.6f},{line}\n" for s, line in zip(stamps, lines[1:], strict=True))
    )


# a time column found by its name is the time axis: checked against --dt, the first bad row named
simple(
    "data", "time-column-other-dt", lambda h, t: imp(csv_file(t, timed_csv(0.02))), "time", "0.02", "row 1"
)
simple("data", "time-column-gap", lambda h, t: imp(csv_file(t, timed_csv(0.01, jump_at=7))), "time", "row 7")
simple(
    "data",
    "time-columns-two",
    lambda h, t: imp(
        csv_file(
            t,
            "\n".join(f"{line.split(',')[0]},{line}" for line in timed_csv(0.01).splitlines()).replace(
                "time,", "t,", 1
            ),
        )
    ),
    "time",
)
simple(
    "data",
    "episodes-interleaved",
    lambda h, t: imp(csv_file(t, edit_csv(lambda ls: ls[:3] + [ls[3].rsplit(",", 1)[0] + ",2"] + ls[4:]))),
    "episode",
)
simple(
    "data",
    "duplicate-column",
    lambda h, t: imp(csv_file(t, GOOD_CSV.replace("velocity", "position", 1))),
    "position",
)
simple(
    "data",
    "binary-garbage",
    lambda h, t: imp(str((t / "data.csv").write_bytes(bytes(range(256)) * 10) and t / "data.csv")),
    "data.csv",
)
simple(
    "data",
    "corrupt-parquet",
    lambda h, t: imp(str((t / "data.parquet").write_bytes(b"PAR1 not really") and t / "data.parquet")),
    "data.parquet",
)
simple(
    "data",
    "corrupt-hdf5",
    lambda h, t: imp(str((t / "data.h5").write_bytes(b"\x89HDF\r\n\x1a\n broken") and t / "data.h5")),
    "data.h5",
)
simple("data", "unknown-source", lambda h, t: imp(csv_file(t), "--source", "ghost"), "ghost")
simple("data", "show-unknown", lambda h, t: ["data", "show", "ghost"], "ghost")
simple("data", "show-unknown-version", lambda h, t: ["data", "show", "osc@deadbeef"], "deadbeef")
simple("data", "rm-unknown-version", lambda h, t: ["data", "rm", "osc", "deadbeef"], "deadbeef")
simple("data", "example-unknown-system", lambda h, t: ["data", "example", "--system", "rocket"], "rocket")
simple(
    "data",
    "example-zero-episodes",
    lambda h, t: ["data", "example", "--system", "pendulum", "--episodes", "0"],
    "episodes",
)
simple(
    "data",
    "example-bad-name",
    lambda h, t: ["data", "example", "--system", "pendulum", "--name", "../up"],
    "name",
)

# -- run configs -------------------------------------------------------------------------------------------
simple("config", "missing-file", lambda h, t: ["train", str(t / "absent.yaml")], "absent.yaml")
simple("config", "yaml-list", train_with(raw="- dataset: osc\n- model: {}\n"), "run.yaml", "mapping")
simple("config", "yaml-scalar", train_with(raw="just words\n"), "run.yaml", "mapping")
simple("config", "yaml-syntax", train_with(raw="dataset: [osc\nmodel: {"), "run.yaml", "yaml")
simple("config", "yaml-empty", train_with(raw=""), "run.yaml")
simple("config", "yaml-binary", train_with(raw="\x00\x01\x02"), "run.yaml")
simple("config", "unknown-section", train_with(set_("modle", {})), "modle")
simple("config", "dataset-missing", train_with(lambda c: c.pop("dataset")), "dataset")
simple("config", "dataset-unknown", train_with(set_("dataset", "ghost")), "ghost")
simple("config", "dataset-unknown-version", train_with(set_("dataset", "osc@deadbeef")), "deadbeef")
simple("config", "dataset-name-escapes", train_with(set_("dataset", "../../etc")), "dataset")
simple("config", "model-name-escapes", train_with(set_("model_name", "../../somewhere")), "model_name")
simple("config", "model-name-slash", train_with(set_("model_name", "a/b")), "model_name")
simple("config", "model-family-unknown", train_with(set_("model.type", "cnn")), "type", "cnn")
simple(
    "config",
    "output-column-missing",
    train_with(set_("model.outputs", [{"name": "acceleration_prediction", "dataset_feature": "jerk"}])),
    "jerk",
)
simple(
    "config",
    "input-column-missing",
    train_with(lambda c: c["model"]["inputs"].append({"name": "torque"})),
    "torque",
)
simple(
    "config",
    "relation-unknown",
    train_with(lambda c: c["model"]["inputs"][0].update(relation="integral")),
    "relation",
)
simple(
    "config",
    "parent-unknown",
    train_with(lambda c: c["model"]["inputs"][0].update(parent="ghost_output")),
    "ghost_output",
)
simple(
    "config",
    "feature-duplicate",
    train_with(lambda c: c["model"]["inputs"].append({"name": "control_input"})),
    "control_input",
)
simple("config", "sequence-length-zero", train_with(set_("model.sequence_length", 0)), "sequence_length")
simple(
    "config",
    "sequence-longer-than-episodes",
    train_with(set_("model.sequence_length", 500)),
    "sequence_length",
)
simple("config", "hidden-size-negative", train_with(set_("model.hidden_size", -1)), "hidden_size")
simple("config", "hidden-size-text", train_with(set_("model.hidden_size", "big")), "hidden_size")
simple("config", "dt-mismatch", train_with(set_("model.dt", 0.02)), "dt", "0.01")
simple("config", "dt-boolean", train_with(set_("model.dt", True)), "dt")
simple("config", "iters-fraction", train_with(set_("training.training_iters", 2.5)), "training_iters")
simple("config", "iters-boolean", train_with(set_("training.training_iters", True)), "training_iters")
simple("config", "iters-zero", train_with(set_("training.training_iters", 0)), "training_iters")
simple("config", "lr-negative", train_with(set_("training.optimizer", {"type": "adamw", "lr": -1})), "lr")
simple("config", "optimizer-unknown", train_with(set_("training.optimizer", {"type": "sgdx"})), "optimizer")
simple("config", "device-cuda-absent", train_with(set_("training.device", "cuda")), "device")
simple("config", "device-unknown", train_with(set_("training.device", "tpu")), "device")
simple("config", "batch-zero", train_with(set_("training.train_batch_size", 0)), "train_batch_size")
simple("config", "precision-unknown", train_with(set_("training.precision", "8")), "precision")
simple(
    "config",
    "model-too-large",
    train_with(lambda c: c["model"].update(hidden_layers=32, hidden_size=16384)),
    "memory",
)
simple("config", "validation-unknown", train_with(set_("validation_dataset", "ghost")), "ghost")
simple(
    "config", "test-size-above-one", train_with(set_("training.test_dataset_size", 1.5)), "test_dataset_size"
)
simple(
    "config",
    "split-ratio-one",
    train_with(set_("training.train_val_split_ratio", 1.0)),
    "train_val_split_ratio",
)
simple("config", "loss-unknown", train_with(set_("training.loss", "l3")), "loss")
simple(
    "config",
    "checkpoint-type-unknown",
    train_with(set_("training.checkpoint_type", "bogus")),
    "checkpoint_type",
)
simple("config", "tracker-unknown", train_with(set_("training.trackers", ["nope"])), "nope")
simple(
    "config",
    "rollout-horizons-mismatch",
    train_with(set_("training.rollout", {"horizons": [1, 4], "start_iters": [0]})),
    "start_iters",
)
simple("config", "no-config", lambda h, t: ["train"], "config")

# -- --set overrides and options ---------------------------------------------------------------------------
simple("override", "no-equals", train_with(None, "--set", "training.seed"), "training.seed")
simple(
    "override",
    "bad-yaml-value",
    train_with(None, "--set", "training.optimizer.lr=[1,"),
    "training.optimizer.lr",
)
simple("override", "unknown-field", train_with(None, "--set", "training.nope=1"), "nope")
simple(
    "override",
    "infinite-lr",
    train_with(None, "--set", "training.optimizer.lr=.inf"),
    "training.optimizer.lr",
    "finite",
)
simple(
    "override",
    "nan-weight-decay",
    train_with(None, "--set", "training.optimizer.weight_decay=.nan"),
    "weight_decay",
    "finite",
)
simple(
    "override",
    "empty-value",
    train_with(None, "--set", "training.training_iters="),
    "training_iters=",
    "no value",
    "=null",
)
simple(
    "override",
    "list-index-bracket",
    train_with(None, "--set", "model.inputs[0].name=v"),
    "list element",
    "model.inputs=[...]",
)
simple(
    "override",
    "list-index-dotted",
    train_with(None, "--set", "training.selection_horizons.0=5"),
    "list element",
    "training.selection_horizons=[...]",
)
simple("override", "wrong-type", train_with(None, "--set", "model.hidden_size=abc"), "hidden_size")
simple("override", "name-escapes", train_with(None, "--set", "model_name=../../somewhere"), "model_name")
simple("override", "value-not-section", train_with(None, "--set", "dataset.version=1"), "dataset")
simple("override", "empty-key", train_with(None, "--set", "=5"), "=5")
simple(
    "override",
    "run-dir-is-file",
    lambda h, t: [
        "train",
        config_file(t),
        "--quiet",
        "--run-dir",
        str((t / "f").write_text("x") and t / "f"),
    ],
    "run-dir",
)
simple(
    "override",
    "run-dir-holds-run",
    lambda h, t: ["train", config_file(t), "--quiet", "--run-dir", str(h / "runs" / "first")],
    "first",
)
simple("override", "warm-start-unknown", train_with(None, "--warm-start", "ghost"), "ghost")
simple(
    "override",
    "warm-start-mismatch",
    train_with(set_("model.hidden_size", 16), "--warm-start", "m"),
    "warm start",
)

# -- resume ------------------------------------------------------------------------------------------------
simple("resume", "missing-dir", lambda h, t: ["train", "--resume", str(t / "gone")], "gone")
simple("resume", "not-a-run", lambda h, t: ["train", "--resume", str(t)], "config.yaml")
simple("resume", "finished", lambda h, t: ["train", "--resume", str(h / "runs" / "first")], "finished")
simple(
    "resume",
    "with-config",
    lambda h, t: ["train", config_file(t), "--resume", str(unfinished_run(h))],
    "--resume",
)


@case("resume", "missing-dataset-json", "dataset.json")
def _(home, tmp):
    run = unfinished_run(home)
    (run / "dataset.json").unlink()
    return ["train", "--resume", str(run), "--quiet"]


@case("resume", "corrupt-dataset-json", "dataset.json")
def _(home, tmp):
    run = unfinished_run(home)
    (run / "dataset.json").write_text("{not json")
    return ["train", "--resume", str(run), "--quiet"]


@case("resume", "edited-dataset", "edited after the run started", "changed: dataset")
def _(home, tmp):  # the run would go on training on its old dataset while its config names another
    run = unfinished_run(home)
    edit_yaml(run / "config.yaml", lambda c: c.update(dataset="another"))
    return ["train", "--resume", str(run), "--quiet"]


@case("resume", "edited-learning-rate", "training.optimizer.lr")
def _(home, tmp):
    run = unfinished_run(home)
    edit_yaml(run / "config.yaml", lambda c: c["training"]["optimizer"].update(lr=0.5))
    return ["train", "--resume", str(run), "--quiet"]


@case("resume", "edited-architecture", "model.hidden_size", "--warm-start")
def _(home, tmp):
    run = unfinished_run(home)
    edit_yaml(run / "config.yaml", lambda c: c["model"].update(hidden_size=16))
    return ["train", "--resume", str(run), "--quiet"]


@case("resume", "unsafe-override", "model.hidden_size")
def _(home, tmp):
    return ["train", "--resume", str(unfinished_run(home)), "--set", "model.hidden_size=16", "--quiet"]


@case("resume", "fewer-steps-than-done", "training_iters=2", "4 steps", "step-")
def _(home, tmp):  # the run has trained 4 steps: a budget of 2 would end at once and mislabel the run
    return ["train", "--resume", str(unfinished_run(home)), "--set", "training.training_iters=2", "--quiet"]


@case("resume", "config-not-yaml", "config.yaml")
def _(home, tmp):
    run = unfinished_run(home)
    (run / "config.yaml").write_text("model: [")
    return ["train", "--resume", str(run), "--quiet"]


@case("resume", "checkpoint-meta-corrupt", "meta.json")
def _(home, tmp):
    run = unfinished_run(home)
    for step in (run / "checkpoints").glob("step-*"):
        (step / "meta.json").write_text("{")
    return ["train", "--resume", str(run), "--quiet"]


@case("resume", "checkpoint-weights-truncated", "model.safetensors")
def _(home, tmp):
    run = unfinished_run(home)
    truncate(latest_checkpoint(run) / "model.safetensors")
    return ["train", "--resume", str(run), "--quiet"]


@case("resume", "checkpoint-weights-tampered", "model.safetensors", "checksum")
def _(home, tmp):
    run = unfinished_run(home)
    flip_last_byte(latest_checkpoint(run) / "model.safetensors")
    return ["train", "--resume", str(run), "--quiet"]


@case("resume", "training-state-garbage", "training_state.pt")
def _(home, tmp):
    run = unfinished_run(home)
    (latest_checkpoint(run) / "training_state.pt").write_bytes(b"garbage")
    return ["train", "--resume", str(run), "--quiet"]


@case("resume", "training-state-pickle", "training_state.pt")
def _(home, tmp):
    run = unfinished_run(home)
    pickle_bomb(latest_checkpoint(run) / "training_state.pt", tmp / "executed")
    return ["train", "--resume", str(run), "--quiet"]


@case("resume", "no-checkpoint", "checkpoint")
def _(home, tmp):
    run = unfinished_run(home)
    for step in (run / "checkpoints").glob("step-*"):
        for file in step.iterdir():
            file.unlink()
        step.rmdir()
    return ["train", "--resume", str(run), "--quiet"]


# -- simulate and evaluate ---------------------------------------------------------------------------------
simple("simulate", "model-unknown", lambda h, t: ["simulate", "ghost", "--dataset", "osc"], "ghost")
simple(
    "simulate",
    "model-version-unknown",
    lambda h, t: ["simulate", "m@deadbeef", "--dataset", "osc"],
    "deadbeef",
)
simple("simulate", "model-name-escapes", lambda h, t: ["simulate", "../models/m", "--dataset", "osc"], "name")
simple("simulate", "dataset-unknown", lambda h, t: ["simulate", "m", "--dataset", "ghost"], "ghost")
simple(
    "simulate",
    "episode-unknown",
    lambda h, t: ["simulate", "m", "--dataset", "osc", "--episodes", "99"],
    "99",
)
simple(
    "simulate",
    "episode-not-number",
    lambda h, t: ["simulate", "m", "--dataset", "osc", "--episodes", "one"],
    "episodes",
)
simple(
    "simulate",
    "horizon-zero",
    lambda h, t: ["simulate", "m", "--dataset", "osc", "--horizon", "0"],
    "horizon",
)
simple(
    "simulate",
    "out-is-file",
    lambda h, t: ["simulate", "m", "--dataset", "osc", "--out", str((t / "f").write_text("x") and t / "f")],
    str(Path("f")),
)


@case("simulate", "dataset-lacks-column", "control_input")
def _(home, tmp):
    import numpy as np

    from learnsim import Dataset, save_dataset

    save_dataset(
        "partial",
        Dataset({"position": np.zeros(50), "velocity": np.zeros(50), "acceleration": np.zeros(50)}, dt=0.01),
    )
    return ["simulate", "m", "--dataset", "partial"]


def damaged_model(damage, *expect):
    def setup(home, tmp):
        damage(model_dir(home), tmp)
        return ["simulate", "m", "--dataset", "osc"]

    return setup


simple(
    "files",
    "weights-truncated",
    damaged_model(lambda d, t: truncate(d / "model.safetensors")),
    "model.safetensors",
)
simple(
    "files",
    "weights-header-only",
    damaged_model(lambda d, t: truncate(d / "model.safetensors", 0.02)),
    "model.safetensors",
)
simple(
    "files",
    "weights-empty",
    damaged_model(lambda d, t: (d / "model.safetensors").write_bytes(b"")),
    "model.safetensors",
)
simple(
    "files",
    "weights-tampered",
    damaged_model(lambda d, t: flip_last_byte(d / "model.safetensors")),
    "model.safetensors",
    "checksum",
)
simple(
    "files",
    "weights-pickle",
    damaged_model(lambda d, t: pickle_bomb(d / "model.safetensors", t / "executed")),
    "model.safetensors",
)
simple(
    "files",
    "weights-missing",
    damaged_model(lambda d, t: (d / "model.safetensors").unlink()),
    "model.safetensors",
)
simple(
    "files",
    "model-json-corrupt",
    damaged_model(lambda d, t: (d / "model.json").write_text("{")),
    "model.json",
)
simple(
    "files", "model-json-list", damaged_model(lambda d, t: (d / "model.json").write_text("[]")), "model.json"
)
simple(
    "files",
    "model-json-family",
    damaged_model(lambda d, t: edit_json(d / "model.json", lambda j: j["config"].update(type="cnn"))),
    "model.json",
)
simple(
    "files",
    "model-json-shape",
    damaged_model(lambda d, t: edit_json(d / "model.json", lambda j: j["config"].update(hidden_size=9))),
    "model.safetensors",
)
simple(
    "files", "model-meta-corrupt", damaged_model(lambda d, t: (d / "meta.json").write_text("{")), "meta.json"
)
simple(
    "files",
    "dataset-column-edited",
    lambda h, t: [
        (
            p.write_bytes(p.read_bytes()[:-8] + b"\1" * 8)
            for p in (h / "datasets" / "osc").glob("*/col-001.f64")
        ).__next__()
        and "simulate",
        "m",
        "--dataset",
        "osc",
    ],
    "do not match version",
)
simple(
    "files",
    "dataset-column-truncated",
    lambda h, t: [
        (p.write_bytes(b"\0" * 16) for p in (h / "datasets" / "osc").glob("*/col-000.f64")).__next__()
        and "simulate",
        "m",
        "--dataset",
        "osc",
    ],
    "col-000.f64",
)
simple(
    "files",
    "dataset-meta-corrupt",
    lambda h, t: [
        (p.write_text("{") for p in (h / "datasets" / "osc").glob("*/meta.json")).__next__() and "simulate",
        "m",
        "--dataset",
        "osc",
    ],
    "meta.json",
)

simple("evaluate", "model-unknown", lambda h, t: ["evaluate", "ghost", "--dataset", "osc"], "ghost")
simple("evaluate", "dataset-unknown", lambda h, t: ["evaluate", "m", "--dataset", "ghost"], "ghost")
simple(
    "evaluate",
    "horizons-zero",
    lambda h, t: ["evaluate", "m", "--dataset", "osc", "--horizons", "0"],
    "horizons",
)
simple(
    "evaluate",
    "horizons-text",
    lambda h, t: ["evaluate", "m", "--dataset", "osc", "--horizons", "ten"],
    "ten",
)
simple(
    "evaluate",
    "warmup-too-long",
    lambda h, t: ["evaluate", "m", "--dataset", "osc", "--warmup", "100000"],
    "warmup",
)
simple(
    "evaluate",
    "episode-unknown",
    lambda h, t: ["evaluate", "m", "--dataset", "osc", "--episodes", "77"],
    "77",
)

# -- models, report, ui ------------------------------------------------------------------------------------
simple("inspect", "models-show-unknown", lambda h, t: ["models", "show", "ghost"], "ghost")
simple("inspect", "models-show-unknown-version", lambda h, t: ["models", "show", "m@deadbeef"], "deadbeef")
simple("inspect", "report-unfinished", lambda h, t: ["report", str(unfinished_run(h))], "finished")
simple("inspect", "report-missing", lambda h, t: ["report", str(t / "gone")], "gone")
simple("inspect", "report-on-file", lambda h, t: ["report", str((t / "f").write_text("x") and t / "f")], "f")
simple(
    "inspect",
    "report-json-corrupt",
    lambda h, t: [
        (h / "runs" / "first" / "report.json").write_text("{") and "report",
        str(h / "runs" / "first"),
    ],
    "report.json",
)
simple("inspect", "ui-port-negative", lambda h, t: ["ui", "--port", "-1"], "port")
simple("inspect", "ui-port-too-large", lambda h, t: ["ui", "--port", "70000"], "port")


# -- Python API --------------------------------------------------------------------------------------------
def api(area: str, id: str, *expect: str):
    return case(area, id, *expect)


@api("api", "train-model-name-escapes", "model_name")
def _(home, tmp):
    from reliability.conftest import base_config

    from learnsim.train import train_model

    config = base_config()
    return lambda: train_model("../../outside", config["model"], "osc", config["training"], False)


@api("api", "simulate-nan-initial-state", "position", "nan", "step 2")
def _(home, tmp):
    import numpy as np

    from learnsim import load_model, simulate

    model = load_model("m")
    x0 = {"position": np.zeros((1, 4, 1)), "velocity": np.zeros((1, 4, 1))}
    x0["position"][0, 2, 0] = np.nan
    return lambda: simulate(model, x0, {"control_input": np.zeros((1, 14, 1))})


@api("api", "simulate-inf-external-input", "control_input", "step 5")
def _(home, tmp):
    import numpy as np

    from learnsim import load_model, simulate

    model = load_model("m")
    u = np.zeros((1, 14, 1))
    u[0, 5, 0] = np.inf
    x0 = {name: np.zeros((1, 4, 1)) for name in ("position", "velocity")}
    return lambda: simulate(model, x0, {"control_input": u})


@api("api", "load-model-unknown", "ghost")
def _(home, tmp):
    from learnsim import load_model

    return lambda: load_model("ghost")


@api("api", "load-model-truncated", "model.safetensors")
def _(home, tmp):
    from learnsim import load_model

    truncate(model_dir(home) / "model.safetensors")
    return lambda: load_model("m")


@api("api", "dataset-dt-boolean", "dt")
def _(home, tmp):
    import numpy as np

    from learnsim import Dataset

    return lambda: Dataset({"x": np.zeros(10)}, dt=True)


@api("api", "dataset-2d-column", "column 'x' must be 1-D", "(10, 2)")
def _(home, tmp):
    import numpy as np

    from learnsim import Dataset, save_dataset

    return lambda: save_dataset("two_d", Dataset({"x": np.zeros((10, 2)), "u": np.zeros(10)}, dt=0.1))


@api("api", "dataset-short-episode-array", "episode array has shape (4,)", "10 rows")
def _(home, tmp):
    import numpy as np

    from learnsim import Dataset, save_dataset

    return lambda: save_dataset("short", Dataset({"x": np.zeros(10)}, dt=0.1, episode=np.zeros(4)))


@api("api", "dataset-from-a-list", "columns must be a dict", "from_pandas")
def _(home, tmp):
    from learnsim import Dataset

    return lambda: Dataset([[0.0, 1.0], [2.0, 3.0]], dt=0.1)


def _simulate_with(x0=..., external=..., rows_short=0):
    def setup(home, tmp):
        import numpy as np

        from learnsim import load_model

        model = load_model("m")
        L = model.config.sequence_length
        history = {"velocity": np.zeros((1, L, 1)), "position": np.zeros((1, L, 1))}
        inputs = {"control_input": np.zeros((1, L + 5 - rows_short, 1))}
        return lambda: model.simulate(history if x0 is ... else x0, inputs if external is ... else external)

    return setup


simple("api", "simulate-x0-none", _simulate_with(x0=None), "x0 must be a dict", "NoneType")
simple(
    "api",
    "simulate-strings",
    _simulate_with(external={"control_input": [[["a"]] * 9]}),
    "control_input",
    "not numeric",
)
simple(
    "api",
    "simulate-inputs-too-short",
    _simulate_with(rows_short=6),
    "control_input",
    "must cover the",
    "-row history",
)


@case("store", "models-show-model-json-corrupt", "model.json")
def _(home, tmp):
    (model_dir(home) / "model.json").write_text("{not json")
    return ["models", "show", "m"]


@api("api", "model-config-dt-boolean", "dt")
def _(home, tmp):
    from reliability.conftest import BASE_FEATURES

    from learnsim.models import MLPConfig

    return lambda: MLPConfig(**BASE_FEATURES, dt=True)


@api("api", "training-iters-fraction", "training_iters")
def _(home, tmp):
    from learnsim.train import TrainingConfig

    return lambda: TrainingConfig(training_iters=2.5)


@api("api", "save-dataset-name-escapes", "name")
def _(home, tmp):
    import numpy as np

    from learnsim import Dataset, save_dataset

    return lambda: save_dataset("../x", Dataset({"x": np.zeros(10)}, dt=0.1))


@api("api", "save-dataset-nan", "x")
def _(home, tmp):
    import numpy as np

    from learnsim import Dataset, save_dataset

    return lambda: save_dataset("fresh", Dataset({"x": np.full(10, np.nan)}, dt=0.1))


@api("api", "load-run-config-list", "run.yaml")
def _(home, tmp):
    from learnsim.train import load_run_config

    path = config_file(tmp, raw="- 1\n- 2\n")
    return lambda: load_run_config(path)


@api("api", "evaluate-dataset-lacks-column", "control_input")
def _(home, tmp):
    import numpy as np

    from learnsim import Dataset, load_model
    from learnsim.evaluate.model import evaluate_model

    model = load_model("m")
    data = Dataset(
        {"position": np.zeros(50), "velocity": np.zeros(50), "acceleration": np.zeros(50)}, dt=0.01
    )
    return lambda: evaluate_model(model, data)


@pytest.mark.parametrize("case", CASES, ids=[f"{c.area}/{c.id}" for c in CASES])
def test_bad_input_is_named_and_changes_nothing(case: Case, home, tmp_path, capsys):
    from pydantic import ValidationError

    from learnsim.errors import LearnsimError

    work = tmp_path / "work"
    work.mkdir()
    action = case.setup(home, work)
    before = snapshot(home)
    if callable(action):  # the API raises learnsim's errors, and pydantic's for a config constructed directly
        with pytest.raises((LearnsimError, ValidationError)) as raised:
            action()
        code, output = 2, str(raised.value)
    else:
        code, output = run_cli(action, capsys)
    assert code == 2, f"exit {code}: {output}"
    assert "Traceback" not in output
    for culprit in case.expect:
        assert culprit.lower() in output.lower(), f"{culprit!r} not named in: {output}"
    assert snapshot(home) == before, "LEARNSIM_HOME changed"
    assert not (work / "executed").exists(), "a pickle in a file was executed"
    assert not (home.parent / "outside").exists() and not (home.parent.parent / "outside").exists()


def test_corpus_size():
    areas: dict[str, int] = {}
    for c in CASES:
        areas[c.area] = areas.get(c.area, 0) + 1
    assert len(CASES) >= 100, areas

"""Free-run accuracy of learnsim's default recipe against one-step training and the 0.1 rollout recipe, on
every example system and on Silverbox, beside the hold-last-state and linear baselines.

Each example system gets one dataset (seed 100, the system's default size) split by episode: 70% train,
15% validation, 15% test. Silverbox follows its protocol: train on the estimation data, free-run the
multisine test set from its first 50 measured outputs. Every method trains with the same step budget and
seeds; the test set is scored with the evaluation protocol: nRMSE (RMSE / spread of the recording) over the
first 1, 10, 50 and all simulated steps, averaged over the simulated states.

- one-step: the Onyx Engine default: MLP 3x64 ReLU over 8 rows, one-step loss, best by validation loss.
- rollout 0.1: learnsim 0.1's recipe: MLP 2x128 SiLU with a linear skip over 16 rows, horizon curriculum
  doubling to 256 with fewer sequences as it grows, no one-step term, best by full-horizon error.
- default: a run config that names only the features; the rest is the default recipe.

Runs go to worker processes with one thread each (two torch processes with two threads each on two cores
slow each other down); the table gives mean and half the range over seeds, and every run is appended to
``--out`` as a JSON line.

    python benchmarks/accuracy.py
        [--systems arm,cartpole,cart_double_pendulum,paddle_ball,hopper,friction,oscillator,pendulum,silverbox]
        [--methods one-step,rollout-0.1,default] [--seeds 0,1,2] [--iters 3000] [--warmup N] [--workers 2]
        [--episodes N (small data)] [--test-scale S (test inputs S times the training excitation)]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
SILVERBOX = HERE.parent.parent / "shared" / "data" / "silverbox"
HORIZONS = ("1", "10", "50", "full")
METHODS = (
    *("one-step", "rollout-0.1", "default", "linear-start", "mix", "mix-onestep3"),
    *("window2", "window4", "window8", "window16", "wd0.1", "width32", "width128", "fade", "linear-start-fade", "clip", "clip-margin0.5", "network"),
    *("ema0.999", "balanced", "onestep-arch", "relu", "relu-balanced", "mixed", "mixed-balanced"),
    *("silu-uniform", "onestep3", "onestep10", "members1", "members3", "affine", "horizon256", "increments", "rigid", "no-rigid", "rigid-zero"),
)


def method_fields(method: str) -> tuple[dict, dict]:
    """(model fields, training fields) a method adds to the features; the default adds nothing."""
    if method == "one-step":
        model = {
            "sequence_length": 8,
            "hidden_layers": 3,
            "hidden_size": 64,
            "activation": "relu",
            "linear_skip": False,
        }
        return model, {"checkpoint_type": "single_step", "rollout": None}
    if method == "rollout-0.1":
        model = {
            "sequence_length": 16,
            "hidden_layers": 2,
            "hidden_size": 128,
            "activation": "silu",
            "linear_skip": True,
        }
        rollout = {"batch_size": "per_horizon", "one_step_weight": 0.0, "max_horizon": 256}
        return model, {"checkpoint_type": "multi_step", "selection_horizons": ["full"], "rollout": rollout}
    if method == "linear-start":  # the default, starting from the least-squares linear model
        return {}, {"start_from_linear_fit": True}
    if method == "mix":  # the default with every step's horizon drawn among the stages reached so far
        return {}, {"rollout": {"curriculum": "mix"}}
    if method == "members1":  # the default with one MLP where the recipe would average several (small data)
        return {"members": 1}, {}
    if method == "members3":  # the default as an ensemble of 3 MLPs (see benchmarks/README.md)
        return {"members": 3}, {}
    if method == "increments":  # the default with delta inputs' history shown as scaled steps
        return {"increments": True}, {}
    if method == "affine":  # the default with the output affine in the external inputs (control_affine)
        return {"control_affine": True}, {}
    if method == "rigid":  # the default with a rigid-body term (linear in inputs, quadratic in velocities)
        return {"rigid_body": True}, {}
    if method == "rigid-zero":  # the default with the rigid-body term starting at zero (see worker)
        return {"rigid_body": True}, {}
    if method == "no-rigid":  # the plain MLP, whatever the recipe gives (the default again since 2026-12-04)
        return {"rigid_body": False}, {}
    if method in ("onestep3", "onestep10"):  # the default with the teacher-forced term weighted 3x / 10x
        return {}, {"rollout": {"one_step_weight": float(method.removeprefix("onestep"))}}
    if method == "mix-onestep3":  # the default with the horizon mix and the teacher-forced term weighted 3x
        return {}, {"rollout": {"curriculum": "mix", "one_step_weight": 3.0}}
    if method == "fade":  # the default with the hidden layers faded out beyond the training range
        return {"extrapolation": "linear"}, {}
    if method == "network":  # the default with the whole network beyond the range (before 2026-12-04)
        return {"extrapolation": "network"}, {}
    if method == "clip":  # the default with the hidden layers seeing inputs clamped to the training range
        return {"extrapolation": "clip"}, {}
    if method.startswith("clip-margin"):  # ... clamped only this fraction of the range's width beyond it
        return {"extrapolation": "clip", "clip_margin": float(method.removeprefix("clip-margin"))}, {}
    if method == "linear-start-fade":  # ... and starting from the least-squares linear model
        return {"extrapolation": "linear"}, {"start_from_linear_fit": True}
    if method == "wd0.1":  # the default with 10x the weight decay
        return {}, {"optimizer": {"weight_decay": 0.1}}
    # the activation and weighting study: each names both, so it means the same whatever the default
    if method == "silu-uniform":  # the recipe before 2026-12-03: SiLU hidden layers, uniform weighting
        return {"activation": "silu"}, {"rollout": {"weighting": "uniform"}}
    if method == "balanced":  # SiLU, every rollout step's error counted by its log
        return {"activation": "silu"}, {"rollout": {"weighting": "balanced"}}
    if method == "relu":  # ReLU hidden layers, uniform weighting
        return {"activation": "relu"}, {"rollout": {"weighting": "uniform"}}
    if method == "relu-balanced":
        return {"activation": "relu"}, {"rollout": {"weighting": "balanced"}}
    if method == "mixed":  # half of each hidden layer SiLU, half ReLU; uniform weighting
        return {"activation": "silu_relu"}, {"rollout": {"weighting": "uniform"}}
    if method == "mixed-balanced":  # ... and balanced weighting: the default for derivative chains
        return {"activation": "silu_relu"}, {"rollout": {"weighting": "balanced"}}
    if method == "onestep-arch":  # the default's network and selection, trained on the one-step loss only
        return {}, {"rollout": None}
    if method in ("width32", "width128"):  # the default with hidden layers this wide, whatever the data size
        return {"hidden_size": int(method.removeprefix("width"))}, {}
    if method.startswith("ema"):  # the default, evaluating and saving a moving average of the weights
        return {}, {"rollout": {"ema_decay": float(method.removeprefix("ema"))}}
    if method.startswith("horizon"):  # the default with a longer last stage of the rollout curriculum
        return {}, {"rollout": {"max_horizon": int(method.removeprefix("horizon"))}}
    if method.startswith("window"):  # the default with a shorter history window
        return {"sequence_length": int(method.removeprefix("window"))}, {}
    return {}, {}


def run_example(
    system: str,
    method: str,
    seed: int,
    iters: int,
    warmup: int | None = None,
    episodes: int | None = None,
    test_scale: float | None = None,
) -> dict:
    """Train and score one method on one example system (in a fresh store). ``warmup``: score the test
    episodes again from that many recorded rows (the same rows for methods with different windows).
    ``episodes``: a dataset of that many episodes (small data) instead of the system's default.
    ``test_scale``: score on 16 fresh episodes whose excitation is that many times the training data's
    (they leave the training range) instead of the held-out test episodes."""
    from learnsim import example_dataset, example_features, save_dataset
    from learnsim.evaluate.model import evaluate_model
    from learnsim.models import MLPConfig
    from learnsim.train import RunConfig, TrainingConfig, train

    dataset = example_dataset(system, episodes=episodes, seed=100)
    save_dataset("data", dataset)
    model_fields, training_fields = method_fields(method)
    model = MLPConfig(**example_features(system), **model_fields)
    training = {
        "training_iters": iters or None,  # 0: the recipe's budget for the data
        "seed": seed,
        "trackers": [],
        "train_val_split_ratio": 0.82,
        "test_dataset_size": 0.15,
    } | training_fields
    result = train(
        RunConfig(dataset="data", model=model, training=TrainingConfig(**training)), monitor=False
    ).wait()
    stored = f"{result.model_name}@{result.model_version}"  # its lineage: the linear baseline fits the train split
    held_out = {k.removeprefix("test/"): v for k, v in result.report["test"].items()}
    # the stored checkpoint's validation score: what choosing between methods on validation data compares
    held_out["selection"] = result.report["selection"]["value"]
    if test_scale is not None:
        fresh = example_dataset(system, episodes=16, seed=200, scale=test_scale)
        evaluation = evaluate_model(stored, fresh, warmup=warmup, horizons=[1, 10, 50, "full"])
        outside = {f"outside/{k}": v for k, v in evaluation.outside_training_range.items()}
        in_range = {f"in_range/{k}": v for k, v in held_out.items()}  # the same run's held-out episodes
        return dict(evaluation.metrics) | outside | in_range
    if warmup is None:
        return held_out
    split = json.loads((result.run_dir / "dataset.json").read_text())["split"]
    episodes = sorted({int(dataset.episode[start]) for start, _ in split["test"]})
    evaluation = evaluate_model(stored, dataset, warmup=warmup, horizons=[1, 10, 50, "full"], episodes=episodes)
    return dict(evaluation.metrics)


# Single-recording example systems (stand-ins for small real process data and a positioning axis): train on
# one recording (seed 100), free-run a second one (seed 200) from its first WARMUP rows; the axis is tested
# at twice the training amplitude, as the positioning-axis benchmark we keep aside is.
RECORDINGS = {"tanks": 1.0, "axis": 2.0}
WARMUP = 50


def run_recording(system: str, method: str, seed: int, iters: int, test_scale: float | None = None) -> dict:
    """Train on one recording of ``system``; score a fresh one (excited ``test_scale`` times harder)."""
    from learnsim import example_dataset, example_features, save_dataset
    from learnsim.evaluate.model import evaluate_model
    from learnsim.models import MLPConfig
    from learnsim.train import RunConfig, TrainingConfig, train

    save_dataset("data", example_dataset(system, seed=100))
    model_fields, training_fields = method_fields(method)
    model = MLPConfig(**example_features(system), **model_fields)
    training = {"training_iters": iters or None, "seed": seed, "trackers": [], "test_dataset_size": 0}
    config = RunConfig(dataset="data", model=model, training=TrainingConfig(**training | training_fields))
    result = train(config, monitor=False).wait()
    scale = RECORDINGS[system] if test_scale is None else test_scale
    test = example_dataset(system, seed=200, scale=scale)
    stored = f"{result.model_name}@{result.model_version}"  # its lineage: the linear baseline fits the train split
    evaluation = evaluate_model(stored, test, warmup=WARMUP, horizons=[1, 10, 50, "full"])
    outside = {f"outside/{k}": v for k, v in evaluation.outside_training_range.items()}
    return dict(evaluation.metrics) | outside


def run_silverbox(method: str, seed: int, iters: int) -> dict:
    """Train on the Silverbox estimation data; score the multisine test set from its first 50 outputs."""
    from learnsim.data.dataset import Dataset
    from learnsim.evaluate.model import evaluate_model
    from learnsim.protocols import silverbox
    from learnsim.store.datasets import save_dataset
    from learnsim.train import RunConfig, TrainingConfig, train

    signals = silverbox.load_silverbox(SILVERBOX)
    a, b = silverbox.TRAIN
    save_dataset("silverbox-train", Dataset({"u": signals["u"][a:b], "y": signals["y"][a:b]}, silverbox.DT))
    start, end = silverbox.TESTS["multisine"]
    test = Dataset({"u": signals["u"][start:end], "y": signals["y"][start:end]}, silverbox.DT)
    model_fields, training_fields = method_fields(method)
    features = {
        "outputs": [{"name": "dy"}],
        "inputs": [{"name": "y", "parent": "dy", "relation": "delta"}, {"name": "u"}],
    }
    training = {
        "training_iters": iters or None,  # 0: the recipe's budget for the data
        "seed": seed,
        "trackers": [],
        "test_dataset_size": 0,
    } | training_fields
    config = {
        "dataset": "silverbox-train",
        "model": features | model_fields,
        "training": TrainingConfig(**training),
    }
    result = train(RunConfig.model_validate(config), monitor=False).wait()
    evaluation = evaluate_model(result.model, test, warmup=silverbox.WARMUP, horizons=[1, 10, 50, "full"])
    metrics = dict(evaluation.metrics)
    metrics["rmse_mv"] = metrics["rmse@full/y"] * 1000
    return metrics


def worker(job: dict) -> None:
    """Child process: one run; prints its result as one JSON line."""
    import torch

    torch.set_num_threads(1)
    os.environ["LEARNSIM_HOME"] = tempfile.mkdtemp(prefix="learnsim-accuracy-")
    if job["method"] == "rigid-zero":  # every rigid-body term built in this process starts with its output at 0
        from learnsim.models import mlp

        built = mlp.RigidBodyTerm.__init__

        def zeroed(self, *args, **kwargs):
            built(self, *args, **kwargs)
            self.zero_()

        mlp.RigidBodyTerm.__init__ = zeroed
    start = time.perf_counter()
    if job["system"] == "silverbox":
        metrics = run_silverbox(job["method"], job["seed"], job["iters"])
    elif job["system"] in RECORDINGS:
        metrics = run_recording(job["system"], job["method"], job["seed"], job["iters"], job.get("test_scale"))
    else:
        metrics = run_example(
            job["system"],
            job["method"],
            job["seed"],
            job["iters"],
            job.get("warmup"),
            job.get("episodes"),
            job.get("test_scale"),
        )
    print(json.dumps(job | {"seconds": time.perf_counter() - start, "metrics": metrics}))


def launch(job: dict, out: Path) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(job)], capture_output=True, text=True, env=env
    )
    if done.returncode != 0:
        record = job | {"error": done.stderr[-2000:]}
    else:
        record = json.loads(done.stdout.strip().splitlines()[-1])
    with open(out, "a") as handle:
        handle.write(json.dumps(record) + "\n")
    return record


def spread(values: list[float]) -> str:
    mean = statistics.mean(values)
    if len(values) == 1:
        return f"{mean:.4f}"
    return f"{mean:.4f}±{(max(values) - min(values)) / 2:.4f}"


def table(records: list[dict]) -> str:
    """One row per system and method (nRMSE at each horizon, mean±half-range over seeds), and per system
    the two baselines, mean±half-range over the seeds too: each seed splits the episodes its own way, so
    its test episodes, and the baselines' figures on them, differ (Silverbox's test set is fixed)."""
    lines = [
        f"{'system':<11} {'method':<12} {'seeds':>5} "
        + " ".join(f"{'@' + h:>16}" for h in HORIZONS)
        + f" {'min/run':>8}"
    ]
    systems = list(dict.fromkeys(r["system"] for r in records))
    for system in systems:
        runs = [r for r in records if r["system"] == system and "metrics" in r]
        others = [m for m in dict.fromkeys(r["method"] for r in runs) if m not in METHODS]
        for method in [*METHODS, *others]:
            mine = [r for r in runs if r["method"] == method]
            if not mine:
                continue
            cells = [spread([r["metrics"][f"nrmse@{h}"] for r in mine]) for h in HORIZONS]
            minutes = statistics.mean(r["seconds"] for r in mine) / 60
            extra = (
                f"   {spread([r['metrics']['rmse_mv'] for r in mine])} mV"
                if "rmse_mv" in mine[0]["metrics"]
                else ""
            )
            lines.append(
                f"{system:<11} {method:<12} {len(mine):>5} "
                + " ".join(f"{c:>16}" for c in cells)
                + f" {minutes:>8.1f}{extra}"
            )
        by_seed = {r["seed"]: r["metrics"] for r in runs}  # one split per seed, whatever the method
        for baseline in ("hold", "linear"):
            cells = []
            for h in HORIZONS:
                values = [m.get(f"{baseline}/nrmse@{h}") for m in by_seed.values()]
                cells.append(spread(values) if values and None not in values else None)
            if cells and cells[-1] is not None:
                lines.append(
                    f"{system:<11} {baseline + ' (base)':<12} {len(by_seed):>5} "
                    + " ".join(f"{c:>16}" for c in cells)
                )
    return "\n".join(lines)


def chosen(records: list[dict], first: str, second: str) -> list[dict]:
    """Per system and seed with runs of both methods, the one whose stored checkpoint scored lower on validation
    (``selection``), as method 'chosen' with the method it took in 'picked': choosing between two methods the
    way a two-trial grid search does, without training anything again."""
    pairs: dict[tuple, dict] = {}
    for r in records:
        if "metrics" in r and "selection" in r["metrics"] and r["method"] in (first, second):
            pairs.setdefault((r["system"], r["seed"]), {})[r["method"]] = r
    picks = []
    for pair in pairs.values():
        if len(pair) == 2:
            best = min(pair.values(), key=lambda r: r["metrics"]["selection"])
            seconds = sum(r["seconds"] for r in pair.values())  # the choice costs both runs
            picks.append(best | {"method": "chosen", "picked": best["method"], "seconds": seconds})
    return picks


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--systems", default="arm,cartpole,cart_double_pendulum,paddle_ball,hopper,friction,oscillator,pendulum,silverbox"
    )
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument(
        "--iters",
        type=int,
        default=3000,
        help="Optimizer steps of every run (the same for all); 0: each run's recipe budget.",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        help="Score example systems from this many recorded rows (default: each model's window), so methods "
        "with different windows are scored on the same rows.",
    )
    parser.add_argument(
        "--episodes", type=int, help="Example systems: a dataset of this many episodes (small data)."
    )
    parser.add_argument(
        "--test-scale",
        type=float,
        help="Example systems: score on 16 fresh episodes excited this many times harder than the training "
        "data (leaving the training range); the held-out test episodes are kept as in_range/ metrics.",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("accuracy-runs.jsonl"))
    parser.add_argument("--table", type=Path, nargs="*", help="Only print the table of these result files.")
    parser.add_argument(
        "--in-range",
        action="store_true",
        help="With --table: the held-out episodes inside the training range that --test-scale runs also score.",
    )
    parser.add_argument(
        "--choose",
        help="With --table: METHOD_A,METHOD_B adds a row 'chosen', per seed whichever of the two scored lower on "
        "validation (their runs' 'selection'), and says which it took.",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(json.loads(args.worker))
    if args.table:
        records = [json.loads(line) for path in args.table for line in path.read_text().splitlines() if line]
        if args.in_range:
            for r in records:
                metrics = r.get("metrics", {}).items()
                r["metrics"] = {k.removeprefix("in_range/"): v for k, v in metrics if k.startswith("in_range/")}
        picks = chosen(records, *args.choose.split(",")) if args.choose else []
        print(table(records + picks))
        for r in sorted(picks, key=lambda r: (r["system"], r["seed"])):
            print(f"chosen on validation: {r['system']} seed {r['seed']}: {r['picked']}")
        return None
    systems = args.systems.split(",")
    if "silverbox" in systems and not (SILVERBOX / "SNLS80mV.csv").is_file():
        print(f"Silverbox data not found at {SILVERBOX}; leaving it out.")
        systems.remove("silverbox")
    jobs = [
        {
            "system": s,
            "method": m,
            "seed": int(seed),
            "iters": args.iters,
            "warmup": args.warmup,
            "episodes": args.episodes,
            "test_scale": args.test_scale,
        }
        for s in systems
        for seed in args.seeds.split(",")
        for m in args.methods.split(",")
    ]
    print(
        f"{len(jobs)} runs, {args.iters} steps each, {args.workers} workers; results in {args.out}",
        flush=True,
    )
    with ThreadPoolExecutor(args.workers) as pool:
        records = list(pool.map(lambda job: launch(job, args.out), jobs))
    for failed in (r for r in records if "error" in r):
        print(f"FAILED {failed['system']} {failed['method']} seed {failed['seed']}: {failed['error'][-500:]}")
    print(table(records))


if __name__ == "__main__":
    main()

"""Averaging several trained models: does a free run of the mean of N default-recipe models beat its members?

Every member is the default recipe (a run config that names only the features) on one example dataset (seed
100), all with the same split (``split_seed``) and different training seeds, so they hold out the same test
episodes and differ only in their initial weights and batches. The ensemble steps the mean of the members'
predictions (their networks averaged in normalised output units; the members share the training split's
normalisation), so it is one simulator, fed back its own averaged state. Scored like ``accuracy.py``: nRMSE
over the first 1, 10, 50 and all simulated steps of the held-out test episodes.

Seeds 0 .. N*G - 1 train (one thread per run, ``--workers`` at once); group g averages seeds g*N .. g*N + N - 1.
The table gives, per system, the members' mean and the ensembles' mean (each ± half the range).

    python benchmarks/ensemble.py [--systems arm] [--members 3] [--groups 3] [--iters 3000] [--episodes N]
        [--workers 2]
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

HORIZONS = (1, 10, 50, "full")
SPLIT_SEED = 0


def train_member(system: str, seed: int, iters: int, episodes: int | None, bundle: Path) -> dict:
    """Child process: train one member, write it as a bundle, return its test metrics and test episodes.
    ``iters`` 0: the recipe's budget for the data; ``episodes``: a dataset of that many (small data)."""
    from learnsim import example_dataset, example_features, save_dataset
    from learnsim.models import MLPConfig
    from learnsim.models.bundle import write_bundle
    from learnsim.store.models import load_model
    from learnsim.train import RunConfig, TrainingConfig, train

    dataset = example_dataset(system, episodes=episodes, seed=100)
    save_dataset("data", dataset)
    training = TrainingConfig(
        training_iters=iters or None,
        seed=seed,
        split_seed=SPLIT_SEED,
        trackers=[],
        train_val_split_ratio=0.82,
        test_dataset_size=0.15,
    )
    config = RunConfig(dataset="data", model=MLPConfig(**example_features(system)), training=training)
    result = train(config, monitor=False).wait()
    write_bundle(load_model(f"{result.model_name}@{result.model_version}"), bundle)
    split = json.loads((result.run_dir / "dataset.json").read_text())["split"]
    episodes = sorted({int(dataset.episode[start]) for start, _ in split["test"]})
    metrics = {k.removeprefix("test/"): v for k, v in result.report["test"].items()}
    return {"episodes": episodes, "metrics": {f"nrmse@{h}": metrics[f"nrmse@{h}"] for h in HORIZONS}}


def mean_model(bundles: list[Path]):
    """One ``SimulatorModel`` whose network is an ``Ensemble`` of the members' networks: in eval mode it
    returns their mean (B, n_out), as ``model.members`` does."""
    import copy

    import torch

    from learnsim.models.bundle import read_bundle
    from learnsim.models.ensemble import Ensemble

    members = [read_bundle(path)[0] for path in bundles]
    first = members[0]
    for path, member in zip(bundles[1:], members[1:], strict=True):  # one split: the same normalisation
        for scaler in ("input_scaler", "output_scaler"):
            mine, theirs = getattr(member, scaler).state_dict(), getattr(first, scaler).state_dict()
            if not all(torch.equal(mine[k], theirs[k]) for k in mine):
                raise SystemExit(f"members {bundles[0]} and {path} were normalised differently")
    model = copy.deepcopy(first)
    model.network = Ensemble([m.network for m in members])
    return model.eval()


def worker(job: dict) -> None:
    import torch

    torch.set_num_threads(1)
    os.environ["LEARNSIM_HOME"] = tempfile.mkdtemp(prefix="learnsim-ensemble-")
    start = time.perf_counter()
    record = train_member(job["system"], job["seed"], job["iters"], job["episodes"], Path(job["bundle"]))
    print(json.dumps(job | record | {"seconds": time.perf_counter() - start}))


def launch(job: dict) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(job)], capture_output=True, text=True, env=env
    )
    if done.returncode != 0:
        raise SystemExit(f"{job['system']} seed {job['seed']} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def spread(values: list[float]) -> str:
    return f"{statistics.mean(values):.4f}±{(max(values) - min(values)) / 2:.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--systems", default="arm")
    parser.add_argument("--members", type=int, default=3, help="Models averaged in one ensemble.")
    parser.add_argument("--groups", type=int, default=3, help="Ensembles (disjoint seeds) per system.")
    parser.add_argument(
        "--iters", type=int, default=3000, help="Optimizer steps of every member; 0: the recipe's budget."
    )
    parser.add_argument("--episodes", type=int, help="A dataset of this many episodes (small data).")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(json.loads(args.worker))
    if min(args.members, args.groups, args.workers) < 1 or args.iters < 0 or (args.episodes or 3) < 3:
        parser.error(
            "--members, --groups and --workers must be at least 1, --iters at least 0, --episodes at least 3"
        )
    import torch

    from learnsim import example_dataset
    from learnsim.evaluate.model import evaluate_model

    torch.set_num_threads(1)
    os.environ["LEARNSIM_HOME"] = tempfile.mkdtemp(prefix="learnsim-ensemble-")
    folder = Path(tempfile.mkdtemp(prefix="learnsim-ensemble-bundles-"))
    seeds = range(args.members * args.groups)
    rows = [
        f"| system | horizon | {len(seeds)} members | {args.groups} ensembles of {args.members} | ratio |"
    ]
    rows.append("|---|---|---|---|---|")
    for system in args.systems.split(","):
        jobs = [
            {
                "system": system,
                "seed": s,
                "iters": args.iters,
                "episodes": args.episodes,
                "bundle": str(folder / f"{system}-{s}.zip"),
            }
            for s in seeds
        ]
        steps = f"{args.iters} steps" if args.iters else "the recipe's budget"
        print(f"{system}: {len(jobs)} members, {steps} each, {args.workers} workers", flush=True)
        with ThreadPoolExecutor(args.workers) as pool:
            members = list(pool.map(launch, jobs))
        episodes = members[0]["episodes"]
        assert all(m["episodes"] == episodes for m in members), "members hold out different episodes"
        dataset = example_dataset(system, episodes=args.episodes, seed=100)
        ensembles = []
        for g in range(args.groups):
            group = members[g * args.members : (g + 1) * args.members]
            model = mean_model([Path(m["bundle"]) for m in group])
            evaluation = evaluate_model(model, dataset, horizons=list(HORIZONS), episodes=episodes)
            ensembles.append({f"nrmse@{h}": evaluation.metrics[f"nrmse@{h}"] for h in HORIZONS})
            print(
                f"  seeds {[m['seed'] for m in group]}: "
                + ", ".join(
                    f"{k} {v:.4f} (members {statistics.mean(m['metrics'][k] for m in group):.4f})"
                    for k, v in ensembles[-1].items()
                ),
                flush=True,
            )
        for h in HORIZONS:
            key = f"nrmse@{h}"
            single = [m["metrics"][key] for m in members]
            averaged = [e[key] for e in ensembles]
            ratio = statistics.mean(averaged) / statistics.mean(single)
            rows.append(f"| {system} | {h} | {spread(single)} | {spread(averaged)} | {ratio:.2f} |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()

"""The main job's figures, recorded: ``learnsim quickstart`` (the default recipe on the example oscillator,
2,000 steps) in a fresh store, its test free run beside the baselines, each test episode's score and the
wall time. Appends one JSON line per run to ``benchmarks/results/quickstart.jsonl`` (the raw record behind
the figures quoted for the quickstart) and prints the table from every recorded line.

    python benchmarks/quickstart.py            # run once more and print the table
    python benchmarks/quickstart.py --table    # print the table from the recorded lines only
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "quickstart.jsonl"


def run_once() -> dict:
    """One quickstart in a temporary store; the record of it."""
    with tempfile.TemporaryDirectory() as home:
        os.environ["LEARNSIM_HOME"] = home
        from learnsim.quickstart import quickstart, quickstart_config, test_episode_scores

        began = time.perf_counter()
        result = quickstart(monitor=False)
        seconds = time.perf_counter() - began
        episodes = test_episode_scores(result)
        test, validation = result.report["test"], result.report["validation"]
        config = quickstart_config().model_dump_json()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    return {
        "system": "oscillator",
        "method": "quickstart (default recipe, 2000 steps)",
        "seed": 0,
        "config_hash": __import__("hashlib").sha256(config.encode()).hexdigest()[:12],
        "commit": commit,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.processor() or platform.system()}",
        "seconds": round(seconds, 1),
        "metrics": {
            "test/nrmse@full": test["test/nrmse@full"],
            "test/linear/nrmse@full": test["test/linear/nrmse@full"],
            "test/hold/nrmse@full": test["test/hold/nrmse@full"],
            "val/nrmse@full": validation["val/nrmse@full"],
            "test_episodes": {str(k): v for k, v in episodes.items()},
        },
    }


def table(lines: list[dict]) -> str:
    rows = ["| commit | seconds | test nRMSE (full) | linear | hold | validation | test episodes: median / hardest |",
            "|---|---|---|---|---|---|---|"]  # fmt: skip
    for line in lines:
        m = line["metrics"]
        scores = m["test_episodes"]
        hardest = max(scores, key=scores.get)
        rows.append(
            f"| {line['commit']} | {line['seconds']:.0f} | {m['test/nrmse@full']:.4f} | {m['test/linear/nrmse@full']:.3f} "
            f"| {m['test/hold/nrmse@full']:.2f} | {m['val/nrmse@full']:.4f} | "
            f"{statistics.median(scores.values()):.4f} / {scores[hardest]:.3f} (episode {hardest}) |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", action="store_true", help="only print the table of the recorded runs")
    args = parser.parse_args()
    if not args.table:
        RESULTS.parent.mkdir(exist_ok=True)
        with open(RESULTS, "a") as handle:
            handle.write(json.dumps(run_once()) + "\n")
    lines = [json.loads(x) for x in RESULTS.read_text().splitlines() if x.strip()]
    print(table(lines))


if __name__ == "__main__":
    main()

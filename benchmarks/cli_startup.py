"""Command-line start time: median wall time of N fresh ``learnsim`` processes per command, beside a bare
Python start and an ``import torch`` for scale. Target: ``learnsim --help`` <= 0.3 s on a 2-core machine.

    python benchmarks/cli_startup.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

COMMANDS = [["--help"], ["train", "--help"], ["data", "list"], ["models", "list"]]


def median_seconds(command: list[str], repeats: int, env: dict) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, env=env, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    env = {**os.environ, "LEARNSIM_HOME": tempfile.mkdtemp(prefix="learnsim-startup-")}
    cli = shutil.which("learnsim") or sys.exit("the learnsim command is not installed (pip install -e .)")
    subprocess.run([cli, "data", "example", "--episodes", "2", "--steps", "20"], env=env, capture_output=True)
    print(f"median of {args.repeats} fresh processes, {os.cpu_count()} CPUs")
    print(f"{'command':<28} {'seconds':>8}")
    rows = [("python -c pass", [sys.executable, "-c", "pass"])]
    rows += [("learnsim " + " ".join(command), [cli, *command]) for command in COMMANDS]
    rows += [("python -c 'import torch'", [sys.executable, "-c", "import torch"])]
    for label, command in rows:
        print(f"{label:<28} {median_seconds(command, args.repeats, env):>8.3f}")
    print("target: learnsim --help <= 0.3 s")


if __name__ == "__main__":
    main()

"""Silverbox benchmark: the repository's generic recipe under the standard protocol, beside published results.

Same as ``learnsim benchmark silverbox --data ../shared/data/silverbox``. Skips cleanly (exit 0 with a note)
when the data is absent.

    python benchmarks/silverbox.py [--data PATH] [--config RUN.yaml] [--set k=v ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data" / "silverbox")
    parser.add_argument("--config", type=Path, default=None, help="default: the recipe shipped with learnsim")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--run-dir", type=Path, default=None)
    args = parser.parse_args()
    if not (args.data / "SNLS80mV.csv").is_file() and not args.data.is_file():
        print(f"Silverbox data not found at {args.data}; skipping.")
        sys.exit(0)
    from learnsim.protocols.silverbox import run_silverbox

    run_silverbox(args.data, args.config, args.overrides, args.run_dir, monitor=True)


if __name__ == "__main__":
    main()

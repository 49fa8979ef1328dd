"""Metrics as JSON lines: ``{"step": N, "category/key": value, ...}`` per line, appended and flushed."""

from __future__ import annotations

import json
import math
from pathlib import Path

from learnsim.durable import write_text


class MetricsFile:
    def __init__(self, path: Path):
        self.path = Path(path)

    def log(self, metrics: dict, step: int) -> None:
        record = {"step": step, **{k: _finite_or_none(v) for k, v in metrics.items()}}
        with open(self.path, "a") as handle:
            handle.write(json.dumps(record) + "\n")
            handle.flush()

    def read(self) -> list[dict]:
        if not self.path.is_file():
            return []
        records = []
        for line in self.path.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut by a kill mid-write
                continue
        return records

    def truncate_after(self, step: int) -> None:
        """Drop records logged after ``step`` (written by a killed run past its last checkpoint) and the test
        record (written by a run killed while finishing, which finishing again writes anew); atomic."""
        kept = [r for r in self.read() if r["step"] <= step and not any(k.startswith("test/") for k in r)]
        write_text(self.path, "".join(json.dumps(r) + "\n" for r in kept))


def _finite_or_none(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value

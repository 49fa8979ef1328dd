"""Shared by the catalog's modules: JSON-safe values and tolerant JSON reads."""

from __future__ import annotations

import json
import math
from pathlib import Path


def clean(value):
    """JSON-safe: NaN and infinities become None (JSON has no such numbers)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


def read_json_or_none(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None

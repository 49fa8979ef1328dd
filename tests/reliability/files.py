"""Writers of bad files for the corpus: configs, tables, and damaged model, checkpoint and metadata files."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import yaml
from reliability.conftest import base_config

GOOD_CSV = "position,velocity,acceleration,control_input,episode\n" + "".join(
    f"{0.01 * i},{0.1 * (i % 7)},{0.2 * (i % 5)},{(-1) ** i},{i // 40}\n" for i in range(120)
)


class Payload:
    """Unpickling this runs ``touch`` on a marker file: loading must refuse it, and the marker must not exist."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def pickle_bomb(path: Path, marker: Path) -> Path:
    path.write_bytes(pickle.dumps({"weights": Payload(marker)}))
    return path


def config_file(tmp: Path, change=None, name: str = "run.yaml", raw: str | None = None) -> str:
    """A run config YAML: ``raw`` text, or the base config after ``change(config)``."""
    path = tmp / name
    if raw is not None:
        path.write_text(raw)
        return str(path)
    config = base_config()
    if change is not None:
        change(config)
    path.write_text(yaml.safe_dump(config))
    return str(path)


def csv_file(tmp: Path, text: str = GOOD_CSV, name: str = "data.csv") -> str:
    path = tmp / name
    path.write_text(text)
    return str(path)


def edit_csv(transform) -> str:
    lines = GOOD_CSV.splitlines()
    return "\n".join(transform(lines)) + "\n"


def model_dir(home: Path) -> Path:
    (version,) = [p for p in (home / "models" / "m").iterdir() if not p.name.startswith(".")]
    return version


def unfinished_run(home: Path) -> Path:
    """A copy of the finished run without its report: what a killed training leaves."""
    run = home / "runs" / "half"
    shutil.copytree(home / "runs" / "first", run)
    (run / "report.json").unlink()
    return run


def latest_checkpoint(run: Path) -> Path:
    return sorted((run / "checkpoints").glob("step-*"))[-1]


def truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def flip_last_byte(path: Path) -> None:
    """Tamper with a tensor value and keep the file well-formed."""
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x55
    path.write_bytes(bytes(data))


def edit_yaml(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))

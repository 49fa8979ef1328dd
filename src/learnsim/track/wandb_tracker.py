"""Weights & Biases tracker. Runs offline unless the user set WANDB_MODE themselves, so it works with no
network; ``wandb sync`` uploads later if wanted. A resumed run continues the same W&B run id."""

from __future__ import annotations

import os
from pathlib import Path


class WandbTracker:
    def __init__(self):
        import wandb

        self.wandb = wandb
        self.run = None

    def start(self, run_dir: Path, config: dict, resume_token: str | None) -> str:
        os.environ.setdefault("WANDB_MODE", "offline")
        os.environ.setdefault("WANDB_SILENT", "true")
        self.run = self.wandb.init(
            project="learnsim",
            dir=str(run_dir),
            config=config,
            id=resume_token,
            resume="allow",
            name=Path(run_dir).name,
            reinit=True,
        )
        return self.run.id

    def log(self, category: str, metrics: dict, step: int) -> None:
        self.run.log({k: v for k, v in metrics.items() if isinstance(v, int | float)}, step=step)

    def log_artifact(self, path: Path) -> None:
        if path.suffix == ".png":
            self.run.log({f"plots/{path.stem}": self.wandb.Image(str(path))})

    def finish(self) -> None:
        self.run.finish()

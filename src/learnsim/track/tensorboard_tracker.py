"""TensorBoard tracker: event files in ``<run_dir>/tensorboard`` (scalars per namespaced key, plots as images)."""

from __future__ import annotations

from pathlib import Path

from learnsim.rundir import RunDir


class TensorBoardTracker:
    def __init__(self):
        from torch.utils.tensorboard import SummaryWriter

        self._writer_class = SummaryWriter
        self.writer = None

    def start(self, run_dir: Path, config: dict, resume_token: str | None) -> None:
        self.writer = self._writer_class(log_dir=str(RunDir(run_dir).tensorboard))
        if resume_token is None:
            import yaml

            self.writer.add_text("config", "```\n" + yaml.safe_dump(config, sort_keys=False) + "\n```")
        return None

    def log(self, category: str, metrics: dict, step: int) -> None:
        for key, value in metrics.items():
            if isinstance(value, int | float):
                self.writer.add_scalar(key, value, step)
        self.writer.flush()

    def log_artifact(self, path: Path) -> None:
        if path.suffix != ".png":
            return
        import numpy as np
        from PIL import Image

        image = np.asarray(Image.open(path).convert("RGB"))
        self.writer.add_image(f"plots/{path.stem}", image, dataformats="HWC")
        self.writer.flush()

    def finish(self) -> None:
        self.writer.close()

"""Console progress: a rich progress bar on terminals, plain lines elsewhere (logs, CI: no control codes)."""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.table import Table


class TrainingProgress:
    """Shows step, loss, learning rate and the latest validation numbers; silent when ``enabled`` is False."""

    def __init__(self, total: int, start: int, enabled: bool, console: Console | None = None):
        self.console = console or Console(stderr=False)
        self.enabled = enabled
        self.interactive = enabled and self.console.is_terminal
        self.total, self.start = total, start
        self.fields: dict[str, str] = {}
        self._bar = None
        self._last_line = 0.0
        if self.interactive:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(
                TextColumn("train"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.fields[info]}"),
                console=self.console,
                transient=False,
            )
            self._task = self._bar.add_task("train", total=total, completed=start, info="")
            self._bar.start()

    def update(self, step: int, **fields) -> None:
        """New values for the bar; off a terminal, a plain line for a new loss (at most one every 2 s, and
        the last step's), never one that only repeats the last loss."""
        self.fields.update({k: f"{v:.4g}" if isinstance(v, float) else str(v) for k, v in fields.items()})
        info = " ".join(f"{k}={v}" for k, v in self.fields.items())
        if self._bar is not None:
            self._bar.update(self._task, completed=step, info=info)
        elif (
            self.enabled
            and "loss" in fields
            and (time.monotonic() - self._last_line > 2.0 or step == self.total)
        ):
            self._last_line = time.monotonic()
            line = " ".join(f"{k}={self.fields[k]}" for k in fields)
            print(f"step {step}/{self.total} {line}", file=sys.stdout, flush=True)

    def print(self, renderable) -> None:
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.console.print(renderable)
        else:
            show(renderable)

    def validation(self, step: int, table: Table, selection: str, value: float) -> None:
        """A validation's table above the bar on a terminal; off a terminal (a log), one line."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.console.print(table)
        else:
            print(f"validation at step {step}: {selection}={value:.4g}", file=sys.stdout, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def show(renderable) -> None:
    """Print text or a rich table: styled on a terminal, plain (no control codes) elsewhere."""
    if sys.stdout.isatty():
        Console().print(renderable)
    elif isinstance(renderable, Table):
        # as wide as the table needs (a log or a pipe has no width to fit), so no name is cut or wrapped
        width = max(Console(width=1000).measure(renderable).maximum, len(str(renderable.title or "")))
        Console(force_terminal=False, no_color=True, width=max(width, 40)).print(renderable)
    else:
        print(renderable, flush=True)


def rmse_features(metrics: dict, prefix: str) -> list[str]:
    """Feature names with a ``<prefix>/rmse/<name>`` or ``<prefix>/rollout_rmse/<name>`` key, in key order."""
    names: list[str] = []
    for key in metrics:
        for kind in ("rmse", "rollout_rmse"):
            head = f"{prefix}/{kind}/"
            if key.startswith(head) and key[len(head) :] not in names:
                names.append(key[len(head) :])
    return names


def metrics_table(title: str, metrics: dict, prefix: str) -> Table:
    """Per-feature one-step and rollout RMSE (physical units) from ``<prefix>/rmse/*`` and ``/rollout_rmse/*``."""
    table = Table(title=title)
    table.add_column("feature")
    table.add_column("one-step RMSE", justify="right")
    table.add_column("rollout RMSE", justify="right")
    for name in rmse_features(metrics, prefix):
        one = metrics.get(f"{prefix}/rmse/{name}")
        roll = metrics.get(f"{prefix}/rollout_rmse/{name}")
        table.add_row(name, "-" if one is None else f"{one:.4g}", "-" if roll is None else f"{roll:.4g}")
    return table


def evaluation_header(evaluation) -> str:
    """What was scored, in one line (printed above ``evaluation_table``): model, dataset, which rows."""
    return (
        f"{evaluation.model} on {evaluation.dataset}, {evaluation.scope}: {evaluation.episodes} segment(s), "
        f"warmup {evaluation.warmup}"
    )


def evaluation_table(evaluation) -> Table:
    """nRMSE per feature (rows) and horizon (columns), fit %, then the overall score of the model and of
    each baseline, and the share of simulated rows outside the training range."""
    labels = [str(h) for h in evaluation.horizons]
    metrics = evaluation.metrics
    table = Table(title="nRMSE (RMSE / spread of the recording) over the first h simulated steps")
    table.add_column("feature")
    for label in labels:
        table.add_column(f"h={label}", justify="right")
    table.add_column("fit %", justify="right")
    table.add_column("outside range", justify="right")
    for name in evaluation.features:
        values = [metrics.get(f"nrmse@{label}/{name}") for label in labels]
        fit = metrics.get(f"fit/{name}")
        outside = evaluation.outside_training_range.get(name)
        table.add_row(
            name, *map(_cell, values), _cell(fit, ".1f"), "-" if outside is None else f"{outside:.1%}"
        )
    for prefix, row in (("", "overall (model)"), ("hold/", "hold last state"), ("linear/", "linear model")):
        values = [metrics.get(f"{prefix}nrmse@{label}") for label in labels]
        if any(v is not None for v in values):
            table.add_row(row, *map(_cell, values), "", "")
    return table


def _cell(value, spec: str = ".4g") -> str:
    return "-" if value is None else format(value, spec)

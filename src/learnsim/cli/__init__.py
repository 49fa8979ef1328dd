"""The ``learnsim`` command line: one module per verb, each importing torch, numpy and the rest only inside
its command, so ``learnsim --help`` starts instantly. Bad input exits 2 with one paragraph naming the
problem, never a traceback."""

from __future__ import annotations

import sys

import typer

from learnsim.cli import benchmark, data, evaluate, models, quickstart, report, simulate, train, ui
from learnsim.errors import LearnsimError

app = typer.Typer(
    rich_markup_mode=None,
    name="learnsim",
    help="Learn neural simulators of physical systems from recorded trajectories, on your own machine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(data.app, name="data")
app.add_typer(models.app, name="models")
app.add_typer(benchmark.app, name="benchmark")
app.command("train")(train.train)
app.command("quickstart")(quickstart.quickstart)
app.command("simulate")(simulate.simulate)
app.command("evaluate")(evaluate.evaluate)
app.command("report")(report.report)
app.command("ui")(ui.ui)


def main() -> None:
    # typer handles its own usage errors (exit 2 with a usage message); ours are caught here.
    try:
        app(prog_name="learnsim")
    except LearnsimError as error:
        _fail(str(error))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as error:
        if type(error).__name__ != "ValidationError" or "pydantic" not in sys.modules:
            raise
        from learnsim.config_io import format_validation_error

        _fail(format_validation_error(error))


def _fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)

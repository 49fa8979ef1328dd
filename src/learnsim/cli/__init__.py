"""The ``learnsim`` command line: one module per verb, each importing torch, numpy and the rest only inside
its command, so ``learnsim --help`` starts instantly.

Bad input exits 2 with one paragraph naming the problem. Anything else is a bug in learnsim: it exits 1 with
one paragraph saying so, and the traceback goes to a log file whose path is printed. ``LEARNSIM_DEBUG=1``
lets every traceback through, for developers."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from learnsim.cli import (
    benchmark,
    data,
    evaluate,
    export,
    models,
    optimize,
    quickstart,
    report,
    simulate,
    train,
    ui,
)
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
app.command("optimize")(optimize.optimize)
app.command("export")(export.export)
app.command("quickstart")(quickstart.quickstart)
app.command("simulate")(simulate.simulate)
app.command("evaluate")(evaluate.evaluate)
app.command("report")(report.report)
app.command("ui")(ui.ui)


def main() -> None:
    # typer handles its own usage errors (exit 2 with a usage message); ours are caught here.
    debug = os.environ.get("LEARNSIM_DEBUG", "") not in ("", "0")
    if not debug:
        _one_line_notices()
    try:
        app(prog_name="learnsim")
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as error:
        if debug:
            raise
        message = user_error(error)
        if message is None:
            _crash(error)
        _fail(message)


def _one_line_notices() -> None:
    """learnsim's own warnings ("learnsim: ...", e.g. a capture that fell back, a tracker that failed) print
    as one ``warning:`` line, not Python's file, line number and source line; other libraries' keep theirs."""
    import warnings

    default = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        text = str(message)
        if not text.startswith("learnsim: "):
            return default(message, category, filename, lineno, file, line)
        print(f"warning: {text.removeprefix('learnsim: ')}", file=file or sys.stderr)

    warnings.showwarning = show


def user_error(error: Exception) -> str | None:
    """The one-paragraph message of an error caused by the user's input or machine, else None (a bug)."""
    if isinstance(error, LearnsimError):
        return str(error)
    if type(error).__name__ == "ValidationError" and "pydantic" in sys.modules:
        from learnsim.config_io import format_validation_error

        return format_validation_error(error)
    if isinstance(error, MemoryError) or "out of memory" in str(error).lower():
        return "out of memory: make the model or train_batch_size smaller, or train on a larger machine"
    if isinstance(error, OSError) and error.filename is not None:  # disk full, permission denied, ...
        return f"{error.filename}: {error.strerror or error}"
    return None


def _crash(error: Exception) -> None:
    import tempfile
    import time
    import traceback

    log = Path(tempfile.gettempdir()) / f"learnsim-crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    try:
        log.write_text(f"learnsim {' '.join(sys.argv[1:])}\n\n" + "".join(traceback.format_exception(error)))
        where = f"the full traceback is in {log}"
    except OSError:
        where = "the traceback could not be written to a log file; run again with LEARNSIM_DEBUG=1 to see it"
    print(
        f"error: internal error, a bug in learnsim rather than a problem with your input "
        f"({type(error).__name__}: {str(error)[:300]}); {where}. Please report it with that file.",
        file=sys.stderr,
    )
    sys.exit(1)


def _fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)

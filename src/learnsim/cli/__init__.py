"""The ``learnsim`` command line. Bad input exits 2 with one paragraph naming the problem, never a traceback."""

from __future__ import annotations

import sys

import typer

from learnsim.cli.benchmark import benchmark_app
from learnsim.cli.data import data_app
from learnsim.cli.inspect import register_inspection_commands
from learnsim.cli.models import models_app
from learnsim.cli.train import register_training_commands

app = typer.Typer(
    name="learnsim",
    help="Learn neural simulators of physical systems from recorded trajectories, on your own machine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(data_app, name="data")
app.add_typer(models_app, name="models")
app.add_typer(benchmark_app, name="benchmark")
register_training_commands(app)
register_inspection_commands(app)


def main() -> None:
    from pydantic import ValidationError

    from learnsim.config import format_validation_error
    from learnsim.errors import LearnsimError

    # typer handles its own usage errors (exit 2 with a usage message); ours are caught here.
    try:
        app(prog_name="learnsim")
    except ValidationError as error:
        print(f"error: {format_validation_error(error)}", file=sys.stderr)
        sys.exit(2)
    except LearnsimError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)

"""The command-line app as a Click command, for the documentation's generated CLI reference (mkdocs-click);
the ``learnsim`` command itself never imports this module."""

from __future__ import annotations

import typer.main

from learnsim.cli import app

command = typer.main.get_command(app)

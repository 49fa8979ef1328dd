"""``learnsim data``: import, generate, list, show and remove datasets in the local store."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from learnsim.data.examples import SYSTEMS

app = typer.Typer(
    rich_markup_mode=None,
    help="Manage datasets in the local store ($LEARNSIM_HOME/datasets).",
    no_args_is_help=True,
)


def _console():
    from rich.console import Console

    return Console()


@app.command("import")
def import_(
    file: Path = typer.Argument(..., help="CSV, Parquet (.parquet/.pq) or HDF5 (.h5/.hdf5) file."),
    name: str = typer.Option(..., "--name", help="Dataset name in the store."),
    dt: float = typer.Option(..., "--dt", help="Time step between rows, seconds."),
    episode_column: str = typer.Option(None, "--episode-column", help="Column holding episode ids."),
    time_column: str = typer.Option(None, "--time-column", help="Column holding time stamps (s)."),
    source: list[str] = typer.Option([], "--source", help="Lineage: NAME[@VERSION] this data was made from."),
):
    """Validate FILE and save it as a new version of NAME (CSV and Parquet are streamed in chunks). A column
    named like time stamps (time, t, timestamp, ...) is used as the time axis, checked against --dt."""
    console = _console()
    if file.suffix.lower() in (".csv", ".parquet", ".pq"):
        from learnsim.data.stream import open_table

        header = open_table(file, episode_column, time_column)
        found = time_column or _time_column([n for n in header.names if n != episode_column])
        meta = _import_streamed(console, file, name, dt, episode_column, found, source)
    else:
        from learnsim.data.dataset import Dataset
        from learnsim.errors import ConfigError
        from learnsim.store.datasets import save_dataset

        with console.status(f"reading {file}"):
            found = time_column
            dataset = Dataset.from_file(file, dt, episode_column, time_column)
            stamps = _time_column(dataset.feature_names)
            if stamps:  # HDF5 takes its time axis from its layout, not from a column
                raise ConfigError(f"{file}: feature '{stamps}' looks like time stamps; drop it from the file")
            meta = save_dataset(name, dataset, source_datasets=source)
    if found and not time_column:
        console.print(f"used column '{found}' as the time axis (its steps match --dt {dt:g} s)")
    console.print(
        f"saved [bold]{name}@{meta['version']}[/]: {meta['rows']} rows, {meta['episodes']} episode(s), "
        f"features {meta['features']}"
    )
    for warning in meta["warnings"]:
        console.print(f"[yellow]warning:[/] {warning}")


def _import_streamed(console, file: Path, name, dt, episode_column, time_column, source) -> dict:
    """A progress bar over rows (Parquet: of the known total) while the file streams into the store."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from learnsim.data.stream import open_table
    from learnsim.store.datasets import import_dataset

    header = open_table(file, episode_column, time_column)
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(f"importing {file.name} (rows)", total=header.rows)
        meta = import_dataset(
            name,
            file,
            dt,
            episode_column,
            time_column,
            source,
            on_rows=lambda n: progress.update(task, completed=n),
        )
    return meta


TIME_NAMES = ("time", "t", "timestamp", "time_s", "times")


def _time_column(columns: list[str]) -> str | None:
    """The column named like time stamps, if any: imported as a feature it would become a model input that
    never repeats, so it is the time axis (validated against --dt: a step that differs is an error naming
    its row). Two such columns are ambiguous: the user picks one."""
    from learnsim.errors import ConfigError

    found = [column for column in columns if column.lower() in TIME_NAMES]
    if len(found) > 1:
        raise ConfigError(
            f"columns {found} all look like time stamps; pass --time-column with the one that is the time axis "
            "(and rename the others if they really are features)"
        )
    return found[0] if found else None


SystemName = Enum("SystemName", {name: name for name in SYSTEMS}, type=str)


@app.command("example")
def example(
    system: SystemName = typer.Option(
        "oscillator", help="Which system: " + "; ".join(f"{k}: {v}" for k, v in SYSTEMS.items())
    ),
    name: str = typer.Option(None, help="Dataset name (default: the system's name)."),
    episodes: int = typer.Option(None, min=1, help="Episodes (default: the system's own)."),
    steps: int = typer.Option(None, min=2, help="Rows per episode (default: the system's own)."),
    seed: int = typer.Option(0, help="Seed of the excitation and initial states."),
):
    """Generate a built-in example system's trajectories and save them."""
    from learnsim.data.examples import example_dataset
    from learnsim.store.datasets import save_dataset

    system = system.value
    meta = save_dataset(name or system, example_dataset(system, episodes, steps, seed=seed))
    _console().print(
        f"saved [bold]{meta['name']}@{meta['version']}[/]: {meta['rows']} rows, {meta['episodes']} episodes"
    )


@app.command("list")
def list_():
    """List every dataset version in the store."""
    from rich.table import Table

    from learnsim.store.datasets import list_datasets

    table = Table("name", "version", "rows", "episodes", "dt (s)", "features", "created")
    for meta in list_datasets():
        if "error" in meta:  # one damaged entry is reported in its row; the listing goes on
            table.add_row(meta["name"], meta["version"], "-", "-", "-", f"damaged: {meta['error']}", "-")
            continue
        row = (
            meta["name"],
            meta["version"],
            str(meta.get("rows", "?")),
            str(meta.get("episodes", "?")),
            f"{meta.get('dt', float('nan')):g}",
            ", ".join(meta.get("features", [])),
        )
        table.add_row(*row, created(meta))
    _console().print(table)


@app.command("show")
def show(reference: str = typer.Argument(..., help="NAME or NAME@VERSION.")):
    """Per-column statistics and the validation report of a stored dataset."""
    from rich.table import Table

    from learnsim.data.validate import validate_dataset
    from learnsim.store.datasets import dataset_meta, load_dataset
    from learnsim.store.versions import parse_reference

    console = _console()
    name, version = parse_reference(reference)
    meta = dataset_meta(name, version)
    console.print(
        f"[bold]{name}@{meta['version']}[/]  rows={meta['rows']} episodes={meta['episodes']} "
        f"dt={meta['dt']:g}s created={created(meta)}"
    )
    if meta["lineage"]:
        console.print("lineage: " + ", ".join(f"{s['name']}@{s['version']}" for s in meta["lineage"]))
    table = Table("column", "mean", "std", "min", "max")
    for column, s in meta["statistics"].items():
        table.add_row(column, *(f"{s[k]:.6g}" for k in ("mean", "std", "min", "max")))
    console.print(table)
    report = validate_dataset(load_dataset(name, meta["version"]))
    console.print("validation: " + ("[green]ok[/]" if report.ok else "[red]errors[/]"))
    for line in report.errors:
        console.print(f"  [red]error:[/] {line}")
    for line in report.warnings or meta.get("warnings", []):
        console.print(f"  [yellow]warning:[/] {line}")


@app.command("rm")
def rm(reference: str = typer.Argument(..., help="NAME@VERSION to delete.")):
    """Delete one dataset version."""
    from learnsim.errors import StoreError
    from learnsim.store.datasets import delete_dataset
    from learnsim.store.versions import parse_reference

    name, version = parse_reference(reference)
    if version is None:
        raise StoreError(f"give the version to delete: learnsim data rm {name}@VERSION")
    delete_dataset(name, version)
    _console().print(f"deleted {reference}")


def created(meta: dict) -> str:
    """A store entry's creation time, local, to the second."""
    import datetime

    return datetime.datetime.fromtimestamp(meta["created_ns"] / 1e9).strftime("%Y-%m-%d %H:%M:%S")

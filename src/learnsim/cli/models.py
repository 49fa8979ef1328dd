"""``learnsim models``: list and inspect stored models."""

from __future__ import annotations

from pathlib import Path

import typer

from learnsim.cli.data import created

app = typer.Typer(
    rich_markup_mode=None,
    help="Inspect trained models in the local store ($LEARNSIM_HOME/models).",
    no_args_is_help=True,
)


@app.command("list")
def list_():
    """List every stored model version."""
    from rich.table import Table

    from learnsim.store.models import list_models
    from learnsim.track.console import show

    table = Table("name", "version", "family", "parameters", "dataset", "created")
    for meta in list_models():
        if "error" in meta:  # one damaged entry is reported in its row; the listing goes on
            table.add_row(meta["name"], meta["version"], "damaged", "-", meta["error"], "-")
            continue
        lineage = meta.get("lineage", {})
        dataset = f"{lineage.get('dataset', '-')}@{lineage.get('dataset_version', '-')}"
        table.add_row(
            meta["name"],
            " ".join([meta["version"], *(f"({a})" for a in meta.get("aliases", []))]),
            family(meta),
            f"{meta.get('parameters', 0):,}",
            dataset,
            created(meta),
        )
    show(table)


def family(meta: dict) -> str:
    """The family, 'linear fit' when the run stored its linear fit in the network's place, and a loud mark
    when it free-runs its validation data worse than holding the last state."""
    lineage = meta.get("lineage") or {}
    text = str(meta.get("family", "?"))
    text = f"{text} (linear fit)" if lineage.get("candidate") == "linear" else text
    return f"{text} WORSE THAN HOLDING" if lineage.get("warnings") else text


@app.command("show")
def show(
    reference: str = typer.Argument(
        ..., help="NAME or NAME@VERSION; a bare NAME is its version marked best by a search, else the newest."
    ),
):
    """Config, lineage and test metrics of a stored model."""
    import json

    from rich.console import Console
    from rich.table import Table

    from learnsim.durable import read_json
    from learnsim.store.models import model_meta, model_store, resolved
    from learnsim.store.versions import parse_reference
    from learnsim.train.candidates import explain

    console = Console()
    name, version = parse_reference(reference)
    meta = model_meta(name, version)
    path = model_store().root / name / meta["version"]
    config = read_json(path / "model.json", "model file")["config"]
    print(resolved(reference, meta))
    console.print(
        f"[bold]{name}@{meta['version']}[/]  family={family(meta)} parameters={meta['parameters']:,}",
        soft_wrap=True,
    )
    lineage = meta.get("lineage", {})
    if lineage.get("candidates"):
        console.print(explain(lineage["candidate"], lineage["candidates"]), soft_wrap=True, markup=False)
    for warning in lineage.get("warnings") or []:
        console.print(f"WARNING: {warning}", soft_wrap=True, markup=False, style="bold red")
    console.print("lineage: " + json.dumps(lineage), soft_wrap=True, markup=False)
    console.print("inputs: " + ", ".join(meta["inputs"]) + " | outputs: " + ", ".join(meta["outputs"]))
    table = Table("metric", "value")
    for key, value in meta.get("metrics", {}).items():
        table.add_row(key, f"{value:.6g}" if isinstance(value, float) else str(value))
    console.print(table)
    console.print(
        "config: " + json.dumps({k: v for k, v in config.items() if k not in ("inputs", "outputs")})
    )


@app.command("import")
def import_(
    bundle: Path = typer.Argument(..., help="A model bundle (.lsim) from learnsim export."),
    name: str = typer.Option(None, "--name", help="Store it under this name (default: the bundle's)."),
):
    """Add the model in a bundle file to the local store."""
    from learnsim.store.models import import_bundle

    meta = import_bundle(bundle, name)
    print(f"imported {meta['name']}@{meta['version']}")

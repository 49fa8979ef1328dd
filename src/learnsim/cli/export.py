"""``learnsim export``: a stored model as a bundle, an ONNX graph or a TorchScript module."""

from __future__ import annotations

from pathlib import Path

import typer

from learnsim.export import FORMATS  # light: the writers import torch, onnx only when used


def export(
    model: str = typer.Argument(
        ...,
        help="Stored model NAME[@VERSION]; a bare NAME is its version marked best by a search, else the newest.",
    ),
    format: str = typer.Option(
        "bundle",
        "--format",
        help="; ".join(f"{name} ({', '.join(suffixes)})" for name, (suffixes, _) in FORMATS.items()) + ".",
    ),
    out: Path = typer.Option(..., "-o", "--out", help="Output file (model.lsim, model.onnx, model.pt)."),
    horizon: int = typer.Option(
        None,
        "--horizon",
        help="onnx/torchscript: also write a rollout of this many steps (<stem>.rolloutH.*).",
    ),
):
    """Export a stored model: the bundle loads anywhere with load_model('model.lsim'); the ONNX and
    TorchScript files hold one simulation step (relations and normalisation inside) and, with --horizon, a
    whole rollout."""
    from learnsim.export import export_model
    from learnsim.store.models import pinned

    model, line = pinned(model)
    print(line)
    for path in export_model(model, out, format, horizon):
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")

"""Export a stored model for deployment: a self-contained bundle (``.lsim``), an ONNX step graph (and a
fixed-horizon rollout graph), or a TorchScript module for libtorch. Every format simulates as ``simulate``
does: normalisation, angle features and the state relations are inside."""

from __future__ import annotations

from pathlib import Path

from learnsim.errors import ConfigError


def _bundle(model, out: Path, horizon, meta: dict) -> list[Path]:
    from learnsim.models.bundle import write_bundle

    keep = {k: meta[k] for k in ("name", "version", "metrics", "lineage", "created_ns") if k in meta}
    return [write_bundle(model, out, keep)]


def _onnx(model, out: Path, horizon, meta: dict) -> list[Path]:
    import importlib.util

    if importlib.util.find_spec("onnx") is None:
        raise ConfigError("ONNX export needs the onnx package: pip install 'learnsim[export]'")
    from learnsim.export.onnx import export_onnx

    return export_onnx(model, out, horizon)


def _torchscript(model, out: Path, horizon, meta: dict) -> list[Path]:
    from learnsim.export.torchscript import export_torchscript

    return export_torchscript(model, out, horizon)


# format -> (file suffixes it is written under, writer(model, out, horizon, meta) -> files); listed once:
# the CLI's help and the checks below read it
FORMATS = {
    "bundle": ((".lsim",), _bundle),
    "onnx": ((".onnx",), _onnx),
    "torchscript": ((".pt", ".pth", ".ts"), _torchscript),
}
# The rollout graph unrolls every step: 10,000 steps of a small MLP is a graph of tens of MB built in
# about a minute; longer free runs loop the step graph instead (examples/onnx_rollout.py).
MAX_HORIZON = 10_000


def export_model(
    reference: str, out: str | Path, format: str = "bundle", horizon: int | None = None
) -> list[Path]:
    """Export stored model ``NAME[@VERSION]`` to ``out``; returns the files written."""
    if format not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, got {format!r}")
    if horizon is not None and not 1 <= horizon <= MAX_HORIZON:
        raise ConfigError(
            f"--horizon must be 1 to {MAX_HORIZON} (the rollout graph unrolls every step), got {horizon}; "
            "for longer free runs, loop the step graph (examples/onnx_rollout.py does)"
        )
    if horizon is not None and format == "bundle":
        raise ConfigError("--horizon applies to onnx and torchscript exports, not to a bundle")
    out = Path(out)
    if out.is_dir():
        raise ConfigError(f"output {out} is a directory; give a file path")
    if not out.parent.is_dir():
        raise ConfigError(f"output directory {out.parent} does not exist")
    suffixes, write = FORMATS[format]
    if out.exists() and out.suffix.lower() not in suffixes:
        raise ConfigError(
            f"output {out} exists and is not a {format} file ({' or '.join(suffixes)}); refusing to "
            "replace it: give another path"
        )
    from learnsim.store.models import load_model, model_meta
    from learnsim.store.versions import parse_reference

    name, version = parse_reference(reference)
    meta = model_meta(name, version)
    model = load_model(name, meta["version"])
    return write(model, out, horizon, meta)

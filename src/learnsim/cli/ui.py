"""``learnsim ui``: the local tracking UI."""

from __future__ import annotations

import typer


def ui(
    port: int = typer.Option(5000, min=1, max=65535, help="Port on localhost."),
    host: str = typer.Option("127.0.0.1", help="Interface to bind (localhost by default)."),
):
    """Start the MLflow UI on the local tracking store and print its address."""
    import importlib.util
    import subprocess
    import sys

    from learnsim.errors import ConfigError

    if importlib.util.find_spec("mlflow") is None:
        raise ConfigError("learnsim ui needs MLflow: pip install 'learnsim[mlflow]'")
    from learnsim.track.mlflow_tracker import artifact_root, tracking_uri

    # one plain line, whatever the terminal width: scripts and people copy the address from it
    print(f"MLflow UI at http://{host}:{port} for {tracking_uri()} (Ctrl-C to stop)", flush=True)
    command = [
        "mlflow",
        "ui",
        "--backend-store-uri",
        tracking_uri(),
        "--default-artifact-root",
        artifact_root(),
    ]
    subprocess.run([sys.executable, "-m", *command, "--host", host, "--port", str(port)])

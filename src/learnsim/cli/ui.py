"""``learnsim ui``: the local web app over the store (or the MLflow UI with --mlflow)."""

from __future__ import annotations

import typer


def ui(
    port: int = typer.Option(8765, min=1, max=65535, help="Port to listen on."),
    host: str = typer.Option("127.0.0.1", help="Interface to bind (localhost only by default)."),
    mlflow: bool = typer.Option(False, "--mlflow", help="Start the MLflow UI on the tracking store instead."),
):
    """Start the local web app (lineage, objects, datasets, runs, models, studies) and print its address."""
    import importlib.util

    from learnsim.errors import ConfigError

    if mlflow:
        return _mlflow_ui(host, port)
    missing = [name for name in ("starlette", "uvicorn") if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigError(f"learnsim ui needs {' and '.join(missing)}: pip install 'learnsim[ui]'")
    from learnsim.store.versions import learnsim_home
    from learnsim.ui import serve

    # one plain line, whatever the terminal width: scripts and people copy the address from it
    print(f"learnsim ui at http://{host}:{port} for {learnsim_home()} (Ctrl-C to stop)", flush=True)
    serve(host, port, quiet=True)


def _mlflow_ui(host: str, port: int) -> None:
    import importlib.util
    import subprocess
    import sys

    from learnsim.errors import ConfigError

    if importlib.util.find_spec("mlflow") is None:
        raise ConfigError("learnsim ui --mlflow needs MLflow: pip install 'learnsim[mlflow]'")
    from learnsim.track.mlflow_tracker import artifact_root, tracking_uri

    print(f"MLflow UI at http://{host}:{port} for {tracking_uri()} (Ctrl-C to stop)", flush=True)
    command = ["mlflow", "ui", "--backend-store-uri", tracking_uri(), "--default-artifact-root", artifact_root()]
    subprocess.run([sys.executable, "-m", *command, "--host", host, "--port", str(port)])

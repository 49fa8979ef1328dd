"""``learnsim ui``: the local web app over the store (or the MLflow UI with --mlflow)."""

from __future__ import annotations

import typer


def ui(
    port: int = typer.Option(8765, min=1, max=65535, help="Port to listen on."),
    host: str = typer.Option("127.0.0.1", help="Interface to bind (loopback only by default)."),
    allowed_host: list[str] = typer.Option(
        [], "--allowed-host", help="Another name the app may be reached by (a reverse proxy's); repeatable."
    ),
    token: str = typer.Option(
        None,
        "--token",
        help="Require this token on every request ('auto': generate one); required off loopback.",
    ),
    mlflow: bool = typer.Option(False, "--mlflow", help="Start the MLflow UI on the tracking store instead."),
):
    """Start the local web app (lineage, objects, datasets, runs, models, studies) and print its address.
    It answers only requests addressed to loopback names, the bound address and --allowed-host names. To
    reach it from another machine, prefer an SSH tunnel (ssh -L 8765:127.0.0.1:8765 THIS_MACHINE) to binding
    beyond loopback, which serves the whole store to the network and so needs --token."""
    if mlflow:
        return _mlflow_ui(host, port)
    from learnsim.store.versions import learnsim_home
    from learnsim.ui import serve
    from learnsim.ui.guard import is_loopback

    token = _token(host, token)
    _check_bind(host, port)
    address = f"http://{f'[{host}]' if ':' in host else host}:{port}/" + (f"?token={token}" if token else "")
    # one plain line, whatever the terminal width: scripts and people copy the address from it
    print(f"learnsim ui at {address} for {learnsim_home()} (Ctrl-C to stop)", flush=True)
    if not is_loopback(host):
        print(f"serving {learnsim_home()} beyond this machine, to whoever has the token", flush=True)
    serve(host, port, quiet=True, allowed_hosts=allowed_host, token=token)


def _token(host: str, token: str | None) -> str | None:
    """The token to require: given, generated ('auto'), or none on loopback; off loopback one is required."""
    import secrets

    from learnsim.errors import ConfigError
    from learnsim.ui.guard import is_loopback

    if token == "auto":
        return secrets.token_urlsafe(24)
    if token is not None and len(token) < 16:
        raise ConfigError("--token must be at least 16 characters (or 'auto' to generate one)")
    if token is None and not is_loopback(host):
        raise ConfigError(
            f"--host {host} serves the whole store (datasets, models, runs) to the network: add --token auto "
            "(a token is generated and printed in the address) or --token SECRET; or keep the default "
            "127.0.0.1 and reach it through an SSH tunnel (ssh -L 8765:127.0.0.1:8765 THIS_MACHINE)"
        )
    return token


def _check_bind(host: str, port: int) -> None:
    """Bind once before printing the address: a host that is not this machine's, or a port in use, is one
    clear error instead of an address printed and then a server error."""
    import errno
    import socket

    from learnsim.errors import ConfigError

    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except (socket.gaierror, UnicodeError) as error:
        raise ConfigError(f"--host {host}: not an address or name of this machine ({error})") from None
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            what = (
                "is in use (another learnsim ui?): pick another with --port"
                if error.errno == errno.EADDRINUSE
                else f"cannot be bound ({error.strerror})"
            )
            raise ConfigError(f"{host}:{port} {what}") from None


def _mlflow_ui(host: str, port: int) -> None:
    import importlib.util
    import subprocess
    import sys

    from learnsim.errors import ConfigError

    if importlib.util.find_spec("mlflow") is None:
        raise ConfigError("learnsim ui --mlflow needs MLflow: pip install 'learnsim[mlflow]'")
    from learnsim.track.mlflow_tracker import artifact_root, tracking_uri

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

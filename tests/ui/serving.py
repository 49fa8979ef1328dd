"""The web app served by uvicorn on a free loopback port, in a thread of the test process."""

from __future__ import annotations

import contextlib
import socket
import threading
import time


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def served(**options):
    """Yields the port of ``learnsim.ui.create_app(**options)`` served on 127.0.0.1; stops it after."""
    import uvicorn

    from learnsim.ui import create_app

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(**options), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    assert server.started
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextlib.contextmanager
def learnsim_home(path):
    """LEARNSIM_HOME set to ``path`` for a module's shared store, and restored after."""
    import os

    saved = os.environ.get("LEARNSIM_HOME")
    os.environ["LEARNSIM_HOME"] = str(path)
    try:
        yield path
    finally:
        if saved is None:
            os.environ.pop("LEARNSIM_HOME", None)
        else:
            os.environ["LEARNSIM_HOME"] = saved

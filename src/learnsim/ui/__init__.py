"""``learnsim ui``: a local, read-only web app over ``$LEARNSIM_HOME``: the lineage of datasets, runs,
models and studies, a searchable table of every object, and pages per dataset (schema, plots), run (live
curves, validation, rollouts), model (normalisation, an interactive simulate panel) and study.

    from learnsim.ui import create_app, serve
    serve("127.0.0.1", 8765)

Starlette and uvicorn come with learnsim; the charts (uPlot) are shipped in ``static/``.
"""

from __future__ import annotations


def create_app(host: str = "127.0.0.1", allowed_hosts=(), token: str | None = None):
    from learnsim.ui.app import create_app as create

    return create(host, allowed_hosts, token)


def serve(
    host: str = "127.0.0.1", port: int = 8765, *, quiet: bool = False, allowed_hosts=(), token=None
) -> None:
    from learnsim.ui.app import serve as run

    run(host, port, quiet=quiet, allowed_hosts=allowed_hosts, token=token)


__all__ = ["create_app", "serve"]

"""``learnsim ui``: a local, read-only web app over ``$LEARNSIM_HOME``: the lineage of datasets, runs,
models and studies, a searchable table of every object, and pages per dataset (schema, plots), run (live
curves, validation, rollouts), model (normalisation, an interactive simulate panel) and study.

    from learnsim.ui import create_app, serve
    serve("127.0.0.1", 8765)

Starlette and uvicorn are the ``ui`` extra; the charts (uPlot) are shipped in ``static/``.
"""

from __future__ import annotations


def create_app():
    from learnsim.ui.app import create_app as create

    return create()


def serve(host: str = "127.0.0.1", port: int = 8765, *, quiet: bool = False) -> None:
    from learnsim.ui.app import serve as run

    run(host, port, quiet=quiet)


__all__ = ["create_app", "serve"]

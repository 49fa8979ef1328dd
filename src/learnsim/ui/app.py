"""The local web app behind ``learnsim ui``: a Starlette application with HTML pages (a small shell each;
the page's script fetches the JSON API and draws with uPlot, shipped in ``static/``) and a read-only JSON
API over ``$LEARNSIM_HOME``. Only GET routes exist: looking never changes the store.
"""

from __future__ import annotations

import html
import time
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from learnsim.errors import LearnsimError
from learnsim.ui import catalog

STATIC = Path(__file__).parent / "static"
PAGES = ("overview", "objects", "dataset", "run", "compare", "model", "study")


def shell(page: str, title: str, **data) -> HTMLResponse:
    """The HTML of one page: navigation, an empty main element the script fills, the page's parameters as
    data attributes."""
    attributes = " ".join(f'data-{k}="{html.escape(str(v), quote=True)}"' for k, v in data.items())
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)} · learnsim</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/uPlot.min.css"><link rel="stylesheet" href="/static/app.css">
</head><body data-page="{page}" {attributes} data-charts="0" data-errors="0" data-ready="0">
<nav><a class="brand" href="/">learnsim</a><a href="/">Overview</a><a href="/objects">Objects</a>
<span class="home">{html.escape(str(catalog.learnsim_home()))}</span></nav>
<main id="app"><h1>{html.escape(title)}</h1><p class="muted">loading…</p></main>
<script src="/static/uPlot.iife.min.js"></script><script src="/static/app.js"></script>
</body></html>"""
    return HTMLResponse(body)


def _api(function):
    """A JSON endpoint: learnsim errors (no such run, bad parameter) become 404 with the message."""

    async def endpoint(request: Request) -> Response:
        try:  # in a worker thread: reading files and simulating must not block the server
            return JSONResponse(await run_in_threadpool(function, request))
        except LearnsimError as error:
            return JSONResponse({"error": str(error)}, status_code=404)
        except (ValueError, KeyError) as error:
            return JSONResponse({"error": f"bad request: {error}"}, status_code=400)

    return endpoint


def _int(request: Request, name: str, default=None):
    value = request.query_params.get(name)
    return default if value in (None, "", "full") else int(value)


def _float(request: Request, name: str):
    value = request.query_params.get(name)
    return None if value in (None, "") else float(value)


async def run_file(request: Request) -> Response:
    """A run's plots (PNG) and HTML report, nothing else from its directory."""
    run = catalog.run_path(request.path_params["run"])
    name = request.path_params["name"]
    path = run / ("report.html" if name == "report.html" else f"plots/{name}")
    if (name != "report.html" and not name.endswith(".png")) or "/" in name or not path.is_file():
        return JSONResponse({"error": f"no file '{name}' in run {request.path_params['run']}"}, status_code=404)
    return FileResponse(path)


def create_app() -> Starlette:
    def p(request: Request, key: str):
        return request.path_params[key]  # a version may be 'latest' (the newest) or an alias ('best')

    routes = [
        Route("/", lambda r: shell("overview", "Overview")),
        Route("/objects", lambda r: shell("objects", "Objects")),
        Route("/datasets/{name}/{version}", lambda r: shell("dataset", f"Dataset {p(r, 'name')}",
              name=p(r, "name"), version=r.path_params["version"])),  # fmt: skip
        Route("/runs/{run:path}/files/{name}", run_file),  # before the page: a trial's id holds a '/'
        Route("/runs/{run:path}", lambda r: shell("run", f"Run {p(r, 'run')}", run=p(r, "run"))),
        Route("/compare", lambda r: shell("compare", "Compare runs", runs=r.query_params.get("runs", ""))),
        Route("/models/{name}/{version}", lambda r: shell("model", f"Model {p(r, 'name')}",
              name=p(r, "name"), version=r.path_params["version"])),  # fmt: skip
        Route("/studies/{name}", lambda r: shell("study", f"Study {p(r, 'name')}", name=p(r, "name"))),
        Route("/api/lineage", _api(lambda r: catalog.lineage(_int(r, "max_runs", 200)))),
        Route("/api/objects", _api(lambda r: catalog.objects(r.query_params.get("studies", "1") == "1"))),
        Route("/api/runs", _api(lambda r: catalog.list_runs())),
        Route("/api/runs/{run:path}", _api(lambda r: catalog.run_detail(p(r, "run"), _int(r, "since", 0)))),
        Route("/api/datasets/{name}/{version}", _api(lambda r: catalog.dataset_detail(p(r, "name"), p(r, "version")))),
        Route("/api/datasets/{name}/{version}/series", _api(lambda r: catalog.dataset_series(
            p(r, "name"), p(r, "version"), r.query_params["feature"], _int(r, "episode"),
            min(_int(r, "points", 2000), 20000), _float(r, "start"), _float(r, "end")))),  # fmt: skip
        Route("/api/models/{name}/{version}", _api(lambda r: catalog.model_detail(p(r, "name"), p(r, "version")))),
        Route("/api/models/{name}/{version}/simulate", _api(lambda r: catalog.simulate_episode(
            p(r, "name"), p(r, "version"), r.query_params["dataset"], _int(r, "episode"),
            _int(r, "warmup", 0), _int(r, "horizon")))),  # fmt: skip
        Route("/api/studies", _api(lambda r: catalog.list_studies())),
        Route("/api/studies/{name}", _api(lambda r: catalog.study_detail(p(r, "name")))),
        Route("/api/health", _api(lambda r: {"ok": True, "time": time.time()})),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(routes=routes)


def serve(host: str = "127.0.0.1", port: int = 8765, *, quiet: bool = False) -> None:
    """Serve the app until interrupted."""
    import uvicorn

    uvicorn.run(create_app(), host=host, port=port, log_level="warning" if quiet else "info")

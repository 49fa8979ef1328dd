"""The local web app behind ``learnsim ui``: a Starlette application with HTML pages (a small shell each;
the page's script fetches the JSON API and draws with uPlot, shipped in ``static/``) and a read-only JSON
API over ``$LEARNSIM_HOME``. Only GET routes exist: looking never changes the store. ``learnsim.ui.guard``
stands in front of every route (host check, token, security headers); simulations are bounded in length and
run at most ``SIMULATIONS_AT_ONCE`` at a time, so no request can hold the machine for minutes.
"""

from __future__ import annotations

import html
import threading
import time
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from learnsim.errors import LearnsimError
from learnsim.rundir import RunDir
from learnsim.ui import catalog
from learnsim.ui.guard import Guard

STATIC = Path(__file__).parent / "static"
PAGES = ("overview", "objects", "dataset", "run", "compare", "model", "study")
SIMULATIONS_AT_ONCE = 2
_simulations = threading.BoundedSemaphore(SIMULATIONS_AT_ONCE)


class Busy(Exception):
    """More simulations than ``SIMULATIONS_AT_ONCE`` were asked for at once (429)."""


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
        except Busy as error:
            return JSONResponse({"error": str(error)}, status_code=429)
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
    try:
        run = catalog.run_path(request.path_params["run"])
    except LearnsimError as error:
        return JSONResponse({"error": str(error)}, status_code=404)
    name, layout = request.path_params["name"], RunDir(run)
    path = layout.report_html if name == layout.report_html.name else layout.plots / name
    plain = "/" not in name and "\\" not in name and "\0" not in name and not name.startswith(".")
    if not plain or (path != layout.report_html and not name.endswith(".png")) or not path.is_file():
        return JSONResponse(
            {"error": f"no file '{name}' in run {request.path_params['run']}"}, status_code=404
        )
    return FileResponse(path)


async def run_page(request: Request) -> Response:
    """A run's page; 404 for an id that names no run (a typo, a path trick)."""
    try:
        catalog.run_path(request.path_params["run"])
    except LearnsimError as error:
        return HTMLResponse(
            f"<!doctype html><title>no such run</title><p>{html.escape(str(error))}</p>", status_code=404
        )
    return shell("run", f"Run {request.path_params['run']}", run=request.path_params["run"])


def _simulate(request: Request) -> dict:
    """The simulate endpoint, refused with 429 while ``SIMULATIONS_AT_ONCE`` others run."""
    if not _simulations.acquire(blocking=False):
        raise Busy(f"{SIMULATIONS_AT_ONCE} simulations are running; try again when one has finished")
    try:
        return catalog.simulate_episode(
            request.path_params["name"], request.path_params["version"], request.query_params["dataset"],
            _int(request, "episode"), _int(request, "warmup", 0), _int(request, "horizon"),
        )  # fmt: skip
    finally:
        _simulations.release()


def create_app(
    host: str = "127.0.0.1", allowed_hosts: list[str] | tuple = (), token: str | None = None
) -> Starlette:
    """The app, behind ``Guard``: it answers requests addressed to loopback names, ``host`` (the bound
    address) and ``allowed_hosts``, and, with ``token``, only those that carry it."""

    def p(request: Request, key: str):
        return request.path_params[key]  # a version may be 'latest' (the newest) or an alias ('best')

    routes = [
        Route("/", lambda r: shell("overview", "Overview")),
        Route("/objects", lambda r: shell("objects", "Objects")),
        Route(
            "/datasets/{name}/{version}",
            lambda r: shell(
                "dataset", f"Dataset {p(r, 'name')}", name=p(r, "name"), version=r.path_params["version"]
            ),
        ),  # fmt: skip
        Route("/runs/{run:path}/files/{name}", run_file),  # before the page: a trial's id holds a '/'
        Route("/runs/{run:path}", run_page),
        Route("/compare", lambda r: shell("compare", "Compare runs", runs=r.query_params.get("runs", ""))),
        Route(
            "/models/{name}/{version}",
            lambda r: shell(
                "model", f"Model {p(r, 'name')}", name=p(r, "name"), version=r.path_params["version"]
            ),
        ),  # fmt: skip
        Route("/studies/{name}", lambda r: shell("study", f"Study {p(r, 'name')}", name=p(r, "name"))),
        Route("/api/lineage", _api(lambda r: catalog.lineage(_int(r, "max_runs", 200)))),
        Route("/api/objects", _api(lambda r: catalog.objects(r.query_params.get("studies", "1") == "1"))),
        Route("/api/runs", _api(lambda r: catalog.list_runs())),
        Route("/api/runs/{run:path}", _api(lambda r: catalog.run_detail(p(r, "run"), _int(r, "since", 0)))),
        Route(
            "/api/datasets/{name}/{version}",
            _api(lambda r: catalog.dataset_detail(p(r, "name"), p(r, "version"))),
        ),
        Route(
            "/api/datasets/{name}/{version}/series",
            _api(
                lambda r: catalog.dataset_series(
                    p(r, "name"),
                    p(r, "version"),
                    r.query_params["feature"],
                    _int(r, "episode"),
                    min(_int(r, "points", 2000), 20000),
                    _float(r, "start"),
                    _float(r, "end"),
                )
            ),
        ),  # fmt: skip
        Route(
            "/api/models/{name}/{version}",
            _api(lambda r: catalog.model_detail(p(r, "name"), p(r, "version"))),
        ),
        Route("/api/models/{name}/{version}/simulate", _api(_simulate)),
        Route("/api/studies", _api(lambda r: catalog.list_studies())),
        Route("/api/studies/{name}", _api(lambda r: catalog.study_detail(p(r, "name")))),
        Route("/api/health", _api(lambda r: {"ok": True, "time": time.time()})),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(Guard, bound_host=host, allowed_hosts=allowed_hosts, token=token)],
    )


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    quiet: bool = False,
    allowed_hosts: list[str] | tuple = (),
    token: str | None = None,
) -> None:
    """Serve the app until interrupted."""
    import uvicorn

    app = create_app(host, allowed_hosts, token)
    uvicorn.run(app, host=host, port=port, log_level="warning" if quiet else "info")

"""The web app lets no one in where they don't belong: requests addressed to a foreign host (DNS rebinding)
get 403, a token (when set) is required on every route, every response carries nosniff and a restrictive CSP
and no CORS header, path tricks on every route that takes a name read nothing outside the store, and one
simulate request cannot hold the machine."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request

import pytest
from ui.serving import learnsim_home, served

pytest.importorskip("starlette")
uvicorn = pytest.importorskip("uvicorn")

TOKEN = "a-token-that-is-long-enough-0123"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A store with a dataset, a trained model and a finished run with plots; and a secret file beside the
    store that no request may read."""
    root = tmp_path_factory.mktemp("secure")
    home = root / "home"
    (root / "secret.txt").write_text("SECRET-OUTSIDE-THE-STORE")
    with learnsim_home(home):
        yield _build(home)


def _build(home):
    from reliability.conftest import base_config

    from learnsim import example_dataset, save_dataset
    from learnsim.train import RunConfig, train

    save_dataset("osc", example_dataset("oscillator", episodes=4, steps=120, seed=1))
    result = train(RunConfig.model_validate(base_config()), home / "runs" / "r", monitor=False).wait()
    return {"home": home, "root": home.parent, "version": result.model_version}


@pytest.fixture(scope="module")
def open_server(store):
    with served(allowed_hosts=["proxy.example"]) as port:
        yield port


@pytest.fixture(scope="module")
def token_server(store):
    with served(token=TOKEN) as port:
        yield port


@pytest.fixture(autouse=True)
def isolated_home():
    """Overrides the suite's per-test home: these tests share the module's store."""
    yield


def request(port: int, path: str, host: str | None = None, headers: dict | None = None):
    """(status, headers, body) of GET ``path`` on loopback, with ``host`` as the Host header."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
    req.add_unredirected_header("Host", host or f"127.0.0.1:{port}")
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def routes(store) -> list[str]:
    version = store["version"]
    return ["/", "/objects", "/runs/r", "/api/objects", "/api/lineage", "/api/runs", "/api/runs/r",
            "/datasets/osc/latest", "/api/datasets/osc/latest", "/api/datasets/osc/latest/series?feature=position",
            f"/models/m/{version}", f"/api/models/m/{version}", "/runs/r/files/loss_curves.png", "/static/app.js",
            "/api/health", f"/api/models/m/{version}/simulate?dataset=osc&horizon=10"]  # fmt: skip


def test_loopback_names_and_allowed_hosts_are_served(open_server, store):
    for host in (
        f"127.0.0.1:{open_server}",
        f"localhost:{open_server}",
        f"[::1]:{open_server}",
        "proxy.example",
    ):
        for path in routes(store):
            status, _, body = request(open_server, path, host)
            assert status == 200, (host, path, body[:200])


def test_a_foreign_host_header_is_refused_before_any_route_runs(open_server, store):
    for host in ("attacker.example", f"attacker.example:{open_server}", "127.0.0.1.attacker.example",
                 "localhost.attacker.example", "10.0.0.5"):  # fmt: skip
        for path in routes(store):
            status, headers, body = request(open_server, path, host)
            assert status == 403, (host, path)
            assert b"not served here" in body and b"osc" not in body and b"position" not in body
            assert headers["X-Content-Type-Options"] == "nosniff"


def test_every_response_has_nosniff_a_strict_csp_and_no_cors(open_server, store):
    for path in [*routes(store), "/api/runs/nope", "/runs/r/files/nope.png"]:
        status, headers, _ = request(open_server, path, headers={"Origin": "http://attacker.example"})
        assert status in (200, 404), path
        assert headers["X-Content-Type-Options"] == "nosniff"
        policy = headers["Content-Security-Policy"]
        assert (
            "default-src 'self'" in policy
            and "script-src 'self'" in policy
            and "frame-ancestors 'none'" in policy
        )
        assert (
            "Access-Control-Allow-Origin" not in headers and "Access-Control-Allow-Credentials" not in headers
        )


def test_a_token_server_answers_only_with_the_token(token_server, store):
    for path in routes(store):
        status, _, body = request(token_server, path)
        assert status == 403 and b"token" in body and b"osc@" not in body, path
        assert request(token_server, path + ("&" if "?" in path else "?") + "token=wrong-" + TOKEN)[0] == 403
        assert request(token_server, path, headers={"Authorization": "Bearer nope"})[0] == 403
        assert request(token_server, path, headers={"Cookie": "learnsim_token=nope"})[0] == 403
        assert request(token_server, path, headers={"Authorization": f"Bearer {TOKEN}"})[0] == 200, path
        assert request(token_server, path, headers={"Cookie": f"learnsim_token={TOKEN}"})[0] == 200, path
    # the address printed with ?token= sets an HttpOnly, SameSite=Strict cookie that the page's own requests carry
    status, headers, _ = request(token_server, f"/?token={TOKEN}")
    assert status == 200
    cookie = headers["Set-Cookie"]
    assert (
        cookie.startswith(f"learnsim_token={TOKEN}") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    )
    assert request(token_server, f"/?token={TOKEN}", host="attacker.example")[0] == 403  # the host check too


TRICKS = ["..", "%2e%2e", "..%2F..%2Fsecret.txt", "%2Fetc%2Fpasswd", "%2F", "%00", "r%00", ".hidden",
          "..%5C..%5Csecret.txt", "%2E%2E%2Fsecret.txt", "a%2Fb%2Fc"]  # fmt: skip


def test_path_tricks_on_every_route_that_takes_a_name_read_nothing_outside_the_store(open_server, store):
    version = store["version"]
    templates = ["/api/runs/{x}", "/runs/{x}", "/runs/{x}/files/loss_curves.png", "/runs/r/files/{x}",
                 "/api/datasets/{x}/latest", "/api/datasets/osc/{x}", "/api/datasets/{x}/latest/series?feature=position",
                 "/api/models/{x}/latest", "/api/models/m/{x}", "/api/studies/{x}", "/studies/{x}",
                 f"/api/models/m/{version}/simulate?dataset={{x}}", "/static/{x}"]  # fmt: skip
    for template in templates:
        for trick in TRICKS:
            path = template.format(x=trick)
            status, _, body = request(open_server, path)
            assert b"SECRET-OUTSIDE-THE-STORE" not in body and b"root:" not in body, path
            if template.startswith("/studies/") and status == 200:
                continue  # an empty page shell: its script's API call is the one checked
            if trick == "%2F" and template.endswith("/{x}") and status == 200:
                # '/api/studies//' is '/api/studies/': redirected to the listing, which any visitor may read
                assert body == request(open_server, template[: -len("/{x}")])[2], path
                continue
            assert status in (400, 404, 405), (path, status, body[:200])


def test_one_simulate_request_cannot_hold_the_machine(open_server, store):
    from learnsim.ui import app, catalog

    base = f"/api/models/m/{store['version']}/simulate?dataset=osc"
    for query in (f"&horizon={catalog.MAX_SIMULATED_STEPS + 1}", "&horizon=1000000000", "&horizon=0", "&horizon=-5",
                  f"&warmup={10**9}", "&episode=99", "&horizon=abc"):  # fmt: skip
        status, _, body = request(open_server, base + query)
        assert status in (400, 404), (query, status)
        assert json.loads(body)["error"], query
    status, _, body = request(open_server, base + "&horizon=50")
    assert status == 200 and json.loads(body)["steps"] == 50
    taken = [app._simulations.acquire(blocking=False) for _ in range(app.SIMULATIONS_AT_ONCE)]
    try:
        assert all(taken)
        status, _, body = request(open_server, base + "&horizon=50")
        assert status == 429 and "simulations are running" in json.loads(body)["error"]
    finally:
        for _ in taken:
            app._simulations.release()
    assert request(open_server, base + "&horizon=50")[0] == 200


@pytest.mark.parametrize(
    "argv, words",
    [
        (["ui", "--host", "0.0.0.0"], ["--token auto", "ssh -L"]),
        (["ui", "--host", "0.0.0.0", "--token", "short"], ["at least 16"]),
        (["ui", "--host", "999.1.1.1", "--token", "auto"], ["--host 999.1.1.1"]),
    ],
)
def test_the_command_refuses_to_serve_beyond_loopback_without_a_token(
    argv, words, capsys, tmp_path, monkeypatch
):
    from reliability.conftest import run_cli

    monkeypatch.setenv("LEARNSIM_HOME", str(tmp_path / "home"))
    code, out = run_cli(argv, capsys)
    assert code == 2 and "Traceback" not in out and "learnsim ui at" not in out, out
    for word in words:
        assert word in out, out
    assert not (tmp_path / "home").exists()


def test_a_port_in_use_is_named_before_any_address_is_printed(capsys, tmp_path, monkeypatch):
    from reliability.conftest import run_cli

    monkeypatch.setenv("LEARNSIM_HOME", str(tmp_path / "home"))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, out = run_cli(["ui", "--port", str(port)], capsys)
    assert code == 2 and f"127.0.0.1:{port} is in use" in out and "learnsim ui at" not in out, out

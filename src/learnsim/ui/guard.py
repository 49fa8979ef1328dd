"""Who may talk to the web app: a pure ASGI middleware in front of every route.

- **Host check** (DNS rebinding): a page on another site whose name is made to resolve to 127.0.0.1 reaches
  the app with its own name in the ``Host`` header. Only the loopback names, the bound address and the names
  the user allows (``--allowed-host``) are answered; anything else gets 403 before a route runs.
- **Token** (required off loopback, optional on it): every request carries it as ``?token=``, an
  ``Authorization: Bearer`` header or the ``learnsim_token`` cookie, which the first page opened with
  ``?token=`` sets (HttpOnly, SameSite=Strict), so the page's own requests and images carry it. The
  comparison takes constant time.
- **Headers on every response**: ``X-Content-Type-Options: nosniff``, a ``Content-Security-Policy`` that
  allows only the app's own scripts, styles, images and API (the app loads nothing from elsewhere), no
  framing, no referrer. No CORS header is ever sent, so another origin's script cannot read a response.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
COOKIE = "learnsim_token"
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        b"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) is this machine only."""
    if host.strip("[]") in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str:
    """The name of a Host header without its port: 'example.org:8765' -> 'example.org', '[::1]:80' -> '::1'."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class Guard:
    """ASGI middleware: host check, token check, security headers (see the module docstring)."""

    def __init__(self, app, bound_host: str, allowed_hosts: list[str] | tuple = (), token: str | None = None):
        self.app = app
        self.allowed = {*LOOPBACK_NAMES, bound_host.strip("[]").lower(), *(h.lower() for h in allowed_hosts)}
        self.token = token

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = host_name(headers.get("host", ""))
        if host not in self.allowed:
            return await _refuse(
                send, 403, f"host '{host}' is not served here (allowed: {sorted(self.allowed)})"
            )
        given = self._given_token(scope, headers)
        if self.token is not None and not (given and hmac.compare_digest(given, self.token)):
            return await _refuse(send, 403, "a valid token is required: open the address learnsim ui printed")
        set_cookie = self.token is not None and given and COOKIE not in _cookies(headers)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                extra = list(SECURITY_HEADERS)
                if set_cookie:
                    extra.append(
                        (b"set-cookie", f"{COOKIE}={self.token}; HttpOnly; SameSite=Strict; Path=/".encode())
                    )
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _given_token(self, scope, headers: dict) -> str | None:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if query.get("token"):
            return query["token"][0]
        authorization = headers.get("authorization", "")
        if authorization.lower().startswith("bearer "):
            return authorization[7:].strip()
        return _cookies(headers).get(COOKIE)


def _cookies(headers: dict) -> dict[str, str]:
    cookie = SimpleCookie()
    try:
        cookie.load(headers.get("cookie", ""))
    except Exception:  # a malformed Cookie header carries no token  # noqa: BLE001
        return {}
    return {key: morsel.value for key, morsel in cookie.items()}


async def _refuse(send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": [*headers, *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": body})

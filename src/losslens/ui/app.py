"""The dashboard application: ``create_app(store_path, token=None)``.

Security model (see docs/ui.md):

* bound to loopback (the default), pages and reads need no token, but the ``Host``
  header must name the loopback interface, so a web page on another site cannot reach
  the dashboard through DNS rebinding;
* with a ``token`` (required when binding elsewhere), every request must carry it: the
  ``X-Losslens-Token`` header, ``Authorization: Bearer``, ``?token=`` (which also sets an
  HttpOnly, SameSite=Strict cookie) or that cookie;
* rename and delete need the token in a header, always (a cookie is not enough, so no
  other site can make a browser send them); pages hand it to their own scripts;
* static files are served from the package by fixed names; no request path reaches
  the file system; every response says ``nosniff``, ``DENY`` framing and a strict CSP.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from losslens.errors import LosslensError, RunNotFoundError
from losslens.store.open import is_url, open_pg
from losslens.ui import api, pages
from losslens.ui.data import DataSource
from losslens.ui.source import DashboardData

TOKEN_HEADER = "x-losslens-token"
TOKEN_COOKIE = "losslens_token"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _host_name(raw: str) -> str:
    raw = raw.strip().lower()
    if raw.startswith("["):
        return raw[1 : raw.find("]")] if "]" in raw else raw
    return raw.rsplit(":", 1)[0] if raw.count(":") == 1 else raw


class Guard:
    """Checks host, token and method before the app sees a request; adds security headers."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        token: str | None,
        write_token: str,
        allowed_hosts: frozenset[str] | None,
        check: Callable[[str], bool] | None = None,
        read_only: bool = False,
    ) -> None:
        self.app = app
        self.token = token
        self.write_token = write_token
        self.allowed_hosts = allowed_hosts
        self.check = check
        self.read_only = read_only

    def _accepts(self, presented: str) -> bool:
        if self.check is not None:
            return self.check(presented)
        return self.token is not None and secrets.compare_digest(presented, self.token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        method = scope["method"]
        if self.allowed_hosts is not None:
            host = _host_name(headers.get("host", ""))
            if host not in self.allowed_hosts:
                await _deny(send, 421, "this dashboard only answers to its loopback address")
                return
        from_query: str | None = None
        if self.token is not None or self.check is not None:
            presented = _presented_tokens(headers, scope.get("query_string", b""))
            good = [(t, src) for t, src in presented if self._accepts(t)]
            if not good:
                await _deny(send, 401, "a token is needed: open the URL that losslens ui printed")
                return
            from_query = next((t for t, src in good if src == "query"), None)
        if method in _WRITE_METHODS and self.read_only:
            await _deny(send, 403, "this dashboard is read-only")
            return
        if method in _WRITE_METHODS:
            given = headers.get(TOKEN_HEADER, "")
            if not given or not secrets.compare_digest(given, self.write_token):
                await _deny(
                    send, 403, "rename and delete need the token in the X-Losslens-Token header"
                )
                return
        is_api = scope["path"].startswith("/api/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                h = list(message.get("headers", []))
                h += [
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"content-security-policy", CSP.encode()),
                ]
                if is_api:
                    h.append((b"cache-control", b"no-store"))
                if from_query is not None:
                    cookie = f"{TOKEN_COOKIE}={from_query}; Path=/; HttpOnly; SameSite=Strict"
                    h.append((b"set-cookie", cookie.encode("latin-1")))
                message["headers"] = h
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _presented_tokens(headers: dict[str, str], query: bytes) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if headers.get(TOKEN_HEADER):
        out.append((headers[TOKEN_HEADER], "header"))
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        out.append((auth[7:].strip(), "header"))
    for t in parse_qs(query.decode("latin-1")).get("token", []):
        out.append((t, "query"))
    if headers.get("cookie"):
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(headers["cookie"])
        except Exception:
            jar = SimpleCookie()
        if TOKEN_COOKIE in jar:
            out.append((jar[TOKEN_COOKIE].value, "cookie"))
    return out


async def _deny(send: Send, status: int, message: str) -> None:
    body = message.encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"x-content-type-options", b"nosniff"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _on_error(request: Request, exc: Exception) -> Response:
    status = 404 if isinstance(exc, RunNotFoundError) else 400
    if request.url.path.startswith("/api/"):
        return api.error_response(exc)
    message = exc.message if isinstance(exc, LosslensError) else str(exc)
    hint = exc.hint if isinstance(exc, LosslensError) else None
    return pages.error_page(request, status, message, hint)


def _no_icon(request: Request) -> Response:
    return Response(status_code=204)


def create_app(
    store_path: str | Path,
    token: str | None = None,
    *,
    allowed_hosts: frozenset[str] | set[str] | None = LOOPBACK_HOSTS,
    poll_ms: int = pages.POLL_MS,
    data: DashboardData | None = None,
    check_token: Callable[[str], bool] | None = None,
    read_only: bool = False,
) -> Any:
    """The dashboard as an ASGI app over the store at ``store_path`` (a SQLite path or a
    ``postgresql://`` URL).

    ``token``: when given, every request must carry it (use it whenever the server is
    reachable from other machines); ``check_token`` instead accepts any token it approves
    (the team server: its API tokens). ``allowed_hosts``: the ``Host`` names accepted when
    there is no token (``None`` accepts any; ignored when a token is set). ``data``: the
    data source to serve (default: one over ``store_path``). ``read_only``: rename and
    delete are refused.
    """
    routes = [
        Route("/", pages.runs_page),
        Route("/runs/{ref}", pages.run_page),
        Route("/compare", pages.compare_page),
        Route("/static/{name}", pages.static),
        Route("/favicon.ico", _no_icon),
        Route("/api/projects", api.projects),
        Route("/api/runs", api.runs),
        Route("/api/runs/{ref}", api.run_detail, methods=["GET"]),
        Route("/api/runs/{ref}", api.delete, methods=["DELETE"]),
        Route("/api/runs/{ref}/data", api.run_data),
        Route("/api/runs/{ref}/report", api.run_report),
        Route("/api/runs/{ref}/poll", api.run_poll),
        Route("/api/runs/{ref}/rename", api.rename, methods=["POST"]),
        Route("/api/compare", api.compare),
        Route("/api/compare/data", api.compare_data),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={LosslensError: _on_error},
        middleware=[Middleware(GZipMiddleware, minimum_size=1024, compresslevel=5)],
    )
    write_token = token or secrets.token_urlsafe(24)
    if data is None and is_url(str(store_path)):
        from losslens.ui.pgdata import PgDataSource

        data = PgDataSource(open_pg(str(store_path), create=False))
    app.state.data = data if data is not None else DataSource(store_path)
    pages.load_templates()  # compiled once at start, not on a page's first request
    app.state.write_token = write_token
    app.state.poll_ms = poll_ms
    guarded = token is not None or check_token is not None
    hosts = None if guarded or allowed_hosts is None else frozenset(allowed_hosts)
    return Guard(
        app,
        token=token,
        write_token=write_token,
        allowed_hosts=hosts,
        check=check_token,
        read_only=read_only,
    )

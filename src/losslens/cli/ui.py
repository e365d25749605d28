"""``losslens ui``: the local web dashboard (Starlette served by uvicorn)."""

from __future__ import annotations

import argparse
import importlib
import secrets
import socket
import sys
from pathlib import Path
from typing import Any

from losslens.cli.common import add_store_option
from losslens.errors import ConfigError, MissingExtraError
from losslens.paths import resolve_store_path

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "ui",
        help="open the local web dashboard (runs, charts, findings, compare)",
        description="Serve the dashboard on 127.0.0.1. Binding to any other address needs a "
        "token (given with --token or generated and printed) on every request.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=_port, default=8765, help="port (default: 8765; 0 = any free)")
    p.add_argument(
        "--token",
        help="require this token on every request (default: generated "
        "when --host is not a loopback address)",
    )
    p.add_argument("--open", action="store_true", help="open the dashboard in a browser")
    add_store_option(p)
    p.set_defaults(func=cmd_ui)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return port


def _bind(host: str, port: int) -> socket.socket:
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except socket.gaierror as exc:
        raise ConfigError(f"cannot resolve --host {host}: {exc}") from exc
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            "pick another port with --port, or --port 0 for any free one",
        ) from exc
    sock.listen(128)
    return sock


def url_for(host: str, port: int, token: str | None) -> str:
    shown = f"[{host}]" if ":" in host else host
    if host in ("0.0.0.0", "::"):
        shown = socket.gethostname()
    return f"http://{shown}:{port}/" + (f"?token={token}" if token else "")


def cmd_ui(args: argparse.Namespace) -> int:
    try:
        uvicorn = importlib.import_module("uvicorn")
        importlib.import_module("starlette")
        importlib.import_module("jinja2")
    except ImportError as exc:
        raise MissingExtraError(exc.name or "uvicorn", "ui") from None
    from losslens.ui import create_app

    loopback = args.host in LOOPBACK
    token = args.token or (None if loopback else secrets.token_urlsafe(18))
    from losslens.store.open import is_url, store_spec
    from losslens.store.pg_schema import redact

    spec = store_spec(args.store)  # a path, or a postgresql:// URL (--store or $LOSSLENS_STORE)
    store: str | Path = str(spec) if is_url(spec) else resolve_store_path(spec)
    app = create_app(store, token=token)
    sock = _bind(args.host, args.port)
    port = sock.getsockname()[1]
    url = url_for(args.host, port, token)
    print(f"losslens dashboard: {url}")
    print(f"store: {redact(str(store)) if is_url(spec) else store}   (Ctrl-C to stop)")
    if not loopback:
        print(
            "reachable from other machines: share the URL (it carries the token) only with "
            "people who may see these runs",
            file=sys.stderr,
        )
    sys.stdout.flush()
    if args.open:
        import webbrowser

        webbrowser.open(url)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    return 0

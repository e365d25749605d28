"""``losslens server --store postgresql://…``: the team server's ingest API (docs/team.md).
Loopback by default; TLS belongs to a reverse proxy in front of it."""

from __future__ import annotations

import argparse
import ipaddress
import sys
from typing import Any

from losslens.errors import MissingExtraError

#: Database connections of the server: requests beyond this many at once wait for one.
POOL_SIZE = 16


def register(sub: Any) -> None:
    p = sub.add_parser("server", help="serve the ingest API over a PostgreSQL store")
    p.add_argument(
        "--store",
        metavar="URL",
        default=None,
        help="postgresql://user@host/database (default: $LOSSLENS_STORE when it is a URL)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8766, help="port (default: 8766)")
    p.set_defaults(func=cmd_server)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cmd_server(args: argparse.Namespace) -> int:
    from losslens.cli.token import open_team_store

    try:
        import uvicorn

        from losslens.server.app import create_app
    except ImportError as exc:
        raise MissingExtraError((exc.name or "uvicorn").split(".")[0], "team") from exc
    store = open_team_store(args.store, "server", pool_size=POOL_SIZE)
    try:
        if not is_loopback(args.host):
            print(
                f"losslens: warning: listening on {args.host} without TLS; put a reverse proxy "
                "with TLS in front (docs/team.md)",
                file=sys.stderr,
            )
        print(
            f"losslens server on http://{args.host}:{args.port} (store {store.path})",
            file=sys.stderr,
            flush=True,
        )
        uvicorn.run(
            create_app(store), host=args.host, port=args.port, log_level="warning", access_log=False
        )
    finally:
        store.close()
    return 0

"""``losslens db upgrade --store postgresql://…``: apply the PostgreSQL store's pending
schema migrations (plain SQL files, docs/team.md). Running it again changes nothing."""

from __future__ import annotations

import argparse
from typing import Any

from losslens.cli.common import add_json_option, print_json
from losslens.errors import ConfigError


def register(sub: Any) -> None:
    p = sub.add_parser("db", help="manage a PostgreSQL team store (schema upgrades)")
    dbsub = p.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = dbsub.add_parser("upgrade", help="apply the pending schema migrations (idempotent)")
    up.add_argument(
        "--store",
        metavar="URL",
        default=None,
        help="postgresql://user@host/database (default: $LOSSLENS_STORE when it is a URL)",
    )
    add_json_option(up)
    up.set_defaults(func=cmd_upgrade)


def cmd_upgrade(args: argparse.Namespace) -> int:
    from losslens.store.open import is_url, store_spec

    url = store_spec(args.store)
    if not is_url(url):
        raise ConfigError(
            "losslens db upgrade needs a PostgreSQL store",
            "pass --store postgresql://USER@HOST/DATABASE (the SQLite store upgrades itself)",
        )
    try:
        from losslens.store import pg_schema as pg
    except ImportError as exc:
        from losslens.errors import MissingExtraError

        raise MissingExtraError("psycopg", "team") from exc
    applied = pg.upgrade(str(url))
    with pg.connect(str(url)) as conn:
        version = pg.schema_version(conn)
    if args.json:
        print_json({"applied": applied, "schema_version": version})
    elif applied:
        print(f"applied {', '.join(applied)}: {pg.redact(str(url))} is at schema {version}")
    else:
        print(f"{pg.redact(str(url))} is at schema {version}: nothing to do")
    return 0

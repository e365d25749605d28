"""``losslens token create|list|revoke --store postgresql://…``: the API tokens of
``losslens server`` (docs/team.md). The secret is printed once, at creation; the store keeps
only its SHA-256."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import TYPE_CHECKING, Any

from losslens.cli.common import add_json_option, print_json
from losslens.errors import ConfigError, MissingExtraError

if TYPE_CHECKING:
    from losslens.store.pg import PgStore


def _add_store(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--store",
        metavar="URL",
        default=None,
        help="postgresql://user@host/database (default: $LOSSLENS_STORE when it is a URL)",
    )
    add_json_option(p)


def register(sub: Any) -> None:
    p = sub.add_parser("token", help="manage API tokens of losslens server (PostgreSQL store)")
    tsub = p.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    create = tsub.add_parser("create", help="make a token for a project; prints the secret once")
    create.add_argument("--project", required=True, help="the project the token reads/writes")
    create.add_argument(
        "--read-only", action="store_true", help="may list and read runs, never write"
    )
    create.add_argument("--name", default=None, help="a label, e.g. the machine it is for")
    _add_store(create)
    create.set_defaults(func=cmd_create)
    lst = tsub.add_parser("list", help="list tokens (never their secrets)")
    lst.add_argument("--project", default=None, help="only this project's tokens")
    _add_store(lst)
    lst.set_defaults(func=cmd_list)
    revoke = tsub.add_parser("revoke", help="revoke a token by id (at once, for good)")
    revoke.add_argument("id", type=int, help="the token's id (see: losslens token list)")
    _add_store(revoke)
    revoke.set_defaults(func=cmd_revoke)


def open_team_store(arg: str | None, command: str, *, pool_size: int = 4) -> PgStore:
    """The PostgreSQL store of ``--store``/``$LOSSLENS_STORE``; one line when it is not one."""
    from losslens.store.open import is_url, store_spec

    url = store_spec(arg)
    if not is_url(url):
        raise ConfigError(
            f"losslens {command} needs a PostgreSQL store",
            "pass --store postgresql://USER@HOST/DATABASE or set LOSSLENS_STORE to one",
        )
    try:
        from losslens.store.pg import PgStore
    except ImportError as exc:
        raise MissingExtraError((exc.name or "psycopg").split(".")[0], "team") from exc
    return PgStore(str(url), pool_size=pool_size)


def _tokens() -> Any:
    try:
        from losslens.server import tokens
    except ImportError as exc:
        raise MissingExtraError((exc.name or "psycopg").split(".")[0], "team") from exc
    return tokens


def _when(t: float | None) -> str:
    if t is None:
        return "-"
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def cmd_create(args: argparse.Namespace) -> int:
    tokens = _tokens()
    with open_team_store(args.store, "token create") as store:
        scope = "read" if args.read_only else "write"
        info, secret = tokens.create_token(store, args.project, scope=scope, name=args.name)
    if args.json:
        print_json({**info.as_dict(), "token": secret})
    else:
        print(secret)
        print(
            f"token {info.id} ({info.scope}) for project {info.project!r}: the line above is "
            "the secret, shown only now; keep it (e.g. in LOSSLENS_TOKEN)"
        )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    tokens = _tokens()
    with open_team_store(args.store, "token list") as store:
        found = tokens.list_tokens(store, args.project)
    if args.json:
        print_json({"tokens": [t.as_dict() for t in found]})
        return 0
    if not found:
        print("no tokens; make one with: losslens token create --project NAME")
        return 0
    print(f"{'id':>4}  {'scope':<5}  {'project':<20}  {'name':<16}  {'created':<20}  revoked")
    for t in found:
        print(
            f"{t.id:>4}  {t.scope:<5}  {t.project:<20}  {t.name or '-':<16}  "
            f"{_when(t.created_at):<20}  {_when(t.revoked_at)}"
        )
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    tokens = _tokens()
    with open_team_store(args.store, "token revoke") as store:
        info = tokens.revoke_token(store, args.id)
    if args.json:
        print_json(info.as_dict())
    else:
        print(f"token {info.id} ({info.scope}, project {info.project!r}) is revoked")
    return 0

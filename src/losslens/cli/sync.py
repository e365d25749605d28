"""``losslens sync [RUN…] --server URL --token T``: push runs recorded offline, or left
pending by a client that stopped, from the local SQLite store to a ``losslens server``, with
the findings of each ended run (analysed here, in the local store)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from losslens.cli.common import add_json_option, print_json
from losslens.errors import ConfigError
from losslens.paths import resolve_store_path
from losslens.store import Store


def register(sub: Any) -> None:
    p = sub.add_parser("sync", help="push local runs to a losslens server (idempotent)")
    p.add_argument("runs", nargs="*", metavar="RUN", help="run ids or names (default: every run)")
    p.add_argument("--server", default=None, help="server URL (default: $LOSSLENS_SERVER)")
    p.add_argument("--token", default=None, help="write token (default: $LOSSLENS_TOKEN)")
    p.add_argument(
        "--store", metavar="PATH", default=None, help="local store (default: $LOSSLENS_STORE)"
    )
    add_json_option(p)
    p.set_defaults(func=cmd_sync)


def cmd_sync(args: argparse.Namespace) -> int:
    from losslens.api import sync_findings
    from losslens.tracking.sync import Client, SyncRefused, from_env, push_run

    target = from_env(args.server, args.token)
    if target is None or not target[1]:
        raise ConfigError(
            "losslens sync needs a server and a token",
            "pass --server URL --token T, or set LOSSLENS_SERVER and LOSSLENS_TOKEN",
        )
    path = resolve_store_path(args.store)
    if not path.exists():
        raise ConfigError(f"no local store at {path}", "pass --store PATH")
    with Store(path, create=False) as store:
        ids = [store.get_run(r).id for r in args.runs] or [r.id for r in store.list_runs()]
    client = Client(*target)
    results: list[dict[str, Any]] = []
    code = 0
    for run_id in ids:
        try:
            results.append(push_run(path, run_id, client, sync_findings))
        except SyncRefused as exc:
            results.append({"run": run_id, "error": f"refused: {exc}"})
            code = 1
        except OSError as exc:
            results.append({"run": run_id, "error": f"server unreachable: {exc}"})
            code = 1
    if args.json:
        print_json({"server": target[0], "runs": results})
    else:
        for r in results:
            if "error" in r:
                print(f"{r['run']}: {r['error']}", file=sys.stderr)
            elif r["skipped"]:
                print(f"{r['run']}: already on the server")
            else:
                verdict = f", findings: {r['verdict']}" if "verdict" in r else ""
                print(f"{r['run']}: sent {r['sent']:,} points{verdict}")
    return code

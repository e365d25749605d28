"""Options and helpers shared by sub-commands."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from losslens.errors import RunNotFoundError
from losslens.model import RunData
from losslens.paths import resolve_store_path
from losslens.store import Store, StoreProtocol


def add_store_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--store",
        metavar="PATH",
        default=None,
        help="store file or folder, or a postgresql:// URL "
        "(default: $LOSSLENS_HOME/losslens.db or the user data dir)",
    )


def add_report_options(p: argparse.ArgumentParser) -> None:
    """``--format terminal|markdown|json``, ``--json`` and ``--lang`` of the diagnosing commands."""
    p.add_argument(
        "--format",
        dest="out_format",
        choices=("terminal", "markdown", "json"),
        default="terminal",
        help="output format (default: terminal)",
    )
    p.add_argument("--json", action="store_true", help="same as --format json")
    p.add_argument(
        "--lang",
        choices=("en", "ko"),
        default=None,
        help="language (default: from the locale; LANG=ko_KR... gives ko)",
    )


def add_json_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")


def open_store(args: argparse.Namespace, *, create: bool = False) -> StoreProtocol:
    """The SQLite store, or for a ``postgresql://`` URL (``--store`` or ``$LOSSLENS_STORE``)
    the PostgreSQL one: either engine, through the one store protocol (losslens.store.open)."""
    from losslens.store.open import is_url, open_pg, store_spec

    spec = store_spec(getattr(args, "store", None))
    if is_url(spec):
        return open_pg(str(spec), create=create)
    return Store(spec, create=create)


def load_stored_run(args: argparse.Namespace, ref: str) -> RunData:
    """A run from the store, for an argument that could have been a path but is not one."""
    from losslens.store.open import is_url, store_spec

    spec = store_spec(getattr(args, "store", None))
    path = resolve_store_path(None if is_url(spec) else spec)
    hint = "pass a log file or folder, or a run id from: losslens runs"
    if not is_url(spec) and not path.exists():
        raise RunNotFoundError(
            f"'{ref}' is not a file or folder, and there is no store at {path}", hint
        )
    try:
        with open_store(args) as store:
            return store.load(ref)
    except RunNotFoundError as exc:
        raise RunNotFoundError(f"'{ref}' is not a file or folder, and {exc.message}", hint) from exc


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")

"""Options and helpers shared by sub-commands."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from losslens.errors import RunNotFoundError
from losslens.model import RunData
from losslens.paths import resolve_store_path
from losslens.store import Store


def add_store_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--store",
        metavar="PATH",
        default=None,
        help="store file or folder (default: $LOSSLENS_HOME/losslens.db or the user data dir)",
    )


def add_json_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")


def open_store(args: argparse.Namespace, *, create: bool = False) -> Store:
    return Store(getattr(args, "store", None), create=create)


def load_stored_run(args: argparse.Namespace, ref: str) -> RunData:
    """A run from the store, for an argument that could have been a path but is not one."""
    path = resolve_store_path(getattr(args, "store", None))
    hint = "pass a log file or folder, or a run id from: losslens runs"
    if not path.exists():
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

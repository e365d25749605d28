"""Options and helpers shared by sub-commands."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

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


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")

"""The ``losslens`` command line: parse, call the library, render. Errors become one line."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from losslens import __version__
from losslens.cli import analyze, compare, db, importing, report, runs, server, token, train, ui
from losslens.cli import sync as sync_cmd
from losslens.errors import LosslensError

#: Sub-command modules, in the order ``--help`` lists them. Each has ``register(subparsers)``.
COMMAND_MODULES = (
    runs, train, importing, analyze, compare, report, ui, db, token, server, sync_cmd
)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="losslens",
        description="Record, import, diagnose and show LLM fine-tuning runs, locally.",
    )
    parser.add_argument("--version", action="version", version=f"losslens {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        code = args.func(args)
    except LosslensError as exc:
        print(f"losslens: error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"  hint: {exc.hint}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("losslens: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return int(code or 0)

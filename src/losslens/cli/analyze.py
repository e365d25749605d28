"""``losslens analyze RUN_OR_PATH...``: diagnose runs from the store or straight from log files.

Exit codes: 0 when no finding reaches ``--fail-on`` (default: never fail), 1 when one does,
2 for a usage or input error (bad option, unreadable log, unknown run).
"""

from __future__ import annotations

import argparse
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from losslens.analysis import analyze
from losslens.analysis.engine import resolve_rules
from losslens.cli.common import add_report_options, add_store_option, load_stored_run, open_store
from losslens.errors import ConfigError
from losslens.model import Report, RunData, Severity
from losslens.store import StoreProtocol
from losslens.store.dispatch import forget_analysis
from losslens.stored_analysis import save_report

EXIT_OK, EXIT_FINDINGS = 0, 1


def default_lang(env: dict[str, str] | None = None) -> str:
    """``ko`` when the locale (LC_ALL, LC_MESSAGES, LANG, in that order) is Korean."""
    e = os.environ if env is None else env
    for var in ("LOSSLENS_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = e.get(var)
        if value:
            return "ko" if value.lower().startswith("ko") else "en"
    return "en"


def register(sub: Any) -> None:
    p = sub.add_parser(
        "analyze",
        help="diagnose runs: verdict, a reading per metric, findings with evidence and fixes",
        description="Diagnose one or more runs, from the store (id, id prefix or name) or "
        "straight from log files or folders. Exit codes: 0 no finding at or above --fail-on, "
        "1 such findings, 2 usage or input error.",
    )
    p.add_argument("targets", nargs="+", metavar="RUN_OR_PATH", help="run id/name or log path")
    add_report_options(p)
    p.add_argument(
        "--fail-on",
        choices=("warning", "error", "never"),
        default="never",
        help="exit 1 when a finding of this severity or worse is found (for CI)",
    )
    p.add_argument(
        "--rules",
        action="append",
        metavar="IDS",
        help="only these rules (ids, names, kinds or families; comma-separated)",
    )
    p.add_argument("--ignore", action="append", metavar="IDS", help="skip these rules")
    p.add_argument("--log-format", dest="log_format", help="log format of PATH (default: detect)")
    p.add_argument("--width", type=int, default=None, help="terminal width (default: auto)")
    add_store_option(p)
    p.set_defaults(func=cmd_analyze)


def _load(target: str, args: argparse.Namespace) -> tuple[list[RunData], bool]:
    """Runs for one target and whether they came from the store."""
    path = Path(target).expanduser()
    if path.exists():
        from losslens.ingest import load_into_memory

        runs = load_into_memory(path, args.log_format)
        if not runs:
            raise ConfigError(f"{path}: no run with metrics found")
        return runs, False
    return [load_stored_run(args, target)], True


def cmd_analyze(args: argparse.Namespace) -> int:
    lang = args.lang or default_lang()
    fmt = "json" if args.json else args.out_format
    resolve_rules(args.rules)
    resolve_rules(args.ignore)
    reports: list[tuple[Report, RunData]] = []
    for target in args.targets:
        runs, stored = _load(target, args)
        for run in runs:
            report = analyze(run, rules=args.rules, ignore=args.ignore)
            if not stored:  # dated by its data: the same file gives the same bytes
                report = replace(report, created_at=data_time(report))
            if stored:
                with open_store(args) as store:
                    if not store.readonly:  # findings are a cache: skip on a read-only store
                        _keep(store, report, args)
            reports.append((report, run))
    _print(reports, fmt, lang, args.width)
    if args.fail_on == "never":
        return EXIT_OK
    threshold = Severity(args.fail_on).rank
    hit = any(f.severity.rank >= threshold for r, _ in reports for f in r.findings)
    return EXIT_FINDINGS if hit else EXIT_OK


def data_time(report: Report) -> float:
    """The time a report on log files carries as ``created_at``: the end of the run it
    describes (its start when the log gives no end), never the clock, so that analysing
    the same file twice prints the same bytes."""
    info = report.run
    return info.end_time if info.end_time is not None else info.start_time


def _keep(store: StoreProtocol, report: Report, args: argparse.Namespace) -> None:
    """Findings go into the store; a full analysis also becomes the run's stored verdict
    (losslens.stored_analysis), one with rules left out only replaces the findings."""
    if args.rules or args.ignore:
        store.save_findings(report.run.id, report.findings)
        forget_analysis(store, report.run.id)
    else:
        save_report(store, report)


def _print(reports: list[tuple[Report, RunData]], fmt: str, lang: str, width: int | None) -> None:
    import sys

    if fmt == "json":
        from losslens.render.json_report import render_json

        sys.stdout.write(render_json([r for r, _ in reports], lang))
        return
    if fmt == "markdown":
        from losslens.render.markdown import render_markdown

        sys.stdout.write("\n".join(render_markdown(run, r, lang=lang) for r, run in reports))
        return
    from losslens.render.terminal import emit, render_terminal

    for n, (r, run) in enumerate(reports):
        if n:
            sys.stdout.write("\n")
        emit(render_terminal(r, lang=lang, run=run), width)

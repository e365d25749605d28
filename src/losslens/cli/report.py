"""``losslens report RUN_OR_PATH --html out.html --md out.md``."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from losslens.analysis import analyze
from losslens.cli.analyze import default_lang
from losslens.cli.common import add_json_option, add_store_option, load_stored_run, print_json
from losslens.errors import ConfigError
from losslens.ingest import load_into_memory
from losslens.model import Report, RunData
from losslens.render.markdown import render_markdown


def register(sub: Any) -> None:
    p = sub.add_parser(
        "report",
        help="write a self-contained HTML report, or Markdown with PNG charts, of a run or log",
        description="Diagnose a run and write it as one self-contained HTML file (charts, "
        "findings, config; no network needed to open it) and/or Markdown with PNG charts.",
    )
    p.add_argument(
        "run",
        metavar="RUN_OR_PATH",
        help="run id, id prefix or name in the store, or a log file/folder to read directly",
    )
    p.add_argument("--html", metavar="OUT.html", help="write the HTML report here")
    p.add_argument(
        "--md", metavar="OUT.md", help="write Markdown here, with PNG charts in OUT-charts/"
    )
    p.add_argument(
        "--lang", choices=("en", "ko"), default=None, help="report language (default: from locale)"
    )
    p.add_argument("--format", dest="fmt", help="log format of PATH (default: detect)")
    add_store_option(p)
    add_json_option(p)
    p.set_defaults(func=cmd_report)


def _load(args: argparse.Namespace) -> RunData:
    path = Path(args.run).expanduser()
    if path.exists():
        runs = load_into_memory(path, args.fmt)
        if not runs:
            raise ConfigError(f"{path} holds no run with metrics")
        if len(runs) > 1:
            names = ", ".join(r.info.name for r in runs[:5])
            raise ConfigError(
                f"{path} holds {len(runs)} runs ({names})",
                "import them with: losslens import PATH, then report one by id",
            )
        return runs[0]
    return load_stored_run(args, args.run)


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "run"


def write_markdown(run: RunData, report: Report, out: Path, lang: str) -> Path:
    from losslens.render.charts import font_note, write_charts

    note = font_note(run, lang)
    if note:
        print(f"losslens: note: {note}", file=sys.stderr)
    folder = out.with_name(out.stem + "-charts")
    images = write_charts(run, report, folder, lang=lang)
    relative = {gid: f"{folder.name}/{p.name}" for gid, p in images.items()}
    text = render_markdown(run, report, lang=lang, images=relative)
    out.write_text(text, encoding="utf-8")
    return out


def check_destination(flag: str, target: str | None) -> None:
    """A report goes into a folder that exists: losslens never creates folders for it."""
    if not target:
        return
    parent = Path(target).expanduser().absolute().parent
    if not parent.is_dir():
        what = "is not a folder" if parent.exists() else "does not exist"
        raise ConfigError(
            f"cannot write {target} ({flag}): {parent} {what}",
            f"create the folder first (mkdir -p {parent}) or write the report elsewhere",
        )


def cmd_report(args: argparse.Namespace) -> int:
    from losslens.render.html import write_report

    check_destination("--html", args.html)
    check_destination("--md", args.md)
    run = _load(args)
    report = analyze(run)
    if args.lang is None:
        args.lang = default_lang()
    html, md = args.html, args.md
    if not html and not md:
        html = f"{_safe_name(run.info.name)}-report.html"
    written: dict[str, str] = {}
    try:
        if html:
            written["html"] = str(write_report(run, html, report, lang=args.lang))
        if md:
            written["md"] = str(write_markdown(run, report, Path(md), args.lang))
    except OSError as exc:
        raise ConfigError(
            f"cannot write {exc.filename or html or md}: {exc.strerror or exc}",
            "pass --html/--md a path in a folder you can write to",
        ) from exc
    if args.json:
        print_json(
            {
                "run": run.info.id,
                "name": run.info.name,
                "verdict": str(report.verdict),
                "findings": len(report.findings),
                **written,
            }
        )
    else:
        for kind, path in written.items():
            print(f"{kind}: {path}")
    return 0

"""``losslens import PATH...``: read existing logs into the store."""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from losslens.cli.common import add_json_option, add_store_option, open_store, print_json
from losslens.errors import ImportError_, LosslensError
from losslens.importers import FORMATS, nothing_found, read_found, scan
from losslens.importers.base import PartialImportError, display_path
from losslens.ingest import ingest
from losslens.store import StoreProtocol
from losslens.textsafe import safe

#: Show the progress bar only for imports that take longer than this (seconds;
#: ``LOSSLENS_PROGRESS_DELAY`` overrides it, e.g. 0 to always show it).
PROGRESS_DELAY_S = 0.4


def _progress_delay() -> float:
    try:
        return float(os.environ.get("LOSSLENS_PROGRESS_DELAY", PROGRESS_DELAY_S))
    except ValueError:
        return PROGRESS_DELAY_S


def register(sub: Any) -> None:
    p = sub.add_parser(
        "import",
        help="import existing logs (HF Trainer, console, W&B, TensorBoard, MLflow, trackio, CSV)",
        description="Import training logs into the store. Formats are detected by content; "
        "directories are searched recursively. Importing the same source twice is a no-op.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="log files or directories")
    p.add_argument(
        "--format",
        dest="fmt",
        metavar="FORMAT",
        help=f"read every PATH as this format ({', '.join(sorted(set(FORMATS)))})",
    )
    p.add_argument("--project", help="project to put the runs in (default: the source's own)")
    p.add_argument("--name", help="run name (numbered when a PATH holds several runs)")
    add_store_option(p)
    add_json_option(p)
    p.set_defaults(func=cmd_import)


@dataclass
class _Outcome:
    imported: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


class _LazyProgress:
    """A rich progress bar that only appears once an import has taken a moment."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.delay = _progress_delay()
        self.t0 = time.monotonic()
        self.progress: Any = None
        self.task: Any = None
        self.label = ""

    def start_unit(self, label: str) -> None:
        self.label = label
        if self.progress is not None:
            self.progress.update(self.task, description=label, completed=0)

    def points(self, n: int) -> None:
        if not self.enabled:
            return
        if self.progress is None:
            if time.monotonic() - self.t0 < self.delay:
                return
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self.progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}", markup=False),
                TextColumn("{task.completed:,} points"),
                TimeElapsedColumn(),
                transient=True,
            )
            self.progress.start()
            self.task = self.progress.add_task(self.label, total=None)
        self.progress.update(self.task, completed=n)

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def cmd_import(args: argparse.Namespace) -> int:
    out = _Outcome()
    show_progress = not args.json and sys.stdout.isatty()
    bar = _LazyProgress(show_progress)
    store = open_store(args, create=True)
    try:
        count = 0
        for raw in args.paths:
            count = _import_path(store, Path(raw), args, out, bar, count)
    finally:
        bar.stop()
        store.close()
    if args.json:
        print_json({"imported": out.imported, "skipped": out.skipped, "errors": out.errors})
    else:
        _print_text(out)
    for e in out.errors:
        print(f"losslens: error: {safe(e['message'])}", file=sys.stderr)
    if out.errors:
        return 2
    return 0


def _import_path(
    store: StoreProtocol,
    path: Path,
    args: argparse.Namespace,
    out: _Outcome,
    bar: _LazyProgress,
    n: int,
) -> int:
    try:
        result = scan(path, args.fmt)
    except LosslensError as exc:
        out.errors.append(_error(exc, path))
        return n
    for s in result.skipped:
        out.skipped.append({"path": s.path, "reason": s.reason})
    if not result.found:
        out.errors.append(_error(nothing_found(path, result), path))
        return n
    for found in result.found:
        try:
            for imported in read_found(found):
                n += 1
                name = args.name if (args.name and n == 1) else None
                if args.name and n > 1:
                    name = f"{args.name}-{n}"
                bar.start_unit(safe(f"{imported.format} {imported.source}"))
                try:
                    info, created = ingest(
                        store, imported, project=args.project, name=name, progress=bar.points
                    )
                except PartialImportError as exc:
                    out.errors.append(_error(exc, found.path))
                    info, created = store.get_run(exc.run_id), True
                entry: dict[str, Any] = {
                    "id": info.id,
                    "name": info.name,
                    "project": info.project,
                    "format": imported.format,
                    "source": imported.source,
                }
                if created:
                    entry["points"] = store.count_points(info.id)
                    entry["metrics"] = sorted(store.keys(info.id))
                    entry["warnings"] = list(imported.warnings)
                    out.imported.append(entry)
                else:
                    entry["path"] = imported.source
                    entry["reason"] = f"already imported as run {info.id} ({info.name})"
                    out.skipped.append(entry)
        except LosslensError as exc:
            out.errors.append(_error(exc, found.path))
    return n


def _error(exc: LosslensError, path: Path) -> dict[str, Any]:
    message = str(exc)
    if not isinstance(exc, ImportError_) or not exc.path:
        message = f"{path}: {message}"
    return {"path": display_path(path), "message": message}


def _print_text(out: _Outcome) -> None:
    for e in out.imported:
        print(
            f"imported {e['id']}  {safe(e['project'])}/{safe(e['name'])}  {e['points']:,} points "
            f"({e['format']})  <- {safe(e['source'])}"
        )
        for w in e["warnings"]:
            print(f"  warning: {safe(w)}")
    quiet = 0
    for s in out.skipped:
        if s["reason"] in ("not a training log", "empty file"):
            quiet += 1
            continue
        print(f"skipped  {safe(s['path'])}: {safe(s['reason'])}")
    parts = [f"{len(out.imported)} imported"]
    if quiet:
        parts.append(f"{quiet} other file{'s' if quiet != 1 else ''} ignored")
    if out.errors:
        parts.append(f"{len(out.errors)} failed")
    if len(out.imported) + len(out.skipped) + len(out.errors) > 1 or quiet:
        print(", ".join(parts))

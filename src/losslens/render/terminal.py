"""The diagnosis report in the terminal (rich): verdict, one line per metric, findings."""

from __future__ import annotations

import io
import sys
from typing import TextIO

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.padding import Padding
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from losslens.analysis.messages import SEVERITY, STATUS, VERDICT, heading, steps_range
from losslens.model import Finding, Report, RunData, Severity
from losslens.render import import_notes
from losslens.render.sparkline import sparkline
from losslens.textsafe import is_safe, safe

VERDICT_STYLE = {"healthy": "bold green", "needs_attention": "bold yellow", "failed": "bold red"}
SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
SEVERITY_MARK = {"error": "✖", "warning": "▲", "info": "•"}
STATUS_STYLE = {"ok": "green", "attention": "yellow", "problem": "red", "info": "cyan"}


def _finding(f: Finding, lang: str) -> RenderableType:
    sev = str(f.severity)
    head = Text.assemble(
        (f"{SEVERITY_MARK[sev]} {SEVERITY[sev][lang].upper()}", SEVERITY_STYLE[sev]),
        "  ",
        (safe(f.rule_id), "bold"),
        " ",
        (safe(f.kind), "dim"),
        "  ",
        (safe(f.text("title", lang)), "bold"),
    )
    where = steps_range(f.evidence.step_start, f.evidence.step_end)[lang]
    ev = f.evidence.text.get(lang) or f.evidence.text.get("en", "")
    if where:
        ev = f"{ev} [{where}]" if ev else where
    body = Table.grid(padding=(0, 1))
    body.add_column(style="dim", no_wrap=True)
    body.add_column()
    if ev:
        body.add_row(heading("evidence", lang), Text(safe(ev)))
    body.add_row(heading("try", lang), Text(safe(f.text("suggestion", lang))))
    return Group(
        head,
        Padding(Text(safe(f.text("explanation", lang))), (0, 0, 0, 2)),
        Padding(body, (0, 0, 1, 2)),
    )


def render_terminal(report: Report, *, lang: str = "en", run: RunData | None = None) -> Group:
    """A rich renderable of the report; pass ``run`` to draw a sparkline per metric."""
    i = report.run
    v = str(report.verdict)
    parts: list[RenderableType] = [
        Text.assemble(
            (heading("report", lang), "bold"),
            f" · {safe(i.project)}/{safe(i.name)}",
            (f"  ({safe(i.id)})", "dim"),
        ),
        Text.assemble(
            (f"{heading('verdict', lang)}: {VERDICT[v][lang]}", VERDICT_STYLE[v]),
            " — ",
            safe(report.summary.get(lang) or report.summary.get("en", "")),
        ),
    ]
    notes = import_notes(i)
    if notes:
        parts += [
            Text(f"{heading('import_notes', lang)}: {safe(n)}", style="yellow") for n in notes
        ]
    if report.readings:
        table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 1))
        table.add_column(no_wrap=True)
        if run is not None:
            table.add_column(no_wrap=True)
        table.add_column(no_wrap=True)
        table.add_column(ratio=1, overflow="fold")
        for r in report.readings:
            row: list[Text] = [Text(safe(r.metric), style="bold")]
            if run is not None:
                s = run.series.get(r.metric)
                row.append(Text(sparkline(s.values, 12) if s is not None else "", style="cyan"))
            row.append(Text(STATUS[r.status][lang], style=STATUS_STYLE.get(r.status, "")))
            row.append(Text(safe(r.summary.get(lang) or r.summary.get("en", ""))))
            table.add_row(*row)
        parts += [Text(""), Text(heading("metrics", lang), style="bold underline"), table]
    parts += [
        Text(""),
        Text(f"{heading('findings', lang)} ({len(report.findings)})", style="bold underline"),
    ]
    if report.findings:
        parts += [_finding(f, lang) for f in report.findings]
    else:
        parts.append(Text(heading("no_findings", lang)))
    return Group(*parts)


def render_text(
    report: Report,
    *,
    lang: str = "en",
    width: int = 100,
    color: bool = False,
    run: RunData | None = None,
) -> str:
    """The terminal report as a string (deterministic without colour: used by golden tests)."""
    buf = io.StringIO()
    console = Console(
        file=buf,
        width=width,
        color_system="standard" if color else None,
        force_terminal=color,
        legacy_windows=False,
        soft_wrap=False,
    )
    console.print(render_terminal(report, lang=lang, run=run))
    return "\n".join(line.rstrip() for line in buf.getvalue().splitlines()) + "\n"


#: Layout width used when stdout is not a terminal: wide enough that no line is cut or
#: wrapped (trailing padding is stripped afterwards).
PIPE_WIDTH = 4000


class _SafeSegments:
    """A renderable whose text segments are made terminal-safe after layout: the safety
    net under every renderer (each one already passes names through :func:`safe`), so that
    a string someone forgets to escape still cannot reach the terminal raw."""

    def __init__(self, inner: RenderableType) -> None:
        self.inner = inner

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for seg in console.render(self.inner, options):
            text = seg.text
            if seg.control is None and text and not is_safe(text):
                text = "\n".join(safe(part) for part in text.split("\n"))
                seg = Segment(text, seg.style, seg.control)
            yield seg


def emit(obj: RenderableType, width: int | None = None, file: TextIO | None = None) -> None:
    """Print a renderable. On a terminal (or with ``width``) rich lays it out to the width;
    to a pipe or file every line is printed whole (no wrapping, no "…", no trailing
    spaces, no colour), so that ``| grep`` and ``> out.txt`` see full lines. Text segments
    are made terminal-safe either way."""
    obj = _SafeSegments(obj)
    out = file if file is not None else sys.stdout
    isatty = getattr(out, "isatty", None)
    if width is None and not (callable(isatty) and isatty()):
        buf = io.StringIO()
        Console(
            file=buf, width=PIPE_WIDTH, color_system=None, soft_wrap=False, legacy_windows=False
        ).print(obj)
        out.write("".join(line.rstrip() + "\n" for line in buf.getvalue().splitlines()))
        return
    Console(file=out, width=width, soft_wrap=False).print(obj)


def print_report(report: Report, *, lang: str = "en", run: RunData | None = None) -> None:
    emit(render_terminal(report, lang=lang, run=run))


def worst(report: Report) -> Severity | None:
    return max((f.severity for f in report.findings), key=lambda s: s.rank, default=None)

"""The diagnosis report as GitHub-flavoured Markdown, optionally with PNG charts.

``render_markdown(run, report, lang=, images=)`` takes an optional mapping of chart group
id (``loss``, ``lr``, ``grad``, ... see :mod:`losslens.render.groups`) to an image path,
relative to where the Markdown file will be written; the images are embedded in the
Charts section in that order.
"""

from __future__ import annotations

from collections.abc import Mapping

from losslens.analysis.messages import SEVERITY, STATUS, VERDICT, heading, steps_range
from losslens.model import Finding, Report, RunData

_MARK = {"error": "✖", "warning": "▲", "info": "•"}


def _esc(text: str) -> str:
    """Escape what would break a table cell or start markup."""
    return text.replace("|", "\\|").replace("\n", " ")


def _finding(f: Finding, lang: str) -> list[str]:
    sev = str(f.severity)
    out = [
        f"### {_MARK[sev]} {SEVERITY[sev][lang]} · `{f.rule_id}` {f.kind} — "
        f"{f.text('title', lang)}",
        "",
        f.text("explanation", lang),
        "",
    ]
    ev = f.evidence.text.get(lang) or f.evidence.text.get("en", "")
    where = steps_range(f.evidence.step_start, f.evidence.step_end)[lang]
    if ev or where:
        tail = f" ({where})" if where and ev else where
        out.append(f"- **{heading('evidence', lang)}:** {ev}{tail}")
    out.append(f"- **{heading('try', lang)}:** {f.text('suggestion', lang)}")
    out.append("")
    return out


def render_markdown(
    run: RunData | None,
    report: Report | None,
    *,
    lang: str = "en",
    images: Mapping[str, str] | None = None,
) -> str:
    """The report as Markdown. ``run`` is only used for the title when there is no report."""
    if report is None:
        name = f"{run.info.project}/{run.info.name}" if run is not None else "run"
        lines = [f"# {heading('report', lang)}: {name}", ""]
        if images:
            lines += [f"## {heading('charts', lang)}", ""]
            lines += [f"![{gid}]({path})" for gid, path in images.items()]
            lines.append("")
        return "\n".join(lines)
    i = report.run
    v = str(report.verdict)
    lines = [
        f"# {heading('report', lang)}: {i.project}/{i.name}",
        "",
        f"`{i.id}`" + (f" · {i.source}" if i.source else ""),
        "",
        f"**{heading('verdict', lang)}: {VERDICT[v][lang]}** — "
        f"{report.summary.get(lang) or report.summary.get('en', '')}",
        "",
    ]
    if report.readings:
        lines += [
            f"## {heading('metrics', lang)}",
            "",
            "| " + " | ".join(heading(h, lang) for h in ("metric", "status", "reading")) + " |",
            "|---|---|---|",
        ]
        for r in report.readings:
            text = r.summary.get(lang) or r.summary.get("en", "")
            lines.append(f"| `{r.metric}` | {STATUS[r.status][lang]} | {_esc(text)} |")
        lines.append("")
    if images:
        lines += [f"## {heading('charts', lang)}", ""]
        for gid, path in images.items():
            lines += [f"![{gid}]({path})", ""]
    lines += [f"## {heading('findings', lang)} ({len(report.findings)})", ""]
    if not report.findings:
        lines += [heading("no_findings", lang), ""]
    for f in report.findings:
        lines += _finding(f, lang)
    return "\n".join(lines).rstrip("\n") + "\n"

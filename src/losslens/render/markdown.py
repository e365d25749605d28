"""The diagnosis report as GitHub-flavoured Markdown, optionally with PNG charts.

``render_markdown(run, report, lang=, images=)`` takes an optional mapping of chart group
id (``loss``, ``lr``, ``grad``, ... see :mod:`losslens.render.groups`) to an image path,
relative to where the Markdown file will be written; the images are embedded in the
Charts section in that order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from losslens.analysis.messages import SEVERITY, STATUS, VERDICT, heading, steps_range
from losslens.model import Finding, Report, RunData
from losslens.render import import_notes
from losslens.textsafe import safe

_MARK = {"error": "✖", "warning": "▲", "info": "•"}


_MD_PUNCT = re.compile(r"([\\`\[\]|])")


def md_text(text: object) -> str:
    """Text that came from a user (a name, a key, a config value, a sentence quoting them) as
    inert Markdown: no HTML (``<``, ``>``, ``&`` become entities), no link, image or code
    (brackets and backticks are backslash-escaped), no table cell break and no new line."""
    t = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    t = _MD_PUNCT.sub(r"\\\1", t)
    return " ".join(t.splitlines())


def md_code(text: object) -> str:
    """A code span that holds ``text`` literally, whatever backticks it contains."""
    t = " ".join(str(text).splitlines()).replace("|", "\\|")
    runs = [len(m) for m in re.findall(r"`+", t)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if t.startswith("`") or t.endswith("`") or not t.strip() else ""
    return f"{fence}{pad}{t}{pad}{fence}"


def _safe_lines(lines: list[str]) -> str:
    """The lines joined, each made terminal-safe (names and keys come from users and files)."""
    return "\n".join(safe(x) for x in "\n".join(lines).split("\n"))


def _finding(f: Finding, lang: str) -> list[str]:
    sev = str(f.severity)
    out = [
        f"### {_MARK[sev]} {SEVERITY[sev][lang]} · `{f.rule_id}` {f.kind} — "
        f"{md_text(f.text('title', lang))}",
        "",
        md_text(f.text("explanation", lang)),
        "",
    ]
    ev = f.evidence.text.get(lang) or f.evidence.text.get("en", "")
    where = steps_range(f.evidence.step_start, f.evidence.step_end)[lang]
    if ev or where:
        tail = f" ({where})" if where and ev else where
        out.append(f"- **{heading('evidence', lang)}:** {md_text(ev)}{tail}")
    out.append(f"- **{heading('try', lang)}:** {md_text(f.text('suggestion', lang))}")
    out.append("")
    return out


def _image(gid: str, path: str) -> str:
    """An image line; the path is ours (a slug), the alt text may hold a metric key."""
    target = path.replace(" ", "%20").replace("(", "%28").replace(")", "%29")
    return f"![{md_text(gid)}]({target})"


def render_markdown(
    run: RunData | None,
    report: Report | None,
    *,
    lang: str = "en",
    images: Mapping[str, str] | None = None,
) -> str:
    """The report as Markdown. ``run`` is only used for the title when there is no report."""
    if report is None:
        name = md_text(f"{run.info.project}/{run.info.name}") if run is not None else "run"
        lines = [f"# {heading('report', lang)}: {name}", ""]
        if images:
            lines += [f"## {heading('charts', lang)}", ""]
            lines += [_image(gid, path) for gid, path in images.items()]
            lines.append("")
        return _safe_lines(lines)
    i = report.run
    v = str(report.verdict)
    lines = [
        f"# {heading('report', lang)}: {md_text(f'{i.project}/{i.name}')}",
        "",
        md_code(i.id) + (f" · {md_text(i.source)}" if i.source else ""),
        "",
        f"**{heading('verdict', lang)}: {VERDICT[v][lang]}** — "
        f"{md_text(report.summary.get(lang) or report.summary.get('en', ''))}",
        "",
    ]
    notes = import_notes(i)
    if notes:
        lines += [f"> {heading('import_notes', lang)}: {md_text(n)}" for n in notes] + [""]
    if report.readings:
        lines += [
            f"## {heading('metrics', lang)}",
            "",
            "| " + " | ".join(heading(h, lang) for h in ("metric", "status", "reading")) + " |",
            "|---|---|---|",
        ]
        for r in report.readings:
            text = r.summary.get(lang) or r.summary.get("en", "")
            lines.append(f"| {md_code(r.metric)} | {STATUS[r.status][lang]} | {md_text(text)} |")
        lines.append("")
    if images:
        lines += [f"## {heading('charts', lang)}", ""]
        for gid, path in images.items():
            lines += [_image(gid, path), ""]
    lines += [f"## {heading('findings', lang)} ({len(report.findings)})", ""]
    if not report.findings:
        lines += [heading("no_findings", lang), ""]
    for f in report.findings:
        lines += _finding(f, lang)
    return _safe_lines(lines).rstrip("\n") + "\n"

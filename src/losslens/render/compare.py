"""A comparison of runs (:mod:`losslens.analysis.compare`) for the terminal and as Markdown.

Display only: the verdict, the numbers and the ranking come from the analysis.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from losslens.analysis.compare import Comparison, fmt_config_value, metric_text, where_text
from losslens.analysis.messages import SEVERITY, VERDICT, num
from losslens.render.markdown import md_code, md_text
from losslens.textsafe import safe

_WORDS: dict[str, dict[str, str]] = {
    "title": {"en": "Comparison", "ko": "실행 비교"},
    "run": {"en": "run", "ko": "실행"},
    "verdict": {"en": "verdict", "ko": "판정"},
    "reached": {"en": "reached", "ko": "진행"},
    "changes": {
        "en": "Config differences, most plausible first",
        "ko": "설정 차이 (원인 가능성 순)",
    },
    "key": {"en": "key", "ko": "키"},
    "gaps": {"en": "Findings in one run and not the other", "ko": "한쪽에만 있는 발견 사항"},
    "none": {"en": "none", "ko": "없음"},
    "better": {"en": "better", "ko": "더 나음"},
    "diverged": {"en": "diverged", "ko": "발산"},
    "step": {"en": "step", "ko": "스텝"},
    "epoch": {"en": "epoch", "ko": "에폭"},
}


def _w(key: str, lang: str) -> str:
    return _WORDS[key].get(lang) or _WORDS[key]["en"]


def _reached(c: Comparison, last: float | None, lang: str) -> str:
    if last is None:
        return "-"
    unit, value = ("epoch", num(last, 3)) if c.basis == "epoch" else ("step", f"{round(last):,}")
    return f"{value} {_w(unit, lang)}" if lang == "ko" else f"{_w(unit, lang)} {value}"


def render_compare_terminal(c: Comparison, lang: str = "en") -> RenderableType:
    """The comparison as rich renderables: verdict paragraph, runs, config, findings."""
    parts: list[RenderableType] = [
        Text(_w("title", lang), style="bold"),
        Text(safe(c.summary.get(lang) or c.summary.get("en", ""))),
        Text(""),
    ]
    runs = Table(box=None, header_style="bold", pad_edge=False)
    runs.add_column("")
    runs.add_column(_w("run", lang))
    runs.add_column(safe(metric_text(c)[lang]), justify="right")
    runs.add_column(_w("reached", lang), justify="right")
    runs.add_column(_w("verdict", lang))
    for i, s in enumerate(c.sides):
        mark = "★" if i == c.better else ""
        value = (
            _w("diverged", lang) if s.diverged else (num(s.value) if s.value is not None else "-")
        )
        verdict = VERDICT[s.verdict][lang] if s.verdict in VERDICT else "-"
        runs.add_row(
            Text(mark, style="bold green"),
            Text(f"{safe(s.label)}  {s.id}"),
            value,
            _reached(c, s.last, lang),
            verdict,
        )
    parts += [runs, Text(f"({where_text(c)[lang]})", style="dim")]
    if c.changes:
        table = Table(box=None, header_style="bold", pad_edge=False)
        table.add_column(_w("key", lang))
        for s in c.sides:
            table.add_column(Text(safe(s.label)))
        for ch in c.changes[:12]:
            table.add_row(*(Text(safe(x)) for x in _change_row(ch.key, ch.values)))
        parts += [Text(""), Text(_w("changes", lang), style="bold"), table]
    if c.gaps:
        parts += [Text(""), Text(_w("gaps", lang), style="bold")]
        for g in c.gaps:
            who = ", ".join(c.sides[i].label for i in g.runs)
            sev = SEVERITY.get(g.severity, {}).get(lang, g.severity)
            parts.append(Text(safe(f"  {who}: [{sev}] {g.title.get(lang) or g.title['en']}")))
    return Group(*parts)


def _change_row(key: str, values: tuple[object, ...]) -> list[str]:
    return [key, *(fmt_config_value(v) for v in values)]


def render_compare_markdown(c: Comparison, lang: str = "en") -> str:
    """The comparison as GitHub-flavoured Markdown; every user string escaped."""
    lines = [
        f"# {_w('title', lang)}: " + " vs ".join(md_text(s.label) for s in c.sides),
        "",
        md_text(c.summary.get(lang) or c.summary.get("en", "")),
        "",
        f"| | {_w('run', lang)} | {md_text(metric_text(c)[lang])} | {_w('reached', lang)} | "
        f"{_w('verdict', lang)} |",
        "|---|---|---:|---:|---|",
    ]
    for i, s in enumerate(c.sides):
        mark = "★" if i == c.better else ""
        value = (
            _w("diverged", lang) if s.diverged else (num(s.value) if s.value is not None else "-")
        )
        verdict = VERDICT[s.verdict][lang] if s.verdict in VERDICT else "-"
        lines.append(
            f"| {mark} | {md_text(s.label)} {md_code(s.id)} | {value} | "
            f"{_reached(c, s.last, lang)} | {verdict} |"
        )
    lines += ["", f"_{md_text(where_text(c)[lang])}_", ""]
    if c.changes:
        lines += [
            f"## {_w('changes', lang)}",
            "",
            f"| {_w('key', lang)} | " + " | ".join(md_text(s.label) for s in c.sides) + " |",
            "|---|" + "---|" * len(c.sides),
        ]
        for ch in c.changes[:20]:
            row = _change_row(ch.key, ch.values)
            lines.append(f"| {md_code(row[0])} | " + " | ".join(md_text(v) for v in row[1:]) + " |")
        lines.append("")
    if c.gaps:
        lines += [f"## {_w('gaps', lang)}", ""]
        for g in c.gaps:
            who = ", ".join(md_text(c.sides[i].label) for i in g.runs)
            sev = SEVERITY.get(g.severity, {}).get(lang, g.severity)
            lines.append(f"- **{who}**: {sev} · {md_text(g.title.get(lang) or g.title['en'])}")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


__all__ = ["render_compare_markdown", "render_compare_terminal"]

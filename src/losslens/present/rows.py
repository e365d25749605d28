"""The rows of the dashboard's runs table as HTML, built in Python.

A store of a thousand runs makes a table of a thousand rows of a dozen cells each; the same
markup through the Jinja template took most of the runs page's time. Every value that comes
from a run (name, project, id, source, host, config) is escaped here exactly as the
template's autoescape would.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup

from losslens.present.format import fmt_duration, fmt_time
from losslens.present.templates import config_text

_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;"})


def _e(value: Any) -> str:
    """``value`` as text escaped for HTML, as markupsafe escapes it (without its objects)."""
    if isinstance(value, Markup):
        return str(value)
    if isinstance(value, int | float):
        return str(value)
    return str(value).translate(_ESCAPES)


def _opt(value: Any) -> str:
    return "" if value is None else _e(value)


def run_row_html(r: Mapping[str, Any], text: Mapping[str, str], lang: str) -> str:
    """One ``<tr>`` of the runs table (``r``: a row of ``api.run_rows`` with its colour,
    sparkline points and config chips)."""
    rid, name, color = _e(r["id"]), _e(r["name"]), _e(r["color"])
    status, verdict = str(r["status"]), r.get("verdict")
    final, best = r.get("final_loss"), r.get("best_loss")
    path = f"{_e(r['project'])} · {rid}" + (f" · {_e(r['source'])}" if r.get("source") else "")
    spark = ""
    if r.get("spark"):
        spark = (
            '<svg class="ll-spark" viewBox="0 0 96 24" width="96" height="24" role="img" '
            f'aria-label="{_e(text["sparkline"])}"><polyline points="{r["spark"]}" '
            f'fill="none" stroke="{color}" stroke-width="1.5"/></svg>'
        )
    badge = f" ll-v-{_e(verdict)}" if verdict else ""
    shown = _e(text[verdict]) if verdict else "…"
    chips = "".join(
        f'<span class="ll-chip"><span class="ll-muted">{_e(k)}</span> {_e(v)}</span>'
        for k, v in r.get("cfg", ())
    )
    return (
        f'<tr data-id="{rid}" data-name="{name}" data-project="{_e(r["project"])}" '
        f'data-status="{_e(status)}" data-host="{_opt(r.get("host"))}" '
        f'data-verdict="{_opt(verdict)}" data-start="{_e(r["start_time"])}" '
        f'data-duration="{_opt(r.get("duration"))}" data-final="{_opt(final)}" '
        f'data-best="{_opt(best)}" data-color="{color}">\n'
        f'<td class="ll-c-pick"><input type="checkbox" class="ll-pick" value="{rid}" '
        f'aria-label="select {name}"></td>\n'
        f'<td class="ll-c-name"><span class="ll-dot" style="background: {color}"></span>'
        f'<a class="ll-run-link" href="/runs/{rid}?lang={_e(lang)}">{name}</a>'
        f'<div class="ll-muted ll-path">{path}</div></td>\n'
        f'<td class="ll-c-spark">{spark}</td>\n'
        f'<td class="ll-status ll-s-{_e(status)}">{_e(text.get("st_" + status, status))}</td>\n'
        f'<td class="ll-c-host ll-nowrap">{_e(r.get("host") or "-")}</td>\n'
        f'<td><span class="ll-verdict{badge}">{shown}</span></td>\n'
        f'<td class="ll-num" data-label="{_e(text["final_loss"])}: ">'
        f"{_e(config_text(final)) if final is not None else '-'}</td>\n"
        f'<td class="ll-num ll-c-opt">{_e(config_text(best)) if best is not None else "-"}</td>\n'
        f'<td class="ll-c-opt ll-nowrap">{_e(fmt_time(r["start_time"]))}</td>\n'
        f'<td class="ll-c-opt ll-nowrap">{_e(fmt_duration(r.get("duration")))}</td>\n'
        f'<td class="ll-cfg ll-c-cfg">{chips}</td>\n'
        "</tr>\n"
    )


def runs_rows_html(rows: Sequence[Mapping[str, Any]], text: Mapping[str, str], lang: str) -> Markup:
    """Every row of the runs table, as markup safe to place in the template."""
    return Markup("".join(run_row_html(r, text, lang) for r in rows))


__all__ = ["run_row_html", "runs_rows_html"]

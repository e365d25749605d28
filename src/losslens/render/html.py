"""The self-contained HTML report: one file, no network, charts and findings inside.

uPlot, the chart script, the styles and the (per-pixel downsampled) data are inlined,
so the file opens the same from a laptop, an e-mail attachment or a CI artifact.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from losslens.model import Report, RunData
from losslens.present.config import config_view
from losslens.present.strings import ui_text
from losslens.present.style import run_color
from losslens.present.templates import UPLOT_VERSION, inline_script, render, static_text
from losslens.render import import_notes
from losslens.render.groups import chart_groups, group_payload, report_payload

#: Pixel columns the inlined data is downsampled to (the report cannot ask for more on zoom).
REPORT_WIDTH = 1200


def report_data(
    run: RunData, report: Report | None, *, lang: str = "en", width: int = REPORT_WIDTH
) -> dict[str, Any]:
    """Everything the report's script draws: chart groups, verdict and findings."""
    groups = chart_groups(run.series, run.system)
    lookup = {("metric", k): s for k, s in run.series.items()}
    lookup.update({("system", k): s for k, s in run.system.items()})
    return {
        "groups": [
            group_payload(g, lookup, lang=lang, width=width, start_time=run.info.start_time)
            for g in groups
        ],
        "report": report_payload(report, groups, lang),
        "text": ui_text(lang),
        "colors": [run_color(run.info.id)],
        "start_time": run.info.start_time,
    }


def render_report(
    run: RunData, report: Report | None = None, *, lang: str = "en", width: int = REPORT_WIDTH
) -> str:
    """The report as one HTML document (a string)."""
    from losslens import __version__

    payload = report_data(run, report, lang=lang, width=width)
    rp = payload["report"]
    return render(
        "report.html",
        lang=lang,
        text=payload["text"],
        inline=True,
        run=run.info,
        status=str(run.info.status),
        report={
            "verdict": rp["verdict"],
            "summary": rp["summary"],
            "notes": import_notes(run.info),
        },
        payload=payload,
        cfg=config_view(run.info.config, lang),
        uplot_css=inline_script(static_text(f"uPlot-{UPLOT_VERSION}.min.css")),
        app_css=inline_script(static_text("losslens.css")),
        uplot_js=inline_script(static_text(f"uPlot-{UPLOT_VERSION}.iife.min.js")),
        app_js=inline_script(static_text("losslens.js")),
        version=__version__,
        generated_at=time.time(),
    )


def write_report(
    run: RunData,
    path: str | Path,
    report: Report | None = None,
    *,
    lang: str = "en",
    width: int = REPORT_WIDTH,
) -> Path:
    """Write the self-contained HTML report of ``run`` to ``path``; returns the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(run, report, lang=lang, width=width), encoding="utf-8")
    return out

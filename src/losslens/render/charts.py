"""PNG charts (matplotlib) for the Markdown report: one image per chart group.

The same groups, per-pixel downsampling and finding marks as the HTML report: each
finding's step range shaded, a dashed line at its onset, NaN/Inf marked in red.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from losslens.errors import MissingExtraError
from losslens.model import Finding, Report, RunData
from losslens.render.downsample import m4_indices
from losslens.render.groups import ChartGroup, chart_groups, group_of_metric, series_xy

PALETTE = ("#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777")
SEVERITY_COLOR = {"error": "#dc2626", "warning": "#d97706", "info": "#2563eb"}
#: Pixel columns the series are downsampled to before plotting (the image is ~1000 px wide).
PNG_WIDTH = 1000


def slug(text: str) -> str:
    """A file-name-safe version of a group id."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._") or "chart"


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise MissingExtraError("matplotlib", "ui") from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _hangul_font() -> bool:
    """Whether matplotlib has a font with Hangul (then it is used; else titles stay English)."""
    from matplotlib import font_manager, rcParams

    names = ("Noto Sans CJK", "Noto Sans KR", "NanumGothic", "Malgun Gothic", "AppleGothic")
    for font in font_manager.fontManager.ttflist:
        if any(font.name.startswith(n) for n in names):
            rcParams["font.family"] = ["sans-serif"]
            rcParams["font.sans-serif"] = [font.name, *rcParams["font.sans-serif"]]
            return True
    return False


def draw_group(
    run: RunData,
    group: ChartGroup,
    findings: Sequence[Finding],
    groups: Sequence[ChartGroup],
    path: Path,
    *,
    lang: str = "en",
) -> Path:
    """One chart group as a PNG at ``path``."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 3.2), dpi=100)
    try:
        for i, (kind, key) in enumerate(group.series):
            s = (run.system if kind == "system" else run.series).get(key)
            if s is None or not len(s):
                continue
            x, y = series_xy(s, group.x, run.info.start_time)
            idx = m4_indices(x, y, PNG_WIDTH)
            x, y = x[idx], y[idx]
            color = PALETTE[i % len(PALETTE)]
            ok = np.isfinite(y)
            marker = "o" if ok.sum() < 40 else None
            ax.plot(x[ok], y[ok], color=color, lw=1.3, label=key, marker=marker, ms=3)
            for xv in x[~ok]:
                ax.axvline(xv, color="#b91c1c", lw=1.0, alpha=0.8)
        if group.x == "step":
            for f in findings:
                if group_of_metric(groups, f.evidence.metric) != group.id:
                    continue
                color = SEVERITY_COLOR.get(str(f.severity), "#2563eb")
                ev = f.evidence
                if ev.step_start is not None:
                    end = ev.step_end if ev.step_end is not None else ev.step_start
                    ax.axvspan(ev.step_start, max(end, ev.step_start), color=color, alpha=0.15)
                if f.onset_step is not None:
                    ax.axvline(f.onset_step, color=color, ls="--", lw=1.2)
        ax.set_title(group.label(lang if _hangul_font() else "en"), loc="left", fontsize=11)
        ax.set_xlabel("step" if group.x == "step" else "seconds since start")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best", fontsize=8, frameon=False)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path


def write_charts(
    run: RunData, report: Report | None, folder: str | Path, *, lang: str = "en"
) -> dict[str, Path]:
    """Every chart group of ``run`` as ``folder/<group>.png``; returns group id -> path."""
    groups = chart_groups(run.series, run.system)
    findings = report.findings if report is not None else []
    out: dict[str, Path] = {}
    base = Path(folder)
    for g in groups:
        out[g.id] = draw_group(run, g, findings, groups, base / f"{slug(g.id)}.png", lang=lang)
    return out

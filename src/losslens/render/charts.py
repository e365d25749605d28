"""PNG charts (matplotlib) for the Markdown report: one image per chart group.

The same groups, per-pixel downsampling and finding marks as the HTML report: each
finding's step range shaded, a dashed line at its onset, NaN/Inf marked in red.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from losslens.errors import MissingExtraError
from losslens.model import Finding, Report, RunData
from losslens.render.downsample import m4_indices
from losslens.render.groups import (
    POINT_KINDS,
    ChartGroup,
    chart_groups,
    finding_marks,
    group_of_metric,
    series_xy,
)

PALETTE = ("#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777")
SEVERITY_COLOR = {"error": "#dc2626", "warning": "#d97706", "info": "#2563eb"}
#: Pixel columns the series are downsampled to before plotting (the image is ~1000 px wide).
PNG_WIDTH = 1000


def slug(text: str) -> str:
    """A file-name-safe version of a group id: ASCII ids keep their readable name; any other
    id gets a short hash of itself, so two Korean metric keys never share a file."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._")
    if text.isascii() and base:
        return base
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]
    return f"{base}-{digest}" if base else f"chart-{digest}"


def unique_names(ids: Sequence[str]) -> dict[str, str]:
    """A distinct ``.png`` file name per group id."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for gid in ids:
        name = slug(gid)
        if name.lower() in used:
            name = f"{name}-{hashlib.sha1(gid.encode('utf-8')).hexdigest()[:8]}"
        n, stem = 2, name
        while name.lower() in used:
            name, n = f"{stem}-{n}", n + 1
        used.add(name.lower())
        out[gid] = f"{name}.png"
    return out


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise MissingExtraError("matplotlib", "ui") from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


_CJK_FONTS = (
    "Noto Sans CJK",
    "Noto Sans KR",
    "Source Han Sans",
    "NanumGothic",
    "Malgun Gothic",
    "AppleGothic",
    "Noto Serif CJK",
)


_scanned = False  # the system's font folders were searched for a CJK font (once a process)


def cjk_font() -> str | None:
    """The name of an installed font with Hangul and CJK glyphs (chosen for the charts, with
    the default font as fallback), or None."""
    from matplotlib import font_manager, rcParams

    global _scanned
    name = _cached_cjk(font_manager)
    if name is None and not _scanned:
        # matplotlib's font cache is built once: a font installed after it is not in it
        _scanned = True
        stems = tuple(w.replace(" ", "").lower() for w in _CJK_FONTS)
        for path in font_manager.findSystemFonts():
            if Path(path).name.replace(" ", "").lower().startswith(stems):
                font_manager.fontManager.addfont(path)
        name = _cached_cjk(font_manager)
    if name is not None and rcParams["font.sans-serif"][:1] != [name]:
        rcParams["font.family"] = ["sans-serif"]
        rcParams["font.sans-serif"] = [name, *rcParams["font.sans-serif"]]
    return name


def _cached_cjk(font_manager: Any) -> str | None:
    for want in _CJK_FONTS:
        for font in font_manager.fontManager.ttflist:
            if font.name.startswith(want):
                return str(font.name)
    return None


def _hangul_font() -> bool:
    return cjk_font() is not None


def font_note(run: RunData, lang: str = "en") -> str | None:
    """One line to tell the user when the PNGs will show boxes: some text to draw is not
    ASCII (a Korean title or metric key) and no CJK font is installed."""
    _pyplot()
    words = list(run.series) + list(run.system)
    if lang == "en" and all(w.isascii() for w in words):
        return None
    if cjk_font() is not None:
        return None
    return (
        "no CJK font found: Korean titles are drawn in English and non-ASCII metric keys as "
        "boxes (install one, e.g. apt-get install fonts-noto-cjk)"
    )


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
            ax.plot(x[ok], y[ok], color=color, lw=1.3, label=key, marker=marker, ms=3, zorder=3)
            for xv in x[~ok]:
                ax.axvline(xv, color="#b91c1c", lw=1.0, alpha=0.8)
        if group.x == "step":
            _draw_findings(ax, group, findings, groups)
        ax.set_title(group.label(lang if _hangul_font() else "en"), loc="left", fontsize=11)
        ko = lang == "ko" and _hangul_font()
        if group.x == "step":
            ax.set_xlabel("스텝" if ko else "step")
        else:
            ax.set_xlabel("시작 후 초" if ko else "seconds since start")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best", fontsize=8, frameon=False)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path


def _draw_findings(
    ax: Any, group: ChartGroup, findings: Sequence[Finding], groups: Sequence[ChartGroup]
) -> None:
    """Behind the data: a shaded band for a sustained range, one thin line per single-step
    finding (each spike of "spiked N times"), a small triangle at the top for the onset."""
    from matplotlib.transforms import blended_transform_factory

    top = blended_transform_factory(ax.transData, ax.transAxes)
    for f in findings:
        if group_of_metric(groups, f.evidence.metric) != group.id:
            continue
        color = SEVERITY_COLOR.get(str(f.severity), "#2563eb")
        ev = f.evidence
        a, b = ev.step_start, ev.step_end
        marks = finding_marks(dict(ev.values))
        if f.kind not in POINT_KINDS and a is not None and b is not None and b > a:
            ax.axvspan(a, b, color=color, alpha=0.10, lw=0, zorder=0)
        elif not marks and a is not None:
            marks = [a]
        for m in marks:
            ax.axvline(m, color=color, lw=0.8, alpha=0.45, zorder=1)
        onset = f.onset_step if f.onset_step is not None else a
        if onset is not None:
            ax.plot([onset], [1.0], marker="v", color=color, ms=7, transform=top,
                    clip_on=False, zorder=4)  # fmt: skip


def write_charts(
    run: RunData, report: Report | None, folder: str | Path, *, lang: str = "en"
) -> dict[str, Path]:
    """Every chart group of ``run`` as ``folder/<group>.png``; returns group id -> path."""
    groups = chart_groups(run.series, run.system)
    findings = report.findings if report is not None else []
    out: dict[str, Path] = {}
    base = Path(folder)
    names = unique_names([g.id for g in groups])
    for g in groups:
        out[g.id] = draw_group(run, g, findings, groups, base / names[g.id], lang=lang)
    return out

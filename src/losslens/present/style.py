"""Colours and small drawings shared by the pages: one colour per run everywhere."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import Any

#: Run colours (the chart script uses the same list, in the same order).
PALETTE = (
    "#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777",
    "#65a30d", "#9333ea", "#0f766e", "#b45309", "#4f46e5", "#be123c", "#15803d",
    "#c2410c", "#0369a1", "#a21caf", "#4d7c0f", "#1d4ed8", "#b91c1c",
)  # fmt: skip


def run_color(run_id: str) -> str:
    """A run's own colour (the same on every page that shows it alone)."""
    h = int(hashlib.sha1(run_id.encode("utf-8")).hexdigest()[:8], 16)
    return PALETTE[h % len(PALETTE)]


def run_colors(run_ids: Sequence[str]) -> list[str]:
    """Distinct colours for runs shown together: each keeps its own colour unless an
    earlier run took it, then gets the next free one."""
    taken: set[str] = set()
    out = []
    for rid in run_ids:
        c = run_color(rid)
        if c in taken:
            start = PALETTE.index(c)
            free = [PALETTE[(start + k) % len(PALETTE)] for k in range(len(PALETTE))]
            c = next((x for x in free if x not in taken), c)
        taken.add(c)
        out.append(c)
    return out


def sparkline_points(values: Sequence[float], width: int = 96, height: int = 24) -> str:
    """The ``points`` of an SVG polyline drawing ``values`` (finite ones) in a small box."""
    ys = [v for v in values if isinstance(v, int | float) and math.isfinite(v)]
    if len(ys) < 2:
        return ""
    lo, hi = min(ys), max(ys)
    span = hi - lo or 1.0
    n = len(ys) - 1
    pts = [
        f"{width * i / n:.1f},{height - 2 - (height - 4) * (y - lo) / span:.1f}"
        for i, y in enumerate(ys)
    ]
    return " ".join(pts)


def sparklines_points(series: Sequence[Any], width: int = 96, height: int = 24) -> list[str]:
    """:func:`sparkline_points` of many value lists at once (the same strings), for a table
    of a thousand runs: the arithmetic in one pass of numpy, the x labels shared."""
    import numpy as np

    ys = [np.asarray(v, dtype=np.float64) for v in series]
    ys = [y[np.isfinite(y)] for y in ys]
    n = np.array([len(y) for y in ys])
    out = [""] * len(ys)
    use = [i for i in range(len(ys)) if n[i] >= 2]
    if not use:
        return out
    which = np.repeat(np.arange(len(use)), n[use])
    y = np.concatenate([ys[i] for i in use])
    lo = np.array([ys[i].min() for i in use])
    span = np.array([ys[i].max() for i in use]) - lo
    span = np.where(span == 0, 1.0, span)
    ty = (height - 2 - (height - 4) * (y - lo[which]) / span[which]).tolist()
    texts = list(map("{:.1f}".format, ty))
    xs: dict[int, list[str]] = {}
    pos = 0
    for i in use:
        k = int(n[i])
        if k not in xs:
            xs[k] = [f"{width * j / (k - 1):.1f}," for j in range(k)]
        out[i] = " ".join(map(str.__add__, xs[k], texts[pos : pos + k]))
        pos += k
    return out

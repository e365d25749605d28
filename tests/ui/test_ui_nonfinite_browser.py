"""NaN and ±Inf points reach the chart with the one spelling of :mod:`losslens.numeric` and
are marked "NaN", "+Inf", "-Inf" in real headless Chromium."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from losslens.model import MetricPoint, RunStatus
from losslens.numeric import NONFINITE_TOKENS
from losslens.render.html import write_report
from losslens.store import Store

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LOSS = [2.0, 1.5, math.nan, 1.2, math.inf, 1.0, -math.inf, 0.9]


def test_nonfinite_points_are_marked_by_their_token(
    page: Any, store: Store, tmp_path: Path
) -> None:
    info = store.create_run("p", "nonfinite", status=RunStatus.FINISHED, start_time=1.0)
    store.write_points(
        info.id, [MetricPoint("train/loss", s, v) for s, v in enumerate(LOSS, start=1)]
    )
    out = write_report(store.load(info.id), tmp_path / "r.html")
    page.goto(out.as_uri())
    page.wait_for_selector(".ll-chart[data-group='loss'] canvas")
    marks = page.evaluate(
        "Object.values(LL.view.charts).flatMap(c => c.group.series.flatMap("
        "s => s.nonfinite.map(p => [p[0], p[1], LL.nonfiniteLabel(p[1])])))"
    )
    assert sorted(map(tuple, marks)) == [
        (3, "NaN", "NaN"),
        (5, "Infinity", "+Inf"),
        (7, "-Infinity", "-Inf"),
    ]
    assert {m[1] for m in marks} == set(NONFINITE_TOKENS)
    assert page.errors == []

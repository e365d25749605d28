"""``Analyzer.refresh``: analyses again when the run has grown enough, or at once on NaN."""

from __future__ import annotations

import math

import numpy as np

from losslens.analysis import Analyzer, analyze
from losslens.model import MetricPoint


def _feed(an: Analyzer, a: int, b: int, nan: bool = False) -> None:
    an.feed(
        MetricPoint("train/loss", s, math.nan if nan else 0.5 + 2 * math.exp(-s / 500))
        for s in range(a, b)
    )


def test_refresh_follows_growth_and_reports_nan_at_once() -> None:
    an = Analyzer(config={"lora_r": 8})
    _feed(an, 1, 4001)
    assert an.due and an.refresh() == [] and an.report is not None
    first = an.report
    _feed(an, 4001, 4011)  # 10 points: far below 1/32 of the run
    assert not an.due and an.refresh() == [] and an.report is first
    _feed(an, 4011, 4200)  # grown by more than 1/32: analysed again
    assert an.due
    an.refresh()
    assert an.report is not first
    _feed(an, 4200, 4201, nan=True)  # one NaN: analysed at the next refresh, whatever the size
    assert an.due
    assert "LL101" in [f.rule_id for f in an.refresh()]
    assert an.report is not None and an.report.verdict == "failed"


def test_the_analyzer_sees_what_a_full_analysis_sees() -> None:
    an = Analyzer(config={"lora_r": 8})
    rng = np.random.default_rng(0)
    steps = rng.permutation(np.arange(1, 3001))  # out of order, fed as arrays and as points
    values = 0.5 + 2 * np.exp(-steps / 500.0)
    an.feed_arrays("train/loss", steps[:2000], values[:2000])
    rest = zip(steps[2000:].tolist(), values[2000:].tolist(), strict=True)
    an.feed(MetricPoint("loss", s, v) for s, v in rest)
    run = an.run_data()
    s = run.series["train/loss"]
    assert s.steps.tolist() == list(range(1, 3001))
    assert np.array_equal(s.values, 0.5 + 2 * np.exp(-np.arange(1, 3001) / 500.0))
    an.check()
    assert an.report is not None
    assert an.report.verdict == analyze(run).verdict

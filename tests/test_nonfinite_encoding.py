"""NaN and ±Inf have one JSON spelling, :data:`losslens.numeric.NONFINITE_TOKENS`, in the
store's config/summary JSON, the ``--json`` report and the dashboard API payloads
(tests/ui/test_ui_compare.py checks the comparison payload)."""

from __future__ import annotations

import json
import math

from losslens.model import (
    Evidence,
    Finding,
    MetricReading,
    Report,
    RunInfo,
    RunStatus,
    Series,
    Severity,
    Verdict,
    jsonable,
)
from losslens.numeric import NONFINITE_TOKENS, decode_nonfinite, encode_nonfinite
from losslens.render.groups import series_payload
from losslens.render.json_report import render_json
from losslens.store.jsonvalues import dumps, loads

VALUES = {"nan": math.nan, "inf": math.inf, "ninf": -math.inf, "x": 1.5}
SPELLED = {"nan": "NaN", "inf": "Infinity", "ninf": "-Infinity", "x": 1.5}


def strict(text: str) -> object:
    def refuse(name: str) -> None:
        raise AssertionError(f"bare {name} in strict JSON")

    return json.loads(text, parse_constant=refuse)


def test_the_tokens_are_the_ones_javascript_reads_back() -> None:
    assert set(NONFINITE_TOKENS) == {"NaN", "Infinity", "-Infinity"}
    assert encode_nonfinite(VALUES) == SPELLED
    back = decode_nonfinite(SPELLED)
    assert math.isnan(back["nan"]) and back["inf"] == math.inf and back["ninf"] == -math.inf


def test_store_json_and_dashboard_api_agree() -> None:
    assert strict(dumps(VALUES)) == SPELLED
    assert jsonable(VALUES) == SPELLED
    assert jsonable([math.nan, (math.inf,)]) == ["NaN", ["Infinity"]]
    assert loads(json.dumps(jsonable(VALUES)))["inf"] == math.inf


def test_the_json_report_uses_the_same_tokens() -> None:
    info = RunInfo("r1", "p", "n", RunStatus.FINISHED, start_time=1.0, end_time=2.0)
    finding = Finding(
        "LL101",
        "nan_or_inf",
        Severity.ERROR,
        {"en": "t"},
        {"en": "e"},
        {"en": "s"},
        Evidence("train/loss", 1, 2, dict(VALUES)),
    )
    reading = MetricReading("train/loss", "problem", {"en": "r"}, {"last": -math.inf})
    report = Report(info, Verdict.FAILED, {"en": "s"}, [finding], [reading], created_at=2.0)
    doc = strict(render_json(report))
    assert isinstance(doc, dict)
    assert doc["findings"][0]["evidence"]["values"] == SPELLED
    assert doc["readings"][0]["values"] == {"last": "-Infinity"}


def test_the_chart_payload_uses_the_same_tokens() -> None:
    s = Series.from_lists("train/loss", range(4), [1.0, math.nan, math.inf, -math.inf])
    p = series_payload(s, kind="metric", label="loss", width=100)
    assert p["nonfinite"] == [[1, "NaN"], [2, "Infinity"], [3, "-Infinity"]]
    assert {t for _, t in p["nonfinite"]} == set(NONFINITE_TOKENS)

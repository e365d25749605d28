"""The findings of a run, sent by the client that recorded it to ``losslens server``.

The client analyses a finished run where it was recorded (its local SQLite store, the
analysis kept there as usual) and sends the report as JSON: :func:`findings_body`. The
server turns the body back into a :class:`~losslens.model.Report` of its own copy of the run
(:func:`report_from_body`) and keeps it as the run's stored analysis, so the team dashboard
shows it without analysing again. The body also says how many distinct metric points the
analysis saw: the server keeps the findings only when it holds as many, so stored findings
always describe the points the server has.

Neither side needs the ``team`` extra here: this module is plain data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from losslens.model import (
    Finding,
    MetricReading,
    Report,
    RunInfo,
    Verdict,
    finding_from_dict,
    finding_to_dict,
    jsonable,
)
from losslens.numeric import decode_nonfinite

#: Most findings one body may carry (a real report has a handful).
MAX_FINDINGS = 1000
_VERSION = re.compile(r"^[0-9a-f]{1,64}$")


class BadFindings(ValueError):
    """A findings body that cannot be stored (the message names what is wrong)."""


def distinct_metric_points(conn: Any, run_id: str) -> int:
    """Distinct ``(key, step)`` metric points of a run in a local SQLite store (a step
    logged twice counts once, as the server keeps one value per run, key and step)."""
    row = conn.execute(
        "SELECT COUNT(*) FROM (SELECT DISTINCT p.key_id, p.step FROM points p "
        "JOIN metric_keys k ON k.id = p.key_id WHERE k.run_id = ? AND k.kind = 'metric')",
        (run_id,),
    ).fetchone()
    return int(row[0])


def findings_body(store_path: str | Path, run_id: str) -> dict[str, Any]:
    """Analyse a run of the local store (or read its current stored analysis) and return
    the body of ``PUT /api/v1/runs/{id}/findings``."""
    from losslens.store import Store
    from losslens.stored_analysis import analysis_version, report_for

    with Store(store_path, create=False) as store:
        info = store.get_run(run_id)
        report = report_for(store, info)
        n_points = distinct_metric_points(store.conn, run_id)
    return body_of(report, analysis_version(), n_points)


def body_of(report: Report, version: str, n_points: int) -> dict[str, Any]:
    """The findings body of a report made by analysis code ``version`` from ``n_points``
    distinct metric points."""
    from losslens.store.findings import report_body

    body: dict[str, Any] = jsonable(report_body(report))
    body.update(
        verdict=str(report.verdict),
        findings=[jsonable(finding_to_dict(f)) for f in report.findings],
        analysis_version=version,
        n_points=n_points,
    )
    return body


def _need(ok: bool, message: str) -> None:
    if not ok:
        raise BadFindings(message)


def _finding(item: Any, i: int) -> Finding:
    _need(isinstance(item, dict), f"findings[{i}] must be an object")
    evidence = item.get("evidence")
    if isinstance(evidence, dict) and isinstance(evidence.get("values"), dict):
        item = {**item, "evidence": {**evidence, "values": decode_nonfinite(evidence["values"])}}
    try:
        finding = finding_from_dict(item)
    except (KeyError, TypeError, ValueError) as exc:
        raise BadFindings(f"findings[{i}] is not a finding: {str(exc)[:200]}") from None
    for part in ("title", "explanation", "suggestion"):
        texts = getattr(finding, part)
        _need(
            all(isinstance(k, str) and isinstance(v, str) for k, v in texts.items()),
            f"findings[{i}].{part} must map language codes to text",
        )
    for step in (finding.onset_step, finding.evidence.step_start, finding.evidence.step_end):
        _need(
            step is None or (isinstance(step, int) and not isinstance(step, bool)),
            f"findings[{i}]: steps must be integers or null",
        )
    return finding


def _reading(item: Any, i: int) -> MetricReading:
    _need(isinstance(item, dict), f"readings[{i}] must be an object")
    metric, status = item.get("metric"), item.get("status")
    _need(isinstance(metric, str) and isinstance(status, str), f"readings[{i}]: bad metric")
    summary, values = item.get("summary") or {}, item.get("values") or {}
    _need(isinstance(summary, dict) and isinstance(values, dict), f"readings[{i}]: bad fields")
    return MetricReading(str(metric), str(status), dict(summary), decode_nonfinite(values))


def report_from_body(info: RunInfo, body: Mapping[str, Any]) -> tuple[Report, str, int]:
    """``(report of the server's run, analysis version, distinct metric points analysed)``
    from a findings body; :class:`BadFindings` when it is malformed."""
    try:
        verdict = Verdict(str(body.get("verdict")))
    except ValueError:
        allowed = ", ".join(v.value for v in Verdict)
        raise BadFindings(f"verdict must be one of {allowed}") from None
    version = body.get("analysis_version")
    _need(isinstance(version, str) and bool(_VERSION.match(version)), "bad analysis_version")
    n_points = body.get("n_points")
    _need(
        isinstance(n_points, int) and not isinstance(n_points, bool) and n_points >= 0,
        "n_points must be the number of distinct metric points analysed",
    )
    items, readings = body.get("findings"), body.get("readings") or []
    _need(isinstance(items, list) and len(items) <= MAX_FINDINGS, "findings must be a list")
    _need(isinstance(readings, list), "readings must be a list")
    summary = body.get("summary") or {}
    _need(isinstance(summary, dict), "summary must be an object")
    schema = body.get("schema_version", 1)
    _need(isinstance(schema, int) and not isinstance(schema, bool), "bad schema_version")
    assert isinstance(items, list) and isinstance(version, str) and isinstance(n_points, int)
    report = Report(
        run=info,
        verdict=verdict,
        summary=dict(summary),
        findings=[_finding(item, i) for i, item in enumerate(items)],
        readings=[_reading(item, i) for i, item in enumerate(readings)],
        schema_version=int(schema),
    )
    return report, version, n_points


__all__ = [
    "BadFindings",
    "body_of",
    "distinct_metric_points",
    "findings_body",
    "report_from_body",
]

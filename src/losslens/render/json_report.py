"""The diagnosis report as JSON: a stable, versioned schema for scripts and CI.

Schema (``schema_version`` 1)::

    {"schema_version": 1, "lang": "en",
     "run": {"id", "project", "name", "status", "source", "start_time", "end_time"},
     "verdict": "healthy" | "needs_attention" | "failed",
     "summary": {"en": ..., "ko": ...},
     "counts": {"error": n, "warning": n, "info": n},
     "findings": [{"rule_id", "kind", "severity", "onset_step", "title", "explanation",
                   "suggestion", "evidence": {"metric", "step_start", "step_end", "values",
                   "text"}}],
     "readings": [{"metric", "status", "summary", "values"}],
     "created_at": unix seconds}

Every text is a ``{"en": ..., "ko": ...}`` object whatever ``lang`` says; ``lang`` records
the language the user asked for. Non-finite numbers are written as strings ("NaN", "inf").
"""

from __future__ import annotations

import json
import math
from typing import Any

from losslens.model import MetricReading, Report, finding_to_dict

SCHEMA_VERSION = 1


def _finite(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return "NaN" if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def reading_to_dict(r: MetricReading) -> dict[str, Any]:
    return {
        "metric": r.metric,
        "status": r.status,
        "summary": dict(r.summary),
        "values": dict(r.values),
    }


def report_to_dict(report: Report, lang: str = "en") -> dict[str, Any]:
    i = report.run
    counts = {"error": 0, "warning": 0, "info": 0}
    for f in report.findings:
        counts[str(f.severity)] += 1
    data = {
        "schema_version": SCHEMA_VERSION,
        "lang": lang,
        "run": {
            "id": i.id,
            "project": i.project,
            "name": i.name,
            "status": str(i.status),
            "source": i.source,
            "start_time": i.start_time,
            "end_time": i.end_time,
        },
        "verdict": str(report.verdict),
        "summary": dict(report.summary),
        "counts": counts,
        "findings": [finding_to_dict(f) for f in report.findings],
        "readings": [reading_to_dict(r) for r in report.readings],
        "created_at": report.created_at,
    }
    result: dict[str, Any] = _finite(data)
    return result


def render_json(report: Report | list[Report], lang: str = "en") -> str:
    """One report as an object; several as ``{"schema_version": 1, "reports": [...]}``."""
    if isinstance(report, list):
        if len(report) == 1:
            return render_json(report[0], lang)
        doc: Any = {
            "schema_version": SCHEMA_VERSION,
            "reports": [report_to_dict(r, lang) for r in report],
        }
    else:
        doc = report_to_dict(report, lang)
    return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"

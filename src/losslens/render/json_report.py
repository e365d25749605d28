"""The diagnosis report as JSON: a stable, versioned schema for scripts and CI.

Schema (``schema_version`` 1)::

    {"schema_version": 1, "lang": "en",
     "run": {"id", "project", "name", "status", "source", "start_time", "end_time",
             "import_notes"},
     "verdict": "healthy" | "needs_attention" | "failed",
     "summary": {"en": ..., "ko": ...},
     "counts": {"error": n, "warning": n, "info": n},
     "findings": [{"rule_id", "kind", "severity", "onset_step", "title", "explanation",
                   "suggestion", "evidence": {"metric", "step_start", "step_end", "values",
                   "text"}}],
     "readings": [{"metric", "status", "summary", "values"}],
     "created_at": unix seconds}

``created_at`` is when a stored run was analysed; a report on log files
(``losslens analyze FILE``) is dated by its data instead (the run's ``end_time``, else its
``start_time``), so that the same file always gives the same bytes.

Every text is a ``{"en": ..., "ko": ...}`` object whatever ``lang`` says; ``lang`` records
the language the user asked for. Non-finite numbers are written as the strings ``"NaN"``,
``"Infinity"``, ``"-Infinity"`` (:func:`losslens.numeric.encode_nonfinite`, the store's and the
dashboard API's spelling too).
"""

from __future__ import annotations

import json
from typing import Any

from losslens.model import MetricReading, Report, finding_to_dict
from losslens.numeric import encode_nonfinite
from losslens.render import import_notes

SCHEMA_VERSION = 1


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
            "import_notes": import_notes(i),
        },
        "verdict": str(report.verdict),
        "summary": dict(report.summary),
        "counts": counts,
        "findings": [finding_to_dict(f) for f in report.findings],
        "readings": [reading_to_dict(r) for r in report.readings],
        "created_at": report.created_at,
    }
    result: dict[str, Any] = encode_nonfinite(data)
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

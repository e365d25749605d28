"""The diagnosis engine: rules over a run's curves and set-up, a typed report out.

::

    from losslens.analysis import analyze
    report = analyze(run_data)               # model.Report
    report.verdict, report.findings[0].text("title", "ko")

``Analyzer`` does the same incrementally for a run in progress; ``RULES`` lists every rule
by id (``docs/rules.md`` is generated from their docstrings).
"""

from __future__ import annotations

from losslens.analysis.context import RunContext, build_context
from losslens.analysis.engine import SCHEMA_VERSION, Analyzer, analyze, resolve_rules, verdict_of
from losslens.analysis.rules import FAMILIES, KINDS, RULES, Rule

__all__ = [
    "FAMILIES",
    "KINDS",
    "RULES",
    "SCHEMA_VERSION",
    "Analyzer",
    "Rule",
    "RunContext",
    "analyze",
    "build_context",
    "resolve_rules",
    "verdict_of",
]

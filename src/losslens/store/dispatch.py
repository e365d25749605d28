"""Stored analyses (:mod:`losslens.store.findings`) on either engine.

:mod:`losslens.stored_analysis` calls these with whatever store it was given: the SQLite
``Store`` goes to the plain-SQL functions of :mod:`losslens.store.findings`, a ``PgStore``
to its own methods. The stamp has the same meaning on both (any new point makes a stored
analysis stale); on PostgreSQL it is made of each key's point count and last step, which
every writer keeps in the same statement as the points.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, TypeGuard

from losslens.model import MetricReading, Report, RunInfo, Verdict, finding_from_dict
from losslens.store import findings
from losslens.store.store import Store

if TYPE_CHECKING:
    from losslens.store.pg import PgStore


def is_pg(store: Store | PgStore) -> TypeGuard[PgStore]:
    return not isinstance(store, Store)


def points_stamps(
    store: Store | PgStore,
    run_ids: Sequence[str],
    marks: Sequence[findings.KeyMark] | None = None,
) -> dict[str, str]:
    if is_pg(store):
        return store.points_stamps(run_ids)
    assert isinstance(store, Store)
    return findings.points_stamps(store.conn, run_ids, marks)


def read_analyses(
    store: Store | PgStore, run_ids: Iterable[str]
) -> dict[str, findings.StoredAnalysis]:
    if is_pg(store):
        return {
            r: findings.StoredAnalysis(r, *row) for r, row in store.read_analyses(run_ids).items()
        }
    assert isinstance(store, Store)
    return findings.read_analyses(store.conn, run_ids)


def read_report(store: Store | PgStore, info: RunInfo, stamp: str | None = None) -> Report | None:
    if not is_pg(store):
        assert isinstance(store, Store)
        return findings.read_report(store.conn, info, stamp)
    got = store.read_analysis(info.id)
    if got is None or (stamp is not None and got[0] != stamp):
        return None
    _, verdict, body, created, payloads = got
    return Report(
        run=info,
        verdict=Verdict(verdict),
        summary=dict(body.get("summary") or {}),
        findings=[finding_from_dict(p) for p in payloads],
        readings=[
            MetricReading(
                metric=str(r["metric"]),
                status=str(r["status"]),
                summary=dict(r.get("summary") or {}),
                values=dict(r.get("values") or {}),
            )
            for r in body.get("readings", [])
        ],
        schema_version=int(body.get("schema_version", 1)),
        created_at=created,
    )


def write_report(store: Store | PgStore, report: Report, stamp: str) -> bool:
    if not is_pg(store):
        assert isinstance(store, Store)
        return findings.write_report(store, report, stamp)
    body = findings.report_body(report)
    return store.write_analysis(report.run.id, report.findings, stamp, str(report.verdict), body)


def forget_analysis(store: Store | PgStore, run_id: str) -> None:
    if is_pg(store):
        store.forget_analysis(run_id)
        return
    assert isinstance(store, Store)
    findings.forget_analysis(store, run_id)


__all__ = [
    "forget_analysis",
    "is_pg",
    "points_stamps",
    "read_analyses",
    "read_report",
    "write_report",
]

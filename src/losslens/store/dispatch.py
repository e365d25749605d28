"""Stored analyses (:mod:`losslens.store.findings`) on either engine.

:mod:`losslens.stored_analysis` calls these with whatever store it was given; each is one
call of the :class:`~losslens.store.protocol.StoreProtocol` method of the same name. The
stamp has the same meaning on both engines (any new point makes a stored analysis stale):
on SQLite it is made of each key's last rowids, on PostgreSQL of each key's point count and
last step, which every writer keeps in the same statement as the points.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from losslens.model import Report, RunInfo
from losslens.store import findings
from losslens.store.protocol import StoreProtocol
from losslens.store.store import Store


def points_stamps(
    store: StoreProtocol,
    run_ids: Sequence[str],
    marks: Sequence[findings.KeyMark] | None = None,
) -> dict[str, str]:
    """``marks``: the SQLite store's key marks when the caller has read them already (the
    dashboard); other engines ignore them."""
    if marks is not None and isinstance(store, Store):
        return store.points_stamps(run_ids, marks)
    return store.points_stamps(run_ids)


def read_analyses(
    store: StoreProtocol, run_ids: Iterable[str]
) -> dict[str, findings.StoredAnalysis]:
    return store.read_analyses(run_ids)


def read_report(store: StoreProtocol, info: RunInfo, stamp: str | None = None) -> Report | None:
    return store.read_report(info, stamp)


def write_report(store: StoreProtocol, report: Report, stamp: str) -> bool:
    return store.write_report(report, stamp)


def forget_analysis(store: StoreProtocol, run_id: str) -> None:
    store.forget_analysis(run_id)


__all__ = [
    "forget_analysis",
    "points_stamps",
    "read_analyses",
    "read_report",
    "write_report",
]

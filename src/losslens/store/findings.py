"""Findings kept in the store: the last analysis of each run, and what it saw.

One row of ``analyses`` per analysed run holds its verdict, the number of findings, the
report's summary and readings (JSON), and a *stamp*: a digest of everything the analysis
read, namely the run's name, status, config, summary and output folder, the last point of
every key (its rowid, as the rollups and the index see it) and the version of the analysis
code. The findings are rows of ``findings``, written in the same transaction.

A stored analysis is *current* while the stamp of the run as it stands equals the stored
one. Any point written since moves a key's last rowid, so new points invalidate it without
a writer having to know about analyses; readers then analyse again and store the result
(:mod:`losslens.stored_analysis`). Everything here is plain SQL and JSON: nothing analyses.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from losslens.model import (
    Finding,
    MetricReading,
    Report,
    RunInfo,
    Verdict,
    finding_from_dict,
    finding_to_dict,
)
from losslens.store.jsonvalues import dumps, loads

if TYPE_CHECKING:
    from losslens.store.store import Store

#: One stored finding (SQLite placeholders); ``finding_rows`` gives its parameters.
INSERT_FINDING = (
    "INSERT INTO findings (run_id, rule_id, kind, severity, step_start, step_end, "
    "onset_step, payload, created_at) VALUES (?,?,?,?,?,?,?,?,?)"
)


def finding_rows(run_id: str, findings: Sequence[Finding], now: float) -> list[tuple[Any, ...]]:
    """The ``findings`` table rows of a run's findings (``INSERT_FINDING`` order, both
    engines)."""
    return [
        (
            run_id,
            f.rule_id,
            f.kind,
            str(f.severity),
            f.evidence.step_start,
            f.evidence.step_end,
            f.onset_step,
            dumps(finding_to_dict(f)),
            now,
        )
        for f in findings
    ]


@dataclass(frozen=True)
class StoredAnalysis:
    """A run's stored verdict (without its findings)."""

    run_id: str
    stamp: str
    verdict: str
    n_findings: int
    created_at: float


#: Per key of a run: ``(run_id, key_id, kind, key, last rollup rowid, rowid of the last
#: point by step)``, what both the stamps and the dashboard's key list are made of.
KeyMark = tuple[str, int, str, str, "int | None", "int | None"]


def key_marks(conn: sqlite3.Connection, run_ids: Sequence[str] | None = None) -> list[KeyMark]:
    """The keys of these runs (all runs when None) with their last points, in one query
    (two index lookups per key), ordered by run, kind and key."""
    sql = (
        "SELECT k.run_id, k.id, k.kind, k.key, "
        "(SELECT r.rowid_last FROM rollups r WHERE r.key_id = k.id ORDER BY r.seq DESC LIMIT 1), "
        "(SELECT p.rowid FROM points p WHERE p.key_id = k.id "
        " ORDER BY p.step DESC, p.rowid DESC LIMIT 1) FROM metric_keys k"
    )
    args: list[Any] = []
    if run_ids is not None:
        if not run_ids:
            return []
        if len(run_ids) <= 500:
            sql += f" WHERE k.run_id IN ({','.join('?' * len(run_ids))})"
            args = list(run_ids)
    rows = conn.execute(sql + " ORDER BY k.run_id, k.kind, k.key", args).fetchall()
    return [(str(r[0]), int(r[1]), str(r[2]), str(r[3]), r[4], r[5]) for r in rows]


def points_stamps(
    conn: sqlite3.Connection,
    run_ids: Sequence[str] | None = None,
    marks: Sequence[KeyMark] | None = None,
) -> dict[str, str]:
    """Per run: a digest of the last point of each of its keys (``key_marks``).

    Both the last rollup row's ``rowid_last`` (every losslens writer) and the rowid of the
    key's last point by step (plain-SQL appends too) go in.
    """
    marks = key_marks(conn, run_ids) if marks is None else marks
    parts: dict[str, list[str]] = {}
    for run_id, kid, _, _, last, head in sorted(marks, key=lambda m: (m[0], m[1])):
        parts.setdefault(run_id, []).append(f"{kid}:{last}:{head}")
    wanted = parts if run_ids is None else {r: parts.get(r, []) for r in run_ids}
    return {r: ",".join(p) for r, p in wanted.items()}


def run_stamp(info: RunInfo, points: str, version: str) -> str:
    """The stamp of a run as it stands: its points' digest, what the analysis reads of its
    metadata, and the version of the analysis code."""
    meta = dumps([info.name, str(info.status), info.config, info.summary, info.output_dir])
    text = "\n".join((version, points, meta))
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def read_analyses(
    conn: sqlite3.Connection, run_ids: Iterable[str] | None = None
) -> dict[str, StoredAnalysis]:
    """The stored analyses (current or not) of these runs (all runs when None)."""
    sql = "SELECT run_id, stamp, verdict, n_findings, created_at FROM analyses"
    wanted = None if run_ids is None else set(run_ids)
    args: list[str] = []
    if wanted is not None and len(wanted) <= 500:
        args = sorted(wanted)
        sql += f" WHERE run_id IN ({','.join('?' * len(args))})"
    try:
        rows = conn.execute(sql, args).fetchall()
    except sqlite3.OperationalError:  # a store older than the analyses table (read-only)
        return {}
    return {
        str(r[0]): StoredAnalysis(str(r[0]), str(r[1]), str(r[2]), int(r[3]), float(r[4]))
        for r in rows
        if wanted is None or r[0] in wanted
    }


def read_report(conn: sqlite3.Connection, info: RunInfo, stamp: str | None = None) -> Report | None:
    """The stored report of a run, or None when there is none (or, given ``stamp``, when
    the stored one was made from something else: stale)."""
    try:
        row = conn.execute(
            "SELECT stamp, verdict, report, created_at FROM analyses WHERE run_id = ?", (info.id,)
        ).fetchone()
    except sqlite3.OperationalError:
        return None
    if row is None or (stamp is not None and row[0] != stamp):
        return None
    payloads = [
        loads(p[0])
        for p in conn.execute(
            "SELECT payload FROM findings WHERE run_id = ? ORDER BY id", (info.id,)
        ).fetchall()
    ]
    return stored_report(info, str(row[1]), loads(row[2]), float(row[3]), payloads)


def stored_report(
    info: RunInfo, verdict: str, body: dict[str, Any], created_at: float, payloads: list[Any]
) -> Report:
    """A :class:`Report` from a stored analysis row (``report_body``) and its findings'
    payloads (both engines)."""
    readings = [
        MetricReading(
            metric=str(r["metric"]),
            status=str(r["status"]),
            summary=dict(r.get("summary") or {}),
            values=dict(r.get("values") or {}),
        )
        for r in body.get("readings", [])
    ]
    return Report(
        run=info,
        verdict=Verdict(verdict),
        summary=dict(body.get("summary") or {}),
        findings=[finding_from_dict(p) for p in payloads],
        readings=readings,
        schema_version=int(body.get("schema_version", 1)),
        created_at=created_at,
    )


def report_body(report: Report) -> dict[str, Any]:
    """What a stored analysis keeps besides its findings: summary, readings, schema version."""
    return {
        "summary": dict(report.summary),
        "readings": [
            {
                "metric": r.metric,
                "status": r.status,
                "summary": dict(r.summary),
                "values": dict(r.values),
            }
            for r in report.readings
        ],
        "schema_version": report.schema_version,
    }


def write_report(store: Store, report: Report, stamp: str) -> bool:
    """Replace a run's stored analysis and findings, in one transaction. False when the
    store is read-only (the findings are a cache: nothing is lost)."""
    if getattr(store, "readonly", False):
        return False
    run_id = report.run.id
    body = report_body(report)
    now = time.time()
    try:
        with store.transaction() as conn:
            if conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
                return False  # deleted meanwhile
            conn.execute("DELETE FROM findings WHERE run_id = ?", (run_id,))
            conn.executemany(INSERT_FINDING, finding_rows(run_id, report.findings, now))
            conn.execute(
                "INSERT OR REPLACE INTO analyses (run_id, stamp, verdict, n_findings, report, "
                "created_at) VALUES (?,?,?,?,?,?)",
                (run_id, stamp, str(report.verdict), len(report.findings), dumps(body), now),
            )
    except sqlite3.OperationalError as exc:
        if "readonly" in str(exc) or "read-only" in str(exc):
            return False
        raise
    return True


def forget_analysis(store: Store, run_id: str) -> None:
    """Drop a run's stored analysis (its findings stay until the next analysis)."""
    with store.transaction() as conn:
        conn.execute("DELETE FROM analyses WHERE run_id = ?", (run_id,))

"""Diagnoses kept in the store: read them while current, else analyse once and keep them.

``losslens analyze``, ``losslens runs``, the dashboard's runs table, its verdict filter and
its compare page all go through here, so a run is analysed once per state of its points
(and once after an upgrade of losslens, whose analysis may differ): see
:mod:`losslens.store.findings` for what "current" means.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

from losslens.analysis.engine import SCHEMA_VERSION, analyze
from losslens.model import Report, RunData, RunInfo, RunStatus
from losslens.store import StoreProtocol
from losslens.store.dispatch import points_stamps, read_analyses, read_report, write_report
from losslens.store.findings import KeyMark, StoredAnalysis, run_stamp


@functools.cache
def analysis_version() -> str:
    """A digest of the analysis code (every module of ``losslens.analysis``): a stored
    analysis made by other code is stale."""
    import losslens

    h = hashlib.blake2b(digest_size=12)
    h.update(f"{getattr(losslens, '__version__', '')}:{SCHEMA_VERSION}".encode())
    root = Path(__file__).resolve().parent / "analysis"
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode())
        with contextlib.suppress(OSError):
            h.update(path.read_bytes())
    return h.hexdigest()


def stamp(store: StoreProtocol, info: RunInfo) -> str:
    """The stamp of a run as it stands now."""
    return run_stamp(info, points_stamps(store, [info.id])[info.id], analysis_version())


def stamps(
    store: StoreProtocol, infos: Sequence[RunInfo], marks: Sequence[KeyMark] | None = None
) -> dict[str, str]:
    """The stamps of many runs (``marks``: their ``key_marks``, when already read)."""
    pts = points_stamps(store, [i.id for i in infos], marks)
    version = analysis_version()
    return {i.id: run_stamp(i, pts[i.id], version) for i in infos}


def current_report(store: StoreProtocol, info: RunInfo) -> Report | None:
    """The stored report when it was made from the run as it stands, else None."""
    return read_report(store, info, stamp(store, info))


def report_for(
    store: StoreProtocol, info: RunInfo, load: Callable[[], RunData] | None = None
) -> Report:
    """The run's diagnosis: the stored one while current, else a fresh analysis (of
    ``load()``, by default the run read from ``store``), stored for the next reader."""
    now = stamp(store, info)
    report = read_report(store, info, now)
    if report is not None:
        return report
    run = load() if load is not None else store.load(info.id)
    report = analyze(run)
    write_report(store, report, now)
    return report


def save_report(store: StoreProtocol, report: Report, run_stamp_: str | None = None) -> bool:
    """Keep ``report`` (a full analysis: no rule left out) as the run's stored diagnosis."""
    return write_report(store, report, run_stamp_ or stamp(store, report.run))


def verdicts(
    store: StoreProtocol,
    infos: Sequence[RunInfo],
    *,
    analyse: bool = True,
    load: Callable[[RunInfo], RunData] | None = None,
    marks: Sequence[KeyMark] | None = None,
) -> dict[str, StoredAnalysis | None]:
    """The verdict of each run, read from the store in two queries.

    With ``analyse``, a run with no current analysis is analysed now and stored (once: a
    store written before analyses were kept, or a run whose points changed). A running run
    whose stored analysis is stale keeps it (its next points would make a fresh one stale
    at once); one never analysed is analysed.
    """
    now = stamps(store, infos, marks)
    stored = read_analyses(store, now)
    out: dict[str, StoredAnalysis | None] = {}
    for info in infos:
        got = stored.get(info.id)
        fresh = got is not None and got.stamp == now[info.id]
        if fresh or not analyse or (got is not None and info.status is RunStatus.RUNNING):
            out[info.id] = got
            continue
        run = load(info) if load is not None else store.load(info.id)
        report = analyze(run)
        write_report(store, report, now[info.id])
        out[info.id] = StoredAnalysis(
            info.id, now[info.id], str(report.verdict), len(report.findings), report.created_at
        )
    return out

"""What the dashboard's two data sources (SQLite: :mod:`losslens.ui.data`, PostgreSQL:
:mod:`losslens.ui.pgdata`) do alike: runs and their versions, the caches of series and drawn
charts, stored diagnoses, and the incremental analysis of live runs. Each engine supplies
``store()``, ``series()`` and how a live run catches up with new points."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Generic, Protocol, TypeVar

from losslens.analysis.engine import Analyzer
from losslens.model import Report, RunData, RunInfo, RunStatus, Series
from losslens.render.downsample import Candidates
from losslens.stored_analysis import current_report, report_for, stamp
from losslens.ui.source import DashboardStore, E, SeriesCache

#: Drawn charts kept (each a few thousand candidate points).
DRAWN_ENTRIES = 256


class LiveState(Protocol):
    """One live run's incremental analyzer, and the lock of the work that feeds it."""

    analyzer: Analyzer
    lock: threading.Lock


L = TypeVar("L", bound=LiveState)


class SourceBase(Generic[E, L]):
    """The engine-neutral half of a dashboard data source (``E``: a cached series entry,
    ``L``: a live run's state)."""

    def __init__(self, cache_bytes: int) -> None:
        self.cache_bytes = cache_bytes
        self._lock = threading.Lock()
        self._series: SeriesCache[E] = SeriesCache(cache_bytes)
        self._reports: dict[str, tuple[str, Report | None]] = {}
        self._drawn: OrderedDict[tuple[Any, ...], Candidates] = OrderedDict()
        self._live: dict[str, L] = {}
        #: Points read from the store by the live view (its per-poll work, for tests).
        self.points_read = 0
        #: Points read from the store to compare runs (bounded: :mod:`losslens.ui.bounded`).
        self.compare_points_read = 0

    # -- what each engine supplies ----------------------------------------------------------

    def store(self) -> DashboardStore:
        raise NotImplementedError

    def series(self, info: RunInfo, kind: str, key: str, heads: list[Any] | None = None) -> Series:
        raise NotImplementedError

    def _new_live(self, info: RunInfo) -> L:
        raise NotImplementedError

    def _catch_up(self, info: RunInfo, live: L) -> None:
        """Feed the live run's analyzer the points written since it last read."""
        raise NotImplementedError

    def _thread_done(self) -> None:
        """A background worker's thread ends (release what it held)."""

    # -- runs -------------------------------------------------------------------------------

    def runs(self, project: str | None = None) -> list[RunInfo]:
        return self.store().list_runs(project)

    def run(self, ref: str) -> RunInfo:
        return self.store().get_run(ref)

    def heads(self, info: RunInfo) -> list[tuple[int, str, str, int | None]]:
        return self.store().key_heads(info.id)

    def version(self, info: RunInfo, heads: list[Any] | None = None) -> str:
        """Changes when a point is added, or the run's name or status changes."""
        heads = self.heads(info) if heads is None else heads
        mark = (info.name, str(info.status), info.end_time, tuple(h[3] for h in heads))
        return format(abs(hash(mark)), "x")

    # -- series -----------------------------------------------------------------------------

    def _drawn_get(self, dk: tuple[Any, ...]) -> Candidates | None:
        with self._lock:
            hit = self._drawn.get(dk)
            if hit is not None:
                self._drawn.move_to_end(dk)
            return hit

    def _drawn_put(self, dk: tuple[Any, ...], cand: Candidates) -> None:
        with self._lock:
            self._drawn[dk] = cand
            while len(self._drawn) > DRAWN_ENTRIES:
                self._drawn.popitem(last=False)

    def all_series(self, info: RunInfo) -> tuple[dict[str, Series], dict[str, Series]]:
        heads = self.heads(info)
        metric: dict[str, Series] = {}
        system: dict[str, Series] = {}
        for _, kind, key, _ in heads:
            target = system if kind == "system" else metric
            target[key] = self.series(info, kind, key, heads)
        return metric, system

    def run_data(self, info: RunInfo) -> RunData:
        metric, system = self.all_series(info)
        originals = self.store().keys(info.id)
        return RunData(info=info, series=metric, system=system, original_keys=originals)

    def forget(self, run_id: str) -> None:
        with self._lock:
            self._series.forget(run_id)
            self._reports.pop(run_id, None)
            self._live.pop(run_id, None)
            for dk in [k for k in self._drawn if k[0] == run_id]:
                del self._drawn[dk]

    # -- diagnosis --------------------------------------------------------------------------

    def report(self, info: RunInfo) -> Report | None:
        """The run's diagnosis: a live run's from its incremental analyzer, any other run's
        from the store while current (else analysed once, and kept there)."""
        if info.status is RunStatus.RUNNING:
            return self._live_report(info)
        st = self.store()
        now = stamp(st, info)
        with self._lock:
            cached = self._reports.get(info.id)
        if cached is not None and cached[0] == now:
            return cached[1]
        report = report_for(st, info)  # Store.load: one pass, numpy columns
        with self._lock:
            self._reports[info.id] = (now, report)
        return report

    def cached_report(self, info: RunInfo, heads: list[Any] | None = None) -> Report | None:
        """The diagnosis if it is known without analysing: a live run's latest, or the
        one kept in the store when it is current."""
        if info.status is RunStatus.RUNNING:
            with self._lock:
                live = self._live.get(info.id)
            if live is not None and live.analyzer.report is not None:
                return live.analyzer.report
        return current_report(self.store(), info)

    # -- live runs --------------------------------------------------------------------------

    def _live_state(self, info: RunInfo) -> L:
        with self._lock:
            live = self._live.get(info.id)
            if live is None:
                live = self._live[info.id] = self._new_live(info)
        return live

    def _live_report(self, info: RunInfo, wait: bool = True) -> Report | None:
        """The live run's latest findings. ``wait``: bring them up to date first; else the
        work (reading the new points, analysing when due) runs in the background, at most
        one at a time per run, and this returns what is known now."""
        live = self._live_state(info)
        if wait:
            with live.lock:
                self._live_work(info, live)
        elif live.lock.acquire(blocking=False):
            worker = threading.Thread(target=self._live_background, args=(info, live))
            worker.daemon = True
            worker.start()
        return live.analyzer.report

    def _live_work(self, info: RunInfo, live: L) -> None:
        live.analyzer.info = info
        self._catch_up(info, live)
        live.analyzer.refresh()

    def _live_background(self, info: RunInfo, live: L) -> None:
        try:
            self._live_work(info, live)
        finally:
            live.lock.release()
            self._thread_done()


__all__ = ["DRAWN_ENTRIES", "LiveState", "SourceBase"]

"""What the dashboard reads: runs, series kept in memory as numpy, and cached diagnoses.

Reading a million points out of SQLite takes most of a second, so each series is read
once and then only topped up with the rows written since (found by rowid range). A
series is re-checked when the rowid of its last point changes or, for a live run, when
its heartbeat moves. Diagnoses are cached on the same stamp.

Charts do not need every point: a series longer than ``RAW_POINTS`` that is not in memory
yet is drawn from the store's write-time rollups (:meth:`DataSource.drawable`), which
gives the same per-pixel picture from a few thousand rows.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from losslens import keys as K
from losslens.analysis import analyze
from losslens.model import Report, RunData, RunInfo, RunStatus, Series
from losslens.render.downsample import Candidates, column_candidates, straddling
from losslens.store import Store

#: Memory the series cache may hold before it drops the least recently used series.
CACHE_BYTES = 1 << 30
#: Series up to this many points are read whole (and cached); longer ones are drawn from
#: rollups until something needs all their points.
RAW_POINTS = 65_536
#: Drawings kept (per run, key, width and range).
DRAWN_ENTRIES = 256


@dataclass
class _Entry:
    key_id: int
    head: int | None
    beat: tuple[Any, ...]
    top: int
    series: Series

    @property
    def nbytes(self) -> int:
        s = self.series
        return int(s.steps.nbytes + s.values.nbytes + s.wall_times.nbytes)


def _merge(old: Series, steps: Any, values: Any, walls: Any) -> Series:
    """``old`` plus rows appended later (ties keep logging order: old rows first)."""
    if not len(steps):
        return old
    s = np.concatenate([old.steps, steps])
    v = np.concatenate([old.values, values])
    w = np.concatenate([old.wall_times, walls])
    if (len(old) and steps.min() < old.steps[-1]) or np.any(np.diff(steps) < 0):
        order = np.argsort(s, kind="stable")
        s, v, w = s[order], v[order], w[order]
    return Series(old.key, s, v, w)


class DataSource:
    """Thread-safe access to one store for the web app (one SQLite connection per thread)."""

    def __init__(self, store_path: str | Path, cache_bytes: int = CACHE_BYTES) -> None:
        self.store_path = store_path
        self.cache_bytes = cache_bytes
        self._local = threading.local()
        self._lock = threading.Lock()
        self._series: OrderedDict[tuple[str, str, str], _Entry] = OrderedDict()
        self._reports: dict[str, tuple[tuple[Any, ...], Report | None]] = {}
        self._bytes = 0
        self._drawn: OrderedDict[tuple[Any, ...], Candidates] = OrderedDict()
        Store(store_path, create=False).close()  # fail early, with the store's own message

    def store(self) -> Store:
        st: Store | None = getattr(self._local, "store", None)
        if st is None:
            st = Store(self.store_path, create=False)
            self._local.store = st
        return st

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
        stamp = (info.name, str(info.status), info.end_time, tuple(h[3] for h in heads))
        return format(abs(hash(stamp)), "x")

    # -- series -----------------------------------------------------------------------------

    def series(self, info: RunInfo, kind: str, key: str, heads: list[Any] | None = None) -> Series:
        """One series, from memory when nothing was written since it was read."""
        heads = self.heads(info) if heads is None else heads
        head = next(((h[0], h[3]) for h in heads if h[1] == kind and h[2] == key), None)
        if head is None:
            return Series.from_lists(key, [], [])
        key_id, last = head
        beat = (str(info.status), info.heartbeat if info.status is RunStatus.RUNNING else None)
        ck = (info.id, kind, key)
        with self._lock:
            entry = self._series.get(ck)
            if entry is not None:
                self._series.move_to_end(ck)
        fresh = entry is not None and (entry.key_id, entry.head, entry.beat) == (key_id, last, beat)
        if entry is not None and fresh:
            return entry.series
        st = self.store()
        with_wall = kind == "system"
        if entry is None or entry.key_id != key_id:
            steps, values, walls, top = st.read_points(key_id, with_wall=with_wall)
            series = Series(key, steps, values, walls)
        else:
            steps, values, walls, top = st.read_points(
                key_id, after_rowid=entry.top, with_wall=with_wall
            )
            series = _merge(entry.series, steps, values, walls)
        new = _Entry(key_id, last, beat, top, series)
        with self._lock:
            old = self._series.pop(ck, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._series[ck] = new
            self._bytes += new.nbytes
            while self._bytes > self.cache_bytes and len(self._series) > 1:
                _, dropped = self._series.popitem(last=False)
                self._bytes -= dropped.nbytes
        return series

    def drawable(
        self,
        info: RunInfo,
        kind: str,
        key: str,
        heads: list[Any],
        width: int,
        step_min: int | None = None,
        step_max: int | None = None,
    ) -> Series | Candidates:
        """What to draw one series from: the whole :class:`Series` when it is in memory or
        short, else :class:`Candidates` computed from the rollups (cached)."""
        head = next(((h[0], h[3]) for h in heads if h[1] == kind and h[2] == key), None)
        if head is None:
            return Series.from_lists(key, [], [])
        key_id, last = head
        beat = (str(info.status), info.heartbeat if info.status is RunStatus.RUNNING else None)
        with self._lock:
            entry = self._series.get((info.id, kind, key))
        if entry is not None and (entry.key_id, entry.head, entry.beat) == (key_id, last, beat):
            return entry.series
        st = self.store()
        if st.count_in(key_id, None, None) <= RAW_POINTS:
            return self.series(info, kind, key, heads)
        dk = (info.id, kind, key, key_id, last, beat, width, step_min, step_max)
        with self._lock:
            hit = self._drawn.get(dk)
            if hit is not None:
                self._drawn.move_to_end(dk)
                return hit
        cand = draw_from_rollups(st, key_id, width, step_min, step_max)
        with self._lock:
            self._drawn[dk] = cand
            while len(self._drawn) > DRAWN_ENTRIES:
                self._drawn.popitem(last=False)
        return cand

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
            for ck in [k for k in self._series if k[0] == run_id]:
                self._bytes -= self._series.pop(ck).nbytes
            self._reports.pop(run_id, None)
            for dk in [k for k in self._drawn if k[0] == run_id]:
                del self._drawn[dk]

    # -- diagnosis --------------------------------------------------------------------------

    def _report_stamp(self, info: RunInfo, heads: list[Any] | None) -> tuple[Any, ...]:
        heads = self.heads(info) if heads is None else heads
        return (str(info.status), tuple(h[3] for h in heads))

    def report(self, info: RunInfo) -> Report | None:
        """The run's diagnosis (``losslens.analysis.analyze``), recomputed when points change."""
        stamp = self._report_stamp(info, None)
        with self._lock:
            cached = self._reports.get(info.id)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        report = analyze(self.run_data(info))
        with self._lock:
            self._reports[info.id] = (stamp, report)
        return report

    def cached_report(self, info: RunInfo, heads: list[Any] | None = None) -> Report | None:
        """The diagnosis if it is already known for the run's current points, else None."""
        with self._lock:
            cached = self._reports.get(info.id)
        if cached is None:
            return None
        return cached[1] if cached[0] == self._report_stamp(info, heads) else None

    def loss_stats(self, info: RunInfo, heads: list[Any] | None = None) -> dict[str, float | None]:
        """Final and best train loss (and best eval loss) for the runs table."""
        heads = self.heads(info) if heads is None else heads
        names = {h[2] for h in heads if h[1] == "metric"}
        out: dict[str, float | None] = {"final_loss": None, "best_loss": None, "best_eval": None}
        for canon, fields in (
            (K.LOSS, ("final_loss", "best_loss")),
            (K.EVAL_LOSS, (None, "best_eval")),
        ):
            key = K.resolve(names, canon)
            if key is None:
                continue
            fin = self.series(info, "metric", key, heads).finite
            if not len(fin):
                continue
            if fields[0]:
                out[fields[0]] = float(fin.values[-1])
            out[fields[1]] = float(fin.values.min())
        return out


def draw_from_rollups(
    st: Store, key_id: int, width: int, step_min: int | None, step_max: int | None
) -> Candidates:
    """The points that draw key ``key_id`` at ``width`` px over ``[step_min, step_max]``
    (plus the points just outside, as the chart draws them) exactly as all its points would:
    summaries that fall in one pixel column, raw points for the rest."""
    with st.snapshot():
        subs = st.rollup_subs(key_id, step_min, step_max)
        inside = np.ones(len(subs), dtype=bool)
        lo = step_min if step_min is not None else np.iinfo(np.int64).min
        hi = step_max if step_max is not None else np.iinfo(np.int64).max
        if step_min is not None:
            inside &= subs["s_lo"] >= step_min
        if step_max is not None:
            inside &= subs["s_hi"] <= step_max
        part = subs[~inside]
        spans = np.stack(
            [
                np.maximum(part["s_lo"], lo),
                np.minimum(part["s_hi"], hi),
                part["r_lo"],
                part["r_hi"],
            ],
            axis=1,
        )
        raw_s, raw_v = st.points_in(key_id, spans[spans[:, 0] <= spans[:, 1]])
        edges = [
            st.neighbour(key_id, step_min, before=True) if step_min is not None else None,
            st.neighbour(key_id, step_max, before=False) if step_max is not None else None,
        ]
        for e in edges:
            if e is not None:
                raw_s = np.r_[raw_s, np.int64(e[0])]
                raw_v = np.r_[raw_v, e[1]]
        whole = subs if inside.all() else subs[inside]
        n_total = int(whole["n"].sum()) + len(raw_s)
        cross = straddling(whole, raw_s, raw_v, width)
        if cross.any():
            w = whole[cross]
            more_s, more_v = st.points_in(
                key_id, np.stack([w["s_lo"], w["s_hi"], w["r_lo"], w["r_hi"]], axis=1)
            )
            raw_s, raw_v = np.r_[raw_s, more_s], np.r_[raw_v, more_v]
    return column_candidates(whole, raw_s, raw_v, width, n_total, use=~cross)

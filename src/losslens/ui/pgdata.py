"""What the dashboard reads from the PostgreSQL store: :class:`PgDataSource`.

The same interface as :class:`losslens.ui.data.DataSource`
(:class:`losslens.ui.source.DashboardData`), over one shared
:class:`~losslens.store.pg.PgStore` (its connection pool is thread-safe):

* **charts** of a series longer than :data:`RAW_POINTS` (or of a zoomed range holding more)
  are summarised by PostgreSQL in one query per series, per pixel column: the first, last,
  smallest and largest finite point, the first non-finite point, the last point when it is
  not finite, and the column's mean (:meth:`PgReads.step_buckets`). At most a few points
  per column leave the database, every column's minimum and maximum and first NaN/±Inf
  among them; a range with fewer points is read exactly;
* **verdicts and findings** are the stored analyses (:mod:`losslens.stored_analysis`): a
  run is analysed once per state of its points, by whichever process asks first;
* **the live view** reads by step: the metric points past the page's last step, and for the
  incremental analysis of a running run the points past the last step it has read of each
  key (a point that arrives later with a lower step is not fed to it; the stored analysis
  of the finished run reads everything);
* **the runs table** gets every run's keys in one query, its loss columns in one query
  (cached per state of the keys) and the stored verdicts.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from losslens import keys as K
from losslens.analysis.compare import choose_basis, choose_metric, epoch_series
from losslens.analysis.engine import Analyzer
from losslens.model import RunData, RunInfo, RunStatus, Series
from losslens.render.downsample import BucketMeans, Candidates
from losslens.store.findings import StoredAnalysis
from losslens.store.pg import PgStore
from losslens.store.rollups import I64_MAX
from losslens.stored_analysis import verdicts
from losslens.ui.bounded import FINITE, GROUPS, WHOLE, WINDOW, _horizon_step
from losslens.ui.common import SourceBase

#: Memory the series cache may hold before it drops the least recently used series.
CACHE_BYTES = 1 << 30
#: A series (or a zoomed range) up to this many points is read whole; longer ones are
#: summarised by PostgreSQL per pixel column.
RAW_POINTS = 65_536

_FINITE = "abs(value) < 'Infinity'::float8"


@dataclass
class _Entry:
    key_id: int
    head: int | None
    beat: tuple[Any, ...]
    series: Series

    @property
    def nbytes(self) -> int:
        s = self.series
        return int(s.steps.nbytes + s.values.nbytes + s.wall_times.nbytes)


@dataclass
class _Live:
    """The incremental analysis of one live run, and the last step it has read per key."""

    analyzer: Analyzer
    after: dict[int, int | None]
    lock: threading.Lock


class PgDataSource(SourceBase[_Entry, _Live]):
    """Thread-safe access to a PostgreSQL store for the web app: ``store`` is a shared
    :class:`PgStore` (or a URL, for which one is opened and owned)."""

    def __init__(self, store: PgStore | str, cache_bytes: int = CACHE_BYTES) -> None:
        self._owned = isinstance(store, str)
        self._store = PgStore(store, create=False, pool_size=8) if isinstance(store, str) else store
        super().__init__(cache_bytes)
        #: Per loss key: its head when read, its last finite value and its minimum.
        self._stats: dict[int, tuple[int | None, float | None, float | None]] = {}

    @property
    def store_path(self) -> str:
        return self._store.path

    def store(self) -> PgStore:
        return self._store

    def close(self) -> None:
        """Close the store when this opened it (a shared one stays open)."""
        if self._owned:
            self._store.close()

    # -- runs -------------------------------------------------------------------------------

    def data_version(self) -> int:
        """Changes when a transaction takes an id or ends anywhere in the cluster (the
        current snapshot's text): one cheap look, no table read."""
        rows = self._store._all("SELECT pg_current_snapshot()::text")
        return hash(str(rows[0][0]))

    # -- series -----------------------------------------------------------------------------

    @staticmethod
    def _head(heads: list[Any], kind: str, key: str) -> tuple[int, int | None] | None:
        return next(((h[0], h[3]) for h in heads if h[1] == kind and h[2] == key), None)

    @staticmethod
    def _beat(info: RunInfo) -> tuple[Any, ...]:
        return (str(info.status), info.heartbeat if info.status is RunStatus.RUNNING else None)

    def series(self, info: RunInfo, kind: str, key: str, heads: list[Any] | None = None) -> Series:
        """One whole series, from memory when nothing was written since it was read."""
        heads = self.heads(info) if heads is None else heads
        head = self._head(heads, kind, key)
        if head is None:
            return Series.from_lists(key, [], [])
        key_id, last = head
        beat = self._beat(info)
        ck = (info.id, kind, key)
        entry = self._series.get(ck)
        if entry is not None and (entry.key_id, entry.head, entry.beat) == (key_id, last, beat):
            return entry.series
        steps, values, walls, _ = self._store.read_points(key_id, with_wall=kind == "system")
        series = Series(key, steps, values, walls)
        new = _Entry(key_id, last, beat, series)
        self._series.put(ck, new)
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
        short, the exact points of a range that holds few, else :class:`Candidates`
        summarised per pixel column by PostgreSQL (cached per state of the key)."""
        head = self._head(heads, kind, key)
        if head is None:
            return Series.from_lists(key, [], [])
        key_id, last = head
        beat = self._beat(info)
        entry = self._series.get((info.id, kind, key))
        if entry is not None and (entry.key_id, entry.head, entry.beat) == (key_id, last, beat):
            return entry.series
        st = self._store
        if st.count_in(key_id, None, None) <= RAW_POINTS:
            return self.series(info, kind, key, heads)
        dk = (info.id, kind, key, key_id, last, beat, width, step_min, step_max)
        hit = self._drawn_get(dk)
        if hit is not None:
            return hit
        ranged = step_min is not None or step_max is not None
        if ranged and st.count_in(key_id, step_min, step_max) <= RAW_POINTS:
            return self._range_series(key, key_id, step_min, step_max, kind == "system")
        cand = self._candidates(key_id, width, step_min, step_max)
        self._drawn_put(dk, cand)
        return cand

    def _edges(self, key_id: int, step_min: int | None, step_max: int | None) -> list[Any]:
        """The points just outside a range (a chart draws the line to them)."""
        st = self._store
        edges = [
            st.neighbour(key_id, step_min, before=True) if step_min is not None else None,
            st.neighbour(key_id, step_max, before=False) if step_max is not None else None,
        ]
        return [e for e in edges if e is not None]

    def _range_series(
        self, key: str, key_id: int, lo: int | None, hi: int | None, wall: bool
    ) -> Series:
        steps, values, walls, _ = self._store.read_range(key_id, lo, hi, with_wall=wall)
        edges = self._edges(key_id, lo, hi)
        if edges:
            steps = np.r_[steps, np.array([e[0] for e in edges], np.int64)]
            values = np.r_[values, np.array([e[1] for e in edges], np.float64)]
            walls = np.r_[walls, np.full(len(edges), np.nan)]
            order = np.argsort(steps, kind="stable")
            steps, values, walls = steps[order], values[order], walls[order]
        return Series(key, steps, values, walls)

    def _candidates(
        self, key_id: int, width: int, step_min: int | None, step_max: int | None
    ) -> Candidates:
        """Per pixel column (one PostgreSQL bucket of steps): the first, last, smallest and
        largest finite point, the first non-finite one and a non-finite last point; the
        points just outside the range; the columns' means; the range's point count."""
        subs = self._store.step_buckets(key_id, step_min, step_max, max(1, int(width)))
        fin = subs[subs["nf"] > 0]
        bad = subs[subs["s_bad"] != I64_MAX]
        hi_bad = subs[~np.isfinite(subs["v_hi"])]
        edges = self._edges(key_id, step_min, step_max)
        steps = np.concatenate(
            [
                fin["s_first"], fin["s_last"], fin["s_min"], fin["s_max"], bad["s_bad"],
                hi_bad["s_hi"], np.array([e[0] for e in edges], np.int64),
            ]
        ).astype(np.int64)  # fmt: skip
        values = np.concatenate(
            [
                fin["v_first"], fin["v_last"], fin["v_min"], fin["v_max"], bad["v_bad"],
                hi_bad["v_hi"], np.array([e[1] for e in edges], np.float64),
            ]
        ).astype(np.float64)  # fmt: skip
        table = np.stack([steps, values.view(np.int64)], axis=1)
        _, keep = np.unique(table, axis=0, return_index=True)  # one row per (step, value)
        keep = keep[np.argsort(steps[keep], kind="stable")]
        nf = fin["nf"].astype(np.float64)
        means = BucketMeans(fin["s_sum"] / nf, fin["v_sum"] / nf, fin["nf"].astype(np.int64))
        n_total = int(subs["n"].sum()) + len(edges)
        return Candidates(steps[keep], values[keep], n_total, means)

    def compare_data(self, infos: list[RunInfo]) -> list[RunData]:
        """The runs as a comparison needs them: the compared metric and the epochs, a long
        series read as a bounded sample that ranks exactly, as :mod:`losslens.ui.bounded`
        reads it on SQLite: every point of two windows (the last points up to the horizon,
        and the last points of the run), PostgreSQL's summaries elsewhere."""
        heads = [self.heads(i) for i in infos]
        names = [{h[2]: int(h[0]) for h in hs if h[1] == "metric"} for hs in heads]
        metric, _ = choose_metric([set(n) for n in names])
        runs: list[RunData] = []
        read = 0
        for info, ids in zip(infos, names, strict=True):
            series: dict[str, Series] = {}
            ekey = K.resolve(set(ids), K.EPOCH)
            if ekey is not None:
                series[ekey], n = self._bounded(ids[ekey], ekey, [])
                read += n
            runs.append(RunData(info=info, series=series))
        keys = [K.resolve(set(ids), metric) if metric else None for ids in names]
        lasts: list[float] = []
        basis = choose_basis(runs) if metric else "step"
        for run, ids, key in zip(runs, names, keys, strict=True):
            span = self._store.step_span(ids[key], None, None) if key is not None else None
            if span is None:
                continue
            e = epoch_series(run) if basis == "epoch" else None
            x = np.interp(span[1], e.steps.astype(np.float64), e.values) if e else span[1]
            lasts.append(float(x))
        horizon = min(lasts) if lasts else None
        for run, ids, key in zip(runs, names, keys, strict=True):
            if key is None or key in run.series:
                continue
            kid = ids[key]
            windows: list[tuple[int | None, int | None]] = [(self._back(kid, None), None)]
            if horizon is not None:
                hi = _horizon_step(run, basis, horizon)
                windows.append((self._back(kid, hi), hi))
            run.series[key], n = self._bounded(kid, key, windows)
            read += n
        with self._lock:
            self.compare_points_read += read
        return runs

    def _back(self, key_id: int, upto: int | None) -> int | None:
        """Where the window that ends at ``upto`` starts (:func:`losslens.ui.bounded._back`):
        the last :data:`WINDOW` points, or further back to hold :data:`FINITE` finite ones
        when the last point is finite; None when that reaches the first point."""
        st = self._store
        a = st.nth_back(key_id, upto, WINDOW)
        if a is None:
            return None
        _, values, _, _ = st.read_range(key_id, a, upto)
        if not len(values) or not np.isfinite(values[-1]) or np.isfinite(values).sum() >= FINITE:
            return a
        return st.nth_back(key_id, upto, FINITE, finite=True)

    def _bounded(
        self, key_id: int, key: str, windows: list[tuple[int | None, int | None]]
    ) -> tuple[Series, int]:
        """The key whole when short, else every point in ``windows`` and, per slice of the
        steps between them, the first, smallest, largest and last finite point and the
        first non-finite one; and how many points were read."""
        st = self._store
        if st.count_in(key_id, None, None) <= WHOLE:
            steps, values, _, n = st.read_points(key_id)
            return Series(key, steps, values, np.full(n, np.nan)), n
        lo_all = np.iinfo(np.int64).min
        spans: list[tuple[int, int]] = []
        for lo, hi in sorted(windows, key=lambda w: w[0] if w[0] is not None else lo_all):
            a = lo if lo is not None else lo_all
            b = hi if hi is not None else int(I64_MAX)
            if spans and a <= spans[-1][1] + 1:
                spans[-1] = (spans[-1][0], max(spans[-1][1], b))
            else:
                spans.append((a, b))
        parts_s: list[Any] = []
        parts_v: list[Any] = []
        read = 0
        gap_lo: int | None = None
        gaps: list[tuple[int | None, int | None]] = []
        for a, b in spans:
            if a > lo_all:
                gaps.append((gap_lo, a - 1))
            gap_lo = b + 1 if b < int(I64_MAX) else None
            steps, values, _, n = st.read_range(key_id, a, b)
            parts_s.append(steps)
            parts_v.append(values)
            read += n
        if not spans or spans[-1][1] < int(I64_MAX):
            gaps.append((gap_lo, None))
        for lo, hi in gaps:
            subs = st.step_buckets(key_id, lo, hi, GROUPS)
            fin = subs[subs["nf"] > 0]
            bad = subs[subs["s_bad"] != I64_MAX]
            for s_col, v_col in (("s_first", "v_first"), ("s_min", "v_min"),
                                 ("s_max", "v_max"), ("s_last", "v_last")):  # fmt: skip
                parts_s.append(fin[s_col])
                parts_v.append(fin[v_col])
            parts_s.append(bad["s_bad"])
            parts_v.append(bad["v_bad"])
        steps = np.concatenate(parts_s).astype(np.int64)
        values = np.concatenate(parts_v).astype(np.float64)
        table = np.stack([steps, values.view(np.int64)], axis=1)
        _, keep = np.unique(table, axis=0, return_index=True)
        keep = keep[np.argsort(steps[keep], kind="stable")]
        return Series(key, steps[keep], values[keep], np.full(len(keep), np.nan)), read

    # -- diagnosis --------------------------------------------------------------------------

    def verdicts(
        self, infos: list[RunInfo], *, analyse: bool = True
    ) -> dict[str, StoredAnalysis | None]:
        """Stored verdicts of many runs; runs without one are analysed once (``analyse``)
        and kept in the store."""
        return verdicts(self._store, infos, analyse=analyse)

    # -- the live view ------------------------------------------------------------------------

    def _new_live(self, info: RunInfo) -> _Live:
        return _Live(Analyzer(info), {}, threading.Lock())

    def _catch_up(self, info: RunInfo, live: _Live) -> None:
        """Feed the analyzer every key's points past the last step it read of that key."""
        heads = self.heads(info)
        kinds = {h[0]: (h[1], h[2]) for h in heads}
        after = {kid: live.after.get(kid) for kid in kinds}
        after = {k: a for k, a in after.items() if a is None or a < int(I64_MAX)}
        for kid, steps, values, walls in self._store.points_after(info.id, after):
            kind, key = kinds[kid]
            self.points_read += len(steps)
            live.analyzer.feed_arrays(key, steps, values, walls, system=kind == "system")
            live.after[kid] = int(steps[-1])

    def live_poll(self, info: RunInfo, after_step: int, *, wait: bool = True) -> dict[str, Any]:
        """The metric points logged past ``after_step`` (every one, by step: one query on
        the run's partition) and the findings as they stand. Without ``wait`` the findings
        are brought up to date in the background."""
        heads = self.heads(info)
        names = {h[0]: h[2] for h in heads if h[1] == "metric"}
        points: dict[str, dict[str, list[Any]]] = {}
        last = after_step
        for kid, steps, values, _ in self._store.points_after(
            info.id, dict.fromkeys(names, after_step)
        ):
            self.points_read += len(steps)
            points[names[kid]] = {
                "x": [int(s) for s in steps.tolist()],
                "y": [v if np.isfinite(v) else None for v in values.tolist()],
            }
            last = max(last, int(steps[-1]))
        report = self._live_report(info, wait) if info.status is RunStatus.RUNNING else None
        if report is None:
            report = self.cached_report(info)
        return {"last_step": last, "points": points, "report": report}

    # -- the runs table -------------------------------------------------------------------------

    def loss_stats(self, info: RunInfo, heads: list[Any] | None = None) -> dict[str, float | None]:
        """Final and best train loss (and best eval loss) for the runs table."""
        heads = self.heads(info) if heads is None else heads
        return self._loss_stats({info.id: heads})[info.id]

    def _loss_stats(self, heads: dict[str, list[Any]]) -> dict[str, dict[str, float | None]]:
        """Per run: the last finite train loss by step, the smallest finite train loss and
        the smallest finite eval loss; one query for the keys not seen in this state."""
        wanted: dict[str, dict[str, tuple[int, int | None]]] = {}
        for run_id, hs in heads.items():
            ids = {h[2]: (int(h[0]), h[3]) for h in hs if h[1] == "metric"}
            pick = {}
            for canon, name in ((K.LOSS, "loss"), (K.EVAL_LOSS, "eval")):
                key = K.resolve(set(ids), canon)
                if key is not None:
                    pick[name] = ids[key]
            wanted[run_id] = pick
        with self._lock:
            todo = sorted(
                h
                for h in {h for p in wanted.values() for h in p.values()}
                if h[0] not in self._stats or self._stats[h[0]][0] != h[1]
            )
        if todo:
            rows = self._store._all(
                "SELECT k.id, "
                "(SELECT p.value FROM points p WHERE p.run_id = k.run_id AND p.key_id = k.id "
                f"AND {_FINITE.replace('value', 'p.value')} ORDER BY p.step DESC LIMIT 1), "
                "(SELECT min(p.value) FROM points p WHERE p.run_id = k.run_id "
                f"AND p.key_id = k.id AND {_FINITE.replace('value', 'p.value')}) "
                "FROM metric_keys k WHERE k.id = ANY(%s)",
                ([k for k, _ in todo],),
            )
            got = {int(r[0]): (r[1], r[2]) for r in rows}
            with self._lock:
                for kid, head in todo:
                    final, best = got.get(kid, (None, None))
                    self._stats[kid] = (
                        head,
                        None if final is None else float(final),
                        None if best is None else float(best),
                    )
        out: dict[str, dict[str, float | None]] = {}
        for run_id, pick in wanted.items():
            loss, ev = pick.get("loss"), pick.get("eval")
            _, lf, lb = self._stats[loss[0]] if loss is not None else (None, None, None)
            _, _, eb = self._stats[ev[0]] if ev is not None else (None, None, None)
            out[run_id] = {"final_loss": lf, "best_loss": lb, "best_eval": eb}
        return out

    def table(
        self, infos: list[RunInfo], *, analyse: bool = True
    ) -> tuple[dict[str, list[Any]], dict[str, dict[str, float | None]], dict[str, Any]]:
        """What the runs table shows of many runs: each run's keys (as :meth:`heads`), its
        loss columns and its stored verdict (runs never analysed are analysed once, with
        ``analyse``)."""
        heads: dict[str, list[Any]] = {
            k: list(v) for k, v in self._store.key_heads_of([i.id for i in infos]).items()
        }
        found = verdicts(self._store, infos, analyse=analyse)
        return heads, self._loss_stats(heads), dict(found)


__all__ = ["CACHE_BYTES", "RAW_POINTS", "PgDataSource"]

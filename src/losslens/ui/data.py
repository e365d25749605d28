"""What the dashboard reads: runs, series kept in memory as numpy, and cached diagnoses.

Reading a million points out of SQLite takes most of a second, so each series is read
once and then only topped up with the rows written since (found by rowid range). A
series is re-checked when the rowid of its last point changes or, for a live run, when
its heartbeat moves. Diagnoses are cached on the same stamp.

Charts do not need every point: a series longer than ``RAW_POINTS`` that is not in memory
yet is drawn from the store's write-time rollups (:meth:`DataSource.drawable`), which
gives the same per-pixel picture from a few thousand rows.

Diagnoses are read from the store while current (:mod:`losslens.stored_analysis`): a run
is analysed once per state of its points, by whichever process asks first. A live run has
one incremental :class:`~losslens.analysis.engine.Analyzer` here, fed only the points
written since the last poll (:meth:`DataSource.live_poll`): a poll costs what is new.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from losslens import keys as K
from losslens.analysis.engine import Analyzer
from losslens.model import RunData, RunInfo, RunStatus, Series
from losslens.render.downsample import Candidates, column_candidates, straddling
from losslens.store import Store
from losslens.store.columns import run_columns
from losslens.store.findings import StoredAnalysis, key_marks
from losslens.store.rollups import from_blob
from losslens.stored_analysis import verdicts
from losslens.ui.bounded import compare_inputs
from losslens.ui.common import SourceBase

#: Memory the series cache may hold before it drops the least recently used series.
CACHE_BYTES = 1 << 30
#: Series up to this many points are read whole (and cached); longer ones are drawn from
#: rollups until something needs all their points.
RAW_POINTS = 65_536


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


@dataclass
class _Live:
    """The incremental analysis of one live run, and how far into the points it has read."""

    analyzer: Analyzer
    top: int
    lock: threading.Lock


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


class DataSource(SourceBase[_Entry, _Live]):
    """Thread-safe access to one store for the web app (one SQLite connection per thread)."""

    def __init__(self, store_path: str | Path, cache_bytes: int = CACHE_BYTES) -> None:
        super().__init__(cache_bytes)
        self.store_path = store_path
        self._local = threading.local()
        first = Store(store_path, create=False)  # fail early, with the store's own message
        path = first.path
        first.close()
        #: One connection that only asks ``PRAGMA data_version``: it changes whenever any
        #: other connection (another process, or this one's other threads) commits.
        self._watch = sqlite3.connect(str(path), check_same_thread=False)
        self._table: tuple[Any, ...] | None = None

    def store(self) -> Store:
        st: Store | None = getattr(self._local, "store", None)
        if st is None:
            st = Store(self.store_path, create=False)
            self._local.store = st
        return st

    # -- runs -------------------------------------------------------------------------------

    def data_version(self) -> int:
        """A number that changes when another connection commits to the store (SQLite's
        ``PRAGMA data_version``, on this thread's connection): one cheap look, no read."""
        row = self.store().conn.execute("PRAGMA data_version").fetchone()
        return int(row[0])

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
        entry = self._series.get(ck)
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
        short, else :class:`Candidates` computed from the rollups (cached)."""
        head = next(((h[0], h[3]) for h in heads if h[1] == kind and h[2] == key), None)
        if head is None:
            return Series.from_lists(key, [], [])
        key_id, last = head
        beat = (str(info.status), info.heartbeat if info.status is RunStatus.RUNNING else None)
        entry = self._series.get((info.id, kind, key))
        if entry is not None and (entry.key_id, entry.head, entry.beat) == (key_id, last, beat):
            return entry.series
        st = self.store()
        if st.count_in(key_id, None, None) <= RAW_POINTS:
            return self.series(info, kind, key, heads)
        dk = (info.id, kind, key, key_id, last, beat, width, step_min, step_max)
        hit = self._drawn_get(dk)
        if hit is not None:
            return hit
        cand = draw_from_rollups(st, key_id, width, step_min, step_max)
        self._drawn_put(dk, cand)
        return cand

    def compare_data(self, infos: list[RunInfo]) -> list[RunData]:
        """The runs as a comparison needs them: the compared metric and the epochs, a long
        series read as a bounded sample that ranks exactly (:mod:`losslens.ui.bounded`)."""
        st = self.store()
        runs, n = compare_inputs(st, infos, [self.heads(i) for i in infos])
        with self._lock:
            self.compare_points_read += n
        return runs

    # -- diagnosis --------------------------------------------------------------------------

    def verdicts(
        self, infos: list[RunInfo], *, analyse: bool = True
    ) -> dict[str, StoredAnalysis | None]:
        """Stored verdicts of many runs in two queries; runs without one are analysed once
        (``analyse``) and kept in the store (:func:`losslens.stored_analysis.verdicts`)."""
        st = self.store()
        return verdicts(st, infos, analyse=analyse and not st.readonly)

    # -- the live view ------------------------------------------------------------------------

    def _new_live(self, info: RunInfo) -> _Live:
        return _Live(Analyzer(info), 0, threading.Lock())

    def _thread_done(self) -> None:
        st: Store | None = getattr(self._local, "store", None)
        if st is not None:  # this thread ends: its connection goes with it
            st.close()
            self._local.store = None

    def _catch_up(self, info: RunInfo, live: _Live) -> None:
        """Feed the analyzer the points written since it last read (by rowid: O(new))."""
        st = self.store()
        heads = self.heads(info)
        kinds = {h[0]: (h[1], h[2]) for h in heads}
        if not kinds:
            return
        marks = ",".join("?" * len(kinds))
        with st.snapshot():
            top = int(st.conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM points").fetchone()[0])
            if top <= live.top:
                return
            if live.top == 0:  # the first poll: the whole run, in one pass, as numpy columns
                for kind in ("metric", "system"):
                    for key, (steps, values, walls) in run_columns(st.conn, info.id, kind).items():
                        self.points_read += len(steps)
                        live.analyzer.feed_arrays(
                            key, steps, values, walls, system=kind == "system"
                        )
                live.top = top
                return
            rows = st.conn.execute(
                "SELECT key_id, step, value, wall_time FROM points WHERE rowid > ? AND rowid <= ? "
                f"AND +key_id IN ({marks}) ORDER BY rowid",
                (live.top, top, *kinds),
            ).fetchall()
        live.top = top
        self.points_read += len(rows)
        if not rows:
            return
        table = np.array(rows, dtype=object)
        kid = table[:, 0].astype(np.int64)
        for k in np.unique(kid).tolist():
            sel = table[kid == k]
            kind, key = kinds[int(k)]
            live.analyzer.feed_arrays(
                key,
                sel[:, 1].astype(np.int64),
                sel[:, 2].astype(np.float64),
                sel[:, 3].astype(np.float64),
                system=kind == "system",
            )

    def live_poll(self, info: RunInfo, after_step: int, *, wait: bool = True) -> dict[str, Any]:
        """What a live run page needs after the last step it has: the metric points logged
        past ``after_step`` (every one) and the findings as they stand. The page asks with
        its last step; the cost is the points written since, not the run's length. Without
        ``wait`` the findings are brought up to date in the background (the first poll of
        a long run reads and analyses it all once) and the points come back at once."""
        st = self.store()
        heads = self.heads(info)
        points: dict[str, dict[str, list[Any]]] = {}
        last = after_step
        with st.snapshot():
            for key_id, kind, key, _ in heads:
                if kind != "metric":
                    continue
                rows = st.conn.execute(
                    "SELECT step, value FROM points WHERE key_id = ? AND step > ? "
                    "ORDER BY step, rowid",
                    (key_id, after_step),
                ).fetchall()
                self.points_read += len(rows)
                if rows:
                    points[key] = {
                        "x": [int(r[0]) for r in rows],
                        "y": [_finite_or_none(r[1]) for r in rows],
                    }
                    last = max(last, int(rows[-1][0]))
        report = self._live_report(info, wait) if info.status is RunStatus.RUNNING else None
        if report is None:
            report = self.cached_report(info)
        return {"last_step": last, "points": points, "report": report}

    def loss_stats(self, info: RunInfo, heads: list[Any] | None = None) -> dict[str, float | None]:
        """Final and best train loss (and best eval loss) for the runs table, from the
        rollups and one index lookup: no series is read."""
        heads = self.heads(info) if heads is None else heads
        return loss_stats(self.store(), {info.id: heads})[info.id]

    def store_version(self) -> int:
        """Changes whenever anything is committed to the store, by any connection."""
        with self._lock:
            return int(self._watch.execute("PRAGMA data_version").fetchone()[0])

    def table(
        self, infos: list[RunInfo], *, analyse: bool = True
    ) -> tuple[dict[str, list[Any]], dict[str, dict[str, float | None]], dict[str, Any]]:
        """What the runs table shows of many runs, in a handful of queries: each run's keys
        (as :meth:`heads`), its loss columns and its stored verdict (runs never analysed
        are analysed once, with ``analyse``). While nothing is committed to the store, the
        same runs get the same answer again without a query (the runs page right after
        ``/api/runs``, a reload)."""
        version = self.store_version()
        ask = (tuple((i.id, str(i.status), i.name) for i in infos), analyse)
        with self._lock:
            memo = self._table
        if memo is not None and memo[0] == version and memo[1] == ask:
            out: tuple[Any, Any, Any] = memo[2]
            return out
        out = self._read_table(infos, analyse)
        with self._lock:
            self._table = (version, ask, out)
        return out

    def _read_table(
        self, infos: list[RunInfo], analyse: bool
    ) -> tuple[dict[str, list[Any]], dict[str, dict[str, float | None]], dict[str, Any]]:
        st = self.store()
        marks = key_marks(st.conn, [i.id for i in infos])
        heads: dict[str, list[Any]] = {i.id: [] for i in infos}
        for run_id, kid, kind, key, _, last in marks:
            if run_id in heads:
                heads[run_id].append((kid, kind, key, last))
        found = verdicts(st, infos, analyse=analyse and not st.readonly, marks=marks)
        rolled = {int(m[1]) for m in marks if m[4] is not None}
        return heads, loss_stats(st, heads, rolled), found


#: The largest finite float: ``abs(value) <= BIG`` is true of finite values only (NaN is NULL).
_BIG = 1.7976931348623157e308


def loss_stats(
    st: Store, heads: dict[str, list[Any]], rolled: set[int] | None = None
) -> dict[str, dict[str, float | None]]:
    """Per run: the last finite train loss by step (ties: the last logged), the smallest
    train loss and the smallest eval loss. The value of each key's last point (its rowid is
    in ``heads``: one lookup by rowid, or one index walk from the end when that point is not
    finite) and the minimum of the rollups' minima: no series is read. ``rolled``: the keys
    known to have rollups (from ``key_marks``), when already read."""
    wanted: dict[str, dict[str, int]] = {}
    last_rowid: dict[int, Any] = {}
    for run_id, hs in heads.items():
        ids = {h[2]: int(h[0]) for h in hs if h[1] == "metric"}
        last_rowid.update({int(h[0]): h[3] for h in hs if h[1] == "metric"})
        pick = {}
        for canon, name in ((K.LOSS, "loss"), (K.EVAL_LOSS, "eval")):
            key = K.resolve(set(ids), canon)
            if key is not None:
                pick[name] = ids[key]
        wanted[run_id] = pick
    kids = sorted({k for p in wanted.values() for k in p.values()})
    final: dict[int, float] = {}
    best: dict[int, float] = {}
    counted: set[int] = set()
    rowids = [int(last_rowid[k]) for k in kids if last_rowid.get(k) is not None]
    at: dict[int, Any] = {}
    for i in range(0, len(rowids), 500):
        part = rowids[i : i + 500]
        sql = f"SELECT rowid, value FROM points WHERE rowid IN ({','.join('?' * len(part))})"
        at.update(st.conn.execute(sql, part).fetchall())
    walk = []
    for kid in kids:
        v = at.get(last_rowid[kid]) if last_rowid.get(kid) is not None else None
        if v is not None and abs(v) <= _BIG:
            final[kid] = float(v)
            continue
        got = _last_finite_from_rollups(st, kid) if last_rowid.get(kid) is not None else None
        if got is not None:
            final[kid] = got
        else:
            walk.append(kid)
    for i in range(0, len(walk), 500):
        part = walk[i : i + 500]
        marks = ",".join("?" * len(part))
        for kid, v in st.conn.execute(
            "SELECT k.id, (SELECT p.value FROM points p WHERE p.key_id = k.id "
            "AND abs(p.value) <= ? ORDER BY p.step DESC, p.rowid DESC LIMIT 1) "
            f"FROM metric_keys k WHERE k.id IN ({marks})",
            (_BIG, *part),
        ):
            if v is not None:
                final[int(kid)] = float(v)
    count = "1" if rolled is not None else "(SELECT COUNT(*) FROM rollups r WHERE r.key_id = k.id)"
    for i in range(0, len(kids), 500):
        part = kids[i : i + 500]
        marks = ",".join("?" * len(part))
        for kid, v, n in st.conn.execute(  # index rollups_min: one seek per key
            f"SELECT k.id, (SELECT MIN(r.v_min) FROM rollups r WHERE r.key_id = k.id), {count} "
            f"FROM metric_keys k WHERE k.id IN ({marks})",
            part,
        ):
            if n and (rolled is None or int(kid) in rolled):
                counted.add(int(kid))
            if v is not None:
                best[int(kid)] = float(v)
    for kid in kids:  # no rollups (points written with plain SQL): read the minimum
        if kid not in counted and kid in final:
            row = st.conn.execute(
                "SELECT MIN(value) FROM points WHERE key_id = ? AND abs(value) <= ?", (kid, _BIG)
            ).fetchone()
            if row[0] is not None:
                best[kid] = float(row[0])
    out = {}
    for run_id, pick in wanted.items():
        loss, ev = pick.get("loss"), pick.get("eval")
        out[run_id] = {
            "final_loss": final.get(loss) if loss is not None else None,
            "best_loss": best.get(loss) if loss is not None and loss in final else None,
            "best_eval": best.get(ev) if ev is not None and ev in final else None,
        }
    return out


def _last_finite_from_rollups(st: Store, key_id: int) -> float | None:
    """The last finite value by step of a key whose last point is not finite, from the
    rollups: the sub-block summaries of the row that holds it (the finite row that starts
    last), when no other row can hold a later one; else None (walk the points instead)."""
    row = st.conn.execute(
        "SELECT seq, sub FROM rollups WHERE key_id = ? AND n_finite > 0 "
        "ORDER BY step_min DESC, seq DESC LIMIT 1",
        (key_id,),
    ).fetchone()
    if row is None:
        return None
    seq, subs = int(row[0]), from_blob(row[1])
    fin = np.flatnonzero(subs["nf"] > 0)
    if not len(fin):
        return None
    s_last = subs["s_last"][fin]
    i = fin[len(s_last) - 1 - int(np.argmax(s_last[::-1]))]  # largest step, last logged
    step, value = int(subs["s_last"][i]), float(subs["v_last"][i])
    later = st.conn.execute(
        "SELECT 1 FROM rollups WHERE key_id = ? AND n_finite > 0 AND seq != ? "
        "AND (step_max > ? OR (step_max = ? AND seq > ?)) LIMIT 1",
        (key_id, seq, step, step, seq),
    ).fetchone()
    return value if later is None else None


def _finite_or_none(v: Any) -> float | None:
    if v is None:
        return None
    f = float(v)
    return f if np.isfinite(f) else None


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

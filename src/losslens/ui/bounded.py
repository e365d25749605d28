"""What a comparison of long runs reads from the store: a bounded sample that ranks exactly.

:func:`losslens.analysis.compare.compare` ranks runs by the best eval loss up to a horizon
(the minimum of every point up to it) or by the final train loss there (the mean of the last
finite points up to it), and says how far each run got. None of that needs every point of a
long series. A series of more than :data:`WHOLE` points is read as:

* every point of the rollup sub-blocks that overlap two windows of steps: the last
  :data:`WINDOW` points up to the horizon, and the last :data:`WINDOW` points of the run
  (at least :data:`FINITE` finite ones when the last is finite), so the final value, the
  mean of the last finite points and the last step are exact;
* elsewhere, per group of consecutive sub-blocks (at most :data:`GROUPS` of them), the
  first, smallest, largest and last finite point and the first non-finite one, from the
  rollups (so every minimum and maximum, and every NaN, is kept; no point is read).

Shorter series are read whole, so small runs compare exactly as ``losslens compare`` does.
Every point stays in the store; this only chooses what to read.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from losslens import keys as K
from losslens.analysis.compare import choose_basis, choose_metric, epoch_series
from losslens.model import RunData, RunInfo, Series
from losslens.store import Store
from losslens.store.rollups import I64_MAX

#: A series up to this many points is read whole.
WHOLE = 65_536
#: Groups of sub-blocks summarised outside the windows.
GROUPS = 1024
#: Points read raw before the horizon and at the end of a run ...
WINDOW = 200
#: ... and at least this many finite ones when the last of them is finite.
FINITE = 100
#: The largest finite float: ``abs(value) <= BIG`` is true of finite values only.
_BIG = 1.7976931348623157e308

Window = tuple[int | None, int | None]


def _first_of_groups(gid: npt.NDArray[np.int64], key: Any, last: bool = False) -> Any:
    """Index, per group, of the row with the smallest ``key`` (ties: the first row), or with
    ``last`` the largest (ties: the last row); ``gid`` is non-decreasing."""
    order = np.lexsort((key, gid))
    g = gid[order]
    if last:
        cut = np.flatnonzero(np.r_[g[1:] != g[:-1], True])
    else:
        cut = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    return order[cut]


def _summary_points(
    subs: Any, windows: Sequence[Window]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """First, minimum, maximum and last finite point and first non-finite point per group of
    consecutive sub-blocks (none of which overlaps a window), ordered by step."""
    if not len(subs):
        return np.zeros(0, np.int64), np.zeros(0, np.float64)
    bounds = np.array(
        sorted({b for w in windows for b in w if b is not None}), dtype=np.int64
    )  # a sub-block outside every window lies in one gap between their ends
    cls = np.searchsorted(bounds, subs["s_lo"]).astype(np.int64)
    m = len(subs)
    size = max(1, math.ceil(m / GROUPS))
    change = np.r_[True, cls[1:] != cls[:-1]]
    start = np.flatnonzero(change)
    run = np.cumsum(change) - 1
    pos = np.arange(m) - start[run]
    gid = np.cumsum(change | (pos % size == 0)) - 1
    idx = np.arange(m)
    steps: list[Any] = []
    values: list[Any] = []
    where: list[Any] = []
    fin = subs["nf"] > 0
    if fin.any():
        f, g, i = subs[fin], gid[fin], idx[fin]
        for s_col, v_col, key, last in (
            ("s_first", "v_first", f["s_first"], False),
            ("s_min", "v_min", f["v_min"], False),
            ("s_max", "v_max", -f["v_max"], False),
            ("s_last", "v_last", f["s_last"], True),
        ):
            pick = _first_of_groups(g, key, last)
            steps.append(f[s_col][pick])
            values.append(f[v_col][pick])
            where.append(i[pick])
    bad = subs["s_bad"] != I64_MAX
    if bad.any():
        b, g, i = subs[bad], gid[bad], idx[bad]
        pick = _first_of_groups(g, b["s_bad"])
        steps.append(b["s_bad"][pick])
        values.append(b["v_bad"][pick])
        where.append(i[pick])
    if not steps:
        return np.zeros(0, np.int64), np.zeros(0, np.float64)
    s = np.concatenate(steps).astype(np.int64)
    v = np.concatenate(values).astype(np.float64)
    w = np.concatenate(where).astype(np.int64)
    # one point per (sub-block, step, value): the first point is often the minimum too
    table = np.stack([w, s, v.view(np.int64)], axis=1)
    _, keep = np.unique(table, axis=0, return_index=True)
    keep.sort()
    s, v = s[keep], v[keep]
    order = np.argsort(s, kind="stable")
    return s[order], v[order]


def bounded_series(
    st: Store, key_id: int, key: str, windows: Sequence[Window] = ()
) -> tuple[Series, int]:
    """Key ``key_id`` whole when short, else its points in ``windows`` (every point of the
    sub-blocks overlapping them) and the group summaries elsewhere; and how many points
    were read from the points table."""
    if st.count_in(key_id, None, None) <= WHOLE:
        steps, values, _, _ = st.read_points(key_id)
        return Series(key, steps, values, np.full(len(steps), np.nan)), len(steps)
    with st.snapshot():
        subs = st.rollup_subs(key_id)
        raw = np.zeros(len(subs), dtype=bool)
        for lo, hi in windows:
            hit = np.ones(len(subs), dtype=bool)
            if lo is not None:
                hit &= subs["s_hi"] >= lo
            if hi is not None:
                hit &= subs["s_lo"] <= hi
            raw |= hit
        r = subs[raw]
        spans = np.stack([r["s_lo"], r["s_hi"], r["r_lo"], r["r_hi"]], axis=1)
        rs, rv = st.points_in(key_id, spans)
    ss, sv = _summary_points(subs[~raw], windows)
    steps = np.concatenate([rs, ss])
    values = np.concatenate([rv, sv])
    order = np.argsort(steps, kind="stable")  # ties: the points read raw first
    steps, values = steps[order], values[order]
    return Series(key, steps, values, np.full(len(steps), np.nan)), len(rs)


def _nth_back(st: Store, key_id: int, upto: int | None, n: int, finite: bool) -> int | None:
    """The step of the ``n``-th point (``finite``: finite point) counted back from ``upto``
    (None: from the end), or None when there are fewer."""
    sql = "SELECT step FROM points WHERE key_id = ?"
    args: list[Any] = [key_id]
    if finite:
        sql += " AND abs(value) <= ?"
        args.append(_BIG)
    if upto is not None:
        sql += " AND step <= ?"
        args.append(upto)
    sql += f" ORDER BY step DESC, rowid DESC LIMIT 1 OFFSET {int(n) - 1}"
    row = st.conn.execute(sql, args).fetchone()
    return int(row[0]) if row is not None else None


def _back(st: Store, key_id: int, upto: int | None) -> int | None:
    """Where the window that ends at ``upto`` (None: the end) starts: the last
    :data:`WINDOW` points, or further back to hold :data:`FINITE` finite points when the
    last point is finite (the mean of the last finite points, and how many there are, is
    what a final value needs); None when the window reaches the first point. A run that
    ends in NaN costs its last :data:`WINDOW` points, never its whole non-finite tail."""
    a = _nth_back(st, key_id, upto, WINDOW, finite=False)
    if a is None:
        return None
    cond = "key_id = ? AND step <= ?" if upto is not None else "key_id = ?"
    args: list[Any] = [key_id] if upto is None else [key_id, upto]
    last = st.conn.execute(
        f"SELECT value FROM points WHERE {cond} ORDER BY step DESC, rowid DESC LIMIT 1", args
    ).fetchone()
    if last is None or last[0] is None or not abs(last[0]) <= _BIG:
        return a  # ends non-finite: that is all a final value needs
    n = st.conn.execute(
        f"SELECT COUNT(*) FROM points WHERE {cond} AND step >= ? AND abs(value) <= ?",
        [*args, a, _BIG],
    ).fetchone()[0]
    if int(n) >= FINITE:
        return a
    return _nth_back(st, key_id, upto, FINITE, finite=True)


def _last_step(st: Store, key_id: int) -> int | None:
    row = st.conn.execute(
        "SELECT step FROM points WHERE key_id = ? ORDER BY step DESC, rowid DESC LIMIT 1",
        (key_id,),
    ).fetchone()
    return int(row[0]) if row is not None else None


def _horizon_step(run: RunData, basis: str, horizon: float) -> int | None:
    """The smallest step past which no point of ``run`` is within ``horizon`` (None: no
    such step), as :func:`losslens.analysis.compare.compare` reads it."""
    h = horizon * (1 + 1e-9) + 1e-9
    if basis == "epoch":
        e = epoch_series(run)
        if e is not None:
            beyond = np.flatnonzero(e.values > h)
            return int(e.steps[beyond[0]]) if len(beyond) else None
    return math.floor(h) if math.isfinite(h) and abs(h) < 9e18 else None


def compare_inputs(
    st: Store, infos: Sequence[RunInfo], heads: Sequence[Sequence[Any]]
) -> tuple[list[RunData], int]:
    """The runs as :func:`losslens.analysis.compare.compare` needs them (the compared
    metric and the epochs, bounded as the module says), and the points read."""
    names = [{h[2]: int(h[0]) for h in hs if h[1] == "metric"} for hs in heads]
    metric, _ = choose_metric([set(n) for n in names])
    read = 0
    runs: list[RunData] = []
    for info, ids in zip(infos, names, strict=True):
        series: dict[str, Series] = {}
        ekey = K.resolve(set(ids), K.EPOCH)
        if ekey is not None:
            series[ekey], n = bounded_series(st, ids[ekey], ekey)
            read += n
        runs.append(RunData(info=info, series=series))
    if not metric:
        return runs, read
    basis = choose_basis(runs)
    keys = [K.resolve(set(ids), metric) for ids in names]
    lasts: list[float] = []
    for run, ids, key in zip(runs, names, keys, strict=True):
        last = _last_step(st, ids[key]) if key is not None else None
        if last is None:
            continue
        e = epoch_series(run) if basis == "epoch" else None
        x = float(np.interp(last, e.steps.astype(np.float64), e.values)) if e else float(last)
        lasts.append(x)
    horizon = min(lasts) if lasts else None
    for run, ids, key in zip(runs, names, keys, strict=True):
        if key is None or key in run.series:
            continue
        kid = ids[key]
        windows: list[Window] = [(_back(st, kid, None), None)]
        if horizon is not None:
            hi = _horizon_step(run, basis, horizon)
            windows.append((_back(st, kid, hi), hi))
        run.series[key], n = bounded_series(st, kid, key, windows)
        read += n
    return runs, read


__all__ = ["FINITE", "GROUPS", "WHOLE", "WINDOW", "bounded_series", "compare_inputs"]

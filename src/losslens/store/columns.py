"""Reading one key's points as numpy columns, without a Python object per point kept.

SQLite hands rows to Python one cell at a time; what costs is everything done per point
after that (tuples kept in a list, ``zip``, lists of floats). Here the cursor is drained in
chunks straight into float64 arrays that are preallocated from the key's rollups (``SUM(n)``,
an upper bound that only plain-SQL inserts can exceed, in which case the arrays grow), so a
read costs about what iterating the rows costs and its memory is the result plus one chunk.

Steps travel as float64, exact up to 2**53; a chunk holding a larger step is read again
through Python ints, so every step stays exact.
"""

from __future__ import annotations

import itertools
import sqlite3
from typing import Any

import numpy as np
import numpy.typing as npt

#: ``(steps, values, wall_times)``: int64, float64 (NaN for NULL), float64.
Columns = tuple[npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any]]

#: Rows fetched per chunk.
CHUNK = 65_536
_EXACT = float(2**53)


def read_columns(
    conn: sqlite3.Connection,
    sql: str,
    args: tuple[Any, ...] | list[Any],
    *,
    width: int,
    capacity: int = 0,
) -> list[npt.NDArray[Any]]:
    """The result of ``sql`` (``width`` numeric columns, the first one an INTEGER step) as
    ``width`` arrays: int64 for the first, float64 (NULL -> NaN) for the others."""
    cap = max(int(capacity), 1)
    out = [np.empty(cap, np.int64)] + [np.empty(cap, np.float64) for _ in range(width - 1)]
    n = 0
    cur = conn.execute(sql, args)
    while True:
        rows = cur.fetchmany(CHUNK)
        if not rows:
            break
        m = len(rows)
        flat = np.fromiter(itertools.chain.from_iterable(rows), np.float64, count=m * width)
        table = flat.reshape(m, width)
        if n + m > cap:
            cap = max(2 * cap, n + m)
            out = [np.resize(a, cap) for a in out]
        steps = table[:, 0]
        if np.abs(steps).max() > _EXACT or not np.isfinite(steps).all():
            out[0][n : n + m] = _exact_steps([r[0] for r in rows])
        else:
            out[0][n : n + m] = steps
        for j in range(1, width):
            out[j][n : n + m] = table[:, j]
        n += m
    if n < cap:
        out = [a[:n].copy() if n < cap - cap // 8 else a[:n] for a in out]
    return out


def _exact_steps(steps: list[Any]) -> npt.NDArray[np.int64]:
    try:
        return np.array(steps, dtype=np.int64)
    except (OverflowError, TypeError, ValueError):
        f = np.array([float(s) for s in steps], dtype=np.float64)
        lo, hi = np.iinfo(np.int64).min, np.iinfo(np.int64).max
        return np.clip(np.nan_to_num(f), float(lo), float(hi)).astype(np.int64)


def key_capacity(conn: sqlite3.Connection, key_id: int) -> int:
    """How many points the rollups count for a key (exact unless plain SQL wrote points)."""
    row = conn.execute("SELECT COALESCE(SUM(n), 0) FROM rollups WHERE key_id = ?", (key_id,))
    return int(row.fetchone()[0])


def _key_spans(conn: sqlite3.Connection, run_id: str, kind: str) -> list[tuple[Any, ...]]:
    """Per key: ``(id, key, points, points by rollups, first sub-block, last rowid)``. The
    count walks the covering index (no table rows): a few percent of reading the points."""
    return conn.execute(
        "SELECT k.id, k.key, "
        "(SELECT COUNT(*) FROM points p WHERE p.key_id = k.id), "
        "(SELECT COALESCE(SUM(n), 0) FROM rollups r WHERE r.key_id = k.id), "
        "(SELECT sub FROM rollups r WHERE r.key_id = k.id ORDER BY seq LIMIT 1), "
        "(SELECT rowid_last FROM rollups r WHERE r.key_id = k.id ORDER BY seq DESC LIMIT 1) "
        "FROM metric_keys k WHERE k.run_id = ? AND k.kind = ? ORDER BY k.key",
        (run_id, kind),
    ).fetchall()


def run_columns(conn: sqlite3.Connection, run_id: str, kind: str = "metric") -> dict[str, Columns]:
    """Every key of a run as ``(steps, values, wall_times)``, ordered by step (ties in
    logging order), read in one pass over the run's rowid range (sequential pages, no index
    lookups per point). Call inside a read transaction for one consistent snapshot.

    The range comes from the rollups; a key whose rollups do not count all its points
    (points inserted with plain SQL and no ``rebuild_rollups``) is read through the index
    instead, and so is one whose points in the range fall short: no point is left out.
    """
    from losslens.store.rollups import SUB_DTYPE

    spans = _key_spans(conn, run_id, kind)
    out: dict[str, Columns] = {}
    good: dict[int, tuple[str, int]] = {}
    lo, hi = None, None
    for kid, key, count, n, first_sub, last in spans:
        if not count or count != n or first_sub is None or last is None:
            continue
        r0 = int(np.frombuffer(first_sub, dtype=SUB_DTYPE, count=1)["r_lo"][0])
        good[int(kid)] = (str(key), int(n))
        lo = r0 if lo is None else min(lo, r0)
        hi = int(last) if hi is None else max(hi, int(last))
    if good and lo is not None and hi is not None:
        got = _scan(conn, good, lo, hi)
        for kid, (key, n) in good.items():
            if len(got[kid][0]) == n:
                out[key] = got[kid]
    for kid, key, count, *_ in spans:
        if key in out:
            continue
        steps, values, walls = read_columns(
            conn,
            "SELECT step, value, wall_time FROM points WHERE key_id = ? ORDER BY step, rowid",
            (kid,),
            width=3,
            capacity=count,
        )
        out[key] = (steps, values, walls)
    return {k: out[k] for k in sorted(out)}


def _scan(
    conn: sqlite3.Connection, keys: dict[int, tuple[str, int]], lo: int, hi: int
) -> dict[int, Columns]:
    ids = sorted(keys)
    marks = ",".join("?" * len(ids))
    cur = conn.execute(
        f"SELECT key_id, step, value, wall_time FROM points WHERE rowid BETWEEN ? AND ? "
        f"AND +key_id IN ({marks}) ORDER BY rowid",
        (lo, hi, *ids),
    )
    cols = {k: [np.empty(n, np.int64), np.empty(n), np.empty(n)] for k, (_, n) in keys.items()}
    fill = dict.fromkeys(ids, 0)
    sorted_ = dict.fromkeys(ids, True)
    last_step = dict.fromkeys(ids, -np.inf)
    while True:
        rows = cur.fetchmany(CHUNK)
        if not rows:
            break
        m = len(rows)
        table = np.fromiter(itertools.chain.from_iterable(rows), np.float64, count=4 * m)
        table = table.reshape(m, 4)
        steps_f = table[:, 1]
        exact = bool(np.abs(steps_f).max() <= _EXACT and np.isfinite(steps_f).all())
        steps = steps_f.astype(np.int64) if exact else _exact_steps([r[1] for r in rows])
        kcol = table[:, 0]
        for k in ids:
            sel = kcol == k
            c = int(sel.sum())
            if not c:
                continue
            a = fill[k]
            if a + c > len(cols[k][0]):  # more points than the rollups said: let the caller re-read
                fill[k] = -(10**18)
                continue
            if a < 0:
                continue
            s = steps[sel]
            cols[k][0][a : a + c] = s
            cols[k][1][a : a + c] = table[sel, 2]
            cols[k][2][a : a + c] = table[sel, 3]
            if sorted_[k] and (s[0] < last_step[k] or (c > 1 and bool(np.any(np.diff(s) < 0)))):
                sorted_[k] = False
            last_step[k] = s[-1]
            fill[k] = a + c
    out = {}
    for k in ids:
        n = fill[k]
        if n < 0:
            out[k] = (np.empty(0, np.int64), np.empty(0), np.empty(0))
            continue
        got: Columns = (cols[k][0][:n], cols[k][1][:n], cols[k][2][:n])
        if not sorted_[k]:
            order = np.argsort(got[0], kind="stable")  # ties keep rowid (logging) order
            got = (got[0][order], got[1][order], got[2][order])
        out[k] = got
    return out

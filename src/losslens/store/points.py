"""Writing and reading metric points, and keeping their rollups (``Store``'s point methods).

Every writer goes through :meth:`PointsMixin.insert_rows` (``Store.write_points``, the
tracking writer, ``ingest``), which appends the rows and, in the same transaction, folds
them into the ``rollups`` table (see :mod:`losslens.store.rollups`): the last, partial
row of each key is read back and rewritten, so the summaries stay right whatever process
or ``Store`` instance wrote before. Readers get every raw point (:meth:`series`) or, for
drawing, the summaries plus the few raw points they cannot stand for.
"""

from __future__ import annotations

import itertools
import numbers
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import numpy.typing as npt

from losslens.errors import RunNotFoundError
from losslens.model import MetricPoint, Series
from losslens.store.columns import key_capacity, read_columns
from losslens.store.rollups import (
    BLOCK,
    PER_ROW,
    SUB,
    SUB_DTYPE,
    SubArray,
    from_blob,
    row_columns,
    summarize,
    to_blob,
)

_UPSERT_ROLLUP = "INSERT OR REPLACE INTO rollups VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"


class PointsMixin:
    """Point methods of :class:`losslens.store.Store` (which provides these attributes)."""

    conn: sqlite3.Connection
    _key_ids: dict[tuple[str, str, str], int]
    _lock: threading.Lock

    def transaction(self) -> Any:
        raise NotImplementedError

    def key_id(
        self, run_id: str, key: str, kind: str = "metric", original: str | None = None
    ) -> int:
        """The id of a run's metric key, created when new. Call inside :meth:`transaction`."""
        ck = (run_id, key, kind)
        kid = self._key_ids.get(ck)
        if kid is None:
            row = self.conn.execute(
                "SELECT id FROM metric_keys WHERE run_id = ? AND key = ? AND kind = ?", ck
            ).fetchone()
            if row is None:
                cur = self.conn.execute(
                    "INSERT INTO metric_keys (run_id, key, original, kind) VALUES (?,?,?,?)",
                    (run_id, key, original, kind),
                )
                kid = int(cur.lastrowid or 0)
            else:
                kid = int(row[0])
            self._key_ids[ck] = kid
        return kid

    def forget_key_ids(self) -> None:
        """Drop the cached key ids (after a rolled-back transaction that may have made some)."""
        self._key_ids.clear()

    def write_points(
        self,
        run_id: str,
        points: Iterable[MetricPoint],
        *,
        kind: str = "metric",
        originals: dict[str, str] | None = None,
        heartbeat: bool = False,
    ) -> int:
        """Append points in one transaction; returns how many were written
        (``RunNotFoundError`` when the run does not exist)."""
        try:
            with self.transaction():
                n = self.add_points(run_id, points, kind=kind, originals=originals)
                if heartbeat:
                    self.conn.execute(
                        "UPDATE runs SET heartbeat = ? WHERE id = ?", (time.time(), run_id)
                    )
        except sqlite3.IntegrityError as exc:  # a key of a run that is not there
            if self.conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone():
                raise
            raise RunNotFoundError(f"no run '{run_id}' to write points to") from exc
        return n

    def add_points(
        self,
        run_id: str,
        points: Iterable[MetricPoint],
        *,
        kind: str = "metric",
        originals: dict[str, str] | None = None,
    ) -> int:
        """Append points inside the caller's :meth:`transaction`; returns how many."""
        originals = originals or {}
        flat: list[Any] = []
        extend = flat.extend
        ids: dict[str, int] = {}
        for key, step, v, wall_time in points:
            kid = ids.get(key)
            if kid is None:
                kid = ids[key] = self.key_id(run_id, key, kind, originals.get(key))
            extend((kid, step, wall_time, v))
        self.insert_rows(flat)
        return len(flat) // 4

    def insert_rows(self, flat: list[Any]) -> None:
        """Insert points given flat as ``[key_id, step, wall_time, value, key_id, ...]``.

        Call inside :meth:`transaction`. Rows go in as multi-row INSERTs of
        ``INSERT_ROWS`` rows: far fewer statement steps than ``executemany``, and the GIL
        is released for the length of each one. NaN binds as NULL (SQLite's own rule);
        integer values too big for 64 bits are stored as the nearest float. A step that is not
        a 64-bit integer raises ``ValueError`` before anything is written (callers check steps
        with :func:`losslens.numeric.as_step`; a stored step is always readable). The keys'
        rollups are brought up to date in the same transaction.
        """
        if not flat:
            return
        _check_steps(flat)
        base = int(self.conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM points").fetchone()[0])
        self.conn.execute("SAVEPOINT losslens_rows")
        try:
            try:
                _insert_flat(self.conn, flat)
            except OverflowError:
                self.conn.execute("ROLLBACK TO losslens_rows")
                _insert_flat(self.conn, _fit_int64(flat))
            self._roll(flat, base)
        except BaseException:
            # After SQLITE_FULL/IOERR SQLite may have rolled the whole transaction back
            # already: then there is no savepoint left, and the original error must win.
            if self.conn.in_transaction:
                try:
                    self.conn.execute("ROLLBACK TO losslens_rows")
                    self.conn.execute("RELEASE losslens_rows")
                except sqlite3.Error:
                    pass
            raise
        self.conn.execute("RELEASE losslens_rows")

    def keys(self, run_id: str, kind: str = "metric") -> dict[str, str]:
        """The run's metric keys -> the name they were logged under."""
        return {
            k: (o or k)
            for k, o in self.conn.execute(
                "SELECT key, original FROM metric_keys WHERE run_id = ? AND kind = ? ORDER BY key",
                (run_id, kind),
            )
        }

    def series(
        self,
        run_id: str,
        key: str,
        *,
        kind: str = "metric",
        step_min: int | None = None,
        step_max: int | None = None,
    ) -> Series:
        sql = (
            "SELECT p.step, p.value, p.wall_time FROM points p "
            "JOIN metric_keys k ON k.id = p.key_id WHERE k.run_id = ? AND k.key = ? AND k.kind = ?"
        )
        args: list[Any] = [run_id, key, kind]
        if step_min is not None:
            sql += " AND p.step >= ?"
            args.append(step_min)
        if step_max is not None:
            sql += " AND p.step <= ?"
            args.append(step_max)
        sql += " ORDER BY p.step, p.rowid"
        # numpy columns straight from the cursor (losslens.store.columns): no per-point objects
        cap = self.conn.execute(
            "SELECT COALESCE(SUM(r.n), 0) FROM rollups r JOIN metric_keys k ON k.id = r.key_id "
            "WHERE k.run_id = ? AND k.key = ? AND k.kind = ?",
            (run_id, key, kind),
        ).fetchone()[0]
        steps, values, walls = read_columns(self.conn, sql, args, width=3, capacity=cap)
        return Series(key, steps, values, walls)  # NULL (NaN) -> nan

    # -- fast reads for the dashboard (losslens.ui) -------------------------------------------

    def key_heads(self, run_id: str) -> list[tuple[int, str, str, int | None]]:
        """``(key_id, kind, key, rowid of the last point by step)`` per key: a change stamp."""
        rows = self.conn.execute(
            "SELECT k.id, k.kind, k.key, (SELECT p.rowid FROM points p WHERE p.key_id = k.id "
            "ORDER BY p.step DESC, p.rowid DESC LIMIT 1) FROM metric_keys k WHERE k.run_id = ? "
            "ORDER BY k.kind, k.key",
            (run_id,),
        ).fetchall()
        return [(int(r[0]), str(r[1]), str(r[2]), r[3]) for r in rows]

    def read_points(
        self, key_id: int, *, after_rowid: int | None = None, with_wall: bool = False
    ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any], int]:
        """One key's points as numpy ``(steps, values, wall_times, max_rowid)``, in one snapshot.

        Without ``after_rowid``: every point, ordered by step (ties in logging order). With it:
        only points written after that rowid, in logging order (found by rowid range, so the
        cost is the number of rows written since, not the series length). ``max_rowid`` is
        the largest rowid of the whole table at read time: pass it back as ``after_rowid``.
        """
        cols = "step, value, wall_time" if with_wall else "step, value"
        if after_rowid is None:
            sql = f"SELECT {cols} FROM points WHERE key_id = ? ORDER BY step, rowid"
            args: tuple[Any, ...] = (key_id,)
        else:
            sql = f"SELECT {cols} FROM points WHERE rowid > ? AND +key_id = ? ORDER BY rowid"
            args = (after_rowid, key_id)
        width = 3 if with_wall else 2
        self.conn.execute("BEGIN")
        try:
            top = int(self.conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM points").fetchone()[0])
            # numpy columns straight from the cursor, steps exact beyond 2**53 (store.columns)
            cap = key_capacity(self.conn, key_id) if after_rowid is None else 4096
            got = read_columns(self.conn, sql, args, width=width, capacity=cap)
        finally:
            self.conn.execute("COMMIT")
        walls = got[2] if with_wall else np.full(len(got[0]), np.nan)
        return got[0], got[1], walls, top

    def count_points(self, run_id: str, kind: str = "metric") -> int:
        return int(
            self.conn.execute(
                "SELECT COUNT(*) FROM points p JOIN metric_keys k ON k.id = p.key_id "
                "WHERE k.run_id = ? AND k.kind = ?",
                (run_id, kind),
            ).fetchone()[0]
        )

    # -- rollups ----------------------------------------------------------------------------

    def _roll(self, flat: list[Any], base: int) -> None:
        """Fold rows just inserted (flat, rowids ``base + 1`` on) into their keys' rollups."""
        kids = np.array(flat[0::4], dtype=np.int64)
        steps = _int64(flat[1::4])
        values = _float64(flat[3::4])
        rowids = np.arange(base + 1, base + 1 + len(kids), dtype=np.int64)
        if len(kids) and np.all(kids == kids[0]):
            self._roll_key(int(kids[0]), steps, values, rowids)
            return
        order = np.argsort(kids, kind="stable")
        sk = kids[order]
        cuts = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1], True])
        for a, b in itertools.pairwise(cuts.tolist()):
            idx = order[a:b]
            self._roll_key(int(sk[a]), steps[idx], values[idx], rowids[idx])

    def _roll_key(
        self,
        key_id: int,
        steps: npt.NDArray[np.int64],
        values: npt.NDArray[np.float64],
        rowids: npt.NDArray[np.int64],
    ) -> None:
        row = self.conn.execute(
            "SELECT seq, sub FROM rollups WHERE key_id = ? ORDER BY seq DESC LIMIT 1", (key_id,)
        ).fetchone()
        seq = 0
        head = np.zeros(0, dtype=SUB_DTYPE)
        if row is not None:
            seq, head = int(row[0]), from_blob(row[1])
            if head["n"][-1] < SUB:  # the open sub-block: read its points back
                r_lo, r_hi = int(head["r_lo"][-1]), int(head["r_hi"][-1])
                old = self.conn.execute(
                    "SELECT rowid, step, value FROM points WHERE rowid BETWEEN ? AND ? "
                    "AND +key_id = ? ORDER BY rowid",
                    (r_lo, r_hi, key_id),
                ).fetchall()
                head = head[:-1]
                if old:
                    r, s, v = zip(*old, strict=True)
                    rowids = np.concatenate([np.array(r, dtype=np.int64), rowids])
                    steps = np.concatenate([_int64(list(s)), steps])
                    values = np.concatenate([_float64(list(v)), values])
            elif len(head) >= PER_ROW:
                seq, head = seq + 1, head[:0]
        subs = np.concatenate([head, summarize(steps, values, rowids)])
        rows = []
        for i in range(0, len(subs), PER_ROW):
            part = subs[i : i + PER_ROW]
            rows.append((key_id, seq + i // PER_ROW, *row_columns(part), to_blob(part)))
        self.conn.executemany(_UPSERT_ROLLUP, rows)

    def rebuild_rollups(self, run_id: str) -> None:
        """Recompute the rollups of every key of a run from its points (after plain-SQL
        inserts, which do not maintain them)."""
        with self.transaction():
            kids = [
                int(r[0])
                for r in self.conn.execute("SELECT id FROM metric_keys WHERE run_id = ?", (run_id,))
            ]
            for kid in kids:
                self.conn.execute("DELETE FROM rollups WHERE key_id = ?", (kid,))
                rows = self.conn.execute(
                    "SELECT rowid, step, value FROM points WHERE key_id = ? ORDER BY rowid", (kid,)
                ).fetchall()
                if rows:
                    r, s, v = zip(*rows, strict=True)
                    self._roll_key(
                        kid, _int64(list(s)), _float64(list(v)), np.array(r, dtype=np.int64)
                    )

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads inside see one consistent state of the store (a read transaction)."""
        if self.conn.in_transaction:
            yield
            return
        self.conn.execute("BEGIN")
        try:
            yield
        finally:
            self.conn.execute("COMMIT")

    def rollup_subs(
        self, key_id: int, step_min: int | None = None, step_max: int | None = None
    ) -> SubArray:
        """The sub-block summaries of the rollup rows that overlap ``[step_min, step_max]``."""
        where, args = _overlapping(key_id, step_min, step_max)
        blobs = [
            r[0] for r in self.conn.execute(f"SELECT sub FROM rollups {where} ORDER BY seq", args)
        ]
        return np.frombuffer(b"".join(blobs), dtype=SUB_DTYPE)

    def points_in(
        self, key_id: int, spans: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """The points of ``key_id`` with ``s_lo <= step <= s_hi`` and ``r_lo <= rowid <= r_hi``
        for any row ``(s_lo, s_hi, r_lo, r_hi)`` of ``spans``, ordered by step then rowid."""
        out: list[Any] = []
        per = 4000
        for i in range(0, len(spans), per):
            part = spans[i : i + per]
            values = ",".join(["(?,?,?,?)"] * len(part))
            sql = (
                f"WITH s(a, b, c, d) AS (VALUES {values}) "
                "SELECT p.rowid, p.step, p.value FROM s JOIN points p "
                "ON p.key_id = ? AND p.step BETWEEN s.a AND s.b AND p.rowid BETWEEN s.c AND s.d"
            )
            out.extend(self.conn.execute(sql, [*part.ravel().tolist(), key_id]))
        if not out:
            return np.zeros(0, np.int64), np.zeros(0, np.float64)
        r, s, v = zip(*out, strict=True)
        rowid = np.array(r, dtype=np.int64)
        step = _int64(list(s))
        order = np.lexsort((rowid, step))
        return step[order], _float64(list(v))[order]

    def neighbour(self, key_id: int, step: int, before: bool) -> tuple[int, float] | None:
        """The last point logged before ``step`` (``before``) or the first after it."""
        if before:
            sql = "WHERE key_id = ? AND step < ? ORDER BY step DESC, rowid DESC LIMIT 1"
        else:
            sql = "WHERE key_id = ? AND step > ? ORDER BY step, rowid LIMIT 1"
        row = self.conn.execute(f"SELECT step, value FROM points {sql}", (key_id, step)).fetchone()
        if row is None:
            return None
        return int(row[0]), (float(row[1]) if row[1] is not None else float("nan"))

    def count_in(self, key_id: int, step_min: int | None, step_max: int | None) -> int:
        """Points in the rollup rows that overlap the range (an upper bound, from rollups)."""
        where, args = _overlapping(key_id, step_min, step_max)
        sql = f"SELECT COALESCE(SUM(n), 0) FROM rollups {where}"
        return int(self.conn.execute(sql, args).fetchone()[0])


def _overlapping(key_id: int, step_min: int | None, step_max: int | None) -> tuple[str, list[Any]]:
    """The WHERE clause (and its arguments) of the rollup rows of ``key_id`` that overlap
    ``[step_min, step_max]`` (``None``: open)."""
    where = "WHERE key_id = ?"
    args: list[Any] = [key_id]
    if step_min is not None:
        where += " AND step_max >= ?"
        args.append(step_min)
    if step_max is not None:
        where += " AND step_min <= ?"
        args.append(step_max)
    return where, args


def _int64(xs: list[Any]) -> npt.NDArray[np.int64]:
    try:
        return np.array(xs, dtype=np.int64)
    except (OverflowError, TypeError, ValueError):
        f = _float64(xs)
        # a stored step that is not a 64-bit integer (a store written before steps were
        # checked): the nearest readable one, never an OverflowError on every read
        return np.clip(np.nan_to_num(f), -9.2e18, 9.2e18).astype(np.int64)


def _float64(xs: list[Any]) -> npt.NDArray[np.float64]:
    try:
        return np.array(xs, dtype=np.float64)  # None (NaN) -> nan
    except (OverflowError, TypeError, ValueError):
        out = np.empty(len(xs), dtype=np.float64)
        for i, x in enumerate(xs):
            try:
                out[i] = float(x)
            except (OverflowError, TypeError, ValueError):
                out[i] = np.nan
        return out


#: Rows per multi-row INSERT (4 parameters each; SQLite allows 32766 per statement).
INSERT_ROWS = 2000
_INSERT_MANY = "INSERT INTO points VALUES " + ",".join(["(?,?,?,?)"] * INSERT_ROWS)
_INSERT_ONE = "INSERT INTO points VALUES (?,?,?,?)"


def _insert_flat(conn: sqlite3.Connection, flat: list[Any]) -> None:
    per = INSERT_ROWS * 4
    whole = len(flat) - len(flat) % per
    for i in range(0, whole, per):
        conn.execute(_INSERT_MANY, flat[i : i + per])
    if whole < len(flat):
        rest = flat[whole:]
        conn.executemany(_INSERT_ONE, [rest[i : i + 4] for i in range(0, len(rest), 4)])


def _check_steps(flat: list[Any]) -> None:
    """Raise ``ValueError`` unless every step (``flat[1::4]``) is a 64-bit integer."""
    lo, hi = -(2**63), 2**63 - 1
    steps = flat[1::4]
    if {type(s) for s in steps} == {int} and lo <= min(steps) and max(steps) <= hi:
        return
    for s in steps:
        if type(s) is not int:
            if isinstance(s, bool) or not isinstance(s, numbers.Integral):
                raise ValueError(f"step {s!r} is not an integer")
            s = int(s)
        if not lo <= s <= hi:
            raise ValueError(f"step {s} is outside the 64-bit range")


def _fit_int64(flat: list[Any]) -> list[Any]:
    """Out-of-range ints (steps or values) as floats; the rare path after OverflowError."""
    lo, hi = -(2**63), 2**63 - 1
    return [float(x) if type(x) is int and not lo <= x <= hi else x for x in flat]


__all__ = ["BLOCK", "INSERT_ROWS", "PointsMixin"]

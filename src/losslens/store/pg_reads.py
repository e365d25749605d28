"""What the dashboard reads from the PostgreSQL store (:class:`PgReads`, a base of
:class:`losslens.store.pg.PgStore`).

The PostgreSQL store has no ``rollups`` table: a chart of a long series is summarised by
PostgreSQL itself, per bucket of steps (:meth:`PgReads.step_buckets`): the count, the first,
last, smallest and largest finite point (with their steps), the sums for the bucket's mean,
the first non-finite point and the last point. Only those rows leave the database, so a
chart of a million points costs a few thousand rows. Every query names the run, so
PostgreSQL reads one partition of ``points``.

Steps are exact over the whole 64-bit range: a step goes into the ``float8`` arrays that
pick a bucket's extremes as two exact halves (``step >> 26`` and ``step & (2**26 - 1)``).
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from losslens.store.rollups import I64_MAX, SUB_DTYPE, SubArray

#: A key's change mark in :meth:`PgReads.key_heads`: its point count (None: no points).
Head = tuple[int, str, str, "int | None"]

_FINITE = "abs(v) < 'Infinity'::float8"
#: A step as two float8 halves that order like the step and hold it exactly.
_HI, _LO = "(step >> 26)::float8", "(step & 67108863)::float8"
_BUCKETS = (
    "WITH pts AS (SELECT step, COALESCE(value, 'NaN'::float8) AS v, "
    "LEAST(GREATEST(floor((step::float8 - %(lo)s::float8) * %(scale)s), 0), %(last)s)::int "
    "AS b FROM points WHERE run_id = %(run)s AND key_id = %(key)s "
    "AND step BETWEEN %(lo)s AND %(hi)s) "
    f"SELECT b, count(*), count(*) FILTER (WHERE {_FINITE}), min(step), max(step), "
    f"max(ARRAY[{_HI}, {_LO}, v]) FILTER (WHERE NOT {_FINITE}), "
    f"min(ARRAY[{_HI}, {_LO}, v]) FILTER (WHERE {_FINITE}), "
    f"max(ARRAY[{_HI}, {_LO}, v]) FILTER (WHERE {_FINITE}), "
    f"min(ARRAY[v, {_HI}, {_LO}]) FILTER (WHERE {_FINITE}), "
    f"max(ARRAY[v, -{_HI}, -{_LO}]) FILTER (WHERE {_FINITE}), "
    f"sum(v) FILTER (WHERE {_FINITE}), sum(step::float8) FILTER (WHERE {_FINITE}), "
    f"min(ARRAY[{_HI}, {_LO}, v]) FILTER (WHERE NOT {_FINITE}) "
    "FROM pts GROUP BY b ORDER BY b"
)
#: Summaries kept by :meth:`PgReads.rollup_subs` (per key state).
_SUBS_CACHED = 256
#: Buckets of :meth:`PgReads.rollup_subs` (a sparkline needs a few dozen).
SUBS_BUCKETS = 512


def step_range(col: str, step_min: int | None, step_max: int | None) -> tuple[str, list[Any]]:
    """The SQL that keeps ``col`` in ``[step_min, step_max]`` (None: open), as
    ``(" AND …", args)``."""
    clause, args = "", []
    if step_min is not None:
        clause += f" AND {col} >= %s"
        args.append(step_min)
    if step_max is not None:
        clause += f" AND {col} <= %s"
        args.append(step_max)
    return clause, args


def _step(hi: float, lo: float) -> int:
    return (int(hi) << 26) | int(lo)


class PgReads:
    """The dashboard's reads; :class:`~losslens.store.pg.PgStore` provides the connection."""

    _key_runs: dict[int, str]
    _subs: tuple[OrderedDict[tuple[Any, ...], SubArray], threading.Lock]

    def _all(self, query: str, args: Sequence[Any] | dict[str, Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _copy_rows(self, query: str, args: Sequence[Any], dtype: np.dtype[Any]) -> Any:
        raise NotImplementedError

    def _one_bytes(self, query: str, args: Sequence[Any]) -> bytes:
        raise NotImplementedError

    # -- keys -------------------------------------------------------------------------------

    def _key_run(self, key_id: int) -> str | None:
        """The run of a metric key (cached: a key id is never given to another run)."""
        known: dict[int, str] | None = getattr(self, "_key_runs", None)
        if known is None:
            known = self._key_runs = {}
        run = known.get(key_id)
        if run is None:
            rows = self._all("SELECT run_id FROM metric_keys WHERE id = %s", (key_id,))
            if not rows:
                return None
            run = known[key_id] = str(rows[0][0])
        return run

    def key_heads(self, run_id: str) -> list[Head]:
        """``(key_id, kind, key, point count or None)`` per key of the run, by kind and key:
        the count changes with every new point (a point is never stored twice)."""
        return self.key_heads_of([run_id]).get(run_id, [])

    def key_heads_of(self, run_ids: Sequence[str]) -> dict[str, list[Head]]:
        """:meth:`key_heads` of many runs in one query."""
        rows = self._all(
            "SELECT run_id, id, kind, key, n_points FROM metric_keys WHERE run_id = ANY(%s) "
            'ORDER BY run_id, kind, key COLLATE "C"',
            (list(run_ids),),
        )
        out: dict[str, list[Head]] = {r: [] for r in run_ids}
        for run_id, kid, kind, key, n in rows:
            out.setdefault(str(run_id), []).append(
                (int(kid), str(kind), str(key), int(n) if n else None)
            )
        return out

    # -- points -----------------------------------------------------------------------------

    def read_points(
        self, key_id: int, *, with_wall: bool = False
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64], int]:
        """One key's points ordered by step, as numpy ``(steps, values, wall_times, count)``
        (read with binary COPY: no Python object per point). Without ``with_wall`` the wall
        times are NaN."""
        return self.read_range(key_id, None, None, with_wall=with_wall)

    def read_range(
        self, key_id: int, step_min: int | None, step_max: int | None, *, with_wall: bool = False
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64], int]:
        """:meth:`read_points` of the steps in ``[step_min, step_max]`` (None: open)."""
        run = self._key_run(key_id)
        if run is None:
            z = np.zeros(0, np.float64)
            return np.zeros(0, np.int64), z, z.copy(), 0
        wall = "COALESCE(wall_time, 'NaN'::float8)" if with_wall else "'NaN'::float8"
        clause, bounds = step_range("step", step_min, step_max)
        where = "WHERE run_id = %s AND key_id = %s" + clause
        args: list[Any] = [run, key_id, *bounds]
        if self.count_in(key_id, None, None) <= PACKED_MAX:
            # one bytea of packed rows from a step-ordered scan: a third of COPY's time
            blob = self._one_bytes(
                "SELECT string_agg(int8send(step) || float8send(v) || float8send(w), ''::bytea) "
                f"FROM (SELECT step, COALESCE(value, 'NaN'::float8) AS v, {wall} AS w "
                f"FROM points {where} ORDER BY step) x",
                args,
            )
            rows = np.frombuffer(blob, dtype=_PACKED)
            if len(rows) > 1 and not bool((np.diff(rows["s"]) > 0).all()):
                rows = rows[np.argsort(rows["s"], kind="stable")]  # steps are unique per key
        else:
            query = f"SELECT step, COALESCE(value, 'NaN'::float8), {wall} FROM points {where}"
            rows = self._copy_rows(query + " ORDER BY step", args, _COPY3)
        steps = rows["s"].astype(np.int64)
        return steps, rows["v"].astype(np.float64), rows["w"].astype(np.float64), len(steps)

    def count_in(self, key_id: int, step_min: int | None, step_max: int | None) -> int:
        """How many points the key has in ``[step_min, step_max]`` (None: open); the whole
        key's count is kept in ``metric_keys`` (no scan)."""
        if step_min is None and step_max is None:
            rows = self._all("SELECT n_points FROM metric_keys WHERE id = %s", (key_id,))
            return int(rows[0][0]) if rows else 0
        run = self._key_run(key_id)
        clause, bounds = step_range("step", step_min, step_max)
        query = "SELECT count(*) FROM points WHERE run_id = %s AND key_id = %s" + clause
        args: list[Any] = [run, key_id, *bounds]
        return int(self._all(query, args)[0][0])

    def step_span(
        self, key_id: int, step_min: int | None, step_max: int | None
    ) -> tuple[int, int] | None:
        """The first and last step of the key in the range (two index probes), or None."""
        run = self._key_run(key_id)
        clause, bounds = step_range("step", step_min, step_max)
        query = "SELECT min(step), max(step) FROM points WHERE run_id = %s AND key_id = %s" + clause
        args: list[Any] = [run, key_id, *bounds]
        row = self._all(query, args)[0]
        return None if row[0] is None else (int(row[0]), int(row[1]))

    def nth_back(
        self, key_id: int, upto: int | None, n: int, *, finite: bool = False
    ) -> int | None:
        """The step of the ``n``-th point (``finite``: finite point) counted back from
        ``upto`` (None: from the last point), or None when there are fewer."""
        query = "SELECT step FROM points WHERE run_id = %s AND key_id = %s"
        args: list[Any] = [self._key_run(key_id), key_id]
        if finite:
            query += " AND abs(COALESCE(value, 'NaN'::float8)) < 'Infinity'::float8"
        if upto is not None:
            query += " AND step <= %s"
            args.append(upto)
        rows = self._all(query + f" ORDER BY step DESC LIMIT 1 OFFSET {max(0, int(n) - 1)}", args)
        return int(rows[0][0]) if rows else None

    def neighbour(self, key_id: int, step: int, before: bool) -> tuple[int, float] | None:
        """The last point before ``step`` (``before``) or the first after it."""
        run = self._key_run(key_id)
        if before:
            tail = "AND step < %s ORDER BY step DESC LIMIT 1"
        else:
            tail = "AND step > %s ORDER BY step LIMIT 1"
        rows = self._all(
            f"SELECT step, COALESCE(value, 'NaN'::float8) FROM points "
            f"WHERE run_id = %s AND key_id = %s {tail}",
            (run, key_id, step),
        )
        return (int(rows[0][0]), float(rows[0][1])) if rows else None

    def step_buckets(
        self, key_id: int, step_min: int | None, step_max: int | None, buckets: int
    ) -> SubArray:
        """Summaries of the key's points in ``[step_min, step_max]`` cut into ``buckets``
        equal slices of the steps present there (empty slices are left out), computed in
        PostgreSQL, as :data:`~losslens.store.rollups.SUB_DTYPE` records (``r_lo``/``r_hi``
        are 0: there are no rowids)."""
        span = self.step_span(key_id, step_min, step_max)
        if span is None:
            return np.zeros(0, dtype=SUB_DTYPE)
        lo, hi = span
        buckets = max(1, int(buckets))
        scale = buckets / (float(hi) - float(lo)) if hi > lo else 0.0
        args = {
            "run": self._key_run(key_id),
            "key": key_id,
            "lo": lo,
            "hi": hi,
            "scale": scale,
            "last": buckets - 1,
        }
        rows = self._all(_BUCKETS, args)
        out = np.zeros(len(rows), dtype=SUB_DTYPE)
        for i, r in enumerate(rows):
            _, n, nf, s_lo, s_hi, last_bad, first, last, mn, mx, v_sum, s_sum, bad = r
            o = out[i]
            o["n"], o["nf"], o["s_lo"], o["s_hi"] = n, nf, s_lo, s_hi
            at_hi = last_bad if last_bad is not None and _step(*last_bad[:2]) == s_hi else last
            o["v_hi"] = at_hi[2]
            o["s_bad"], o["v_bad"] = (I64_MAX, 0.0) if bad is None else (_step(*bad[:2]), bad[2])
            if not nf:
                continue
            o["s_first"], o["v_first"] = _step(first[0], first[1]), first[2]
            o["s_last"], o["v_last"] = _step(last[0], last[1]), last[2]
            o["s_min"], o["v_min"] = _step(mn[1], mn[2]), mn[0]
            o["s_max"], o["v_max"] = _step(-mx[1], -mx[2]), mx[0]
            o["v_sum"], o["s_sum"] = v_sum, s_sum
        return out

    def rollup_subs(
        self, key_id: int, step_min: int | None = None, step_max: int | None = None
    ) -> SubArray:
        """What the SQLite store's ``rollup_subs`` gives a sparkline: summaries of the key in
        :data:`SUBS_BUCKETS` slices of steps (:meth:`step_buckets`), cached per state of the
        key (a new point makes a new one)."""
        rows = self._all("SELECT n_points, step_max FROM metric_keys WHERE id = %s", (key_id,))
        if not rows:
            return np.zeros(0, dtype=SUB_DTYPE)
        ck = (key_id, step_min, step_max, rows[0][0], rows[0][1])
        cache, lock = self._subs_cache()
        with lock:
            hit = cache.get(ck)
            if hit is not None:
                cache.move_to_end(ck)
                return hit
        subs = self.step_buckets(key_id, step_min, step_max, SUBS_BUCKETS)
        with lock:
            cache[ck] = subs
            while len(cache) > _SUBS_CACHED:
                cache.popitem(last=False)
        return subs

    def _subs_cache(self) -> tuple[OrderedDict[tuple[Any, ...], SubArray], threading.Lock]:
        got: tuple[OrderedDict[tuple[Any, ...], SubArray], threading.Lock] | None = getattr(
            self, "_subs", None
        )
        if got is None:
            got = self._subs = (OrderedDict(), threading.Lock())
        return got

    def points_after(
        self, run_id: str, after: dict[int, int | None]
    ) -> Iterator[tuple[int, Any, Any, Any]]:
        """Per key of ``after`` (key id -> last step already read, None: none), the points
        past that step: ``(key_id, steps, values, wall_times)`` numpy columns, keys with
        no new point left out. One query, one partition."""
        start = {k: None if a is None else a + 1 for k, a in after.items() if a != I64_MAX}
        if not start:
            return
        kids = list(start)
        rows = self._copy_rows(
            "SELECT f.kid, p.step, COALESCE(p.value, 'NaN'::float8), "
            "COALESCE(p.wall_time, 'NaN'::float8) "
            "FROM unnest(%s::bigint[], %s::bigint[]) AS f(kid, start) CROSS JOIN LATERAL "
            "(SELECT step, value, wall_time FROM points WHERE run_id = %s AND key_id = f.kid "
            "AND step >= COALESCE(f.start, -9223372036854775808)) p ORDER BY 1, 2",
            [kids, [start[k] for k in kids], run_id],
            _COPY4,
        )
        if not len(rows):
            return
        kid = rows["k"].astype(np.int64)
        cut = np.flatnonzero(np.r_[True, kid[1:] != kid[:-1], True])
        for a, b in itertools.pairwise(cut):
            part = rows[a:b]
            yield (
                int(kid[a]),
                part["s"].astype(np.int64),
                part["v"].astype(np.float64),
                part["w"].astype(np.float64),
            )


def _copy_dtype(names: Sequence[str]) -> np.dtype[Any]:
    """One row of ``COPY (SELECT …) TO STDOUT (FORMAT BINARY)`` of non-NULL 8-byte columns."""
    fields: list[tuple[str, str]] = [("nf", ">i2")]
    for name in names:
        kind = ">i8" if name in ("k", "s") else ">f8"
        fields += [(f"{name}_len", ">i4"), (name, kind)]
    return np.dtype(fields)


_COPY3 = _copy_dtype(("s", "v", "w"))
_COPY4 = _copy_dtype(("k", "s", "v", "w"))
#: A row of :meth:`PgReads.read_range`'s packed ``bytea``.
_PACKED = np.dtype([("s", ">i8"), ("v", ">f8"), ("w", ">f8")])
#: Keys up to this many points are read as one packed ``bytea`` (24 bytes a point, well
#: under PostgreSQL's 1 GB per value); longer ones with binary COPY.
PACKED_MAX = 20_000_000

__all__ = ["SUBS_BUCKETS", "Head", "PgReads"]

"""The PostgreSQL store's write path: points go as one ``COPY … FROM STDIN (FORMAT BINARY)``
stream built in numpy from whole columns (no Python object per point): straight into
``points`` when the batch only appends, else into a session-local staging table and from
there by a merge that skips points already stored."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg

STAGE = (
    "CREATE TEMP TABLE IF NOT EXISTS losslens_stage "
    "(key_id int8, step int8, wall_time float8, value float8) ON COMMIT DELETE ROWS"
)
COPY = "COPY losslens_stage (key_id, step, wall_time, value) FROM STDIN (FORMAT BINARY)"
#: The append-only case (no point of the batch can exist yet): straight into ``points``,
#: about 1.3x faster than staging and a plain insert (and 2.3x than the merge below); the
#: primary key still guards it (see :func:`write_columns`).
APPEND = "COPY points (run_id, key_id, step, wall_time, value) FROM STDIN (FORMAT BINARY)"
#: Each key's count and last step, given as arrays (the batch's, computed in numpy).
APPEND_COUNTS = (
    "UPDATE metric_keys k SET n_points = k.n_points + c.n, step_max = GREATEST(k.step_max, c.m) "
    "FROM unnest(%s::int8[], %s::int8[], %s::int8[]) AS c(key_id, n, m) WHERE k.id = c.key_id"
)
#: Any batch, from the staging table: points already stored are skipped (the first value
#: written wins), and the keys' counts follow the rows actually inserted.
MERGE = (
    "WITH ins AS (INSERT INTO points (run_id, key_id, step, wall_time, value) "
    "SELECT %s, key_id, step, NULLIF(wall_time, 'NaN'), value FROM losslens_stage "
    "ON CONFLICT DO NOTHING RETURNING key_id, step) "
    "UPDATE metric_keys k SET n_points = k.n_points + c.n, step_max = GREATEST(k.step_max, c.m) "
    "FROM (SELECT key_id, count(*) AS n, max(step) AS m FROM ins GROUP BY key_id) c "
    "WHERE k.id = c.key_id"
)


def per_key(
    kids: npt.NDArray[Any], steps: npt.NDArray[Any]
) -> tuple[list[int], list[int], list[int], list[int]] | None:
    """``(key ids, first steps, counts, last steps)`` of a batch's keys, or None when a key
    has the same step twice in it."""
    order = np.lexsort((steps, kids))
    k, st = kids[order], steps[order]
    if bool(np.any((k[1:] == k[:-1]) & (st[1:] == st[:-1]))):
        return None
    first = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    last = np.r_[first[1:] - 1, len(k) - 1]
    return k[first].tolist(), st[first].tolist(), (last - first + 1).tolist(), st[last].tolist()


def appends_only(conn: Any, keys: list[int], lows: list[int]) -> bool:
    """Whether every key's first step in a batch is beyond the key's last stored step (a
    retried or overlapping batch is not, and is merged)."""
    low = dict(zip(keys, lows, strict=True))
    rows = conn.execute(
        "SELECT id, step_max FROM metric_keys WHERE id = ANY(%s)", (keys,)
    ).fetchall()
    return all(top is None or low[int(kid)] > int(top) for kid, top in rows)


#: ``COPY … (FORMAT BINARY)`` rows of ``(key_id int8, step int8, wall_time float8, value
#: float8)`` (``_ROW``), and of ``points`` with and without a wall time (``_point_row``): a
#: field count, then per field its length (-1: NULL, no bytes) and its big-endian bytes.
def _fields(*names: str) -> list[tuple[str, str]]:
    types = {"k": ">i8", "s": ">i8", "w": ">f8", "v": ">f8"}
    return [f for n in names for f in ((f"{n}_len", ">i4"), (n, types[n]))]


_ROW = np.dtype([("n", ">i2"), *_fields("k", "s", "w", "v")])
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, header extension
_COPY_TRAILER = b"\xff\xff"


def copy_columns(
    kids: npt.NDArray[Any], steps: npt.NDArray[Any], walls: npt.NDArray[Any], values: Any
) -> bytes:
    """Rows given as columns (key id, step, wall time, value) as one binary COPY stream for
    the staging table: no Python object per row. Unknown wall times go as NaN (the merge
    makes them NULL)."""
    rows = np.empty(len(kids), dtype=_ROW)
    rows["n"] = 4
    for name in ("k", "s", "w", "v"):
        rows[f"{name}_len"] = 8
    rows["k"] = kids
    rows["s"] = steps
    rows["w"] = walls
    rows["v"] = values
    return _COPY_HEADER + rows.tobytes() + _COPY_TRAILER


def _point_row(rid_len: int, wall: bool) -> np.dtype[Any]:
    head = [("n", ">i2"), ("r_len", ">i4"), ("r", f"S{rid_len}")]
    wall_fields = _fields("w") if wall else [("w_len", ">i4")]  # NULL: length -1, no bytes
    return np.dtype(head + _fields("k", "s") + wall_fields + _fields("v"))


def copy_points(
    run_id: str,
    kids: npt.NDArray[Any],
    steps: npt.NDArray[Any],
    walls: npt.NDArray[Any],
    values: npt.NDArray[Any],
) -> bytes:
    """The rows of ``points`` (run id, key id, step, wall time, value) as one binary COPY
    stream; a wall time that is NaN (unknown) goes as NULL. Row order does not matter to
    COPY, so the rows with a wall time and those without are two blocks of fixed-size
    records."""
    rid = run_id.encode("utf-8")
    known = ~np.isnan(walls)
    parts = [_COPY_HEADER]
    for wall, mask in ((True, known), (False, ~known)):
        m = int(mask.sum())
        if not m:
            continue
        rows = np.empty(m, dtype=_point_row(len(rid), wall))
        rows["n"] = 5
        rows["r_len"] = len(rid)
        rows["r"] = rid
        rows["k_len"] = rows["s_len"] = rows["v_len"] = 8
        rows["w_len"] = 8 if wall else -1
        rows["k"], rows["s"], rows["v"] = kids[mask], steps[mask], values[mask]
        if wall:
            rows["w"] = walls[mask]
        parts.append(rows.tobytes())
    parts.append(_COPY_TRAILER)
    return b"".join(parts)


def columns(
    flat: list[Any],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], Any, Any]:
    """Rows given flat as ``[key_id, step, wall_time, value, ...]`` as the four columns of
    :func:`write_columns`. Unknown wall times become NaN; NaN and ±Inf values stay; an int
    beyond float range becomes ±Inf."""
    return (
        np.array(flat[0::4], dtype=np.int64),
        np.array(flat[1::4], dtype=np.int64),
        _floats(flat[2::4]),
        _floats(flat[3::4]),
    )


def write_columns(
    conn: Any,
    run_id: str,
    kids: npt.NDArray[Any],
    steps: npt.NDArray[Any],
    walls: npt.NDArray[Any],
    values: npt.NDArray[Any],
) -> None:
    """Store a batch of a run's points inside the caller's transaction (its keys exist).

    A batch that only appends is copied straight into ``points`` with the keys' counts
    from numpy, in a savepoint: one racing another writer that stored the same points
    first breaks the primary key there, and goes the other way instead. That way is COPY
    into the staging table, then the merge, which skips points already stored."""
    keys = per_key(kids, steps)
    if keys is not None and appends_only(conn, keys[0], keys[1]):
        try:
            with conn.transaction(), conn.cursor() as cur:
                with cur.copy(APPEND) as copy:
                    copy.write(copy_points(run_id, kids, steps, walls, values))
                cur.execute(APPEND_COUNTS, (keys[0], keys[2], keys[3]))
            return
        except psycopg.errors.UniqueViolation:
            pass
    conn.execute(STAGE)
    with conn.cursor() as cur, cur.copy(COPY) as copy:
        copy.write(copy_columns(kids, steps, walls, values))
    conn.execute(MERGE, (run_id,))
    conn.execute("TRUNCATE losslens_stage")


def key_ids(
    conn: Any, run_id: str, keys: list[tuple[str, str]], originals: list[str | None]
) -> npt.NDArray[np.int64]:
    """The ids of a run's ``(name, kind)`` keys, in order, created when new (with the name
    they were logged under): one query when they all exist, three when some are new."""
    names = [k for k, _ in keys]
    want = {pair: i for i, pair in enumerate(keys)}
    out = np.full(len(keys), -1, dtype=np.int64)
    for attempt in range(2):
        rows = conn.execute(
            "SELECT id, key, kind FROM metric_keys WHERE run_id = %s AND key = ANY(%s)",
            (run_id, names),
        ).fetchall()
        for kid, key, kind in rows:
            i = want.get((key, kind))
            if i is not None:
                out[i] = kid
        missing = np.flatnonzero(out < 0).tolist()
        if not missing or attempt:
            break
        conn.execute(
            "INSERT INTO metric_keys (run_id, key, original, kind) "
            "SELECT %s, k, o, t FROM unnest(%s::text[], %s::text[], %s::text[]) AS g(k, o, t) "
            "ON CONFLICT (run_id, key, kind) DO NOTHING",
            (
                run_id,
                [keys[i][0] for i in missing],
                [originals[i] for i in missing],
                [keys[i][1] for i in missing],
            ),
        )
    assert bool((out >= 0).all())
    return out


def _floats(xs: list[Any]) -> np.ndarray[Any, Any]:
    try:
        return np.array(xs, dtype=np.float64)  # None -> NaN
    except (OverflowError, TypeError, ValueError):
        return np.array([_as_float(x) for x in xs], dtype=np.float64)


def _as_float(v: Any) -> float:
    if v is None:
        return math.nan
    try:
        return float(v)
    except OverflowError:  # an int beyond float range
        return math.copysign(math.inf, v)
    except (TypeError, ValueError):
        return math.nan


__all__ = [
    "APPEND",
    "APPEND_COUNTS",
    "COPY",
    "MERGE",
    "STAGE",
    "appends_only",
    "columns",
    "copy_columns",
    "copy_points",
    "key_ids",
    "per_key",
    "write_columns",
]

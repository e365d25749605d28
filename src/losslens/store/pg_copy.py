"""Rows of points as one ``COPY … FROM STDIN (FORMAT BINARY)`` stream, built in numpy (the
PostgreSQL store's write path)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

#: One row of ``COPY … (FORMAT BINARY)`` of ``(key_id int8, step int8, wall_time float8,
#: value float8)``: a field count, then per field its length and big-endian bytes.
_ROW = np.dtype(
    [("n", ">i2")]
    + [(f, t) for name, t in (("k", ">i8"), ("s", ">i8"), ("w", ">f8"), ("v", ">f8"))
       for f, t in ((f"{name}_len", ">i4"), (name, t))]
)  # fmt: skip
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, header extension
_COPY_TRAILER = b"\xff\xff"


def copy_binary(flat: list[Any]) -> bytes:
    """Rows given flat as ``[key_id, step, wall_time, value, ...]`` as one binary COPY stream,
    built in numpy. Unknown wall times go as NaN (the merge makes them NULL); NaN and ±Inf
    values as themselves; an int beyond float range as ±Inf."""
    n = len(flat) // 4
    rows = np.empty(n, dtype=_ROW)
    rows["n"] = 4
    for name in ("k", "s", "w", "v"):
        rows[f"{name}_len"] = 8
    rows["k"] = np.array(flat[0::4], dtype=np.int64)
    rows["s"] = np.array(flat[1::4], dtype=np.int64)
    rows["w"] = _floats(flat[2::4])
    rows["v"] = _floats(flat[3::4])
    return _COPY_HEADER + rows.tobytes() + _COPY_TRAILER


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


__all__ = ["copy_binary"]

"""Write-time summaries of the points of one metric key, for drawing huge series fast.

A key's points, in logging order, are cut into *sub-blocks* of ``SUB`` points; ``PER_ROW``
consecutive sub-blocks make one row of the ``rollups`` table (a *block* of ``BLOCK``
points). Each sub-block keeps what a per-pixel M4 drawing needs, exactly:

* its step span (``s_lo``..``s_hi``, all points) and its rowid span (``r_lo``..``r_hi``),
  so that the points of a sub-block that straddles a pixel column can be read back raw;
* among finite values: the first and last point by step, the minimum and the maximum with
  their steps, the sum of values and of steps, and the count;
* the first non-finite point by step (NaN, ±Inf), and the value at the largest step.

Only the last sub-block and the last row of a key may be partial. Everything here is pure
numpy; :mod:`losslens.store.points` reads and writes the rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

#: Points per sub-block.
SUB = 16
#: Sub-blocks per ``rollups`` row.
PER_ROW = 16
#: Points per ``rollups`` row.
BLOCK = SUB * PER_ROW

I64_MAX = np.iinfo(np.int64).max
I64_MIN = np.iinfo(np.int64).min

#: One sub-block summary (little-endian, 152 bytes), as stored in ``rollups.sub``.
SUB_DTYPE = np.dtype(
    [
        ("n", "<i8"),  # points
        ("nf", "<i8"),  # finite points
        ("s_lo", "<i8"),  # smallest step (all points)
        ("s_hi", "<i8"),  # largest step (all points)
        ("v_hi", "<f8"),  # value at s_hi (the last logged at that step)
        ("r_lo", "<i8"),  # rowid of the first point
        ("r_hi", "<i8"),  # rowid of the last point
        ("s_first", "<i8"),  # finite point with the smallest step (first logged)
        ("v_first", "<f8"),
        ("s_last", "<i8"),  # finite point with the largest step (last logged)
        ("v_last", "<f8"),
        ("s_min", "<i8"),  # smallest finite value (first logged)
        ("v_min", "<f8"),
        ("s_max", "<i8"),  # largest finite value (first logged)
        ("v_max", "<f8"),
        ("v_sum", "<f8"),  # sum of finite values
        ("s_sum", "<f8"),  # sum of the steps of finite values
        ("s_bad", "<i8"),  # smallest step of a non-finite value (I64_MAX: none)
        ("v_bad", "<f8"),
    ]
)

SubArray = npt.NDArray[np.void]


def summarize(
    steps: npt.NDArray[np.int64], values: npt.NDArray[np.float64], rowids: npt.NDArray[np.int64]
) -> SubArray:
    """Sub-block summaries of consecutive points (chunks of ``SUB``; the last may be short)."""
    m = len(steps)
    k = -(-m // SUB)
    out = np.zeros(k, dtype=SUB_DTYPE)
    if not m:
        return out
    pad = k * SUB - m
    S = np.concatenate([steps, np.zeros(pad, np.int64)]).reshape(k, SUB)
    V = np.concatenate([values, np.full(pad, np.nan)]).reshape(k, SUB)
    R = np.concatenate([rowids, np.zeros(pad, np.int64)]).reshape(k, SUB)
    valid = (np.arange(k * SUB) < m).reshape(k, SUB)
    isfin = np.isfinite(V)
    fin = isfin & valid
    bad = ~isfin & valid
    rows = np.arange(k)
    last_col = SUB - 1
    n = valid.sum(1)
    out["n"] = n
    out["nf"] = fin.sum(1)
    out["s_lo"] = np.where(valid, S, I64_MAX).min(1)
    sv = np.where(valid, S, I64_MIN)
    i = last_col - sv[:, ::-1].argmax(1)  # last occurrence of the largest step
    out["s_hi"] = S[rows, i]
    out["v_hi"] = V[rows, i]
    out["r_lo"] = R[:, 0]
    out["r_hi"] = R[rows, n - 1]
    i = np.where(fin, S, I64_MAX).argmin(1)
    out["s_first"], out["v_first"] = S[rows, i], V[rows, i]
    sf = np.where(fin, S, I64_MIN)
    i = last_col - sf[:, ::-1].argmax(1)
    out["s_last"], out["v_last"] = S[rows, i], V[rows, i]
    i = np.where(fin, V, np.inf).argmin(1)
    out["s_min"], out["v_min"] = S[rows, i], V[rows, i]
    i = np.where(fin, V, -np.inf).argmax(1)
    out["s_max"], out["v_max"] = S[rows, i], V[rows, i]
    with np.errstate(over="ignore"):  # values near the float limit sum to inf, as they are
        out["v_sum"] = np.where(fin, V, 0.0).sum(1)
    out["s_sum"] = np.where(fin, S, 0).astype(np.float64).sum(1)
    i = np.where(bad, S, I64_MAX).argmin(1)
    has_bad = bad.any(1)
    out["s_bad"] = np.where(has_bad, S[rows, i], I64_MAX)
    out["v_bad"] = np.where(has_bad, V[rows, i], 0.0)
    return out


def row_columns(sub: SubArray) -> tuple[Any, ...]:
    """The SQL summary columns of one ``rollups`` row from its sub-blocks:
    ``(n, n_finite, step_min, step_max, v_min, step_at_min, v_max, step_at_max, v_sum,
    first_bad_step, rowid_last)``; NULL where there is no finite (or non-finite) value."""
    n = int(sub["n"].sum())
    nf = int(sub["nf"].sum())
    s_lo = int(sub["s_lo"].min())
    s_hi = int(sub["s_hi"].max())
    if nf:
        f = sub[sub["nf"] > 0]
        i, j = int(f["v_min"].argmin()), int(f["v_max"].argmax())
        v_min, s_min = float(f["v_min"][i]), int(f["s_min"][i])
        v_max, s_max = float(f["v_max"][j]), int(f["s_max"][j])
        v_sum: float | None = float(f["v_sum"].sum())
    else:
        v_min = s_min = v_max = s_max = v_sum = None  # type: ignore[assignment]
    s_bad = int(sub["s_bad"].min())
    bad = s_bad if s_bad != I64_MAX else None
    return (n, nf, s_lo, s_hi, v_min, s_min, v_max, s_max, v_sum, bad, int(sub["r_hi"][-1]))


def to_blob(sub: SubArray) -> bytes:
    return np.ascontiguousarray(sub, dtype=SUB_DTYPE).tobytes()


def from_blob(blob: bytes) -> SubArray:
    return np.frombuffer(blob, dtype=SUB_DTYPE).copy()

"""Per-pixel downsampling that never hides a spike.

A chart ``width`` pixels wide cannot show more than a few values per pixel column, so
we keep, for each column (an equal slice of the x range), the first, last, smallest and
largest point (M4). Drawn as a line, the result covers exactly the pixels the full
series would, so a one-step spike always survives. ``tsdownsample`` does this in Rust
when it is installed; a numpy version gives the same points otherwise.

Non-finite values (NaN, ±Inf) are never fed to the downsampler: the first one of each
column is kept as its own point so that the chart can mark it.

For smoothing, :func:`bucket_means` gives each column's mean and point count: an EMA
over those with weight ``s ** count`` is what the EMA over every point would draw.
"""

from __future__ import annotations

import importlib
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

#: Points kept per pixel column by :func:`m4_indices`.
PER_BUCKET = 4


def _bins(x: npt.NDArray[np.float64], n_bins: int) -> IntArray:
    """The column of each x (x sorted): equal slices of [x[0], x[-1]]."""
    return _bins_in(x, float(x[0]), float(x[-1]), n_bins)


def _bins_in(x: npt.NDArray[np.float64], lo: float, hi: float, n_bins: int) -> IntArray:
    """The column of each x among ``n_bins`` equal slices of ``[lo, hi]``."""
    if hi <= lo:
        return np.zeros(len(x), dtype=np.int64)
    b = np.floor((x - lo) * (n_bins / (hi - lo))).astype(np.int64)
    return np.clip(b, 0, n_bins - 1)


def _m4_numpy(x: npt.NDArray[np.float64], y: FloatArray, n_bins: int) -> IntArray:
    bins = _bins(x, n_bins)
    # Sorted by bin then value: the first row of a bin is its min, the last its max.
    order = np.lexsort((y, bins))
    sb = bins[order]
    starts = np.flatnonzero(np.r_[True, sb[1:] != sb[:-1]])
    ends = np.r_[starts[1:], len(sb)] - 1
    firsts = np.flatnonzero(np.r_[True, bins[1:] != bins[:-1]])
    lasts = np.r_[firsts[1:], len(bins)] - 1
    keep = np.concatenate([order[starts], order[ends], firsts, lasts])
    return np.unique(keep).astype(np.int64)


def _m4_fast(x: npt.NDArray[np.float64], y: FloatArray, n_bins: int) -> IntArray | None:
    try:
        tsd: Any = importlib.import_module("tsdownsample")
    except ImportError:
        return None
    try:
        idx = tsd.M4Downsampler().downsample(
            np.ascontiguousarray(x), np.ascontiguousarray(y), n_out=PER_BUCKET * n_bins
        )
    except Exception:  # unexpected input for the Rust side: the numpy path is exact too
        return None
    return np.unique(np.asarray(idx, dtype=np.int64))


def m4_indices(
    x: npt.ArrayLike, y: npt.ArrayLike, width: int, *, use_fast: bool = True
) -> IntArray:
    """Indices (ascending) of the points to draw ``x, y`` on ``width`` pixel columns.

    ``x`` must be sorted (ties allowed). At most ``4 * width`` finite points plus one
    non-finite point per column are returned; a series that already fits is returned whole.
    """
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    n = len(xs)
    width = max(1, int(width))
    if n <= PER_BUCKET * width:
        return np.arange(n, dtype=np.int64)
    finite = np.isfinite(ys)
    fin_idx = np.flatnonzero(finite)
    parts: list[IntArray] = []
    if len(fin_idx) > PER_BUCKET * width:
        fx, fy = xs[fin_idx], ys[fin_idx]
        local = _m4_fast(fx, fy, width) if use_fast else None
        if local is None:
            local = _m4_numpy(fx, fy, width)
        parts.append(fin_idx[local])
    else:
        parts.append(fin_idx.astype(np.int64))
    bad_idx = np.flatnonzero(~finite)
    if len(bad_idx):
        bins = _bins(xs, width)[bad_idx]
        first = np.flatnonzero(np.r_[True, bins[1:] != bins[:-1]])
        parts.append(bad_idx[first].astype(np.int64))
    return np.unique(np.concatenate(parts)).astype(np.int64)


class BucketMeans(NamedTuple):
    """Per-column mean of the finite values, for smoothing a downsampled series."""

    x: FloatArray  # mean x of the column's points
    mean: FloatArray
    n: IntArray


def bucket_means(x: npt.ArrayLike, y: npt.ArrayLike, width: int) -> BucketMeans:
    """Mean x, mean y and count of the finite points in each of ``width`` columns."""
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    mask = np.isfinite(ys)
    xs, ys = xs[mask], ys[mask]
    if not len(xs):
        empty = np.zeros(0, dtype=np.float64)
        return BucketMeans(empty, empty, np.zeros(0, dtype=np.int64))
    bins = _bins(xs, max(1, int(width)))
    count = np.bincount(bins)
    used = np.flatnonzero(count)
    sx = np.bincount(bins, weights=xs)[used]
    sy = np.bincount(bins, weights=ys)[used]
    c = count[used]
    return BucketMeans(sx / c, sy / c, c.astype(np.int64))


# -- drawing from write-time summaries (losslens.store.rollups) ---------------------------------


class Candidates(NamedTuple):
    """Points that draw exactly like a whole series at a given width (see
    :func:`column_candidates`), with what the whole series would give for the rest."""

    steps: IntArray  # ascending
    values: FloatArray
    n_total: int
    means: BucketMeans


def _ends(subs: Any, raw_s: IntArray, raw_v: FloatArray) -> tuple[float, float, float, float]:
    """``(lo, hi)`` of all steps and ``(lo, hi)`` of the steps of finite values."""
    fin = np.isfinite(raw_v)
    has = subs["nf"] > 0
    all_lo = [subs["s_lo"].min()] if len(subs) else []
    all_hi = [subs["s_hi"].max()] if len(subs) else []
    f_lo = [subs["s_first"][has].min()] if has.any() else []
    f_hi = [subs["s_last"][has].max()] if has.any() else []
    if len(raw_s):
        all_lo.append(raw_s.min())
        all_hi.append(raw_s.max())
    if fin.any():
        f_lo.append(raw_s[fin].min())
        f_hi.append(raw_s[fin].max())
    a_lo, a_hi = (float(min(all_lo)), float(max(all_hi))) if all_lo else (0.0, 0.0)
    b_lo, b_hi = (float(min(f_lo)), float(max(f_hi))) if f_lo else (a_lo, a_hi)
    return a_lo, a_hi, b_lo, b_hi


def _pick(col: IntArray, key: npt.NDArray[Any], last: bool) -> IntArray:
    """Per run of equal ``col`` (``col`` sorted): the index of the smallest ``key`` (the
    largest when ``last``), first occurrence for the smallest, last for the largest."""
    starts = np.flatnonzero(np.r_[True, col[1:] != col[:-1]])
    counts = np.diff(np.r_[starts, len(col)])
    best = np.maximum.reduceat(key, starts) if last else np.minimum.reduceat(key, starts)
    hit = np.flatnonzero(key == np.repeat(best, counts))
    group = np.searchsorted(starts, hit, side="right") - 1
    if last:
        ends = np.flatnonzero(np.r_[group[1:] != group[:-1], True])
        return hit[ends].astype(np.int64)
    firsts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    return hit[firsts].astype(np.int64)


def straddling(subs: Any, raw_s: IntArray, raw_v: FloatArray, width: int) -> npt.NDArray[np.bool_]:
    """Which summaries span more than one pixel column (their points must be read raw).

    ``subs`` are the summaries wholly inside the view, ``raw_*`` the other points of the
    view; columns are those :func:`m4_indices` uses for finite values and for non-finite
    ones (equal slices between the first and last step of each).
    """
    width = max(1, int(width))
    a_lo, a_hi, f_lo, f_hi = _ends(subs, raw_s, raw_v)
    lo = subs["s_lo"].astype(np.float64)
    hi = subs["s_hi"].astype(np.float64)
    out = _bins_in(lo, f_lo, f_hi, width) != _bins_in(hi, f_lo, f_hi, width)
    out |= _bins_in(lo, a_lo, a_hi, width) != _bins_in(hi, a_lo, a_hi, width)
    return np.asarray(out, dtype=np.bool_)


def column_candidates(
    subs: Any,
    raw_s: IntArray,
    raw_v: FloatArray,
    width: int,
    n_total: int,
    use: npt.NDArray[np.bool_] | None = None,
) -> Candidates:
    """The points to draw for a view made of summaries that each fall in one pixel column
    (none straddling, see :func:`straddling`) and raw points.

    Per column this gives the same first, last, smallest and largest finite point and the
    same first non-finite point as :func:`m4_indices` on every point of the view, and the
    same :func:`bucket_means` (up to the order of float additions). ``use`` selects the
    summaries to draw (default: all); the others' points must be in ``raw_*``.
    """
    width = max(1, int(width))
    _, _, f_lo, f_hi = _ends(subs, raw_s, raw_v)
    use = np.ones(len(subs), dtype=np.bool_) if use is None else use
    has = np.flatnonzero((subs["nf"] > 0) & use)
    # Reduce the summaries to four points per column first (each lies in one column).
    s_first = subs["s_first"][has]
    col = _bins_in(s_first.astype(np.float64), f_lo, f_hi, width)
    order = np.argsort(col, kind="stable")
    sc = col[order]
    parts_s: list[IntArray] = [raw_s]
    parts_v: list[FloatArray] = [raw_v]
    if len(has):
        for s_name, v_name, key_name, last in (
            ("s_first", "v_first", "s_first", False),
            ("s_last", "v_last", "s_last", True),
            ("s_min", "v_min", "v_min", False),
            ("s_max", "v_max", "v_max", True),
        ):
            sel = has[order[_pick(sc, subs[key_name][has][order], last)]]
            parts_s.append(subs[s_name][sel])
            parts_v.append(subs[v_name][sel])
    bad = np.flatnonzero((subs["s_bad"] != np.iinfo(np.int64).max) & use)
    parts_s.append(subs["s_bad"][bad])
    parts_v.append(subs["v_bad"][bad])
    hi_bad = np.flatnonzero(~np.isfinite(subs["v_hi"]) & use)
    parts_s.append(subs["s_hi"][hi_bad])
    parts_v.append(subs["v_hi"][hi_bad])
    xs = np.concatenate(parts_s).astype(np.int64)
    ys = np.concatenate(parts_v).astype(np.float64)
    order = np.argsort(xs, kind="stable")  # raw points first among equal steps
    xs, ys = xs[order], ys[order]
    keep = m4_indices(xs.astype(np.float64), ys, width, use_fast=False)
    # Column means: summaries add their sums, raw points their values.
    fin = np.isfinite(raw_v)
    rx = raw_s[fin].astype(np.float64)
    col = np.concatenate([_bins_in(rx, f_lo, f_hi, width), col])
    cnt = np.bincount(col, weights=np.r_[np.ones(len(rx)), subs["nf"][has]], minlength=width)
    sx = np.bincount(col, weights=np.r_[rx, subs["s_sum"][has]], minlength=width)
    sy = np.bincount(col, weights=np.r_[raw_v[fin], subs["v_sum"][has]], minlength=width)
    used = np.flatnonzero(cnt)
    c = cnt[used]
    means = BucketMeans(sx[used] / c, sy[used] / c, c.astype(np.int64))
    return Candidates(xs[keep], ys[keep], int(n_total), means)

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
    lo, hi = float(x[0]), float(x[-1])
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


def stride_indices(n: int, max_rows: int) -> IntArray:
    """Every k-th row with k the smallest power of two that fits, plus the last row.

    This is the plain stride some trackers use server-side; it is here for the
    benchmark that shows what it loses.
    """
    if n <= max_rows:
        return np.arange(n, dtype=np.int64)
    k = 1
    while (n + k - 1) // k > max_rows - 1:
        k *= 2
    idx = np.arange(0, n, k, dtype=np.int64)
    if idx[-1] != n - 1:
        idx = np.r_[idx, n - 1]
    return idx


def reservoir_indices(n: int, size: int, seed: int = 0) -> IntArray:
    """A uniform random sample of ``size`` rows that always keeps the last one.

    The reservoir some dashboards keep per tag; here for the benchmark.
    """
    if n <= size:
        return np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    picked = rng.choice(n - 1, size=size - 1, replace=False)
    return np.sort(np.r_[picked, n - 1]).astype(np.int64)

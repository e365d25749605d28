"""Numeric helpers for the rules: robust statistics on short, noisy, unevenly logged series.

Everything here is pure numpy on 1-D float arrays; nothing reads files or knows about rules.
Windows are given as a fraction of the number of points (clamped), so a run logged every step
and the same run logged every ten steps give the same answers.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from losslens.model import FloatArray

#: Consistency constant: MAD * 1.4826 estimates the standard deviation of normal data.
MAD_TO_SIGMA = 1.4826


def as_array(values: npt.ArrayLike) -> FloatArray:
    return np.asarray(values, dtype=np.float64)


def safe_log(values: FloatArray, floor: float = 1e-12) -> FloatArray:
    """Natural log with non-positive values clamped to ``floor`` (loss 0 stays finite)."""
    out = np.maximum(values, floor)
    if not isinstance(out, np.ndarray):  # a scalar in, a scalar out
        return np.log(out)
    np.log(out, out=out)  # in place: one temporary, not two
    return out


def window(n: int, frac: float, lo: int, hi: int) -> int:
    """A window length of ``frac`` of ``n`` points, clamped to ``[lo, hi]``."""
    return int(max(lo, min(hi, round(frac * n))))


def mad(x: FloatArray) -> float:
    """Median absolute deviation (not scaled)."""
    if x.size == 0:
        return float("nan")
    med = float(np.median(x))
    return float(np.median(np.abs(x - med)))


def median(x: FloatArray) -> float:
    return float(np.median(x)) if x.size else float("nan")


def neighbour_z(x: FloatArray, half: int, mad_floor: float, min_neighbours: int = 3) -> FloatArray:
    """Robust z-score of each point against its neighbours on both sides, itself excluded.

    ``z = 0.6745 * (x_i - median(N_i)) / max(MAD(N_i), mad_floor)`` with ``N_i`` the up to
    ``half`` points before and after ``i``. Leaving the point out keeps a spike from hiding
    itself; points with fewer than ``min_neighbours`` neighbours get NaN.
    """
    n = x.size
    out = np.full(n, np.nan)
    if n < min_neighbours + 1:
        return out
    for a, win in _neighbour_windows(x, half):
        counts = np.sum(np.isfinite(win), axis=1)
        ok = counts >= min_neighbours
        if not ok.any():
            continue
        w = win[ok]
        med = nanmedian_rows(w)
        dev = nanmedian_rows(np.abs(w - med[:, None]))
        scale = np.maximum(dev, mad_floor)
        xs = x[a : a + len(win)]
        out[a : a + len(win)][ok] = 0.6745 * (xs[ok] - med) / scale
    return out


def neighbour_median(x: FloatArray, half: int) -> FloatArray:
    """Median of the up to ``half`` points on each side of every point, itself excluded."""
    n = x.size
    if n < 2:
        return np.full(n, np.nan)
    out = np.empty(n)
    for a, win in _neighbour_windows(x, half):
        out[a : a + len(win)] = nanmedian_rows(win)
    return out


def neighbour_z_median(
    x: FloatArray, half: int, mad_floor: float, min_neighbours: int = 3
) -> Iterator[tuple[int, FloatArray, FloatArray]]:
    """``(first index, z, median)`` by chunks of points: the numbers of :func:`neighbour_z`
    and :func:`neighbour_median`, from one sort of each window, without full-length arrays."""
    n = x.size
    if n < 2:
        if n:
            yield 0, np.full(n, np.nan), np.full(n, np.nan)
        return
    for a, win in _neighbour_windows(x, half):
        med = nanmedian_rows(win)
        z = np.full(len(win), np.nan)
        if n >= min_neighbours + 1:
            ok = np.sum(np.isfinite(win), axis=1) >= min_neighbours
            if ok.any():
                m = med[ok]
                dev = nanmedian_rows(np.abs(win[ok] - m[:, None]))
                scale = np.maximum(dev, mad_floor)
                z[ok] = 0.6745 * (x[a : a + len(win)][ok] - m) / scale
        yield a, z, med


def neighbour_median_at(x: FloatArray, half: int, idx: npt.NDArray[np.intp]) -> FloatArray:
    """:func:`neighbour_median` at the points ``idx`` only (the same numbers)."""
    n = x.size
    if n < 2:
        return np.full(len(idx), np.nan)
    pad = np.concatenate([np.full(half, np.nan), x, np.full(half, np.nan)])
    rows = np.asarray(idx, dtype=np.intp)[:, None] + np.arange(2 * half + 1)[None, :]
    return nanmedian_rows(np.delete(pad[rows], half, axis=1))


#: Rows of neighbour windows handled at once: memory stays O(chunk x window), not O(n x window).
_CHUNK = 16384


def _neighbour_windows(x: FloatArray, half: int) -> Iterator[tuple[int, FloatArray]]:
    """``(first index, windows)`` by chunks of points: each row the ``half`` points before and
    after one point (NaN outside the series), the point itself left out."""
    n = x.size
    for a in range(0, n, _CHUNK):
        b = min(a + _CHUNK, n)
        lo, hi = a - half, b + half  # the chunk and its neighbours, NaN outside the series
        pad = np.concatenate(
            [
                np.full(max(0, -lo), np.nan),
                x[max(lo, 0) : min(hi, n)],
                np.full(max(0, hi - n), np.nan),
            ]
        )
        view = np.lib.stride_tricks.sliding_window_view(pad, 2 * half + 1)
        yield a, np.delete(view, half, axis=1)


def nanmedian_rows(w: FloatArray) -> FloatArray:
    """``np.nanmedian(w, axis=1)``, the same numbers, faster: rows without NaN are sorted."""
    full = ~np.isnan(w).any(axis=1)
    out = np.full(w.shape[0], np.nan)
    k = w.shape[1]
    if k and full.any():
        srt = np.sort(w[full], axis=1)  # a vectorised sort beats partition on short rows
        out[full] = srt[:, k // 2] if k % 2 else (srt[:, k // 2 - 1] + srt[:, k // 2]) / 2
    rest = ~full
    if rest.any():
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out[rest] = np.nanmedian(w[rest], axis=1)
    return out


def rolling_median(x: FloatArray, w: int) -> FloatArray:
    """Trailing-window medians: element ``i`` is the median of ``x[i : i + w]`` (length n-w+1)."""
    if x.size < w or w < 1:
        return np.empty(0)
    res: FloatArray = np.median(np.lib.stride_tricks.sliding_window_view(x, w), axis=1)
    return res


def downsample(x: FloatArray, y: FloatArray, max_points: int) -> tuple[FloatArray, FloatArray]:
    """Bucket medians so that O(n^2) statistics stay cheap on long runs."""
    n = x.size
    if n <= max_points:
        return x, y
    edges = np.linspace(0, n, max_points + 1).astype(int)
    xs = np.array([np.median(x[a:b]) for a, b in itertools.pairwise(edges)])
    ys = np.array([np.median(y[a:b]) for a, b in itertools.pairwise(edges)])
    return xs, ys


def theil_sen(x: FloatArray, y: FloatArray, max_points: int = 160) -> tuple[float, float]:
    """Theil-Sen line ``y = slope * x + intercept`` (median of pairwise slopes)."""
    if x.size < 2:
        return 0.0, float(y[0]) if y.size else float("nan")
    xs, ys = downsample(x, y, max_points)
    i, j = np.triu_indices(xs.size, k=1)
    dx = xs[j] - xs[i]
    ok = dx != 0
    if not ok.any():
        return 0.0, float(np.median(ys))
    slope = float(np.median((ys[j] - ys[i])[ok] / dx[ok]))
    intercept = float(np.median(ys - slope * xs))
    return slope, intercept


def mann_kendall_z(y: FloatArray, max_points: int = 160) -> float:
    """Mann-Kendall trend statistic as a z-score: > 1.96 rising, < -1.96 falling (5%)."""
    if y.size < 3:
        return 0.0
    _, ys = downsample(np.arange(y.size, dtype=np.float64), y, max_points)
    n = ys.size
    i, j = np.triu_indices(n, k=1)
    s = float(np.sum(np.sign(ys[j] - ys[i])))
    var = n * (n - 1) * (2 * n + 5) / 18.0
    if var <= 0:
        return 0.0
    if s > 0:
        return (s - 1) / math.sqrt(var)
    if s < 0:
        return (s + 1) / math.sqrt(var)
    return 0.0


def head(y: FloatArray, frac: float, lo: int = 2) -> FloatArray:
    """The first ``frac`` of the points (at least ``lo``)."""
    return y[: max(lo, round(frac * y.size))]


def tail(y: FloatArray, frac: float, lo: int = 2) -> FloatArray:
    """The last ``frac`` of the points (at least ``lo``)."""
    return y[-max(lo, round(frac * y.size)) :]


def end_median(y: FloatArray) -> float:
    """Where a logged series ended: the median of its last 10% (3 points at least, or all of
    fewer), so that one noisy last batch does not stand for the end."""
    return float(np.median(tail(y, 0.1, lo=min(3, y.size))))


def log_weights(steps: FloatArray) -> FloatArray:
    """The steps each log stands for: a logged loss averages the steps since the log before
    it, the first log those since the run began (its step, at least 1, at most the next
    interval). Equal for an evenly logged run; a log kept at a coarser cadence weighs more."""
    st = np.asarray(steps, dtype=np.float64)
    if st.size < 2:
        return np.ones(st.size)
    w = np.empty(st.size)
    w[1:] = np.diff(st)
    w[0] = min(max(float(st[0]), 1.0), float(w[1]))
    return np.where(np.isfinite(w) & (w > 0), w, 0.0)


def weighted_median(y: FloatArray, w: FloatArray) -> float:
    """The median of ``y`` with weights ``w``; with equal weights, ``np.median`` (an exact
    half between two values is their mean)."""
    ys, ws = np.asarray(y, dtype=np.float64), np.asarray(w, dtype=np.float64)
    if ys.size == 0 or not float(ws.sum()) > 0:
        return float(np.median(ys)) if ys.size else math.nan
    order = np.argsort(ys, kind="stable")
    ys, cw = ys[order], np.cumsum(ws[order])
    half, tol = 0.5 * float(cw[-1]), 1e-9 * float(cw[-1])
    i = min(int(np.searchsorted(cw, half - tol, side="left")), ys.size - 1)
    if abs(float(cw[i]) - half) <= tol and i + 1 < ys.size:
        return float(0.5 * (ys[i] + ys[i + 1]))
    return float(ys[i])


def step_level(steps: FloatArray, y: FloatArray, frac: float, lo: int, *, first: bool) -> float:
    """The level of the first (or last) ``frac`` of the logs (at least ``lo``): their median,
    each log weighted by the steps it stands for (``log_weights``), so a log kept at a
    coarser cadence counts for the steps it covers, not as one log among many."""
    w = log_weights(steps)
    n = max(lo, round(frac * y.size))
    part = slice(None, n) if first else slice(-n, None)
    return weighted_median(np.asarray(y)[part], w[part])


def runs_of(mask: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """``[start, end)`` index ranges where ``mask`` is True."""
    m = np.asarray(mask).astype(bool).ravel()  # truthiness, as a Python loop would see it
    if not m.size:
        return []
    edges = np.diff(np.concatenate([[False], m, [False]]).astype(np.int8))
    starts, ends = np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()
    return list(zip(starts, ends, strict=True))


def longest_run(mask: npt.NDArray[np.bool_]) -> int:
    return max((b - a for a, b in runs_of(mask)), default=0)


def fitted_change(x: FloatArray, y: FloatArray) -> float:
    """Change of the Theil-Sen line across ``x`` (last minus first), in the units of ``y``."""
    if x.size < 2:
        return 0.0
    slope, _ = theil_sen(x, y)
    return slope * float(x[-1] - x[0])


def relative(a: float, b: float) -> float:
    """``a / b - 1`` (NaN when ``b`` is 0)."""
    return a / b - 1.0 if b else float("nan")


def value_at(steps: FloatArray, values: FloatArray, step: float) -> float:
    """The value logged at ``step``, else the nearest earlier one, else the first."""
    idx = int(np.searchsorted(steps, step, side="right")) - 1
    return float(values[max(idx, 0)])


def interp(steps: FloatArray, values: FloatArray, step: float) -> float:
    """Linear interpolation, clamped at the ends."""
    return float(np.interp(step, steps, values))


def theil_sen_interval(
    x: FloatArray, y: FloatArray, z: float = 1.645, max_points: int = 160
) -> tuple[float, float, float]:
    """Theil-Sen slope with Sen's rank-based confidence interval: ``(slope, low, high)``.

    The interval takes the pairwise slopes ranked ``(N -+ C) / 2`` with ``N`` the number of
    pairs and ``C = z * sqrt(Var(S))`` (the Mann-Kendall variance), so it needs no
    assumption about the noise; ``z = 1.645`` gives a 90% two-sided interval. Noisy or short
    series give a wide interval, which is the point: "flat" can then be claimed only when
    the data rule out a meaningful slope, not merely when they fail to show one.
    """
    if x.size < 3:
        return 0.0, -math.inf, math.inf
    xs, ys = downsample(x, y, max_points)
    i, j = np.triu_indices(xs.size, k=1)
    dx = xs[j] - xs[i]
    ok = dx != 0
    if not ok.any():
        return 0.0, -math.inf, math.inf
    slopes = np.sort((ys[j] - ys[i])[ok] / dx[ok])
    n_pairs = slopes.size
    n = xs.size
    c = z * math.sqrt(n * (n - 1) * (2 * n + 5) / 18.0)
    lo_rank = math.floor((n_pairs - c) / 2)
    hi_rank = math.ceil((n_pairs + c) / 2)
    slope = float(np.median(slopes))
    low = float(slopes[lo_rank]) if 0 <= lo_rank < n_pairs else -math.inf
    high = float(slopes[hi_rank]) if 0 <= hi_rank < n_pairs else math.inf
    return slope, low, high


def rounding_step(x: FloatArray, max_decimals: int = 8) -> float | None:
    """The step of the rounding every value of ``x`` was logged at (``1e-4`` for values
    printed to 4 decimals), or None when they carry more than ``max_decimals`` decimals."""
    v = np.abs(x[np.isfinite(x)])
    for d in range(max_decimals + 1):
        q = 10.0**-d
        if np.all(np.abs(v / q - np.round(v / q)) < 1e-6):
            return q
    return None

"""Finding spikes in a logged series: points far above their neighbours, merged into events.

Pure numpy on the steps and values of one series (no rules, no run context): the spike rules
(``analysis/rules/spikes.py``) grade what this finds. Statistics are in log space, robust
(median/MAD of the neighbours, the point itself left out) and computed only at the points
that can pass the ratio test, so a long per-step log costs O(chunk) memory.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from losslens.analysis import signals
from losslens.model import FloatArray, IntArray

#: A point this many times the largest of its neighbours is a spike whatever their spread
#: (the conventions' "100x the surrounding level": no noise among the neighbours reaches it).
CLEAR = 100.0
#: The level is also read over this many times the neighbour window (dips do not lower it).
WIDE = 4
#: A spike has come back down once the loss is within this share of the jump of its level.
_UNDONE = 0.1


@dataclass
class Spike:
    index: int  # peak index
    end: int  # last index of the event
    step: int
    value: float
    baseline: float
    ratio: float
    recovered: bool | None  # None: at the end of the log
    start: int = -1  # step of the event's first log (adjacent spikes form one event)

    def __post_init__(self) -> None:
        if self.start < 0:
            self.start = self.step


#: Points screened at once: memory stays O(chunk + points that pass), not O(run) per pass.
_SCREEN_CHUNK = 1 << 16
#: Windows gathered at once for the exact statistics (as many rows as signals' chunks).
_ROWS = 16384


def _window_min(x: FloatArray, k: int) -> FloatArray:
    """``out[j]`` = the smallest non-NaN value of ``x[j : j + k]`` (NaN when there is none),
    for ``j`` in ``0 .. x.size - k``: O(log k) vectorised passes (minima over doubling spans)."""
    m, p = x, 1
    while 2 * p <= k:
        m = np.fmin(m[:-p], m[p:])  # m[j]: the minimum of x[j : j + 2p]
        p *= 2
    return np.fmin(m[: m.size - (k - p)], m[k - p :])


def _neighbour_floor(x: FloatArray, half: int, a: int, b: int) -> FloatArray:
    """For each point of ``x[a:b]``, the smallest of its up to ``half`` neighbours on each
    side (itself left out, NaN ignored): a lower bound of their median."""
    n = x.size
    lo, hi = a - half, b + half
    before, after = np.full(max(0, -lo), np.nan), np.full(max(0, hi - n), np.nan)
    pad = np.concatenate([before, x[max(lo, 0) : min(hi, n)], after])  # NaN outside the series
    wm = _window_min(pad, half)  # wm[r]: the half before point a + r; wm[r + half + 1]: after
    return np.fmin(wm[: b - a], wm[half + 1 : half + 1 + b - a])


def _neighbour_windows(
    x: FloatArray, half: int, idx: npt.NDArray[np.intp]
) -> Iterator[tuple[int, npt.NDArray[np.intp], FloatArray]]:
    """``(offset, points, windows)`` in chunks of ``_ROWS`` points of ``idx``: each row holds
    the up to ``half`` neighbours on each side of its point (itself left out, NaN outside
    the series)."""
    n = x.size
    offsets = np.concatenate([np.arange(-half, 0), np.arange(1, half + 1)])
    for c in range(0, idx.size, _ROWS):
        at = idx[c : c + _ROWS]
        rows = at[:, None] + offsets[None, :]
        inside = (rows >= 0) & (rows < n)
        yield c, at, np.where(inside, x[np.clip(rows, 0, n - 1)], np.nan)


def _z_median_at(
    x: FloatArray, half: int, idx: npt.NDArray[np.intp], mad_floor: float, min_neighbours: int = 3
) -> tuple[FloatArray, FloatArray]:
    """``(z, median)`` at the points ``idx`` only: the numbers that
    ``signals.neighbour_z_median`` gives there (same windows, same medians, bit for bit)."""
    n = x.size
    z, med = np.full(idx.size, np.nan), np.full(idx.size, np.nan)
    for c, at, win in _neighbour_windows(x, half, idx):
        m = signals.nanmedian_rows(win)
        med[c : c + at.size] = m
        if n < min_neighbours + 1:
            continue
        ok = np.sum(np.isfinite(win), axis=1) >= min_neighbours
        if ok.any():
            dev = signals.nanmedian_rows(np.abs(win[ok] - m[ok][:, None]))
            scale = np.maximum(dev, mad_floor)
            zc = z[c : c + at.size]
            zc[ok] = 0.6745 * (x[at][ok] - m[ok]) / scale
    return z, med


def _neighbour_max_at(x: FloatArray, half: int, idx: npt.NDArray[np.intp]) -> FloatArray:
    """The largest of the up to ``half`` neighbours on each side of each point of ``idx``
    (itself left out, NaN ignored; NaN when there is none)."""
    out = np.full(idx.size, np.nan)
    for c, at, win in _neighbour_windows(x, half, idx):
        has = np.any(np.isfinite(win), axis=1)
        if has.any():
            out[c : c + at.size][has] = np.nanmax(win[has], axis=1)
    return out


def came_back(after: FloatArray, level: float, peak: float) -> bool | None:
    """Whether one of the logs ``after`` a spike is back down (None: there are none): within
    25% of the level, or with 90% of the jump undone (from a level near 0, 1e-4 -> 0.5 ->
    8e-4 came back although 8e-4 is 8x the level)."""
    if after.size == 0:
        return None
    return bool(np.any(after <= 1.25 * level) or np.any(after - level <= _UNDONE * (peak - level)))


def find_spikes(
    st: FloatArray | IntArray,
    v: FloatArray,
    *,
    z_min: float,
    ratio_min: float,
    skip_before: float = 0.0,
    clear: float = math.inf,
    wide: int = 0,
) -> list[Spike]:
    """Points far above their neighbours (log space, self excluded), merged into events.

    A point is a spike when its robust z against its neighbours (median/MAD, itself left
    out) is above ``z_min`` and it is at least ``ratio_min`` times their median, or when it
    is at least ``clear`` times the largest of them (then no spread among the neighbours
    reaches it, however few or scattered they are). The exact statistics are computed only
    at the points that can pass the ratio test: a median is never below the smallest
    neighbour, so a point less than ``ratio_min`` times its smallest neighbour is no spike
    (on a healthy run that is nearly every point).

    A spike is a jump up: an event whose peak is not above the log just before it is a
    value on the way down from a higher one (a bad start settling), not a spike. With
    ``wide`` > 0 the peak must also be ``ratio_min`` times the median of ``wide`` times as
    many neighbours: a few collapsed logs next to a point (dips) lower the local median,
    not the run's level, and a return from them to that level is no spike.
    """
    n = v.size
    if n < 5:
        return []
    half = signals.window(n, 0.05, 3, 25)
    log_ratio = math.log(ratio_min)
    log_clear = math.log(clear) if math.isfinite(clear) else math.inf
    # a few passes, each leaving out the spikes already found: a spike next to another one
    # (or among several) inflates its neighbours' spread and would hide in one pass
    cand = np.zeros(n, dtype=bool)
    ym = signals.safe_log(v, 1e-8)  # log values, spikes already found left out (NaN)
    for _ in range(3):
        # by chunks: the screen, then the exact statistics at the points it lets through
        # (ym equals the log values wherever cand is False)
        found = []
        for a in range(0, n, _SCREEN_CHUNK):
            b = min(a + _SCREEN_CHUNK, n)
            floor = _neighbour_floor(ym, half, a, b)
            with np.errstate(invalid="ignore"):
                ok = (ym[a:b] - floor > log_ratio) & (v[a:b] >= 0.05)
            ok &= (st[a:b] > skip_before) & ~cand[a:b]
            if a == 0:
                ok[0] = False
            idx = a + np.flatnonzero(ok)
            if not idx.size:
                continue
            z, base = _z_median_at(ym, half, idx, mad_floor=0.05)
            with np.errstate(invalid="ignore"):
                # neighbours at a loss of 0 are a NaN the Trainer hid (LL102), not a level
                hit = (z > z_min) & (ym[idx] - base > log_ratio) & (base > -13.8)
                if math.isfinite(log_clear):
                    top = _neighbour_max_at(ym, half, idx)
                    hit |= (ym[idx] - top >= log_clear) & (base > -13.8)
            found.append(idx[hit])
        new = np.concatenate(found) if found else np.empty(0, dtype=np.intp)
        if not new.size:
            break
        cand[new] = True
        ym[new] = np.nan
    # a spike goes up from the log before it; lower than that log is a descent
    runs = [
        (a, b)
        for a, b in signals.runs_of(cand)
        if a == 0 or float(np.max(v[a:b])) > float(v[a - 1])
    ]
    peaks = np.array(
        [a + int(np.argmax(signals.safe_log(v[a:b], 1e-8))) for a, b in runs], dtype=np.intp
    )
    if wide > 0 and peaks.size:
        # the run's level over a wider window of every log (the passes above may have left
        # out much of a dipping neighbourhood): a few dips around a point do not lower it
        y = signals.safe_log(v, 1e-8)
        _wz, wbase = _z_median_at(y, min(n, wide * half), peaks, mad_floor=0.05)
        with np.errstate(invalid="ignore"):
            keep = ~(y[peaks] - wbase <= log_ratio)  # NaN: keep
        runs = [r for r, k in zip(runs, keep.tolist(), strict=True) if k]
        peaks = peaks[keep]
    _z, base = _z_median_at(ym, half, peaks, mad_floor=0.05)
    out: list[Spike] = []
    recover_within = max(2, round(0.02 * n))
    for k, (a, b) in enumerate(runs):
        i = int(peaks[k])
        bl = float(np.exp(base[k]))
        rec = came_back(v[b : b + recover_within], bl, float(v[i]))
        out.append(Spike(i, b - 1, int(st[i]), float(v[i]), bl, float(v[i] / bl), rec, int(st[a])))
    return out

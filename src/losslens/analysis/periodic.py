"""A loss that repeats a pattern every few logs: a batch effect, read over whole periods.

Length-grouped batching (``group_by_length``: long samples first in each mega-batch, short
ones with a higher per-token loss last) and epoch boundaries (a drop as each epoch starts
again on data already seen) make the per-step loss climb and fall in a fixed rhythm that
follows the batches, not learning. Two windows compared at different phases of that rhythm
(the first logs at a block start, the last at a block end) read the batch effect as a change
of level, and a confidence interval that takes the logs as independent is far too narrow:
the logs of one period move together, so the independent evidence is one number per period.

:func:`periods` finds such a rhythm in the detrended log-loss (a local peak of its
autocorrelation at a lag of 3 logs or more, strong, with the series anti-correlated at some
shorter lag: the pattern goes round, it is not a slow bend) and returns the means over whole
periods, which the level rules judge instead of the raw logs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from losslens.analysis import signals
from losslens.model import FloatArray

#: Autocorrelation of the detrended log-loss at the period needed to call it periodic
#: (white noise over 50 logs has a standard error of about 0.14 per lag).
MIN_AUTOCORR = 0.5
#: Whole periods the log must hold (fewer cannot show a rhythm from noise).
MIN_PERIODS = 3
#: Shortest period, in logs (2 would be alternation, which one log's noise can make).
MIN_LAG = 3
#: Longest period tried, in logs (bounds the work on very long logs).
MAX_LAG = 512


@dataclass(frozen=True)
class Periods:
    lag: int  # logs per period
    autocorr: float  # autocorrelation of the detrended log-loss at ``lag``
    steps: FloatArray  # the middle step of each whole period
    means: FloatArray  # the mean loss over each whole period


def _autocorr(y: FloatArray, lag: int) -> float:
    a, b = y[:-lag], y[lag:]
    sa, sb = float(a.std()), float(b.std())
    if sa == 0 or sb == 0:
        return 0.0
    return float(np.mean((a - a.mean()) * (b - b.mean())) / (sa * sb))


def periods(
    st: FloatArray,
    v: FloatArray,
    min_autocorr: float = MIN_AUTOCORR,
    min_periods: int = MIN_PERIODS,
) -> Periods | None:
    """The loss ``v`` at steps ``st`` as means over whole periods when it repeats a pattern
    every ``lag`` logs (see the module docstring); None when it does not."""
    n = v.size
    if n < MIN_LAG * min_periods or np.any(v <= 0):
        return None
    y = signals.safe_log(v)
    slope, icpt = signals.theil_sen(st, y)
    r = y - (slope * st + icpt)
    if float(r.std()) == 0:
        return None
    top = min(n // min_periods, MAX_LAG)
    ac = [0.0] + [_autocorr(r, k) for k in range(1, top + 2)]
    best = None
    for k in range(MIN_LAG, top + 1):
        peak = ac[k] >= ac[k - 1] and ac[k] >= ac[k + 1] and ac[k] >= min_autocorr
        if peak and min(ac[1:k]) < 0 and (best is None or ac[k] > ac[best]):
            best = k
    if best is None:
        return None
    whole = (n // best) * best
    means = v[:whole].reshape(-1, best).mean(axis=1)
    mids = st[:whole].reshape(-1, best).mean(axis=1)
    return Periods(best, float(ac[best]), mids, means)


__all__ = ["MAX_LAG", "MIN_AUTOCORR", "MIN_LAG", "MIN_PERIODS", "Periods", "periods"]

"""The epoch staircase: a train loss that drops at epoch boundaries, not inside epochs.

A drop each time the data is seen again is how a model that learns the examples themselves
looks in the train loss; the memorization rule (LL153) grades it with the eval curve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from losslens.analysis import signals
from losslens.analysis.context import RunContext, median_gap
from losslens.analysis.rules.common import finite
from losslens.model import FloatArray, Series


@dataclass(frozen=True)
class Staircase:
    #: ``(boundary_step, change)`` of the boundaries where the loss dropped, change in log
    #: units (negative), largest drops first.
    drops: list[tuple[int, float]]
    #: The typical change across a cut inside an epoch (log units).
    typical: float
    #: The loss shed at the boundaries beyond the in-epoch trend, summed (log units, > 0).
    excess: float
    #: Whether the pattern is resolvable at the run's logging interval: False when it shows
    #: only with a window of one log (one batch) and not with two logs each side.
    resolved: bool = True


def staircase(ctx: RunContext, series: Series | None = None) -> Staircase | None:
    """Epoch boundaries where the train loss (or ``series``, e.g. the eval loss, read at its
    own interval) drops much more than anywhere inside an epoch.

    The change across a cut between two consecutive logs is the median of the ``k`` logs
    after it minus the median of the ``k`` logs before it, ``k`` covering about 15% of an
    epoch (at least one log), so the comparison is between like and like however often
    the run logged. With one boundary, its change must be 3 robust standard deviations, 2x
    and 0.05 beyond the typical change across cuts inside an epoch (with an even ``k``,
    also with ``k + 1`` logs: a median of an even count is a mean, which one odd log sets).
    With several, the
    staircase is a pattern: the median change across the boundaries must be 3 standard
    errors of a median (``1.25 sd / sqrt(n)``) below the typical change, at most 2x it and
    below -0.02 (2% per boundary), so one lucky drop among noisy boundaries is not a
    staircase and a small drop repeated at every boundary is. Either way the drop must also
    exceed what the loss rises over one whole epoch (the typical change per ``k`` logs, times
    the logs in an epoch over ``k``; nothing when it falls inside epochs).

    Principle: a loss that climbs inside every epoch and falls back at the boundary is the
    data order repeating (the hard examples last, as the first epoch already shows); only a
    drop beyond that give-back is the model recognising examples it has seen.

    Principle: the evidence must be resolvable at the run's logging interval: where one log
    already spans 15% of an epoch (``k`` = 1, a median of one batch), a staircase that two
    logs each side of a cut can test and do not show is marked unresolved (the memorization
    rule then needs the eval loss to show the harm), so logging half as often does not
    create a warning from the train loss alone.
    """
    spe = ctx.steps_per_epoch
    st, v = finite(ctx.loss if series is None else series)
    interval = ctx.log_interval if series is None else median_gap(st)
    if spe is None or spe < 3 * interval:
        return None  # before any copy of the series
    keep = v > 0  # a logged 0.0 is a hidden NaN or masked labels, not a level
    if not keep.all():
        st, v = st[keep], v[keep]
    if v.size < 8:
        return None
    k = max(1, math.ceil(0.15 * spe / interval))
    found = _read(ctx, st, v, (spe, interval), k)[1]
    if found is not None and k == 1 and _read(ctx, st, v, (spe, interval), 2) == (True, None):
        # a window of one log is one batch standing for 15% of an epoch or more: a pattern
        # that two logs each side can test and do not show is not resolved at this interval
        return replace(found, resolved=False)
    return found


def _read(
    ctx: RunContext, st: FloatArray, v: FloatArray, epoch: tuple[float, float], k: int
) -> tuple[bool, Staircase | None]:
    """``(readable, staircase)``: the staircase test with a window of ``k`` logs each side
    of every cut (``epoch`` = steps per epoch, steps per log); not readable when no boundary
    or fewer than 3 cuts inside epochs have that window."""
    spe, interval = epoch
    y = signals.safe_log(v, 1e-6)
    offset = float(st[0]) - (ctx.epoch_at(float(st[0])) or 0.0) * spe
    bounds = []
    j = math.floor((st[0] - offset) / spe) + 1
    while offset + j * spe < st[-1] - interval:
        bounds.append(offset + j * spe)
        j += 1
    if not bounds:
        return False, None
    b_arr = np.asarray(bounds)

    def change(i: int, w: int = k) -> float | None:
        """Across the cut between logs ``i`` and ``i + 1``, ``w`` logs each side."""
        before, after = y[max(0, i + 1 - w) : i + 1], y[i + 1 : i + 1 + w]
        if before.size < 1 or after.size < 1:
            return None
        return float(np.median(after) - np.median(before))

    # the cut of each boundary: the last log at or before it, the first log after it
    cut_of = {b: int(np.searchsorted(st, b, side="right")) - 1 for b in bounds}
    inner = []
    stride = max(1, (st.size - 1) // 400)  # a few hundred cuts are enough for the spread
    for i in range(0, st.size - 1, stride):
        lo, hi = st[max(0, i + 1 - k)], st[min(st.size - 1, i + k)]
        if np.any((b_arr >= lo) & (b_arr < hi)):
            continue  # the windows reach across an epoch boundary
        d = change(i)
        if d is not None:
            inner.append(d)
    if len(inner) < 3:
        return False, None
    arr = np.asarray(inner)
    typical = float(np.median(arr))
    spread = max(signals.mad(arr) * signals.MAD_TO_SIGMA, 0.01)
    at: list[tuple[int, float]] = []
    cuts: list[int] = []
    for b in bounds:
        i = cut_of[b]
        if 0 <= i < st.size - 1:
            d = change(i)
            if d is not None:
                at.append((round(b), d))
                cuts.append(i)
    if not at:
        return False, None
    changes = np.asarray([d for _, d in at])
    # a loss that rises inside each epoch and drops back at the boundary is the order of the
    # data repeating (the hard examples last), as the first epoch shows it too: a boundary
    # counts only with a drop beyond the rise of one whole epoch (``typical`` is the change
    # over ``k`` logs)
    give_back = max(typical, 0.0) * spe / (k * interval)
    if len(at) == 1:
        # one boundary is one number: with an even window its medians are means, which one
        # odd log sets, so the drop must also hold with the window one log wider
        wider = change(cuts[0], k + 1)
        for d in (float(changes[0]), *(() if k % 2 or wider is None else (wider,))):
            if not (
                d < typical - 3 * spread
                and d < 2 * min(typical, 0.0)
                and d < -0.05
                and d < -give_back
            ):
                return True, None
    else:
        med = float(np.median(changes))
        se = 1.25 * spread / math.sqrt(len(at))
        if not (
            med < typical - 3 * se
            and med < 2 * min(typical, 0.0)
            and med < -0.02
            and med < -give_back
        ):
            return True, None
    drops = sorted(((b, d) for b, d in at if d < typical), key=lambda x: x[1])
    excess = float(sum(typical - d for _, d in drops))
    return True, Staircase(drops, typical, excess)

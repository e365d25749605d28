"""Where the learning-rate schedule starts over inside one log.

A log whose LR decays to about 0 and then ramps up again is several runs in a row: a resumed
run given a fresh schedule (often with new or changed data), or a schedule with hard
restarts. The loss at the first logs of a new segment was computed before the new rate could
move the weights far, so a jump there is a change of data or model, not the updates running
away: rules that read the loss's course over the run (divergence) read it within the last
segment.
"""

from __future__ import annotations

import numpy as np

from losslens.analysis.context import RunContext
from losslens.analysis.rules.common import finite

#: The LR a schedule restarts from: at most this share of the largest LR logged before it.
LOW_SHARE = 0.05
#: ... and the log after it at least this many times higher (a ramp, not a wobble) ...
RISE = 2.0
#: ... and above this share of that largest LR (not a rounding wobble at 0).
ZERO_SHARE = 1e-3


def schedule_restarts(ctx: RunContext, low: float = LOW_SHARE, rise: float = RISE) -> list[int]:
    """Steps of the logs where the LR starts over: the log before it had an LR at most
    ``low`` × the largest LR logged up to there (the schedule had decayed to about 0), and
    this log's LR is ``rise`` times that or more (and above 0.1% of that largest LR). A
    warmup from 0 at the start is no restart (its LR is the largest so far at every log),
    nor is a schedule that decays to 0 at the end and stays there. The test reads
    consecutive logged values only, so it finds a restart however coarsely the LR was logged
    (the exact 0 need not be in the log)."""
    st, v = finite(ctx.lr)
    if v.size < 3:
        return []
    top = np.maximum.accumulate(v)[:-1]  # the largest LR up to the log before
    prev, cur = v[:-1], v[1:]
    at = (top > 0) & (prev <= low * top) & (cur >= rise * prev) & (cur > ZERO_SHARE * top)
    return [int(x) for x in st[1:][at].tolist()]


def last_segment_start(ctx: RunContext) -> int | None:
    """The step where the last schedule segment starts (None when the LR never starts over)."""
    r = schedule_restarts(ctx)
    return r[-1] if r else None


__all__ = ["LOW_SHARE", "RISE", "ZERO_SHARE", "last_segment_start", "schedule_restarts"]

"""How the loss responds to the learning-rate schedule.

A learning rate that is too high shows itself in the curves whatever its absolute value: the
loss gets worse while the LR ramps up during warmup (often after first improving at the
small early rates: a pretrained model being damaged), and recovers as the LR decays; or the
eval loss is best early and jumps when the LR reaches its peak. Reading the response needs no
band of "usual" learning rates, so it holds for any model, task and optimizer.

All sizes are noise-scaled: a rise counts when it is both a real share of the level and
several times the log-to-log noise of the curve (in a dense ramp, the robust spread around a
local linear trend, from second differences: a trend between logs does not enter it, so it
does not grow when the run logs less often; with few logs, the robust spread of the first
differences of the whole log).

Principle: how often the run logged may not decide the reading: windows are read in steps
(a running median of 3 logs only where they span at most a quarter of the ramp), not in
counts of logs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from losslens.analysis import signals
from losslens.analysis.context import RunContext
from losslens.analysis.evalview import eval_view, log_noise
from losslens.analysis.progress_signal import (
    MAX_TOKEN_CE,
    loss_is_cross_entropy,
    loss_measures_progress,
)
from losslens.analysis.rules.base import param
from losslens.analysis.rules.common import finite
from losslens.model import FloatArray


@dataclass(frozen=True)
class ResponseParams:
    min_warmup_logs: int = param(6, "train logs inside the warmup ramp")
    rise: float = param(0.15, "the smoothed loss rises this much above its warmup minimum")
    noise_k: float = param(3.0, "... and this many noise standard deviations")
    min_at: float = param(0.8, "the minimum falls in this first share of the ramp")
    trend_z: float = param(2.0, "Mann-Kendall z of the loss from the minimum to the LR peak")
    eval_jump: float = param(0.20, "eval best before the LR peak, then this much higher after")
    eval_noise_k: float = param(3.0, "... and this many eval noise standard deviations")
    eval_jump_train_fall: float = param(
        0.15,
        "... unless the train loss median fell this much from the logs up to the best eval to "
        "those up to the next (the model fits its train set better while the held-out loss "
        "jumps: overfitting's signature, LL151, not the schedule's)",
    )
    sparse_rise: float = param(
        0.30,
        "fewer logs in the ramp: the loss at the LR peak this much above its minimum (and "
        "`noise_k` noise sds of the whole log)",
    )
    confirmed_rise: float = param(
        0.05,
        "a smaller rise in the ramp counts (with the noise and trend bars) when the loss "
        "comes back down as the LR decays",
    )
    noise_logs: int = param(
        8, "fewer logs in the ramp: positive logs in the whole log needed to measure its noise"
    )
    decayed: float = param(
        0.5, "... judged on the logs where the LR is below this share of its peak"
    )
    recovery: float = param(
        0.5, "... whose median is below the level at the LR peak by this share of the rise"
    )
    high_logs: int = param(
        2, "few logs: rising logs, each above the one before, while the LR is near its peak"
    )
    recovered_logs: int = param(2, "... and logs after the LR has decayed, each below the start")
    bad_start_fall: float = param(
        1 / 3,
        "a cross-entropy whose first log is above every per-token level (ln 2^18) and whose "
        "ramp falls to this share of it: a bad start settling, no response read",
    )
    held: float = param(
        0.9,
        "not when the loss falls back below its warmup minimum (the median of 3 logs in a "
        "row) while the LR is still at this share of its peak (not yet decayed): a rise the "
        "peak rate itself undoes is the start's transient, not the rate",
    )


PARAMS = ResponseParams()


@dataclass(frozen=True)
class Response:
    # "warmup" (train loss worsens while the LR ramps up) | "high" (it worsens at every log
    # while the LR is near its peak and improves only once it decays) | "peak" (eval jumps)
    kind: str
    step: int  # where it starts
    before: float
    after: float
    lr_before: float | None
    lr_after: float | None


def _lr_at(ctx: RunContext, step: float) -> float | None:
    st, v = finite(ctx.lr)
    return float(np.interp(step, st, v)) if st.size else None


def warmup_response(ctx: RunContext, p: ResponseParams = PARAMS) -> Response | None:
    """The train loss bottoms out during warmup and rises with the LR up to its peak (not
    in online RL, whose loss is beta x KL and grows as the policy moves away, by design).

    The minimum and the level at the peak are read on a running median of 3 logs (its ends
    the median of 2) where 3 logs span at most a quarter of the ramp in steps (9 logs or
    more of an evenly logged ramp), else on the logs themselves: a dip two logs long at one
    cadence is one log long at half of it, and stands for the same steps."""
    sched = ctx.schedule
    if sched is None or not sched.warmup or sched.warmup_end_step is None:
        return None
    if not loss_measures_progress(ctx):
        return None
    st, v = finite(ctx.loss)
    sel = st <= sched.warmup_end_step
    if _falls_from_a_bad_start(ctx, v, v[sel], p):
        return None
    noise = log_noise(v)  # around a local linear trend: not larger for a coarser log
    if 2 <= int(sel.sum()) < p.min_warmup_logs:
        sparse = _sparse_warmup(ctx, st[sel], v[sel], _whole_log_noise(v, p), p)
        # a rise the peak rate itself undoes is the start's transient at any log density
        if sparse is None or _undone_at_peak(ctx, st, v, math.log(max(sparse.before, 1e-12)), p):
            return None
        return sparse
    if int(sel.sum()) < p.min_warmup_logs:
        return None
    xs, y = st[sel], signals.safe_log(v[sel])
    # a running median of 3 where 3 logs span at most a quarter of the ramp (in steps: 9
    # logs or more of an evenly logged ramp); on a coarser log one log already stands for
    # that share of the ramp, and a dip of one log there is as long as one of two logs at
    # the finer cadence
    step = float(np.median(np.diff(xs))) if xs.size > 1 else 0.0
    k = 3 if xs.size >= 3 and 2 * step <= (xs[-1] - xs[0]) / 4 * (1 + 1e-9) else 1
    smooth = y.copy()
    if k == 3:  # a running median of 3, its two ends the median of 2
        w = np.lib.stride_tricks.sliding_window_view(y, 3)
        lo, hi = np.minimum(w[:, 0], w[:, 1]), np.maximum(w[:, 0], w[:, 1])
        smooth[1:-1] = np.maximum(lo, np.minimum(hi, w[:, 2]))
        smooth[0], smooth[-1] = np.median(y[:2]), np.median(y[-2:])
    m = int(np.argmin(smooth))
    if m >= y.size - 2 or xs[m] - xs[0] > p.min_at * (xs[-1] - xs[0]):
        return None
    rise = float(smooth[-1] - smooth[m])
    floor = p.noise_k * noise
    if rise < max(math.log(1 + p.rise), floor) and not (
        rise >= max(math.log(1 + p.confirmed_rise), floor)
        and _recovers(ctx, st, v, float(smooth[-1]), rise, p)
    ):
        return None
    if signals.mann_kendall_z(y[m:]) < p.trend_z and y.size - m >= 4:
        return None
    if _undone_at_peak(ctx, st, v, float(smooth[m]), p):
        return None
    return Response(
        "warmup",
        int(xs[m]),
        float(math.exp(smooth[m])),
        float(math.exp(smooth[-1])),
        _lr_at(ctx, float(xs[m])),
        _lr_at(ctx, float(xs[-1])),
    )


def _falls_from_a_bad_start(
    ctx: RunContext, v: FloatArray, ramp: FloatArray, p: ResponseParams
) -> bool:
    """Whether the cross-entropy starts above every per-token level (``MAX_TOKEN_CE``, ln 2^18
    ≈ 12.5 nats: logits far off scale, a bad start) and falls to ``bad_start_fall`` of that
    first value or lower inside the ramp. The fall from such a start and the rebound after it
    are the initialisation settling, whatever the rate; the lowest ramp log is not a level the
    small early rates reached by learning. The fall is a ratio, so a loss logged at twice or
    half its scale reads the same."""
    if v.size == 0 or ramp.size == 0 or not loss_is_cross_entropy(ctx):
        return False
    first = float(v[0])
    return first > MAX_TOKEN_CE and float(np.min(ramp)) <= p.bad_start_fall * first


def _recovers(
    ctx: RunContext, st: FloatArray, v: FloatArray, at_peak: float, rise: float, p: ResponseParams
) -> bool:
    """Whether the train loss comes back down as the LR decays after its peak: the median of
    the logs (3 or more) where the LR is below ``decayed`` of its peak lies ``recovery`` of
    the warmup rise below the level at the peak (both in log units)."""
    sched = ctx.schedule
    lst, lv = finite(ctx.lr)
    if sched is None or sched.warmup_end_step is None or lst.size < 2 or sched.peak <= 0:
        return False
    after = st > sched.warmup_end_step
    low = np.interp(st, lst, lv) <= p.decayed * sched.peak
    sel = after & low
    if int(sel.sum()) < 3:
        return False
    late = float(np.median(signals.safe_log(v[sel])))
    return late <= at_peak - p.recovery * rise


def _undone_at_peak(
    ctx: RunContext, st: FloatArray, v: FloatArray, low: float, p: ResponseParams
) -> bool:
    """Whether the train loss falls back below its warmup minimum ``low`` (log units) while
    the LR is still at ``held`` of its peak or more: the median of 3 logs in a row after the
    peak, each at such a rate. A rate too high for the run cannot take the loss lower than
    the small early rates did while it stays at its peak; a rise it undoes before the
    schedule has decayed was the start's transient (the optimizer's moment estimates, a new
    head settling). A loss that recovers only as the LR decays is the schedule response and
    stays one."""
    sched = ctx.schedule
    lst, lv = finite(ctx.lr)
    if sched is None or sched.warmup_end_step is None or lst.size < 2 or sched.peak <= 0:
        return False
    near = (st > sched.warmup_end_step) & (np.interp(st, lst, lv) >= p.held * sched.peak)
    y = signals.safe_log(v)
    for i in range(st.size - 2):
        if near[i : i + 3].all() and float(np.median(y[i : i + 3])) < low:
            return True
    return False


def _whole_log_noise(v: FloatArray, p: ResponseParams) -> float:
    """The log-to-log noise (standard deviation of one log, in log units) of the positive
    values of the whole log; 0 when there are too few of them to measure it."""
    pos = v[v > 0]
    if pos.size < p.noise_logs:
        return 0.0
    return signals.mad(np.diff(np.log(pos))) * signals.MAD_TO_SIGMA / math.sqrt(2)


def _sparse_warmup(
    ctx: RunContext, xs: FloatArray, v: FloatArray, noise: float, p: ResponseParams
) -> Response | None:
    """Few train logs inside the ramp: the loss at the LR peak is well above the lowest one
    before it (twice the usual rise, since no trend can be tested on so few logs) and by
    more than the log-to-log noise of the whole log explains (``noise_k`` standard
    deviations, as in a dense ramp, when the log has ``noise_logs`` positive values to
    measure it): a log kept every k-th step must not turn batch noise into a response to
    the schedule."""
    m = int(np.argmin(v[:-1]))
    if float(v[-1]) < (1 + p.sparse_rise) * float(v[m]):
        return None
    y = signals.safe_log(v[[m, -1]])
    if float(y[1] - y[0]) < p.noise_k * noise:
        return None
    return Response(
        "warmup",
        int(xs[m]),
        float(v[m]),
        float(v[-1]),
        _lr_at(ctx, float(xs[m])),
        _lr_at(ctx, float(xs[-1])),
    )


def high_lr_response(ctx: RunContext, p: ResponseParams = PARAMS) -> Response | None:
    """Few logs: the train loss gets worse at every log while the LR is near its peak and
    improves only once the LR has decayed (not in online RL).

    The high-LR phase is every log before the first one, after the LR peak, where the LR has
    fallen below ``decayed`` of its peak. From its lowest log (at or before the LR peak) the
    loss must rise at each of the ``high_logs`` or more later logs of the phase, by
    ``rise`` in all (and ``noise_k`` standard deviations of the whole log's log-to-log noise
    when the log has enough values to measure it), and each of the ``recovered_logs`` or
    more logs after the decay must lie below that lowest log: the run gains nothing while
    the rate is high and all of its progress comes as the schedule lowers it. Three or
    more rises in a row and a recovery below the start are a pattern noise at a steady
    rate does not draw; on a dense log the trend tests of the ramp apply instead.
    """
    sched = ctx.schedule
    if sched is None or sched.peak <= 0 or not loss_measures_progress(ctx):
        return None
    st, v = finite(ctx.loss)
    lst, lv = finite(ctx.lr)
    if st.size < p.high_logs + p.recovered_logs + 1 or lst.size < 2:
        return None
    lr = np.interp(st, lst, lv)
    decayed = (st > sched.peak_step) & (lr < p.decayed * sched.peak)
    if int(decayed.sum()) < p.recovered_logs:
        return None
    end = int(np.argmax(decayed))
    phase = v[:end]
    before_peak = np.flatnonzero(st[:end] <= sched.peak_step)
    if before_peak.size == 0:
        return None
    m = int(before_peak[np.argmin(phase[before_peak])])
    climb = phase[m:]
    if climb.size - 1 < p.high_logs or not bool(np.all(np.diff(climb) > 0)):
        return None
    if float(climb[0]) <= 0 or float(climb[-1]) < (1 + p.rise) * float(climb[0]):
        return None
    if math.log(float(climb[-1]) / float(climb[0])) < p.noise_k * _whole_log_noise(v, p):
        return None
    if float(np.max(v[decayed])) >= float(climb[0]):
        return None
    return Response(
        "high",
        int(st[m + 1]),
        float(climb[0]),
        float(climb[-1]),
        _lr_at(ctx, float(st[m])),
        _lr_at(ctx, float(st[end - 1])),
    )


def _train_fell_across(ctx: RunContext, best: float, nxt: float, share: float) -> bool:
    """Whether the train loss median of the logs in (best, nxt] is ``share`` or more below
    that of the as many steps up to ``best``."""
    s = ctx.loss.finite if ctx.loss is not None else None
    if s is None:
        return False
    before = s.values[(s.steps > best - (nxt - best)) & (s.steps <= best)]
    after = s.values[(s.steps > best) & (s.steps <= nxt)]
    if before.size == 0 or after.size == 0:
        return False
    b = float(np.median(before))
    return b > 0 and float(np.median(after)) <= (1 - share) * b


def peak_eval_jump(ctx: RunContext, p: ResponseParams = PARAMS) -> Response | None:
    """The eval loss is best before the LR peak and jumps when the LR reaches it."""
    sched = ctx.schedule
    view = eval_view(ctx)
    if sched is None or not sched.warmup or view is None or view.n < 3:
        return None
    peak = float(sched.peak_step)
    if view.best_step > peak or view.best == view.n - 1:
        return None
    nxt = view.values[view.best + 1]
    if float(view.steps[view.best + 1]) < peak * 0.8:
        return None  # the jump comes before the LR is near its peak: not the schedule
    jump = float(nxt) / view.best_value - 1
    if jump < max(p.eval_jump, p.eval_noise_k * view.noise):
        return None
    # it must stay up (not one noisy eval), and the peak rate must not undo it: an eval back
    # near its best while the LR is still at `held` of its peak was not pushed up by the rate
    up = (1 + p.eval_jump / 2) * view.best_value
    if float(np.median(view.values[view.best + 1 :])) < up:
        return None
    lst, lv = finite(ctx.lr)
    if lst.size:
        later = slice(view.best + 2, None)
        # the evals after the jump up to the first at which the LR fell below `held`
        held = np.cumprod(np.interp(view.steps[later], lst, lv) >= p.held * sched.peak) > 0
        if bool(np.any(view.values[later][held] < up)):
            return None
    if _train_fell_across(
        ctx, view.best_step, float(view.steps[view.best + 1]), p.eval_jump_train_fall
    ):
        return None
    return Response(
        "peak",
        int(view.best_step),
        view.best_value,
        float(nxt),
        _lr_at(ctx, view.best_step),
        _lr_at(ctx, float(view.steps[view.best + 1])),
    )

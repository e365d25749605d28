"""The eval curve as the generalization rules read it: its best point, the eval-to-eval noise,
rises after the best, per-epoch positions, and the task metrics logged beside it.

Thresholds on an eval curve must scale with how noisy that curve is: a 2% rise means nothing
on a curve that jumps 5% between evaluations and a lot on one that moves 0.3%. The noise is
the robust spread of the first differences of the log eval loss (MAD x 1.4826 / sqrt 2, the
standard deviation of one evaluation's error when the differences are mostly noise), which a
smooth trend hardly moves.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from losslens import keys
from losslens.analysis import signals
from losslens.analysis.context import RunContext, first_per_step
from losslens.model import FloatArray, Series

#: Task metrics where higher is better, by the end of their name.
HIGHER_BETTER = (
    "accuracy",
    "accuracies",  # TRL's rewards/accuracies: the share of held-out preference pairs ranked right
    "acc",
    "f1",
    "bleu",
    "rouge1",
    "rouge2",
    "rougel",
    "rougelsum",
    "exact_match",
    "em",
    "matthews_correlation",
    "pearson",
    "spearmanr",
    "spearman",
    "precision",
    "recall",
    "map",
    "ndcg",
    "chrf",
    "meteor",
    "auc",
    "roc_auc",
)
#: Task metrics where lower is better.
LOWER_BETTER = ("wer", "cer", "ter", "perplexity")
#: A higher-is-better task metric that never reaches this (a share of a 0-1 scale: fewer
#: than one answer in a hundred right) has not left its floor: the model has learned none of
#: the task it scores, so its moves say nothing about generalization (an accuracy creeping
#: from 0 to 0.002 is not the task improving).
METRIC_FLOOR = 0.01


@dataclass(frozen=True)
class EvalView:
    steps: FloatArray
    values: FloatArray
    best: int  # index of the minimum
    noise: float  # robust sd of one eval, in log units (relative)

    @property
    def n(self) -> int:
        return int(self.values.size)

    @property
    def after(self) -> FloatArray:
        return self.values[self.best + 1 :]

    @property
    def best_value(self) -> float:
        return float(self.values[self.best])

    @property
    def best_step(self) -> int:
        return int(self.steps[self.best])

    def rise(self) -> float:
        """Last eval relative to the best (0.1 = 10% above)."""
        return float(self.values[-1]) / self.best_value - 1 if self.best_value > 0 else 0.0

    def move(self) -> float | None:
        """The median relative eval-to-eval change up to the best (None with the best at the
        first eval): how much the curve itself moves between evaluations."""
        pre = self.values[: self.best + 1]
        if pre.size < 2:
            return None
        return float(np.median(np.abs(np.diff(pre)) / pre[:-1]))

    def only_fell(self) -> bool:
        """Whether every eval up to the best (2 or more) was lower than the one before: a curve
        moved by learning, whose steps (:meth:`move`) measure no noise."""
        pre = self.values[: self.best + 1]
        return pre.size >= 2 and bool(np.all(np.diff(pre) < 0))

    def climb(self) -> int:
        """Consecutive increases starting at the best (the climb out of the minimum)."""
        v = self.values[self.best :]
        k = 0
        while k + 1 < v.size and v[k + 1] > v[k]:
            k += 1
        return k

    def sustained(self, rises: int, margin: float) -> bool:
        """Whether the eval loss climbed ``rises`` or more consecutive evals out of its
        minimum and stayed above ``(1 + margin) x`` the best at every eval since the top of
        that climb: a rise that holds, not one that came back."""
        k = self.climb()
        return k >= rises and bool(
            np.all(self.values[self.best + k :] > (1 + margin) * self.best_value)
        )

    def rising_run(self) -> int:
        """Consecutive increases ending at the last eval, counted after the best."""
        v = self.values[self.best :]
        k = 0
        for i in range(v.size - 1, 0, -1):
            if v[i] > v[i - 1]:
                k += 1
            else:
                break
        return k


def eval_view(ctx: RunContext, until: float | None = None) -> EvalView | None:
    """The finite eval-loss points (None when fewer than two); with ``until``, only those at
    or before that step (e.g. where the train loss is still known)."""
    s = ctx.eval_loss
    if s is None:
        return None
    f = s.finite
    if len(f) < 2:
        return None
    st, v = f.steps.astype(np.float64), f.values
    if until is not None:
        sel = st <= until
        st, v = st[sel], v[sel]
        if v.size < 2:
            return None
    # the context keeps the first eval at each step (build_context); what is left to drop
    # is a log that went back in steps
    st, v = _forward(st, v)
    if v.size < 2:
        return None
    best = int(np.argmin(v))
    # the noise where it matters: around the best and after it (the early descent's
    # curvature would inflate it), else over the whole curve
    seg = v[max(0, best - 2) :] if v.size - max(0, best - 2) >= 4 else v
    return EvalView(st, v, best, log_noise(seg))


def train_known_until(ctx: RunContext) -> float | None:
    """The last step where the train loss is known: the last finite train log plus one
    logging interval (None without a finite train log). Past it the train loss is NaN or
    not logged, so nothing can be said about train and eval moving apart there."""
    if ctx.loss is None:
        return None
    f = ctx.loss.finite
    if len(f) == 0:
        return None
    return float(f.steps[-1]) + max(ctx.log_interval, 1.0)


def epochs_apart(ctx: RunContext, a: float, b: float, epochs: float = 1.0) -> bool:
    """Whether steps ``a`` and ``b`` are at least ``epochs`` passes over the data apart
    (within 5% of a pass; False when the epochs are not known)."""
    ea, eb = ctx.epoch_at(a), ctx.epoch_at(b)
    return ea is not None and eb is not None and eb - ea >= 0.95 * epochs


def one_pass_rise(ctx: RunContext, view: EvalView, rise: float, train_drop: float) -> bool:
    """Whether the one eval after the best, a full epoch after it, is more than ``rise``
    above it while the train loss over the same stretches (:func:`train_around`) fell by
    ``train_drop`` or more: that pass over the data taught the training set, not the task."""
    if view.after.size != 1:
        return False
    s0, s1 = float(view.steps[view.best]), float(view.steps[-1])
    if view.rise() <= rise or not epochs_apart(ctx, s0, s1):
        return False
    t0, t1 = train_around(ctx, s0, view.steps), train_around(ctx, s1, view.steps)
    return t0 is not None and t1 is not None and t1 <= (1 - train_drop) * t0


def stalled(
    ctx: RunContext,
    view: EvalView,
    epochs: float,
    margin: float,
    train_drop: float,
    gap: float,
    level: Callable[[RunContext, float], float | None],
) -> tuple[int, float, float] | None:
    """``(index, train_then, train_end)`` when the eval loss gained no more than ``margin``
    over the last ``epochs`` epochs (3 evals or more) while the train loss (read by
    ``level``) fell by ``train_drop`` beyond two standard errors of the ratio of its two
    levels (medians of a few noisy logs: the noise, not the logging interval, sets it) and
    the eval-train gap widened by ``gap`` of the last eval (None otherwise, or without
    epochs)."""
    if ctx.loss is None:
        return None
    last_epoch = ctx.epoch_at(float(view.steps[-1]))
    if last_epoch is None:
        return None
    at = [ctx.epoch_at(float(s)) for s in view.steps]
    idx = [i for i, e in enumerate(at) if e is not None and last_epoch - e >= epochs]
    if not idx:
        return None
    i = idx[-1]
    if view.n - i < 3 or view.n < 4:
        return None
    then = float(view.values[i])
    if (1 - float(np.min(view.values[i + 1 :])) / then if then > 0 else 0.0) > margin:
        return None
    t_then = level(ctx, float(view.steps[i]))
    t_end = level(ctx, float(view.steps[-1]))
    # each level is a median of a few noisy logs: the drop must clear the bar by two
    # standard errors of their ratio, so a fall on the edge does not flip with the logging
    # interval
    bar = (1 - train_drop) * math.exp(
        -2 * _level_ratio_se(ctx, float(view.steps[i]), float(view.steps[-1]))
    )
    if t_then is None or t_end is None or t_end > bar * t_then:
        return None
    widened = (float(view.values[-1]) - t_end) - (then - t_then)
    if widened < gap * float(view.values[-1]):
        return None
    return i, t_then, t_end


def _level_ratio_se(ctx: RunContext, a: float, b: float) -> float:
    """Standard error (log units) of the ratio of the train-loss levels at steps ``a`` and
    ``b``, each the median of the nearest 10% of the logs (at least 5): the scatter of those
    logs around their own trend (MAD of the residuals of a Theil-Sen line) and their count.
    The logs' own scatter, not the log-to-log change, which on a sparse log is mostly the
    trend between two distant logs."""
    if ctx.loss is None:
        return 0.0
    f = ctx.loss.finite
    keep = f.values > 0
    st, y = f.steps[keep].astype(np.float64), np.log(f.values[keep])
    if y.size < 3:
        return 0.0
    k = min(y.size, max(5, round(0.1 * y.size)))

    def se(step: float) -> float:
        near = np.argsort(np.abs(st - step), kind="stable")[:k]
        slope, icpt = signals.theil_sen(st[near], y[near])
        sd = signals.mad(y[near] - (slope * st[near] + icpt)) * signals.MAD_TO_SIGMA
        return MEDIAN_SE * sd / math.sqrt(k)

    return math.hypot(se(a), se(b))


def within_noise(view: EvalView, min_gain: float = 0.01, k: float = 2.0) -> bool:
    """Whether the last eval is within the noise of the best (``k`` eval noise sds, at
    least ``min_gain``): the eval loss is not getting worse, however long it has been flat."""
    return view.rise() <= max(min_gain, k * view.noise)


#: The standard error of a median of n normal values is about 1.25 sd / sqrt(n).
MEDIAN_SE = 1.2533


def level_excused(v: FloatArray, tau: float, noise: float, k: float = 3.0) -> bool:
    """Whether the eval loss after its best (``v[0]``) stayed within the curve's own
    movement: the level after it (the median of the later evals) at most ``tau`` above the
    best, or ``k`` standard errors of that median (``1.25 noise / sqrt(n)``, ``noise`` the
    sd of one eval in log units)."""
    best = float(v[0])
    if v.size < 2 or best <= 0:
        return True
    level = float(np.median(v[1:])) / best - 1
    return level <= max(tau, k * MEDIAN_SE * noise / math.sqrt(v.size - 1))


def _rebound(ev: FloatArray) -> float:
    """The largest rise from one eval to the next in ``ev``, as a share."""
    return float(np.max(ev[1:] / ev[:-1])) - 1


def level_after(ev: FloatArray, b: int) -> float:
    """The level of the evals after the best ``b``: the higher of the last eval and their
    median (one low last draw does not hide a level that held, nor one high draw make it)."""
    return max(float(ev[-1]), float(np.median(ev[b + 1 :])))


def low_draw(ev: FloatArray, b: int, max_after: int, late_share: float, climb_z: float) -> bool:
    """Whether the best eval ``b`` (2 evals or more before it) is a low draw of a noisy
    curve: with at most ``max_after`` evals after it, the last is above it by no more than
    the largest rise from one eval to the next before it (a rebound of that size the curve
    already made and recovered from, the best coming later, is its own movement); with more,
    at most ``late_share`` as many as before it, not climbing (Mann-Kendall z below
    ``climb_z``), and their level (the higher of the last eval and their median) above it by
    no more than the largest rebound of the settled curve (the later half of the evals before
    the best: the descent's early bumps measure no settled noise)."""
    after = ev[b + 1 :]
    if after.size == 0 or b < 2 or ev[b] <= 0:
        return False
    before = ev[: b + 1]
    if after.size <= max_after:
        return float(ev[-1]) / float(ev[b]) - 1 <= _rebound(before)
    if after.size > late_share * before.size:
        return False
    if signals.mann_kendall_z(ev[b:]) >= climb_z:
        return False
    return level_after(ev, b) / float(ev[b]) - 1 <= _rebound(before[before.size // 2 :])


def min_shortfall(n: int) -> float:
    """How far, in sds, the lowest of ``n`` noisy draws of one level falls below that level,
    typically: the ``1 - 1/(n + 1)`` normal quantile (0.97 for 5 evals, 1.34 for 10, 1.85
    for 30)."""
    return NormalDist().inv_cdf(1 - 1 / (n + 1))


def within_min_scatter(view: EvalView) -> bool:
    """Whether the evals after the best (their median and the last) sit above it by no
    more than the lowest of the curve's evals is expected to fall below their level by
    scatter alone (``min_shortfall(n)`` eval noise sds): on a curve that noisy the best is
    a low draw, and what follows it is the level it was drawn from, not a rise."""
    best = view.best_value
    if view.after.size == 0 or best <= 0 or view.noise <= 0:
        return False
    level = level_after(view.values, view.best)
    return math.log(level / best) <= min_shortfall(view.n) * view.noise


def log_noise(v: FloatArray) -> float:
    """Robust standard deviation of one point around a local linear trend, in log units.

    Second differences remove any linear trend; for white noise of sd σ they have sd
    ``sqrt(6) σ``, so ``σ ≈ 1.4826 · median|Δ²| / sqrt(6)``.
    """
    pos = v[v > 0]
    if pos.size < 5:
        return 0.0  # fewer than 3 second differences say nothing about the noise
    d2 = np.diff(np.log(pos), n=2)
    return float(np.median(np.abs(d2)) * signals.MAD_TO_SIGMA / math.sqrt(6))


@dataclass(frozen=True)
class TaskMetric:
    key: str
    higher_better: bool
    first: float
    best: float
    last: float
    best_step: int
    #: At its best at the last eval (or at the one before, the last within 2% of the
    #: metric's range of it), and better than at the first: the metric is still improving.
    still_improving: bool


def _norm(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "")


def _direction(key: str) -> bool | None:
    name = key.rsplit("/", 1)[-1].lower()
    if "loss" in name or "runtime" in name or "per_second" in name or "epoch" in name:
        return None
    if "token_acc" in name or "entropy" in name:
        return None  # next-token accuracy is the loss seen another way, not the task
    if _norm(name).endswith(tuple(_norm(x) for x in LOWER_BETTER)):
        return False
    if _norm(name).endswith(tuple(_norm(x) for x in HIGHER_BETTER)):
        return True
    return None


def _per_step(s: Series) -> tuple[FloatArray, FloatArray]:
    """The finite points, one per step: the first logged, as for the eval loss
    (:func:`~losslens.analysis.context.first_per_step`), then, as in :func:`eval_view`,
    without a point whose step is not below the next one's."""
    f = first_per_step(s).finite
    return _forward(f.steps.astype(np.float64), f.values)


def _forward(st: FloatArray, v: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The points without one whose step is not below the next one's (a log that went back
    in steps)."""
    keep = np.append(np.diff(st) > 0, True) if st.size else np.empty(0, dtype=bool)
    return st[keep], v[keep]


def task_metrics(ctx: RunContext) -> list[TaskMetric]:
    """The eval task metrics (accuracy, F1, WER, BLEU ...) with at least two finite points,
    leaving out a higher-is-better one that never left its floor (:data:`METRIC_FLOOR`).

    A metric is still improving when its best (the last of equal bests) is at the last
    eval, or at the eval before with the last within 2% of the metric's range of it: a
    metric that has not beaten its best for several evals has stalled, however close it
    stays to it.
    """
    out = []
    for key, s in ctx.run.series.items():
        if not keys.is_held_out(key):
            continue
        up = _direction(key)
        if up is None:
            continue
        st, raw = _per_step(s)
        if raw.size < 2 or (up and float(np.max(raw)) < METRIC_FLOOR):
            continue
        v = raw if up else -raw
        b = int(v.size - 1 - np.argmax(v[::-1]))  # the last of equal bests
        spread = max(float(np.max(v) - np.min(v)), 1e-12)
        recent = b == v.size - 1 or (
            b == v.size - 2 and float(v[b] - v[-1]) <= 0.02 * spread + 1e-12
        )
        out.append(
            TaskMetric(
                key,
                up,
                float(raw[0]),
                float(raw[b]),
                float(raw[-1]),
                int(st[b]),
                recent and float(v[-1]) > float(v[0]),
            )
        )
    return out


def _compare(ctx: RunContext, since: float) -> tuple[list[TaskMetric], list[TaskMetric]]:
    """The task metrics better and worse at the last eval than at step ``since`` (by more
    than 0.1% of their value there)."""
    better, worse = [], []
    for m in task_metrics(ctx):
        st, v = _per_step(ctx.run.series[m.key])
        if float(st[-1]) <= since:
            continue
        then = signals.value_at(st, v, since)
        margin = 1e-3 * abs(then)
        up = m.last - then if m.higher_better else then - m.last
        if up > margin:
            better.append(m)
        elif up < -margin:
            worse.append(m)
    return better, worse


def metric_points(ctx: RunContext, m: TaskMetric) -> tuple[FloatArray, FloatArray]:
    """Task metric ``m`` at its evals, one per step (as :func:`task_metrics` reads it), its
    values oriented so that higher is better."""
    st, raw = _per_step(ctx.run.series[m.key])
    return st, raw if m.higher_better else -raw


def eval_move(v: FloatArray) -> float:
    """The typical eval-to-eval move of a metric: the median absolute change between
    consecutive evals."""
    return float(np.median(np.abs(np.diff(v))))


def gained_beyond_move(ctx: RunContext, m: TaskMetric, since: float) -> bool:
    """Whether task metric ``m`` gained more after step ``since`` (its best later value
    against its value there) than its own typical eval-to-eval move (the median absolute
    change between consecutive evals; True with fewer than 3 evals, nothing to compare).

    Principle: a metric that moved less since the eval-loss minimum than it moves from one
    eval to the next has not improved; it wobbles, and excuses nothing."""
    st, v = metric_points(ctx, m)
    later = v[st > since]
    if v.size < 3 or later.size == 0:
        return True
    return float(np.max(later)) - signals.value_at(st, v, since) > eval_move(v)


def improving_metric(ctx: RunContext, since: float | None = None) -> TaskMetric | None:
    """A task metric still improving (see :func:`task_metrics`); with ``since`` (a step,
    e.g. the eval-loss minimum), one better at the last eval than there by more than its
    own eval-to-eval move (:func:`gained_beyond_move`), when more of the logged metrics got
    better since than worse (one metric of many can rise by chance). A still-improving one
    is preferred."""
    if since is None:
        return next((m for m in task_metrics(ctx) if m.still_improving), None)
    better, worse = _compare(ctx, since)
    better = [m for m in better if gained_beyond_move(ctx, m, since)]
    if len(better) <= len(worse):
        return None
    return next((m for m in better if m.still_improving), better[0])


def worse_metric(ctx: RunContext, since: float) -> TaskMetric | None:
    """A task metric worse at the last eval than at step ``since`` (e.g. the eval-loss
    minimum), when more of the logged metrics got worse since than better: the task
    confirms the eval loss."""
    better, worse = _compare(ctx, since)
    return worse[0] if len(worse) > len(better) else None


def confirmed_worse(ctx: RunContext, since: float) -> bool:
    """Whether the task metrics confirm that the held-out set got worse after step
    ``since``: one worse at the last eval (:func:`worse_metric`) by more than its own
    eval-to-eval move (:func:`eval_move`; with fewer than 3 evals, any worse).

    Principle: a metric that moved less than it moves from one eval to the next wobbles;
    it confirms nothing, as it excuses nothing (:func:`gained_beyond_move`)."""
    m = worse_metric(ctx, since)
    if m is None:
        return False
    st, v = metric_points(ctx, m)
    if v.size < 3:
        return True
    return signals.value_at(st, v, since) - float(v[-1]) > eval_move(v)


def useful_until(ctx: RunContext, since: float) -> float:
    """The last step that still helped the task: the latest best of the task metrics that
    improved after ``since`` (e.g. the eval-loss minimum), else ``since`` itself."""
    out = since
    for m in task_metrics(ctx):
        st, v = _per_step(ctx.run.series[m.key])
        then = signals.value_at(st, v, since)
        if ((m.best > then) if m.higher_better else (m.best < then)) and m.best_step > out:
            out = float(m.best_step)
    return out


def still_improving(
    ctx: RunContext, view: EvalView, min_gain: float = 0.01, k: float = 2.0
) -> bool:
    """Whether the eval loss is at (or within the noise of) its best at the last eval, with
    the best less than one epoch before the end when epochs are known."""
    if view.best == view.n - 1:
        return True
    if view.rise() > max(min_gain, k * view.noise):
        return False
    e_best, e_end = ctx.epoch_at(view.best_step), ctx.epoch_at(float(view.steps[-1]))
    return e_best is None or e_end is None or e_end - e_best < 1.0


def train_around(ctx: RunContext, step: float, eval_steps: FloatArray) -> float | None:
    """The train loss over the same stretch of training as the eval at ``step``.

    The median of the train logs within half an eval interval of ``step`` (half the median
    spacing of ``eval_steps``; half a logging interval with one eval): many logs when
    logging often, so one noisy batch does not decide, and the one logged with the eval
    when logging as rarely. A level fitted over a
    wider window would mix in far-away logs (the first ones of a short run are far higher).
    Else the log nearest before ``step`` (within three logging intervals), else None.
    """
    if ctx.loss is None:
        return None
    f = ctx.loss.finite
    st, v = f.steps.astype(np.float64), f.values
    if st.size == 0:
        return None
    gaps = np.diff(eval_steps)
    tol = max(ctx.log_interval, 1.0)
    half = 0.5 * float(np.median(gaps)) if gaps.size else 0.0
    sel = np.abs(st - step) <= max(half, 0.5 * tol)
    if sel.any():
        return float(np.median(v[sel]))
    idx = int(np.searchsorted(st, step, side="right")) - 1
    if idx < 0 or step - st[idx] > 3 * tol:
        return None
    return float(v[idx])


def train_levels(ctx: RunContext, view: EvalView) -> tuple[float, float] | None:
    """The train level over the same stretch of training as the eval best and as the last
    eval (the train logs within half an eval interval of each), None when not known."""
    t0 = train_around(ctx, float(view.steps[view.best]), view.steps)
    t1 = train_around(ctx, float(view.steps[-1]), view.steps)
    return None if t0 is None or t1 is None else (t0, t1)


def gap_growth(ctx: RunContext, view: EvalView) -> float:
    """How many times the eval-train gap at the last eval is its size at the eval best (0
    when the train levels are not known or the gap at the best is not positive)."""
    levels = train_levels(ctx, view)
    if levels is None:
        return 0.0
    g0, g1 = view.best_value - levels[0], float(view.values[-1]) - levels[1]
    return g1 / g0 if g0 > 0 else 0.0


def train_fell(ctx: RunContext, view: EvalView, drop: float) -> bool:
    """Whether the train level at the last eval is ``drop`` (a share) or more below its
    level at the eval best."""
    levels = train_levels(ctx, view)
    return levels is not None and levels[1] <= (1 - drop) * levels[0]

"""Learning the training set instead of the task: overfitting (LL151); the gap is LL152."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from losslens.analysis import signals
from losslens.analysis.context import RunContext
from losslens.analysis.evalview import (
    MEDIAN_SE,
    EvalView,
    TaskMetric,
    confirmed_worse,
    eval_view,
    gap_growth,
    improving_metric,
    level_excused,
    log_noise,
    low_draw,
    one_pass_rise,
    stalled,
    train_around,
    train_fell,
    train_known_until,
    within_min_scatter,
    worse_metric,
)
from losslens.analysis.messages import Text, num, tr
from losslens.analysis.progress_signal import loss_is_cross_entropy, loss_unit_unknown
from losslens.analysis.rules.base import Rule, param, rule
from losslens.analysis.rules.common import finite, train_level_near
from losslens.model import Finding, FloatArray, Severity

#: ln(1/0.9): below this, the model gives the training token ~90% probability on average.
NEAR_ZERO = 0.105

_EARLY_STOP = tr(
    'Keep the best checkpoint: load_best_model_at_end=True with metric_for_best_model="eval_loss" '
    "and EarlyStoppingCallback(early_stopping_patience=2); or train fewer epochs, lower the "
    "learning rate, add data or LoRA dropout.",
    "가장 좋은 체크포인트를 남기세요: load_best_model_at_end=True, "
    'metric_for_best_model="eval_loss", '
    "EarlyStoppingCallback(early_stopping_patience=2). 또는 에폭 수를 줄이거나, 학습률을 낮추거나, "
    "데이터나 LoRA 드롭아웃을 늘리세요.",
)


@dataclass(frozen=True)
class OverfitParams:
    min_evals: int = param(
        3, "evaluations needed at all (2 when the second rises and the task metrics confirm it)"
    )
    resolution: float = param(
        10.0, "the best eval at least this many steps of the log's rounding (else nothing to read)"
    )
    floor: float = param(0.05, "a rise of the last two evals above the best by this much (or")
    floor_noise: float = param(2.0, "... this many median eval-to-eval changes) is overfitting")
    consecutive: int = param(3, "consecutive eval rises after the best that count as overfitting")
    small_rise: float = param(
        0.01,
        "... when the last eval is also this much above the best (and a stalled eval loss is "
        "a warning only when the evals after its minimum sit this much above it, median)",
    )
    noise_k: float = param(2.0, "... and this many eval noise sds (MAD of log differences)")
    climb_z: float = param(1.96, "Mann-Kendall z of the evals after the best (4 or more)")
    stall_epochs: float = param(2.0, "epochs of a stalled eval loss (no gain beyond the noise)")
    stall_train_drop: float = param(0.10, "... while the train loss falls at least this much")
    stall_gap: float = param(0.05, "... and the eval-train gap widens by this share of eval")
    pass_rise: float = param(
        2.0, "a single eval after the best, a full epoch later, above (1 + this x tau) x the best"
    )
    pass_train_drop: float = param(0.10, "... while the train loss fell this much over that epoch")
    apart_rise: float = param(
        0.025,
        "2+ evals after the best, every one above it (by small_rise), the last this far above "
        "it, while the train level fell pass_train_drop: the two losses moved apart",
    )
    error_rise: float = param(0.20, "last eval this far above the best (3+ evals after) is error")
    held_rise: float = param(
        0.20, "3+ evals after the best, every one above it, their median this far above it"
    )
    error_noise_k: float = param(
        3.0, "... and this many noise sds of one eval above it (beyond the curve's own movement)"
    )
    first_best_train_drop: float = param(
        0.10, "best at the first eval: the train loss must fall this much (else not learning)"
    )
    metric_excuse_noise: float = param(
        3.0,
        "a task metric still improving makes it info only while the eval level after the best "
        "is within tau or this many standard errors of it; beyond, a warning (error lowered)",
    )
    metric_damage_rise: float = param(
        1.0, "... and never when the eval loss rose this much (a warning)"
    )
    confirmed_evals: int = param(
        2,
        "evals after the best, every one above it (by small_rise) and the last above it by "
        "floor, that the task metrics (worse at the last eval than at the best) confirm",
    )
    gap_growth: float = param(
        3.0, "... or that an eval-train gap this many times its size at the best confirms"
    )
    shift_evals: int = param(
        4, "evals after the best for comparing two levels: the later half of them against the best"
    )
    shift_k: float = param(
        3.0, "... whose medians differ by 1% and this many standard errors of the difference"
    )
    late_share: float = param(
        0.5,
        "a best with more than `consecutive` evals after it, at most this many times as many "
        "as before it (the last third), is a low draw when those evals do not climb and sit "
        "within the settled curve's largest rebound (info)",
    )
    abs_rise: float = param(
        0.005,
        "a cross-entropy (nats, its unit known) whose evals after the best sit less than this "
        "above it: info (the right answers lost under 0.5% of their probability)",
    )


@rule(
    "LL151",
    "overfitting",
    kind="overfitting",
    severity=Severity.WARNING,
    family="generalization",
    params=OverfitParams(),
)
def overfitting(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """Eval loss rises from its best, or stalls, while the train loss keeps falling.

    Principle: a held-out loss that moves away from its minimum by more than the eval curve's
    own movement while the train loss falls is overfitting visible in eval, however small.

    What it detects:
        At least 3 evaluations (2, see below), a best eval of 10 steps of the log's rounding
        or more (0.0003 printed to 4 decimals is 3: a rise from it measures the rounding), and
        a train loss falling from the best eval step to
        the end (with no train log at that step, from the lowest within one logging interval: a
        coarse log must not show a fall a finer one would not) and lower around the last eval than
        around the best (the train logs within half an eval interval of each: a flat, noisy train
        loss does not look falling), and one of: the last two evals above ``(1+τ)×`` the best, ``τ =
        max(5%, 2× the median eval-to-eval change before the best)``; 3 or more consecutive rises
        after the best ending at the last eval, the last at least 1% and 2 noise sds above the best
        (the robust spread of the eval-to-eval changes: a smooth curve shows a small rise, a noisy
        one needs a larger one); 3 or more consecutive rises out of the minimum and every eval since
        the top of that climb above the best by the same margin (a rise that levels off, e.g. over a
        second epoch); a steady rise (Mann-Kendall z ≥ 1.96 over 4 evals or more, the last above the
        best by that margin); 3 evals or more after the best all above it by that margin, the last
        above ``(1+τ)×`` it; a single eval after the best above ``(1+τ)×`` it when the logged task
        metrics are mostly worse there too (with two evals too: the metrics stand in for a third),
        or, with nothing to confirm it, above ``(1+2τ)×`` it a full epoch later while that pass
        lowered the train loss 10% or more (evals once per epoch; ``τ`` is the 5% floor when every
        eval before the best was lower than the one before: a curve that only fell moved by
        learning, not by itself, so its steps measure no noise; with the task metrics worse there
        too, a rise beyond 1% is enough: two measures of the held-out set agree over a whole pass);
        2 evals or more after the best, every one above it by 1% and the last by the 5% floor, with
        the task metrics mostly worse at the last eval than at the eval-loss minimum (two measures
        of the held-out set agree, so the rise is not noise, and ``τ``, which a fast descent before
        the best inflates, does not apply); the same with the eval–train gap (the train level over
        the stretch of each eval) grown 3× or more from the best to the last eval standing in for
        the metrics (the two losses moving apart); or an eval loss stalled for 2 epochs or more (no
        gain beyond the noise) while the train loss falls 10% or more (the bar raised by two
        standard errors of the ratio of the two train levels: a fall on the edge must not appear
        when the run logs half as often) and the eval–train gap widens (info when the evals after
        the curve's minimum sit within 1% of it, median, or the minimum is the last eval, or
        the last eval is back within 1% of it: the held-out loss was no worse at the end, so
        the widening gap is worth knowing but no harm is shown);
        judged by size, 3 evals or more after the best, all above it, whose median is twice the best
        or more (a held-out loss that doubled and stayed, however wide its scatter: a tiny eval set
        near zero); the same with a median 20% above a best of 0.105 or more (above near zero, where
        a ratio measures something) while the train level fell 10% or more from the best eval to the
        last (a held-out loss a fifth worse at every eval while the train loss falls is overfitting
        however much the evals scatter around that level); or every eval since the best (2 or more)
        higher than the one before by 1% (and 2 noise sds) or more while the train level fell 10% or
        more from the best eval to the last (the two losses moved apart at every eval); or every
        eval since the best (2 or more) above it by 1%, the last by 2.5% and 2 noise sds, while the
        train level fell 10% or more (worse on held-out data at every eval while the training loss
        improved: the common three-epoch run with its best at the first eval seldom rises 5%); or,
        as two levels, 4 evals or more after the best whose later half has a median 1% and 3
        standard errors above that of the best and its neighbours, while the train loss over the
        same two stretches fell 10% and 3 standard errors (a small step up that holds, on curves
        smooth enough to make it certain). An error when the last eval is 20% or more above the best
        with 3 evals or more after it, and the rise is 3 noise standard deviations of one eval or
        more (damage is a rise beyond the curve's own movement: on an eval loss that swings 30% from
        eval to eval a 20% rise is overfitting visible in eval, a warning). A logged task metric
        (accuracy, F1, WER, BLEU, ROUGE …) still at its best at the last eval (or at the eval
        before, within 2% of its range), having gained since the eval-loss minimum more than its own
        median eval-to-eval move (a smaller gain is the metric wobbling, not improving), excuses a
        rise no larger than the eval curve's own movement: the level after the best (the median of
        the later evals) at most ``τ`` or 3 standard errors of that median (``1.25 × noise /
        sqrt(n)``) above the best, and never a doubling: info (a metric that never left its floor,
        below 1% right, shows no task learned and excuses nothing). A larger rise is overfitting
        visible in eval: the model's probabilities got worse by more than the eval's movement even
        if its answers did not, a warning (an error lowered one level). An error becomes a warning
        when the metrics mostly improved since the eval-loss minimum but stalled since. Only the
        evals where the train loss is known count (up to one logging interval after its last finite
        log). A best at the first eval with a train loss that hardly falls is not learning.
        Info when the best is one of the last 3 evals (with 2 or more before it), no task
        metric is worse at the last eval, and the last eval is above the best by no more than
        the largest rise from one eval to the next before the best: the curve already rebounded
        that much and came back, so the minimum of a noisy curve is a low draw, not a turn. The
        same with more evals after the best, in the last third of the curve (at most half as
        many after it as before), when they do not climb (Mann-Kendall z below 1.96) and their
        level (the higher of the last eval and their median) is above the best by no more than
        the largest rebound of the settled curve, the later half of the evals before the best
        (a bad start's bumps measure no settled noise).
        Judged by size in the loss's own unit: info when the loss is a cross-entropy in nats
        (a classifier's or language model's, its unit known) and the evals after the best
        sit less than 0.005 nats above it (the last eval and their median): the right answers
        lost under half a percent of their probability, however large the ratio near zero.
        Judged against the curve's scatter: info when the evals after the best (their median
        and the last) sit above it by no more than the lowest of the curve's n evals is
        expected to fall below their level by scatter alone, the ``1 - 1/(n+1)`` normal
        quantile of the eval noise (0.97 sds for 5 evals, 1.34 for 10, 1.85 for 30): on a
        curve that noisy the best is a low draw and what follows it is the level it was drawn
        from (of 40 random flat curves of 20 evals with 15% scatter each, 21 were warned
        before this reading, 9 with it); unless a task metric is worse at the last eval than
        at the best by more than its own eval-to-eval move (two measures of the held-out set
        agree; a smaller drop is the metric wobbling and confirms nothing).
    Why it matters:
        After the best step the model learns specifics of the training examples that do not
        carry over. Part of a rising eval loss is over-confidence, so a task metric may
        still improve, but the checkpoint at the best step is usually the one to use.
    Evidence:
        Best eval loss and step, the last eval loss, and the train loss over the same span.
    What to try:
        Early stopping on eval loss (``load_best_model_at_end`` + ``EarlyStoppingCallback``),
        fewer epochs, a lower learning rate, more data, LoRA dropout.
    """
    p: OverfitParams = r.params
    # only the evals where the train loss is known: after a NaN train loss (or the last train
    # log) nothing shows train and eval moving apart
    view = eval_view(ctx, until=train_known_until(ctx))
    if ctx.eval_loss is None or view is None:
        return
    # two evals, the second above the first: only a rise the task metrics confirm counts
    # (the one-eval-after-the-best reading below; the metrics stand in for a third eval)
    if view.n < p.min_evals and not (view.n == 2 and view.best == 0):
        return
    est, ev = view.steps, view.values
    b = view.best
    after = view.after
    best = view.best_value
    lst, lv = finite(ctx.loss)
    q = signals.rounding_step(ev)
    if lv.size < 2 or (q is not None and best < p.resolution * q):
        # a best of fewer than 10 steps of the log's rounding (0.0003 printed to 4 decimals):
        # a rise from it measures the rounding, not the model
        return
    # stalled: no gain beyond the noise (capped: a curve that still gains 5% has not stalled)
    margin = max(p.small_rise, min(p.noise_k * view.noise, p.floor))
    stall = stalled(
        ctx, view, p.stall_epochs, margin, p.stall_train_drop, p.stall_gap, train_level_near
    )
    if after.size < 1 and stall is None:
        return
    move = view.move()
    tau = max(p.floor, p.floor_noise * move) if move is not None else p.floor
    above = after.size >= 2 and bool(np.all(ev[-2:] > (1 + tau) * best))
    small = max(p.small_rise, p.noise_k * view.noise)
    climbing = (
        after.size >= 4
        and signals.mann_kendall_z(after) >= p.climb_z
        and ev[-1] > (1 + small) * best
    )
    # one eval after the best (e.g. one per epoch): a rise of tau that a task metric logged
    # at the same evals confirms (worse at the last eval than at the eval-loss minimum)
    confirmed = (
        after.size == 1
        and float(ev[-1]) > (1 + tau) * best
        and worse_metric(ctx, float(est[b])) is not None
    )
    persistent = view.rising_run() >= p.consecutive and view.rise() >= small
    # or it climbed 3+ evals in a row out of its minimum and held above it since (a rise
    # that levels off at the higher level, e.g. over a second epoch)
    sustained = view.sustained(p.consecutive, small)
    # every eval after the best above it by 1%: the readings below that judge by size or by
    # a second measure (not by tau) start from it
    all_above = bool(np.all(after > (1 + p.small_rise) * best))

    def held_above(last_rise: float) -> bool:
        """2+ such evals, the last more than ``last_rise`` above the best."""
        return (
            after.size >= p.confirmed_evals and all_above and float(ev[-1]) > (1 + last_rise) * best
        )

    # 2+ such evals, the last beyond the floor, and the task metrics worse there too: two
    # measures of the held-out set agree (tau, set by the descent, not); or the eval-train
    # gap standing in for the metrics: it grew several-fold from the best to the last eval,
    # the two losses moving apart
    apart = held_above(p.floor)
    corroborated = apart and worse_metric(ctx, float(est[b])) is not None
    parted = apart and gap_growth(ctx, view) >= p.gap_growth
    # or, without a second measure, every eval since the best above it and the last 2.5%
    # (and 2 noise sds) above it while the train level fell 10%: worse on held-out data at
    # every eval while the training loss kept improving, the two losses moving apart over
    # the whole stretch
    diverged = held_above(max(p.apart_rise, small)) and train_fell(ctx, view, p.pass_train_drop)
    # one eval after the best, a full epoch later (evals once per epoch), nothing to confirm
    # it: twice the confirmed rise, while that pass lowered the train loss by 10%
    # (a curve that only fell before the best moved by learning, not by itself: the floor
    # stands in for its movement, as when nothing came before the best)
    one_pass = one_pass_rise(
        ctx, view, p.pass_rise * (p.floor if view.only_fell() else tau), p.pass_train_drop
    )
    # the same pass with the task metrics worse there too: two measures of the held-out set
    # agree over a whole epoch of training, so a rise beyond the 1% floor is overfitting
    one_pass = one_pass or (
        one_pass_rise(ctx, view, p.small_rise, p.pass_train_drop)
        and worse_metric(ctx, float(est[b])) is not None
    )
    # or it stays above its best at every one of 3+ evals and ends clearly above it
    held = (
        after.size >= p.consecutive
        and bool(np.all(after > (1 + small) * best))
        and float(ev[-1]) > (1 + tau) * best
    )
    # or, judged by size, the level 3+ such evals hold (their median): doubled (the eval's
    # scatter, however wide, does not excuse a held-out loss that doubled while the train
    # loss fell), or a fifth up while the train loss fell a tenth (a scatter that hides a
    # trend does not hide a level that far up at every eval; over a best near zero a ratio
    # measures nothing, and only a doubling counts)
    level = float(np.median(after)) if after.size >= p.consecutive and all_above else None
    doubled = level is not None and level >= (1 + p.metric_damage_rise) * best
    raised = (
        level is not None
        and best >= NEAR_ZERO
        and level >= (1 + p.held_rise) * best
        and train_fell(ctx, view, p.pass_train_drop)
    )
    # or every eval after the best (2 or more) higher than the one before by 1% or more
    # while the train loss fell 10% or more over the same evals: the two losses moved apart
    # at every eval since the best
    steady = (
        after.size >= p.confirmed_evals
        and view.rising_run() == after.size
        and bool(np.all(np.diff(ev[b:]) >= small * ev[b:-1]))
        and train_fell(ctx, view, p.pass_train_drop)
    )
    # or, as two levels: the later half of 4+ evals after the best sits above the best
    # and its neighbours by 1% and 3 standard errors, while the train level over the same
    # stretches fell 10% and 3 standard errors (a small step up that holds, on curves smooth
    # enough to make it certain however small it is)
    shifted = _level_shift(ctx, view, p)
    rose = above or climbing or persistent or sustained or held or confirmed or shifted
    rose = rose or doubled or raised or steady or corroborated or parted or one_pass or diverged
    if not rose and stall is None:
        return
    if rose:
        seg = lv[lst >= est[b] - ctx.log_interval]
        if seg.size < 2:
            if stall is None:
                return
            rose = False
        else:
            t0 = train_level_near(ctx, float(est[b])) or float(seg[0])
            # with no train log at the best eval, its level is read off logs up to an
            # interval away (a coarse log): the fall must hold from the lowest of them
            near = lv[np.abs(lst - est[b]) <= max(ctx.log_interval, 1.0)]
            if near.size and not np.any(lst == est[b]):
                t0 = min(t0, float(near.min()))
            t1 = float(np.median(signals.tail(seg, 0.2, lo=1)))
            # and over the same stretches of training as the two evals (the train logs
            # within half an eval interval of each): a trend fitted at the best, or one
            # noisy batch at the end, must not make a flat train loss look falling
            a0 = train_around(ctx, float(est[b]), est)
            a1 = train_around(ctx, float(est[-1]), est)
            if t1 >= t0 or (a0 is not None and a1 is not None and a1 >= a0):
                if stall is None:
                    return
                rose = False
            elif b == 0 and t1 > (1 - p.first_best_train_drop) * t0:
                return  # best at the first eval and train hardly falls: not learning
    if not rose:
        assert stall is not None
        b, t0, t1 = stall
    rise = float(ev[-1]) / float(ev[b]) - 1
    best = float(ev[b])
    # damage is a rise beyond the curve's own movement: 20% on an eval loss that swings 30%
    # from eval to eval is overfitting visible in eval, not a certain loss of the result
    damaged = rise >= p.error_rise and math.log1p(rise) >= p.error_noise_k * view.noise
    sev = Severity.ERROR if damaged and ev.size - 1 - b >= 3 else Severity.WARNING
    stalled_at = view.values[view.best :]
    if not rose and (
        level_excused(stalled_at, p.small_rise, view.noise, k=0.0)
        or float(stalled_at[-1]) <= (1 + p.small_rise) * float(stalled_at[0])
    ):
        # stalled, and the evals after the curve's minimum sit within 1% of it (median, no
        # noise allowance; or the minimum is the last eval), or the last eval is back within
        # 1% of it: the held-out loss was no worse at the end, so the gap the falling train
        # loss opens is worth knowing but shows no harm
        sev = Severity.INFO
    # a task metric still at its best at the last eval excuses a rise no larger than the eval
    # curve's own movement (tau, or a few standard errors of the level after the best): info.
    # A larger rise is overfitting visible in eval: the model's probabilities got measurably
    # worse even if its answers did not, a warning (an error lowered one level). One that
    # improved since the eval-loss minimum but stalled since lowers an error to a warning
    metric_ok = improving_metric(ctx, since=float(est[b]))
    if metric_ok is not None and metric_ok.still_improving:
        excused = level_excused(ev[b:], tau, view.noise, p.metric_excuse_noise)
        sev = Severity.INFO if excused and rise < p.metric_damage_rise else Severity.WARNING
    elif metric_ok is not None and sev is Severity.ERROR:
        sev = Severity.WARNING
    else:
        metric_ok = None
    # a best among the last evals, the curve back at the end within a rebound it made and
    # recovered from before: the minimum of a noisy curve is a low draw, not a turn
    if (
        sev is not Severity.INFO
        and low_draw(ev, view.best, p.consecutive, p.late_share, p.climb_z)
        and worse_metric(ctx, view.best_step) is None
    ):
        sev = Severity.INFO
    # judged by size in the loss's own unit: a cross-entropy in nats whose evals after the
    # best sit less than `abs_rise` above it (the last eval and their median) gives the right
    # answers a probability lower by under half a percent, however large the ratio near zero
    if sev is not Severity.INFO and rose and _nats_apart(ctx, view) < p.abs_rise:
        sev = Severity.INFO
    # judged against the curve's scatter: the lowest of n noisy evals falls below their level
    # by about the 1 - 1/(n+1) normal quantile of the noise; evals after it that sit no
    # higher than that are the level the best was drawn from, not a rise (unless a task
    # metric fell by more than its own move between evals: two measures agree)
    if (
        sev is not Severity.INFO
        and rose
        and within_min_scatter(view)
        and not confirmed_worse(ctx, view.best_step)
    ):
        sev = Severity.INFO
    best_step = int(est[b])
    ep = ctx.epoch_at(best_step)
    ep_txt = tr(" (epoch {e})", " (에폭 {e})", e=num(ep, 2)) if ep is not None else tr("", "")
    yield r.finding(
        severity=sev,
        title=tr("The model overfits after step {s}", "{s} 스텝 이후 과적합입니다", s=best_step),
        explanation=tr(
            "The eval loss {h}, while the train loss kept falling: the model now learns "
            "details of the training examples that do not carry over. The checkpoint at step "
            "{k} is probably the best one.{m}",
            "평가 손실은 {s} 스텝{e} 이후 {h}, 학습 손실은 계속 내려갔습니다. 모델이 일반화되지 "
            "않는 학습 예제의 세부 사항을 외우고 있습니다. {k} 스텝 체크포인트가 아마 가장 "
            "좋습니다.{m}",
            s=best_step,
            e=ep_txt,
            h=tr(
                "was best at step {s}{e} and has risen since",
                "오르는 반면",
                s=best_step,
                e=ep_txt,
            )
            if rose
            else tr(
                "gained no more than its noise after step {s}{e}",
                "노이즈 이상으로 나아지지 않는 반면",
                s=best_step,
                e=ep_txt,
            ),
            # the lowest eval (a stall is read from an eval that need not be the minimum)
            k=view.best_step,
            m=_metric_note(metric_ok),
        ),
        suggestion=_EARLY_STOP,
        metric=ctx.eval_loss.key,
        step_start=best_step,
        step_end=int(est[-1]),
        evidence=_evidence(ctx, view, b, rose, best_step, (t0, t1)),
        values={
            "best_eval_loss": best,
            "best_step": best_step,
            "last_eval_loss": float(ev[-1]),
            "rise": rise,
            "train_loss_at_best": t0,
            "train_loss_end": t1,
        },
        onset_step=best_step,
    )


def _level_shift(ctx: RunContext, view: EvalView, p: OverfitParams) -> bool:
    """Whether the eval level after the best moved up while the train level moved down,
    each beyond its own noise. Eval: the median of the later half of the evals after the
    best (``shift_evals`` or more of them) against the median of the best and its
    neighbours, at least ``small_rise`` higher and ``shift_k`` standard errors of the
    difference (each median's ``1.25 noise / sqrt(n)``). Train: the median of its logs over
    the same two stretches of training, the earlier ``pass_train_drop`` above the later and
    ``shift_k`` standard errors (a noisy train loss that only seems to fall does not
    count)."""
    ev, st, b = view.values, view.steps, view.best
    after = ev[b + 1 :]
    if after.size < p.shift_evals or ctx.loss is None:
        return False
    lo_i, hi_i = max(0, b - 1), min(b + 2, ev.size)
    late_i = b + 1 + after.size // 2
    near, late = ev[lo_i:hi_i], ev[late_i:]
    if _shift(near, late, view.noise, p.small_rise, p.shift_k) <= 0:
        return False
    # the train logs over the stretches of training those evals close
    gap = float(np.median(np.diff(st)))
    ls, lv = finite(ctx.loss)
    t_near = lv[(ls > st[lo_i] - gap) & (ls <= st[hi_i - 1])]
    t_late = lv[(ls > st[late_i] - gap) & (ls <= st[-1])]
    if t_near.size < 2 or t_late.size < 2:
        return False
    noise = log_noise(lv[(ls > st[lo_i] - gap) & (ls <= st[-1])])
    return _shift(t_late, t_near, noise, p.pass_train_drop, p.shift_k) > 0


def _shift(a: FloatArray, b: FloatArray, noise: float, effect: float, k: float) -> float:
    """How far (log) the median of ``b`` is above that of ``a`` beyond both ``effect`` (a
    share) and ``k`` standard errors of the difference of the two medians; 0 or less when
    it is not."""
    lo, hi = float(np.median(a)), float(np.median(b))
    if lo <= 0 or hi <= 0:
        return 0.0
    se = MEDIAN_SE * noise * math.sqrt(1 / a.size + 1 / b.size)
    return math.log(hi / lo) - max(math.log1p(effect), k * se)


def _evidence(
    ctx: RunContext, view: EvalView, b: int, rose: bool, step: int, train: tuple[float, float]
) -> Text:
    """LL151's evidence: the eval loss at its minimum ``b`` (a rise), or, for a stall, at
    the eval ``b`` from which it never got more than the noise lower, with the best since
    (the stall is read from that eval, not from the minimum), then the last eval and the
    train loss over the same stretch."""
    ev, est = view.values, view.steps
    rise = float(ev[-1]) / float(ev[b]) - 1
    common = {
        "a": num(float(ev[b])),
        "s": step,
        "b": num(float(ev[-1])),
        "t": int(est[-1]),
        "p": f"{rise * 100:+.0f}%",
        "c": num(train[0]),
        "d": num(train[1]),
    }
    if rose:
        return tr(
            "eval loss min {a} at step {s}, {b} at step {t} ({p}); train loss still falling "
            "({c} → {d})",
            "평가 손실 최저 {a}({s} 스텝), {t} 스텝 {b}({p}); 학습 손실은 계속 감소 ({c} → {d})",
            **common,
        )
    k = b + 1 + int(np.argmin(ev[b + 1 :]))
    e0, e1 = ctx.epoch_at(float(est[b])), ctx.epoch_at(float(est[-1]))
    n = num(e1 - e0, 2) if e0 is not None and e1 is not None else "?"
    if ev[k] >= ev[b]:
        return tr(
            "eval loss {a} at step {s} and no lower in the {n} epochs since, {b} at step {t} "
            "({p}); train loss still falling ({c} → {d})",
            "평가 손실 {a}({s} 스텝), 이후 {n} 에폭 동안 더 낮아지지 않음, {t} 스텝 {b}({p}); "
            "학습 손실은 계속 감소 ({c} → {d})",
            n=n,
            **common,
        )
    return tr(
        "eval loss {a} at step {s} and at most {g} lower in the {n} epochs since (best {m} at "
        "step {u}), {b} at step {t} ({p}); train loss still falling ({c} → {d})",
        "평가 손실 {a}({s} 스텝), 이후 {n} 에폭 동안 최대 {g} 낮아짐(최저 {m}, {u} 스텝), "
        "{t} 스텝 {b}({p}); 학습 손실은 계속 감소 ({c} → {d})",
        g=f"{(1 - float(ev[k]) / float(ev[b])) * 100:.1f}%",
        n=n,
        m=num(float(ev[k])),
        u=int(est[k]),
        **common,
    )


def _metric_note(m: TaskMetric | None) -> Text:
    """What a task metric logged beside the eval loss says about the harm."""
    if m is None:
        return tr("", "")
    if m.still_improving:
        return tr(
            " {k} is still at its best, so the harm to the task may be small.",
            " {k}는 아직 최고 수준이라 과제에 대한 피해는 작을 수 있습니다.",
            k=m.key,
        )
    return tr(
        " {k} improved after the eval-loss minimum before it stalled, so the harm to the task "
        "is smaller than the eval loss suggests.",
        " {k}는 평가 손실 최저점 이후에도 나아졌다가 멈췄으므로, 과제에 대한 피해는 평가 "
        "손실이 보여 주는 것보다 작습니다.",
        k=m.key,
    )


def _nats_apart(ctx: RunContext, view: EvalView) -> float:
    """How far, in nats, the evals after the best sit above it (the higher of the last eval
    and their median); infinite where the loss is no cross-entropy of a known unit (a squared
    error, a script's loss that nothing names), whose differences are no probabilities."""
    later = view.values[view.best + 1 :]
    if not later.size or not loss_is_cross_entropy(ctx) or loss_unit_unknown(ctx):
        return math.inf
    return max(float(later[-1]), float(np.median(later))) - view.best_value

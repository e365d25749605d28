"""LL135's windows of a loss read by size: the last stretch of a run, a flat start, and a
level judged on a few logs. Each returns what LL135 will say, or nothing; and the severity
boundary of a slow loss, whether the model still learns."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from losslens.analysis import signals
from losslens.analysis.advice import underlearning_suggestion
from losslens.analysis.chance import uniform_note
from losslens.analysis.context import RunContext
from losslens.analysis.evalview import eval_view, improving_metric
from losslens.analysis.messages import Text, num, tr
from losslens.analysis.progress_signal import (
    epoch_span,
    eval_converged,
    eval_improving,
    high_level,
    high_token_ce,
    log_from_start,
    passes_made,
    peak_lr,
    share_se,
    usual_lr,
)
from losslens.analysis.rules.common import finite, lr_at
from losslens.analysis.rules.schedule import CLIP, saturated_clipping
from losslens.model import FloatArray, Severity

if TYPE_CHECKING:
    from losslens.analysis.rules.underlearning import UnderParams


@dataclass(frozen=True)
class Said:
    """What LL135 found: the note, the advice, the series read, the steps ``(onset, end)``,
    the loss levels ``(first, last)`` and the epochs the log spans."""

    note: Text
    fix: Text
    key: str
    steps: tuple[int, int]
    levels: tuple[float, float]
    epochs: float | None


def few_logs_level(ctx: RunContext, p: UnderParams) -> Said | None:
    """(h) on ``few_logs`` to ``min_logs - 1`` train logs from the start of the run, with no
    eval curve to read instead: the first and last logs are the levels."""
    st, v = finite(ctx.loss)
    if ctx.loss is None or not p.few_logs <= v.size < p.min_logs or float(v.min()) <= 0:
        return None
    passes = passes_made(ctx, float(st[-1]))
    if passes is None or not log_from_start(ctx):
        return None
    first, last = float(v[0]), float(v[-1])
    kept = (p.still_high * math.exp(2 * share_se(v)), p.uniform_passes, p.barely, p.uniform_early)
    note = uniform_note(ctx, (first, last), passes, kept, band=(p.uniform_low, p.uniform_high))
    if note is None:
        return None
    fix = underlearning_suggestion(peak_lr(ctx), usual_lr(ctx))
    epochs = epoch_span(ctx, float(st[0]), float(st[-1]))
    return Said(note, fix, ctx.loss.key, (int(st[0]), int(st[-1])), (first, last), epochs)


def last_stretch(
    ctx: RunContext,
    p: UnderParams,
    st: FloatArray,
    v: FloatArray,
    first: float,
    onset: int,
    ev: float,
) -> tuple[Text | None, int, float | None]:
    """(d): the last stretch of ``stretch_epochs`` at a high LR, or of ``long_stretch`` epochs
    and ``long_share`` of the log at any LR, gaining less than ``per_epoch_gain`` per epoch;
    or, at a high token cross-entropy (``high_token_ce``), the last ``stretch_epochs`` (at
    least 4 logs) gaining less than ``high_gain`` per epoch at any LR. ``ev`` is the eval
    loss's gain per epoch over the second half (-inf when unknown): below the same bar.
    Also returns the stretch's own gain per epoch (log units), which grades it."""
    spe = ctx.steps_per_epoch or 0.0
    total = float(st[-1] - st[0])
    spans = [(p.stretch_epochs * spe, True)]
    if p.long_stretch * spe <= total:
        spans.append((max(p.long_stretch * spe, p.long_share * total), False))
    for span, need_lr in spans:
        # a log on the window's edge belongs to it (the epoch length is a float)
        sel = st >= float(st[-1]) - span * (1 + 1e-9)
        if sel.sum() < 4 or float(st[-1] - st[sel][0]) < 0.9 * span:
            continue
        xs, ys = st[sel], signals.safe_log(v[sel])
        slope, _ = signals.theil_sen(xs, ys)
        per_epoch = -slope * spe  # relative gain per epoch (log units)
        level = float(np.exp(np.median(ys)))
        # judged by size at a high level: a token loss that a fine-tune should be far
        # below, gaining less than `high_gain` per epoch, is a plateau at a high level
        # whatever the LR did (a run that winds its LR down there has not converged)
        high = need_lr and high_token_ce(ctx, level, p.text_high)
        bar = p.high_gain if high else p.per_epoch_gain
        lr0 = lr_at(ctx, float(xs[0]))
        lr_ok = (
            high
            or not need_lr
            or ctx.schedule is None
            or lr0 is None
            or lr0 >= p.lr_share * ctx.schedule.top
        )
        # rising is not a plateau
        flat = -p.per_epoch_gain < per_epoch < bar and ev < bar
        # a high token level is high by itself, whatever the first value (a bad start
        # far above it); otherwise high means at `high_level` of the first value or more
        if flat and (high or level >= p.high_level * first) and lr_ok:
            note = tr(
                "over the last {e} epochs the loss gains {g}% per epoch at ≈{l}",
                "마지막 {e} 에폭 동안 손실이 ≈{l}에서 에폭당 {g}%만 줄었습니다",
                e=num(float(xs[-1] - xs[0]) / spe, 2),
                g=f"{(1 - math.exp(-per_epoch)) * 100:.1f}",
                l=num(level),
            )
            return note, int(xs[0]), per_epoch
    return None, onset, None


def flat_start(
    ctx: RunContext, p: UnderParams, st: FloatArray, v: FloatArray, first: float, onset: int
) -> tuple[Text | None, int]:
    """(e): the first ``stretch_epochs`` epochs and ``start_share`` of the log (the longer)
    gain less than ``per_epoch_gain`` per epoch while every smoothed log stays at
    ``start_level`` of the first value or more: learning started late, if at all."""
    spe = ctx.steps_per_epoch or 0.0
    total = float(st[-1] - st[0])
    span = max(p.stretch_epochs * spe, p.start_share * total)
    if span >= total:
        return None, onset
    sel = st <= float(st[0]) + span
    if sel.sum() < 4 and st.size >= 6:
        # too few logs in the window (a coarse log): judge the first 4 instead, a longer
        # flat start, which says no less
        sel = np.arange(st.size) < 4
    if sel.sum() < 4:
        return None, onset
    xs, ys = st[sel], signals.safe_log(v[sel])
    slope, _ = signals.theil_sen(xs, ys)
    per_epoch = -slope * spe
    smooth = signals.rolling_median(ys, 3)
    if abs(per_epoch) >= p.per_epoch_gain or float(np.exp(smooth.min())) < p.start_level * first:
        return None, onset
    note = tr(
        "for the first {e} epochs the loss stayed at ≈{l} ({g}% per epoch) before it started "
        "to fall",
        "처음 {e} 에폭 동안 손실이 ≈{l}에 머문 뒤에야(에폭당 {g}%) 줄기 시작했습니다",
        e=num(float(xs[-1] - xs[0]) / spe, 2),
        l=num(float(np.exp(np.median(ys)))),
        g=f"{(1 - math.exp(-per_epoch)) * 100:.1f}",
    )
    return note, int(xs[0])


def slow_cause(ctx: RunContext) -> Text | None:
    """Why the learning rate that acted was a fraction of the one set, when the log says."""
    warm = ctx.has("LL142")
    if warm is not None and warm.severity is not Severity.INFO:
        return tr(
            "the run ended still in warmup, so the LR never reached the one set",
            "실행이 워밍업 중에 끝나 학습률이 설정값에 한 번도 닿지 않았습니다",
        )
    clip = saturated_clipping(ctx, CLIP)
    if clip is not None:
        return tr(
            "every update was clipped to max_grad_norm {m} (median grad norm {g}), so the "
            "steps were a fraction of what the LR asks",
            "모든 업데이트가 max_grad_norm {m}로 잘려(그래디언트 노름 중앙값 {g}) 스텝이 "
            "학습률이 뜻하는 크기의 일부에 그쳤습니다",
            m=num(clip.max_grad_norm),
            g=num(clip.median),
        )
    return None


def _long_half(ctx: RunContext, p: UnderParams, st: FloatArray) -> float | None:
    """The epochs the second half of the log spans, when ``long_stretch`` or more."""
    span = epoch_span(ctx, float(st[0] + 0.5 * (st[-1] - st[0])), float(st[-1]))
    return span if span is not None and span >= p.long_stretch else None


def fell_over_long_half(
    ctx: RunContext, p: UnderParams, st: FloatArray, gain: float | None
) -> bool:
    """Whether the second half of a long log (``long_stretch`` epochs or more) still fell by
    ``run_gain`` in all, by ``gain``, its Theil-Sen gain per epoch
    (:func:`~losslens.analysis.progress_signal.gain_per_epoch`)."""
    span = _long_half(ctx, p, st)
    return gain is not None and span is not None and gain * span >= -math.log1p(-p.run_gain)


def half_flat(ctx: RunContext, p: UnderParams, st: FloatArray, gain: float | None) -> bool:
    """Whether the second half of the log, ``long_stretch`` epochs or more, gained (or lost)
    less than ``per_epoch_gain`` per epoch (``gain``, its Theil-Sen gain per epoch): half the
    passes made bought nothing, a waste whatever the loss's unit."""
    return gain is not None and _long_half(ctx, p, st) is not None and abs(gain) < p.per_epoch_gain


def still_learning(
    ctx: RunContext, p: UnderParams, last: float, gain: float | None, long_fall: bool
) -> bool:
    """The severity boundary of (b)-(d): info, not a warning, for a model still learning.

    Judged by size over the run's length too: a gain per epoch shrinks with the number of
    epochs a run is given, so a long log whose second half (``long_stretch`` epochs or more)
    still fell by ``run_gain`` in all (``long_fall``: a 200-epoch run gaining 0.2% per epoch
    over its last 100) is a slow but steady decline, at any level.

    Principle: a slow loss is "a plateau at a high level" (warning) only when nothing
    says the model still learns; below a high level, a train loss still falling by
    `slow_gain` per epoch (a slow but steady decline) or an eval loss still improving at
    its last evals (diminishing returns; by `slow_gain` per epoch or more, the same bar
    by size) is info; a task with no token level (classification, speech ...) is judged
    by its eval loss alone, still improving or converged after a fall of 10% or more,
    and a text task at a high level by its eval loss and a task metric improving
    together. Below a high level (or with no token level), an eval loss that fell to its
    best and holds it within its noise converged: the model learned what this data gives
    it (diminishing returns, info); whether the later epochs were waste is the epoch
    rule's call (LL154), not a model learning too little."""
    if long_fall:
        return True
    improving = eval_improving(ctx, p.improving_evals, p.slow_gain)
    if not high_level(ctx, last, p.text_high):
        return (
            improving
            or eval_converged(ctx, p.converged_evals)
            or (gain is not None and gain >= p.slow_gain)
        )
    if not ctx.text_task:
        # no token level to call high: judged by the eval loss alone, still improving or
        # converged after a fall of a size that counts (`first_best_train_gain`, the rule's
        # bar for learning at all): the model learned what the data gives it
        return improving or (
            eval_converged(ctx, p.converged_evals) and _eval_fell(ctx, p.first_best_train_gain)
        )
    # at a high level too, when a task metric (BLEU, accuracy ...) is still improving beside
    # it: two measures of the held-out set say the model still learns
    return improving and improving_metric(ctx) is not None


def _eval_fell(ctx: RunContext, gain: float) -> bool:
    """Whether the eval loss's best is ``gain`` (relative) or more below its first eval."""
    view = eval_view(ctx)
    return view is not None and view.best_value <= (1 - gain) * float(view.values[0])

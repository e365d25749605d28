"""Too little learning judged by size: slow progress per epoch, a loss still near its start
after several passes, a learning rate that acted as a fraction of the one set, a model that
was best before it learned anything, and one that kept guessing at chance for most of the
run, a token loss that stays near a uniform guess over a large vocabulary, and a regression
model that never beat a constant. What to try depends on the level of the learning rate."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from losslens.analysis import signals
from losslens.analysis.advice import underlearning_suggestion
from losslens.analysis.chance import (
    MAX_TOKEN_CE,
    UNIFORM_1000,
    stayed_at_chance,
    uniform_note,
)
from losslens.analysis.context import RunContext
from losslens.analysis.evalview import eval_view, improving_metric
from losslens.analysis.messages import Text, num, tr
from losslens.analysis.progress_signal import (
    TEXT_HIGH,
    best_r_squared,
    end_level,
    epoch_span,
    eval_gain_per_epoch,
    gain_per_epoch,
    head_count,
    high_level,
    log_from_start,
    loss_measures_progress,
    loss_unit_unknown,
    passes_made,
    peak_lr,
    progress_points,
    share_se,
    usual_lr,
)
from losslens.analysis.rules.base import Rule, param, rule
from losslens.analysis.rules.common import finite, train_level_near
from losslens.analysis.rules.stretches import (
    Said,
    fell_over_long_half,
    few_logs_level,
    flat_start,
    half_flat,
    last_stretch,
    slow_cause,
    still_learning,
)
from losslens.model import Finding, Severity

_PROGRESS = ("LL112", "LL131", "LL132", "LL133")
_BROKEN = ("LL101", "LL102", "LL103", "LL104", "LL111")


@dataclass(frozen=True)
class UnderParams:
    passes: float = param(2.0, "epochs after which a loss still near its start is under-learning")
    still_high: float = param(0.70, "... near its start: at least this share of its first value")
    slow_gain: float = param(
        0.01,
        "... while gaining less than this per epoch over the second half (log); an eval loss "
        "still improving at its last evals says the model still learns when it gains this "
        "much per epoch over them",
    )
    max_rise: float = param(
        0.05, "... and rising less than this per epoch (a rising loss is another problem)"
    )
    barely: float = param(0.90, "or at least this share of its first value ...")
    cut_short: float = param(0.05, "... gaining less than this per epoch (faster: a run cut short)")
    many_passes: float = param(
        4.0, "or after this many epochs at `still_high` or more, gaining less than `cut_short`"
    )
    stretch_epochs: float = param(2.0, "epochs of a stretch judged by its gain per epoch")
    per_epoch_gain: float = param(0.01, "... a plateau when it gains less than this per epoch")
    high_level: float = param(0.5, "... while still at this share of the first value or more")
    lr_share: float = param(0.5, "... and the LR at its start at least this share of the peak")
    long_stretch: float = param(
        5.0, "a stretch this many epochs long is judged at any LR (waste whatever the cause)"
    )
    long_share: float = param(0.33, "... and at least this share of the log")
    high_gain: float = param(
        0.05,
        "(d) at a high level (a text task's token cross-entropy at `text_high` or more, a "
        "per-token mean: at most ln 2^18), the last `stretch_epochs` gaining less than this "
        "per epoch are a plateau at any LR and any share of the first value (the bar of "
        "`cut_short`)",
    )
    start_share: float = param(
        0.25, "a flat start: the first `stretch_epochs` and this share of the log, or more, ..."
    )
    start_level: float = param(0.9, "... staying at this share of the first value or more")
    most_share: float = param(
        0.5,
        "or a loss that starts at chance (ln k) stays within `start_level` of it for "
        "`stretch_epochs` from the start and this share of the log, at any gain",
    )
    chance_tolerance: float = param(
        0.05, "... starts at chance: its first value within this of ln k"
    )
    min_logs: int = param(5, "train logs needed (else the eval loss is read instead)")
    text_high: float = param(
        TEXT_HIGH,
        "(b), (c): a loss still declining by `slow_gain` per epoch or more is a warning only at "
        "a high level: for a text task, a token cross-entropy at or above this (perplexity "
        "e^3 ≈ 20); below it, a slow but steady decline is info",
    )
    converged_evals: int = param(
        3,
        "(b)-(d): below `text_high` (any level with no token level), an eval loss (this many "
        "evals or more) that fell from its first eval beyond its noise and whose last this "
        "many evals (median) sit within 1% and 2 noise sds of its best converged: diminishing "
        "returns, info",
    )
    first_best_evals: int = param(3, "evals with the best at the first: not learning")
    first_best_train_gain: float = param(0.10, "... when the train loss gains less than this")
    first_best_flat: float = param(
        0.01, "(f) or an eval loss never this much below its first eval, the train loss as above"
    )
    uniform_low: float = param(
        UNIFORM_1000,
        "(h) a cross-entropy ending at or above this (nats; ln 1000: a uniform guess over "
        "1,000 tokens) has learned next to nothing ...",
    )
    uniform_high: float = param(
        MAX_TOKEN_CE,
        "... up to this (ln 2^18: above every vocabulary; higher is no per-token mean)",
    )
    uniform_passes: float = param(
        1.0, "... when still at `still_high` of its first value after this many epochs"
    )
    uniform_early: float = param(0.25, "... or at `barely` of it after this many epochs")
    r2_evals: int = param(3, "(i) evals of R² needed; none above 0: never beat the mean")
    improving_evals: int = param(
        2,
        "(b)-(d): an eval loss best at its last eval and lower at each of its last this many "
        "evals than at the one before (2 evals or more), or, with 2x (this + 1) evals or more "
        "in its second half, trending down over that half (Theil-Sen), still improves: "
        "diminishing returns, info below `text_high` (in a task with no token level, at any "
        "level)",
    )
    barely_passes: float = param(
        1.0,
        "(j) after this many epochs a loss still at `barely` of its first value (the bar "
        "raised by its noise) ...",
    )
    barely_gain: float = param(
        0.02,
        "... gaining less than this per epoch over the second half (log; the eval loss, when "
        "logged, too) ...",
    )
    barely_high: float = param(
        2.5,
        "... at a token cross-entropy of this or more (nats, perplexity e^2.5 ≈ 12; any level "
        "in other tasks) has barely moved: a plateau at a high level (warning)",
    )
    run_gain: float = param(
        0.10,
        "(b)-(d): a log whose second half spans `long_stretch` epochs or more and still fell "
        "by this share in all is a slow but steady decline (info) at any level, however small "
        "its gain per epoch",
    )
    few_logs: int = param(
        2,
        "(h) is read on this many train logs or more when there are fewer than `min_logs` "
        "and no eval: a level needs no trend",
    )


@rule(
    "LL135",
    "under-learning",
    kind="loss_plateau",
    severity=Severity.WARNING,
    family="progress",
    requires=(*_BROKEN, *_PROGRESS, "LL142", "LL153"),
    params=UnderParams(),
)
def under_learning(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """The loss improves too little for the passes made over the data.

    Principle: a loss at the level of a uniform guess is a warning at any gain, not
    silenced by another reading's info; the verdict may not depend on which measure a
    sparse train log leaves to read: read on the eval loss (fewer than 5 train logs), a
    curve that fell to its best and rose from it beyond its noise is learning then
    overfitting, never a plateau. Judged by size: a loss that moved less than a tenth of its
    first value in a full pass, at a high level, has not learned, however steady its small
    decline.

    What it detects:
        Judged by size, not by statistical significance, once the other progress rules
        (LL131–LL133) said nothing (or LL131 or LL132 only at info: a flat train loss whose
        eval loss still improves, diminishing returns) and, except for (e), (g) and
        (i), memorization (LL153) neither (an LL153 staircase at info, the small drop on
        re-seeing the examples that any second pass shows, does not count: it is read at
        one logging cadence and not at another), in a log that starts with the run (the train
        loss, or the eval loss when fewer than 5 train logs); not in online RL runs (a
        sampled reward is logged: the loss is ``beta`` x KL, no progress measure), nor
        when a numerical or divergence rule (LL101–LL104, LL111) found more than an info
        (one non-finite grad norm that recovered at once leaves the loss readable). The
        passes are the epoch at the last log plus one logging interval.
        The first value is the median of the first 5% of logs (at least 1); the end level
        the median of the last 10% (at least 3), each carried to the last step along the
        second half's Theil-Sen slope; the 70% bar is raised by two standard errors of
        their ratio (from the log-to-log noise), so a loss on the edge does not flip with
        the logging interval (the 90% bar goes with a gain per epoch under 5%, which
        carries the evidence there).
        Under-learning is any of:
        (a) the learning rate that acted was a fraction of the one set (the run ended still
        in warmup, LL142, or nearly every update was clipped 5× or more with an optimizer
        that is not scale-free, as LL143 reads it) and the loss is still at 70% or more of
        its first logged value;
        (b) after 2 epochs or more the loss is still at 70% or more of its first value and,
        over the second half of the log, gains less than 1% per epoch by its Theil-Sen
        slope without rising 5% per epoch or more; or at 90% or more while gaining less than
        5% per epoch and not above its first value beyond the noise (a loss still falling
        fast is a run cut short, not under-learning; one that rose is another problem);
        (c) after 4 epochs or more the loss is still at 70% or more of its first value while
        gaining less than 5% per epoch: every example was seen four times and is still
        hardly fitted;
        (d) a stretch at the end of 2 epochs or more, started while the LR was at least half
        its peak, or of 5 epochs or more and a third of the log at any LR (waste whatever
        the cause), gains (or loses) less than 1% per epoch while the loss is still at half
        its first value or more (a slow but significant decline at a high level is still a
        plateau); judged by size at a high level, the last 2 epochs (4 logs or more) of a
        text task whose token cross-entropy there is 3 nats or more (perplexity ≈ 20, above
        the 1-3 nats a pretrained model fine-tuned on its kind of text reaches; a per-token
        mean, at most ln 2^18) gaining less than 5% per epoch, at any LR and whatever the
        first value (a bad start far above it) (an eval loss that holds while the train
        loss creeps down is the start of overfitting, LL160's, not under-learning); info
        when nothing names the loss's unit (a script's own table, history or console log
        with no task, tokens or model named): no level can be called high, so the stretch
        is the flat end of a curve that converged, unless the whole second half of the log
        (5 epochs or more) gained (or lost) less than 1% per epoch: half the passes made
        bought nothing, a waste whatever the unit (a warning);
        (e) the first 2 epochs and a quarter of the log (the longer) gain (or lose) less
        than 1% per epoch with the loss never below 90% of its first value (at least 4
        logs: a coarse log with fewer there judges its first 4, a longer flat start): learning
        started late, if at all (a warmup far too long, an LR too low at first);
        in (b), (c) and (d) the severity says whether the model still learns: a loss still
        declining by 1% per epoch or more over the second half (in (d), over the stretch the
        finding reports: the gain it shows is the gain that grades it) is a slow but
        steady decline, a warning only at a high level (a text task's token cross-entropy of 3
        nats or more, perplexity ≈ 20; any level in other tasks), info below it (the
        conventions: "a slow but steady decline" is info, "a plateau at a high level" a
        warning), and so is, below that level, a loss whose eval loss is best at its last
        eval and fell at each of its last 2 evals (2 evals or more: diminishing returns,
        the model still learns; on a long curve, 6 evals or more in its second half, a
        Theil-Sen trend down over that half instead, since one noisy eval must not decide
        what the whole curve shows), by 1% per epoch or more over them (judged by size: an
        eval loss creeping down by less is as flat as the train loss); in a task with no
        token level (classification, speech ...) such an eval loss makes it info at any
        level, and in a text task too when a logged task metric (BLEU, accuracy ...) is still
        improving beside it (two measures of the held-out set say the model still learns);
        below that level in a text task, and at any level in a task with no token level when
        its best is 10% or more below its first eval, an eval loss (3 evals or more) that fell
        from its first eval beyond its noise and holds its best at the end (the median of its last 3
        evals within 1% and 2 noise sds of the best, so one lucky last eval does not decide)
        makes it info too, however long it held: it converged, the model learned what the
        data gives it, and whether the later epochs were waste is the epoch rule's call
        (LL154), not too little learning; judged over the run's length as well as per
        epoch, a log whose second half spans 5 epochs or more and still fell 10% or more in
        all (Theil-Sen) is a slow but steady decline (info) at any level, since the gain per
        epoch shrinks with the epochs a run is given; a loss gaining less than 1% per epoch
        is otherwise a warning at any level, and so is one that barely moved (j);
        in (b)–(d) the eval loss, when it has 3 evals in the second half of the log, must
        not gain faster than the bar either (a model whose eval loss still improves is
        learning);
        (f) with 3 evals or more, the eval loss was best at the first eval while the train
        loss gained less than 10% (the model is not learning, it is not overfitting); or it
        never got 1% below its first eval (judged by size: a held-out loss that never moved)
        while the train loss gained less than 10% from its first logs (the median of the
        first 5%): the model never learned, neither measure moved from the start;
        (g) a loss that starts at chance, ``ln k`` for k outcomes (within 5%: a fresh
        classification head, a DPO policy equal to its reference; k from ``num_labels`` /
        ``id2label`` or ``vocab_size``, else guessed from the first value for classification
        and preference runs), stays within 10% of its first value (medians of 3 logs) for
        2 epochs from the start and half of the log or more: the model kept guessing for
        most of the budget, whatever it does after (judged at any gain per epoch);
        (h) a cross-entropy near a uniform guess over a large vocabulary: a cross-entropy
        of L nats is what a uniform guess over e^L outcomes scores, so a loss that ends at
        ln 1000 ≈ 6.9 nats or more (the right token gets less than a 1-in-1,000 chance,
        worse than the token frequencies alone; a pretrained model fine-tuned on text sits
        at 0.5-3) has learned next to nothing. Read only when the loss is a per-token mean
        cross-entropy: a language-model or classification loss with no regression metric
        (R², MSE, MAE) logged, and at most ln 2^18 ≈ 12.5 nats (a uniform guess over more
        tokens than any vocabulary in use: higher is a summed, scaled, CTC or squared
        loss); an eval loss, when logged, must end there too. A warning when the loss is
        still at 70% or more of its first value (the bar raised by its noise, as above)
        after 1 epoch, at 90% or more after a quarter of an epoch, or at any share when
        the log reaches the end of the run (finished, or its last log within one logging
        interval of the planned steps): the run stopped far from trained, whatever its
        trend (judged at any gain per epoch, and whatever the eval loss gains);
        (i) with 3 evals or more of R², none above 0: an R² of 0 is what predicting the
        mean of the targets scores, so the model never beat a constant;
        (j) a loss that barely moved: after a full pass or more it is still at 90% or more
        of its first value (the bar raised by its noise), gaining less than 2% per epoch
        over the second half without rising 5% per epoch or more (the eval loss, when
        logged, gaining less than 2% per epoch too), at a token cross-entropy of 2.5 nats or
        more (perplexity ≈ 12: the readers' "high level" for a fine-tune, above the 1-2
        nats they call ordinary; any level in other tasks): a warning, a plateau at a high
        level even when the decline is steady.
        A reading of (b)–(d) graded info because the model still learns does not hide the
        readings of a level that are a warning at any gain: a loss at chance (g) or near a
        uniform guess (h), an R² never above 0 (i). When one of them holds, it is the finding
        (a classifier still at chance after 2 epochs has learned nothing, however its eval loss
        creeps down), unless a logged task metric (accuracy, F1 ...) is still improving: then
        the model is not guessing.
        With fewer than 5 train logs and no eval curve to read instead, only (h) is judged,
        on the first and last logs (2 logs or more): a level needs no trend.
    Why it matters:
        The passes made over the data are not paying off: the run costs compute and the
        model changes little. Common causes are a learning rate that is too low (or kept
        low by warmup or clipping), an adapter too small for the task, labels that carry no
        signal, or a task too hard for the model.
    Evidence:
        The loss at the start and at the end (or over the stretch), the epochs, the gain per
        epoch, and the cause when the log shows one.
    What to try:
        By the level of the learning rate: when the LR that acted was held back (warmup
        that never ended, every update clipped), finish the warmup within the run and raise
        ``max_grad_norm``; when the peak LR is below half the usual value for the kind of
        run (LoRA 2e-4, full fine-tune 2e-5; both when the kind is unknown, and then a peak
        between them is said to be low for LoRA only), raise it toward that value; when it
        is already at or above it (1e-3 on a tiny model), raising it is not the fix: check
        the data and labels, the loss masking and the model or adapter size, or stop early
        to save the compute. Online RL runs (a sampled reward is logged) are not judged:
        their loss is no progress measure.
    """
    p: UnderParams = r.params
    # a numerical event graded info (one non-finite grad norm that recovered at once) left
    # the loss readable; any graver one says the run is broken, not slow
    broken = [f for x in _BROKEN if (f := ctx.has(x)) is not None]
    if any(f.severity is not Severity.INFO for f in broken) or not loss_measures_progress(ctx):
        return
    # a flat stretch that LL132 graded info (diminishing returns at a moderate level), or a
    # flat train loss whose eval loss still improves (LL131 at info), leaves the judgement by
    # passes over the data to this rule; any other progress finding says it
    said = [f for x in _PROGRESS if (f := ctx.has(x)) is not None]
    if any(f.rule_id not in ("LL132", "LL131") or f.severity is not Severity.INFO for f in said):
        return
    # a loss that ends near zero is memorization: only a flat start (e) can still be said of
    # it. An info staircase (read at one cadence and not at another) does not decide that
    mem = ctx.has("LL153")
    memorized = mem is not None and not (
        mem.severity is Severity.INFO and "boundaries" in mem.evidence.values
    )
    pts = progress_points(ctx, p.min_logs)
    if pts is None:
        # (h) read on a few train logs: a level needs no trend
        few = None if memorized else few_logs_level(ctx, p)
        if few is not None:
            yield _report(r, ctx, few, Severity.WARNING)
        return
    st, v, key = pts
    if v.size < 3 or float(v[0]) <= 0:
        return
    from_start = log_from_start(ctx)  # (a)-(e) compare with the run's first value
    judged = from_start and not memorized  # (a)-(d)
    first = float(np.median(v[: head_count(v.size)]))
    last = end_level(st, v)
    if first <= 0 or last <= 0:
        return
    # the share is a ratio of two medians of noisy logs: the bar is raised by its own
    # uncertainty (2 standard errors), so another logging interval does not flip it
    margin = math.exp(2 * share_se(v))
    high_bar = p.still_high * margin
    epochs = epoch_span(ctx, float(st[0]), float(st[-1]))
    passes = passes_made(ctx, float(st[-1]))
    share = last / first
    still = tr(
        "the loss is still {x}% of its first value ({a} → {b})",
        "손실이 아직 처음 값의 {x}%입니다({a} → {b})",
        x=f"{share * 100:.0f}",
        a=num(first),
        b=num(last),
    )
    note: Text | None = None
    severity = Severity.WARNING
    onset = int(st[0])
    cause = slow_cause(ctx)
    # what to try depends on the LR level: raising an LR already at usual values (1e-3 on a
    # tiny model) is not the fix; the data, the loss masking or the model size are
    fix = underlearning_suggestion(peak_lr(ctx), usual_lr(ctx), lr_held_back=cause is not None)
    # (a) the LR that acted was a fraction of the one set, and the loss shows it
    if cause is not None and share >= high_bar and judged:
        note = tr("{c}; {s}", "{c}. {s}", c=cause, s=still)
    # (b), (c) still near its start after several passes, judged by the gain per epoch over
    # the second half: a run still falling fast at the end was cut short (not
    # under-learning), one that fell early and then stopped has plateaued. An eval loss
    # still improving as fast as the bar says the model is still learning.
    gain = gain_per_epoch(ctx, st, v)
    long_fall = fell_over_long_half(ctx, p, st, gain)
    if gain is None and passes and last > 0:
        gain = math.log(first / last) / passes
    ev_gain = eval_gain_per_epoch(ctx) if ctx.loss is not None and key == ctx.loss.key else None
    ev = -math.inf if ev_gain is None else ev_gain
    # (j) barely moved: after a full pass still at `barely` of its first value (the bar
    # raised by the noise), gaining less than `barely_gain` per epoch, at a high level
    barely = (
        judged
        and gain is not None
        and (passes or 0.0) >= p.barely_passes
        and share >= p.barely * margin
        and -p.max_rise < gain < p.barely_gain
        and ev < p.barely_gain
        and high_level(ctx, last, p.barely_high)
    )
    if note is None and judged and passes is not None and gain is not None and share >= high_bar:
        slow = -p.max_rise < gain < p.slow_gain and ev < p.slow_gain
        # a loss that ends above its start beyond the noise is another problem
        # (divergence, LR too high), not too little learning
        fast = gain < p.cut_short and ev < p.cut_short and share <= margin
        if (
            barely
            or (passes >= p.passes and (slow or (share >= p.barely and fast)))
            or (passes >= p.many_passes and fast)
        ):
            # below a high level, a loss still declining by `slow_gain` per epoch or more is
            # a slow but steady decline, and one whose eval loss improved at every eval to
            # its best at the last shows diminishing returns: info (the conventions); a loss
            # that barely moved (j) stays a warning
            if not barely and still_learning(ctx, p, last, gain, long_fall):
                severity = Severity.INFO
            note = tr(
                "after {e} epochs {s}, gaining {g}% per epoch at the end",
                "{e} 에폭 후에도 {s}. 끝에서는 에폭당 {g}%만 줄었습니다",
                e=num(passes, 2),
                s=still,
                g=f"{(1 - math.exp(-gain)) * 100:.1f}",
            )
    # a reading graded info because the model still learns is set aside: the readings of a
    # loss at the level of a uniform guess ((g), (h)) and of R² (i) are warnings at any gain
    # and still have their say; it stands if none speaks
    soft = None
    if note is not None and severity is Severity.INFO:
        soft, note, severity = (note, onset), None, Severity.WARNING
    # (h) a cross-entropy still near a uniform guess over a large vocabulary
    if note is None and judged and passes is not None:
        note = uniform_note(
            ctx,
            (first, last),
            passes,
            kept=(high_bar, p.uniform_passes, p.barely, p.uniform_early),
            band=(p.uniform_low, p.uniform_high),
        )
    # (d) a stretch at the end with a small gain per epoch at a high level
    if note is None and soft is None and judged and ctx.steps_per_epoch:
        note, onset, stretch_gain = last_stretch(ctx, p, st, v, first, onset, ev)
        # the same boundary as (b), (c), judged on the gain the stretch reports: a slow
        # stretch of a loss still learning is info; so is one at a level nothing can call
        # high (a script's loss of unknown unit): the flat end of a curve that converged,
        # unless the whole second half was flat (half the passes bought nothing: waste)
        if note is not None and (
            still_learning(ctx, p, last, stretch_gain, long_fall)
            or (loss_unit_unknown(ctx) and not half_flat(ctx, p, st, gain))
        ):
            severity = Severity.INFO
    if note is not None and severity is Severity.INFO:
        soft, note, severity = (note, onset), None, Severity.WARNING
    # (e) a flat start: the loss stayed at its first value for the first epochs, or (g) a
    # loss that started at chance stayed near it for most of the run
    if note is None and soft is None and from_start and ctx.steps_per_epoch:
        note, onset = flat_start(ctx, p, st, v, first, onset)
    # a task metric improving beside a model still learning says it is not guessing
    guessing = soft is None or improving_metric(ctx) is None
    if note is None and guessing and from_start and ctx.steps_per_epoch:
        kept = stayed_at_chance(
            ctx,
            (st, v, first),
            tolerance=p.chance_tolerance,
            band=p.start_level,
            epochs=p.stretch_epochs,
            most=p.most_share,
        )
        if kept is not None:
            note, onset = kept
    # (f) not learning: the eval loss best at its first eval and above it since, or never 1%
    # below it, while the train loss hardly moved (since that eval, or since its start)
    if note is None and soft is None and not memorized:
        view = eval_view(ctx)
        _, lv = finite(ctx.loss)
        if view is not None and view.n >= p.first_best_evals and lv.size:
            t0 = train_level_near(ctx, float(view.steps[0]))
            t1 = signals.end_median(lv)
            start = float(np.median(lv[: head_count(lv.size)]))
            first_eval, bar = float(view.values[0]), 1 - p.first_best_train_gain
            if t0 and t1 > bar * t0 and view.best == 0 < view.rise():
                note = tr(
                    "the eval loss was best at the first eval ({a} at step {s}) and the train "
                    "loss hardly moved ({c} → {d})",
                    "평가 손실은 첫 평가에서 가장 낮았고({s} 스텝 {a}) 학습 손실도 거의 "
                    "움직이지 않았습니다({c} → {d})",
                    a=num(view.best_value),
                    s=view.best_step,
                    c=num(t0),
                    d=num(t1),
                )
                onset = view.best_step
            elif view.best_value >= (1 - p.first_best_flat) * first_eval > 0 and t1 > bar * start:
                note = tr(
                    "the eval loss never got {x}% below its first eval ({a} → best {b} in {n} "
                    "evals) and the train loss hardly moved from its start ({c} → {d})",
                    "평가 손실이 {n}번의 평가 동안 첫 평가보다 {x}% 이상 낮아진 적이 없고({a} → "
                    "최저 {b}) 학습 손실도 시작부터 거의 움직이지 않았습니다({c} → {d})",
                    x=f"{p.first_best_flat * 100:.0f}",
                    a=num(first_eval),
                    b=num(view.best_value),
                    n=view.n,
                    c=num(start),
                    d=num(t1),
                )
                onset = int(view.steps[0])
    # (i) a regression model that never beat predicting the mean
    r2 = best_r_squared(ctx, p.r2_evals) if note is None else None
    if r2 is not None and r2[0] <= 0:
        note = tr(
            "the eval R² was never above 0 in {n} evals (best {b} at step {s}): the model "
            "never predicted better than the mean of the targets",
            "평가 R²가 {n}번의 평가에서 한 번도 0을 넘지 않았습니다({s} 스텝 최고 {b}). "
            "모델이 목표값의 평균보다 나은 예측을 하지 못했습니다",
            n=r2[2],
            b=num(r2[0]),
            s=r2[1],
        )
    if note is None and soft is not None:
        (note, onset), severity = soft, Severity.INFO
    if note is None:
        return
    yield _report(
        r, ctx, Said(note, fix, key, (onset, int(st[-1])), (first, last), epochs), severity
    )


def _report(r: Rule, ctx: RunContext, said: Said, severity: Severity) -> Finding:
    return r.finding(
        severity=severity,
        title=tr("The model is learning too little", "모델이 너무 적게 배우고 있습니다"),
        explanation=tr(
            "Judged by size: {n}. The passes over the data are not paying off.",
            "크기로 판단했습니다: {n}. 데이터를 반복해도 효과가 없습니다.",
            n=said.note,
        ),
        suggestion=said.fix,
        metric=said.key,
        step_start=said.steps[0],
        step_end=said.steps[1],
        evidence=said.note,
        values={"loss_first": said.levels[0], "loss_last": said.levels[1]}
        | ({"epochs": said.epochs} if said.epochs is not None else {}),
        onset_step=said.steps[0],
    )

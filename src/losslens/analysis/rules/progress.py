"""Too little learning: loss not decreasing, plateaus, LR too low."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from losslens.analysis import signals
from losslens.analysis.advice import underlearning_suggestion
from losslens.analysis.context import RunContext
from losslens.analysis.messages import lr as fmt_lr
from losslens.analysis.messages import num, tr
from losslens.analysis.periodic import periods
from losslens.analysis.progress_signal import (
    eval_gain_over_log,
    head_count,
    log_from_start,
    loss_measures_progress,
    peak_lr,
    usual_lr,
)
from losslens.analysis.rules.base import Rule, param, rule
from losslens.analysis.rules.common import finite
from losslens.model import Finding, Severity

#: Findings after which "not learning" rules have nothing useful to add.
BROKEN = ("LL101", "LL102", "LL103", "LL104", "LL111")

#: "Flat" must be shown, not merely not disproved: even the steepest decline the data allow
#: (the low end of a 90% confidence interval on the Theil-Sen slope) would lower the loss by
#: less than this, in log units (~5%, the improvement below which LL131 calls a run not
#: learning), over the length of the run. A healthy run still falling a few percent per
#: run length in a noisy log is then not called flat.
FLAT_BOUND = 0.05


@dataclass(frozen=True)
class ProgressParams:
    """Shared by LL131-LL133: what "the loss did not really fall" means."""

    min_logs: int = param(
        4,
        "train logs needed: the fewest for which Sen's 90% interval is finite (with 4 it is the "
        "whole range of pairwise slopes: flat only when no two logs show a decline of the bar)",
    )
    min_span: int = param(50, "steps the log must span ...")
    min_epochs: float = param(
        1.0,
        "... or epochs it must span when the epoch is logged (a console paste without a step "
        "counter numbers its logs by line: its steps say nothing of how long the run trained)",
    )
    already_low: float = param(0.3, "a first loss below this has nothing much left to learn")
    improvement: float = param(0.05, "the last 10% less than this below the first 5%")
    moved: float = param(
        0.1,
        "a loss this much below its first logs (median of 3) moved: the updates reach the "
        "weights ...",
    )
    still_moving: float = param(
        0.01,
        "... and if the Theil-Sen line after the first 5% still lowers it by this much (log) "
        "it is learning slowly, a plateau question (LL132, LL135); less: stuck after the drop",
    )
    flat_bound: float = param(
        FLAT_BOUND, "even the steepest decline the data allow (90% CI) lowers it by less (log)"
    )
    sized_logs: int = param(
        20,
        "... or, with this many logs, the Theil-Sen fit over the run lowers it by less than "
        "`improvement` too (judged by size when the noise hides a decline of that size)",
    )
    eval_gain: float = param(
        0.01,
        "LL131: an eval loss this much below its first eval at the last (at its best, and "
        "more than the train loss fell) says the model learns: info, not error",
    )
    min_periods: int = param(
        4,
        "whole periods a loss that repeats a pattern every few logs must hold to be read "
        "as one mean per period (see analysis/periodic.py)",
    )


PROGRESS = ProgressParams()


@dataclass(frozen=True)
class LrLowParams(ProgressParams):
    """LL133: the LL131 condition with a low LR, or an LR far below any usual value."""

    far_below: float = param(
        10.0,
        "a peak LR this many times below the low edge of the usual range is too low whatever "
        "the loss does",
    )


def confidently_flat(x: np.ndarray, y: np.ndarray, span: float, bound: float = FLAT_BOUND) -> bool:
    """Whether the log-loss ``y`` over ``x`` rules out a decline of ``bound`` per ``span``."""
    _slope, low, _high = signals.theil_sen_interval(x, y)
    return low * span > -bound


def _epochs_spanned(ctx: RunContext, st: np.ndarray) -> float:
    """How many epochs the steps ``st`` span, by the logged epoch (0 when not logged)."""
    if ctx.epoch is None or len(ctx.epoch.finite) < 2:
        return 0.0
    a, b = ctx.epoch_at(float(st[0])), ctx.epoch_at(float(st[-1]))
    return b - a if a is not None and b is not None else 0.0


def _loss_unreadable(ctx: RunContext) -> bool:
    """Whether a numerical or divergence finding says the train loss cannot be read for
    progress: any of them, except LL101 findings on another series (a non-finite gradient norm
    or eval loss beside a finite train loss leaves the train loss readable)."""
    key = ctx.loss.key if ctx.loss is not None else None
    return any(
        f.rule_id in BROKEN and (f.rule_id != "LL101" or f.evidence.metric == key)
        for f in ctx.found
    )


def no_progress(ctx: RunContext, p: ProgressParams = PROGRESS) -> tuple[float, float, float] | None:
    """(first, last, improvement) when the loss did not really fall over a full-length log."""
    st, v = finite(ctx.loss)
    if v.size < p.min_logs or _loss_unreadable(ctx):
        return None
    if not loss_measures_progress(ctx):  # an RL loss (beta x KL) is no progress measure
        return None
    if not log_from_start(ctx):
        return None
    if st[-1] - st[0] < p.min_span and _epochs_spanned(ctx, st) < p.min_epochs:
        return None
    # each log weighted by the steps it stands for: a log kept at a coarser cadence (the
    # first one of a Trainer logging less often) counts for the steps it covers
    first = signals.step_level(st, v, 0.05, 1, first=True)
    last = signals.step_level(st, v, 0.1, 3, first=False)
    if first < p.already_low:  # already low: nothing much left to learn
        return None
    # a loss that fell a tenth from its first logs moved: the updates reach the weights and
    # the data carry a signal. Still declining after that drop (by its fitted line, judged by
    # size) it learns slowly, which the plateau rules grade; stopped dead, it never moves again
    if last <= (1.0 - p.moved) * float(np.median(v[:3])):
        k = head_count(v.size)
        rest = float(signals.fitted_change(st[k:], signals.safe_log(v[k:])))
        if rest <= -p.still_moving:
            return None
    span = float(st[-1] - st[0])
    rhythm = periods(st, v, min_periods=p.min_periods)
    if rhythm is not None:
        # a batch effect that repeats every few logs (length-grouped batching, epoch
        # boundaries): the level is read over whole periods, at the same phase, and the logs
        # of one period move together, so the evidence is one mean per period
        st, v = rhythm.steps, rhythm.means
        first, last = float(v[0]), float(v[-1])
    improvement = 1.0 - last / first
    y = signals.safe_log(v)
    # judged by size: a smooth 0.3% decline is "significant" and still a loss that never moves
    if improvement >= p.improvement:
        return None
    if not confidently_flat(st, y, span, p.flat_bound):
        # the noise cannot rule out a decline of `flat_bound`: judged by size, a long log
        # whose fitted line over the run also shows less than the bar has not moved (a
        # short, noisy one is not judged)
        fitted = float(signals.theil_sen(st, y)[0]) * span
        if v.size < p.sized_logs or fitted <= math.log(1 - p.improvement):
            return None
    return first, last, improvement


def _lr_low(ctx: RunContext) -> float | None:
    """The peak LR when it is below the usual range for this kind of run."""
    if ctx.schedule is None:
        return None
    _typical, low, _high = ctx.decision_band
    return ctx.schedule.peak if ctx.schedule.peak <= low else None


@rule(
    "LL131",
    "loss-not-decreasing",
    kind="loss_not_decreasing",
    severity=Severity.ERROR,
    family="progress",
    requires=("LL101", "LL102", "LL103", "LL104", "LL111"),
    params=PROGRESS,
)
def loss_not_decreasing(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """The loss never moves over the whole run: an error (the run is broken).

    What it detects:
        A log that starts at the beginning of training (by its steps and, when an epoch is
        logged, by a first epoch within two logging intervals of 0: a console paste whose
        steps restart at 1 can be a window late in a run), spans 50 steps or more
        (or a full epoch by the logged epoch: a console paste without a step counter numbers
        its logs by line, so its steps say nothing of how long the run trained) and 4 logs or
        more (the fewest for which the confidence interval below is finite: with 4 it spans
        every pairwise slope, so the loss is flat only when no two logs show a decline of the
        bar; fewer logs widen the interval, which then decides: a count of logs must not, or a
        log kept at every 2nd step loses what the full one shows), where
        the loss of the last 10% is less than 5% below the first 5% (medians, each log
        weighted by the steps it stands for: a logged loss averages the steps since the log
        before it, so the first log of a run logged half as often, kept at its own step,
        counts for the steps it covers and not as one log in five)
        (judged by size: a smooth decline that small is significant and still no learning);
        a loss 10% or more below its first logs (median of 3) moved, so the updates reach the
        weights: it never moves again only when its Theil-Sen line after the first 5% lowers
        it by less than 1% (stuck after the drop), while one still declining by more learns
        slowly, which the plateau rules grade by size (LL132, LL135); and the data rule a real
        decline out: even the low end of a 90% confidence interval
        on the Theil-Sen slope would lower the loss by less than 5% over the run; or, in a
        log of 20 logs or more too noisy for that, the Theil-Sen line over the run lowers it
        by less than 5% as well (two estimates of the change over many logs, both under the
        bar; a short noisy log is not reported). Skipped: runs that start below 0.3 (nothing
        left to learn), runs whose LR is below the usual range (see lr-too-low), online RL
        runs (a sampled reward is logged: the loss is ``beta`` x KL, no progress measure),
        runs where a numerical or divergence rule reported (LL102–LL104, LL111, or LL101 on
        the train loss: a non-finite gradient norm or eval loss beside a finite train loss
        leaves the train loss readable; inf at every step means no update was applied, and a
        loss that never moves is then its harm).
        A loss that repeats a pattern every few logs (a batch effect: length-grouped
        batching, epoch boundaries; found by the autocorrelation of the detrended log-loss,
        4 whole periods or more, see ``analysis/periodic.py``) is read as one mean per whole
        period: the first and last periods are compared at the same phase, and the interval
        and the 20-log count above apply to the period means, since the logs of one period
        move together (a last log at a block end is not a rise, five periods are a short
        log). A loss exactly 0 from the start (LL103) never moves either: an error; one
        that fell to exactly 0 mid-run (LL103 too) moved before, so it is left to LL103.
        Severity: error, "a loss that never moves"; info when the eval loss still falls (at
        the last eval 1% or more below the first, within 1% of its best, more than the
        train loss fell, and beyond the eval's own noise: the first-to-last gain is a
        difference of two noisy evals, so it must exceed 2·√2 eval-to-eval noise sds when 5
        evals or more measure that noise): an eval loss averages a whole set, so the model
        learns slowly under a train loss flat within its noise.
    Why it matters:
        The model is not learning: the updates do not reach the trainable weights, or there
        is no signal in the data.
    Evidence:
        The loss at the start and at the end and the relative change.
    What to try:
        Check that parameters are trainable (``print_trainable_parameters()`` > 0), call
        ``enable_input_require_grads()`` with gradient checkpointing and PEFT, check the
        labels; raise the learning rate toward the usual value only when it is below it.
    """
    p: ProgressParams = r.params
    zero = ctx.has("LL103")
    if zero is not None and ctx.loss is not None and loss_measures_progress(ctx):
        st0 = ctx.loss.finite.steps
        if zero.onset_step != int(st0[0]):
            return  # a loss that fell to exactly 0 mid-run moved before: LL103 says why
        yield r.finding(
            severity=Severity.ERROR,
            title=tr("The loss never moves", "손실이 전혀 움직이지 않습니다"),
            explanation=tr(
                "The loss is exactly 0 at every log: nothing is supervised, so no update ever "
                "changes the model (the gradient norm is zero too).",
                "손실이 모든 로그에서 정확히 0입니다. 감독되는 것이 없어 어떤 업데이트도 모델을 "
                "바꾸지 못합니다(그래디언트 노름도 0입니다).",
            ),
            suggestion=zero.suggestion,
            metric=ctx.loss.key,
            step_start=int(st0[0]),
            step_end=int(st0[-1]),
            evidence=tr(
                "loss 0 from step {s} to {t}",
                "{s}~{t} 스텝 동안 손실 0",
                s=int(st0[0]),
                t=int(st0[-1]),
            ),
            values={"loss_first": 0.0, "loss_last": 0.0, "improvement": 0.0},
            onset_step=int(st0[0]),
        )
        return
    res = no_progress(ctx, p)
    if res is None or _lr_low(ctx) is not None or ctx.loss is None:
        return
    first, last, imp = res
    st = ctx.loss.finite.steps
    # the windows compared: whole periods of a repeating batch pattern, else 5% and 10%
    rhythm = periods(*finite(ctx.loss), min_periods=p.min_periods)
    if rhythm is None:
        head, tail = tr("first 5%", "처음 5%"), tr("last 10%", "마지막 10%")
    else:
        head = tr("first period of {k} logs", "처음 {k}개 로그 주기", k=rhythm.lag)
        tail = tr("last period", "마지막 주기")
    ev_gain = eval_gain_over_log(ctx, p.eval_gain, imp)
    if ev_gain is None:
        severity = Severity.ERROR
        explanation = tr(
            "Over {n} steps the loss went from {a} to {b} ({p}): the model is not learning. "
            "Either the updates do not reach the trainable weights or the data carries no "
            "signal.",
            "{n} 스텝 동안 손실이 {a}에서 {b}({p})로 거의 그대로입니다. 모델이 배우지 못하고 "
            "있습니다. 업데이트가 학습 가능한 가중치에 닿지 않거나 데이터에 신호가 없는 "
            "경우입니다.",
            n=int(st[-1] - st[0]),
            a=num(first),
            b=num(last),
            p=f"{-imp * 100:+.1f}%",
        )
    else:
        severity = Severity.INFO
        explanation = tr(
            "Over {n} steps the train loss went from {a} to {b} ({p}), flat within its noise, "
            "but the eval loss still fell {g}% and is at its best: the model learns, slowly.",
            "{n} 스텝 동안 학습 손실은 {a}에서 {b}({p})로 잡음 안에서 평평하지만, 평가 손실은 "
            "{g}% 줄었고 가장 낮은 값에 있습니다. 모델은 느리게 배우고 있습니다.",
            n=int(st[-1] - st[0]),
            a=num(first),
            b=num(last),
            p=f"{-imp * 100:+.1f}%",
            g=f"{ev_gain * 100:.1f}",
        )
    yield r.finding(
        severity=severity,
        title=tr("The loss is not decreasing", "손실이 줄지 않습니다"),
        explanation=explanation,
        suggestion=tr(
            "Check print_trainable_parameters() shows trainable weights; with gradient "
            "checkpointing and PEFT call model.enable_input_require_grads(). {s}",
            "print_trainable_parameters()로 학습 가능한 가중치가 있는지 확인하세요. 그래디언트 "
            "체크포인팅과 PEFT를 함께 쓰면 model.enable_input_require_grads()를 호출하세요. {s}",
            s=underlearning_suggestion(peak_lr(ctx), usual_lr(ctx)),
        ),
        metric=ctx.loss.key,
        step_start=int(st[0]),
        step_end=int(st[-1]),
        evidence=tr(
            "loss {a} ({h}) → {b} ({e}), {p} over steps {s}–{t}",
            "손실 {a}({h}) → {b}({e}), {s}–{t} 스텝 동안 {p}",
            h=head,
            e=tail,
            a=num(first),
            b=num(last),
            p=f"{-imp * 100:+.1f}%",
            s=int(st[0]),
            t=int(st[-1]),
        ),
        values={"loss_first": first, "loss_last": last, "improvement": imp},
        onset_step=int(st[0]),
    )


@rule(
    "LL133",
    "lr-too-low",
    kind="lr_too_low",
    severity=Severity.WARNING,
    family="progress",
    requires=("LL101", "LL102", "LL103", "LL104", "LL111"),
    params=LrLowParams(),
)
def lr_too_low(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """The learning rate is too low for the loss to move, or far below any usual value.

    What it detects:
        The same "loss not decreasing" condition as LL131 (under 5% improvement over the
        run, a real decline ruled out) together with a peak learning rate at or below
        the low edge of the usual range for the kind of run (LoRA 2e-5, full fine-tune 2e-6,
        preference 1e-7, 1e-6 when unknown), or a learning rate that is 0; or, whatever the
        loss does, a peak learning rate 10× or more below that edge (1e-7 when the kind of
        run is unknown): steps that small barely move the weights, so a drift of the loss is
        more likely the order of the data than learning. The kind of run counts only when
        the config says it (``lora_r``, ``peft_config``, ``finetuning_type`` ...); a "lora"
        in the run's name is not evidence.
    Why it matters:
        The steps are too small to change the model in the time given: the run costs compute
        and changes nothing.
    Evidence:
        The peak LR, the usual value, and the loss change.
    What to try:
        Raise the learning rate toward the usual value (LoRA 1e-4–2e-4, full fine-tune
        1e-5–2e-5); check ``warmup_steps`` and the scheduler are not keeping it at 0.
    """
    p: LrLowParams = r.params
    peak = _lr_low(ctx)
    if peak is None or ctx.loss is None or ctx.lr is None or any(ctx.has(x) for x in BROKEN):
        return
    typical, low, _high = ctx.decision_band
    res = no_progress(ctx, p)
    far = peak <= low / p.far_below
    st, v = finite(ctx.loss)
    if (res is None and not far) or v.size < 2:
        return
    if res is None:
        first = float(np.median(signals.head(v, 0.05, lo=1)))
        last = signals.end_median(v)
        imp = 1.0 - last / first if first > 0 else 0.0
    else:
        first, last, imp = res
    if res is None:
        explanation = tr(
            "The learning rate peaks at {p}, more than {k}× below the lowest usual value {m}: "
            "steps this small barely move the weights, so the change of the loss ({a} → {b}) "
            "is more likely the order of the data than learning.",
            "학습률 최고치({p})가 일반적인 최저값 {m}보다 {k}배 넘게 낮습니다. 이렇게 작은 "
            "스텝은 가중치를 거의 움직이지 못하므로, 손실의 변화({a} → {b})는 학습보다는 "
            "데이터 순서 때문일 가능성이 큽니다.",
            p=fmt_lr(peak),
            k=num(p.far_below),
            m=fmt_lr(low),
            a=num(first),
            b=num(last),
        )
    else:
        explanation = tr(
            "The learning rate peaks at {p}, well below the usual {t}, and the loss barely "
            "moved ({a} → {b}). The steps are too small to change the model.",
            "학습률 최고치({p})가 일반적인 {t}보다 훨씬 낮고, 손실도 거의 움직이지 않았습니다"
            "({a} → {b}). 스텝이 너무 작아 모델이 바뀌지 않습니다.",
            p=fmt_lr(peak),
            t=fmt_lr(typical),
            a=num(first),
            b=num(last),
        )
    yield r.finding(
        title=tr("The learning rate is too low", "학습률이 너무 낮습니다"),
        explanation=explanation,
        suggestion=tr(
            "Raise the learning rate toward {t} (LoRA 1e-4–2e-4, full fine-tune 1e-5–2e-5); "
            "check that warmup and the scheduler do not keep it near 0.",
            "학습률을 {t} 쪽으로 올리세요(LoRA 1e-4~2e-4, 전체 파인튜닝 1e-5~2e-5). 워밍업과 "
            "스케줄러가 학습률을 0 근처에 묶어 두지 않는지 확인하세요.",
            t=fmt_lr(typical),
        ),
        metric=ctx.lr.key,
        step_start=int(st[0]),
        step_end=int(st[-1]),
        evidence=tr(
            "peak LR {p} (usual {t}); loss {a} → {b} ({c})",
            "최고 LR {p}(일반적 {t}); 손실 {a} → {b} ({c})",
            p=fmt_lr(peak),
            t=fmt_lr(typical),
            a=num(first),
            b=num(last),
            c=f"{-imp * 100:+.1f}%",
        ),
        values={"peak_lr": peak, "typical_lr": typical, "loss_first": first, "loss_last": last},
        onset_step=int(st[0]),
    )

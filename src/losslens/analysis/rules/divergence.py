"""The loss runs away: divergence, and the learning rate that usually causes it."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from losslens.analysis import signals
from losslens.analysis.context import LR_BANDS, RunContext
from losslens.analysis.evalview import eval_view
from losslens.analysis.messages import lr as fmt_lr
from losslens.analysis.messages import num, tr
from losslens.analysis.progress_signal import (
    loss_measures_progress,
    loss_unit_unknown,
    rewards_logged,
)
from losslens.analysis.response import (
    Response,
    ResponseParams,
    high_lr_response,
    peak_eval_jump,
    warmup_response,
)
from losslens.analysis.restarts import last_segment_start
from losslens.analysis.rules.base import Rule, param, rule
from losslens.analysis.rules.common import finite
from losslens.model import Finding, Severity

#: No cross-entropy over a real vocabulary comes near this: uniform guessing over 256k tokens
#: is ln(256000) = 12.5 nats. A loss above it is a numerical breakdown, whatever the task.
ABSURD_LOSS = 100.0


@dataclass(frozen=True)
class DivergenceParams:
    absurd: float = param(ABSURD_LOSS, "a loss above this is a numerical breakdown ...")
    token_scale: float = param(
        10.0,
        "... times the first log over this, when above it (a loss that starts beyond the "
        "per-token scale is summed over tokens or a batch)",
    )
    window: float = param(0.15, "share of the logs in the end window (at least 3)")
    ratio: float = param(1.5, "end window median / best earlier window median: error")
    trend_ratio: float = param(1.25, "... or this ratio with a rising trend: warning")
    trend_z: float = param(2.5, "... Mann-Kendall z of that trend")
    share_above: float = param(0.6, "share of the end window above 1.25x the best level")
    noise_se: float = param(3.0, "the rise in standard errors of the log-to-log noise")
    transient_share: float = param(0.05, "absurd values this rare (at most 2) can be a spike")
    back_within: float = param(3.0, "... when the loss comes back within this x its level")
    give_back: float = param(
        0.1, "the rise must give back this share of the descent from the first window to the best"
    )
    climb_share: float = param(
        0.5,
        "a turn inside the first window: the log after the lowest one is at most this share of "
        "the rise (in log) above it",
    )
    floor: float = param(
        0.01,
        "an end level below this (nats) is no divergence: ratios between losses this small "
        "measure the log's rounding",
    )


@rule(
    "LL111",
    "divergence",
    kind="divergence",
    severity=Severity.ERROR,
    family="divergence",
    params=DivergenceParams(),
    requires=("LL102",),
)
def divergence(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """The training loss rises and stays up, or reaches absurd values.

    What it detects:
        A finite loss above 100 (no language model loss gets there by honest learning:
        guessing uniformly over a 256k vocabulary is 12.5; a loss whose first log is between 10
        and 100, beyond the per-token scale, is summed over tokens or a batch, and the 100
        scales with it: 100 × that log / 10; read only where the loss has a known unit: a
        script's own loss that nothing names, a sum or a squared error of any scale, and
        online RL's β × KL have no such bound), or a sustained rise: the median of
        the last 15% of logs is at least 1.5× the best median over any window of the same
        length earlier (or 1.25× with a significant rising trend, Mann-Kendall z ≥ 2.5), and
        the rise is at least 3 standard errors of the log-to-log noise plus the expected
        shortfall of the lowest of the ~n/w windows (the best window is the lowest of many,
        so on a short noisy log it is low by chance), and it gives back
        at least 10% of the descent from the first window to the best (a loss learned down
        to ~0 wobbles there: 0.02 to 0.06 is 3× but gives back 2% of what was learned; that
        is memorization, not a run falling apart). Medians over windows ignore single spikes.
        A loss that turns inside the first window (it jumps at its second log and stays up,
        or falls for a log or two and then climbs: on a short log, such as a console paste
        of a dozen lines, the turn is inside the first window) has no earlier window below
        it, since every window there straddles the turn: the lowest log of the first window
        alone is then the baseline (with its own noise; the rise must give back 10% of
        the descent from the first log to it, and when that log is not the first the loss
        climbs from it: a low log between two that sit more than halfway, in log, up to the
        end level is one easy batch, while a loss low before it too turned there). The rise
        is read within
        the last schedule segment when the LR starts over inside the log (it had decayed to
        5% of its earlier peak or less and the next log is 2× higher or more: a resumed run
        with a fresh schedule, or hard restarts; the loss at its first logs was computed
        before the new rate could move the weights far, so a jump there is new data or a
        changed model, not updates running away), and not in online RL (a sampled reward is
        logged): there the loss is β × KL to the reference model, 0 at the start and growing
        as the policy moves. A loss that ends below 0.01 nats has not diverged, whatever the
        ratio: the model still gives its training tokens 99% probability, and ratios between
        values that small (0.0001 against a logged 0.0) measure the log's rounding. A huge
        value at the first log only, never reached again, is a bad start, not a breakdown,
        unless the logs after it are NaNs the Trainer hid as 0.0 (LL102), and so is a huge
        first value that starts a steady descent (its Theil-Sen slope in log units, or on the
        values themselves for a loss that crosses zero, such as a negative ELBO).
    Why it matters:
        The model is getting worse at the very data it trains on: the updates are too large
        and each step undoes the last. It does not come back by itself.
    Evidence:
        The best loss and its step, the loss at the end, the ratio between them.
    What to try:
        Lower the learning rate 3–10×, keep gradient clipping at 1.0 or below, add or lengthen
        warmup, check the data for corrupted batches, restart from a checkpoint before the
        rise.
    """
    p: DivergenceParams = r.params
    st, v = finite(ctx.loss)
    if v.size == 0 or ctx.loss is None:
        return
    fix = tr(
        "Lower the learning rate 3–10×, keep gradient clipping on (max_grad_norm ≤ 1.0), add "
        "warmup (warmup_ratio 0.03–0.1), check the data for corrupted batches, and restart "
        "from a checkpoint saved before the rise.",
        "학습률을 3~10배 낮추고, 그래디언트 클리핑(max_grad_norm ≤ 1.0)을 켜고, 워밍업"
        "(warmup_ratio 0.03~0.1)을 추가하세요. 데이터에 깨진 배치가 없는지 확인하고, "
        "상승 전에 저장된 체크포인트에서 다시 시작하세요.",
    )
    # a loss that starts above the per-token scale (a sum over tokens or a batch) is absurd
    # only that many times higher; a first log already absurd is read as before (bad start)
    scale = float(v[0]) / p.token_scale if float(v[0]) <= p.absurd else 1.0
    big = v > p.absurd * max(1.0, scale)
    if not loss_measures_progress(ctx) or loss_unit_unknown(ctx):
        # the 100 is a bound on a per-token cross-entropy: a loss of no known unit (a
        # script's own sum or squared error) or online RL's beta x KL has no such bound
        big = np.zeros_like(big)
    if big.any() and _absurd_is_transient(v, big, p, hidden_nan=ctx.has("LL102") is not None):
        big = np.zeros_like(big)  # a spike (LL121) or a bad start, not a run that broke
    if big.any():
        i = int(np.argmax(big))
        yield r.finding(
            title=tr(
                "The loss exploded to {v}",
                "손실이 {v}까지 폭증했습니다",
                v=num(float(v[i])),
            ),
            explanation=tr(
                "A loss of {v} is far beyond what even random guessing gives (about 10–12 for "
                "an LLM vocabulary): the numbers have blown up and the model is broken.",
                "손실 {v}는 무작위로 찍을 때(LLM 어휘 기준 약 10~12)보다도 훨씬 큽니다. "
                "수치가 폭주했고 모델이 망가졌습니다.",
                v=num(float(v[i])),
            ),
            suggestion=fix,
            metric=ctx.loss.key,
            step_start=int(st[i]),
            step_end=int(st[-1]),
            evidence=tr(
                "loss {v} at step {s} (max {m})",
                "{s} 스텝에서 손실 {v} (최대 {m})",
                v=num(float(v[i])),
                s=int(st[i]),
                m=num(float(v.max())),
            ),
            values={"loss": float(v[i]), "max_loss": float(v.max()), "threshold": ABSURD_LOSS},
            onset_step=int(st[i]),
        )
        return
    if not loss_measures_progress(ctx):
        return  # online RL: the loss is beta x KL, it grows as the policy moves (by design)
    restart = last_segment_start(ctx)
    if restart is not None:
        # the LR started over: a new run in the same log (resumed, often on new data); a
        # jump at its first logs came before the new rate could move the weights far
        keep = st >= restart
        st, v = st[keep], v[keep]
    if v.size < 5:
        return
    # bucket medians keep long per-step logs cheap; short logs are used as they are
    st, v = signals.downsample(st, v, 400)
    n = v.size
    y = signals.safe_log(v, 1e-6)
    w = max(3, round(p.window * n))
    med = signals.rolling_median(y, w)
    if med.size < 2:
        return
    best_k = int(np.argmin(med[:-1]))
    base, base_w = float(med[best_k]), w
    # a turn inside the first window (the loss jumps at the second log and stays there, or
    # falls for a log or two and then climbs) has no earlier window below it: any window
    # there straddles the turn, so the lowest log of the first window alone is the baseline
    turn = int(np.argmin(y[:w]))
    first_low = bool(y[turn] < base)
    if first_low:
        best_k, base, base_w = turn, float(y[turn]), 1
    ratio = math.exp(float(med[-1]) - base)
    trend = signals.mann_kendall_z(y[best_k:])
    last = y[-w:]
    above = float(np.mean(last > base + math.log(p.trend_ratio)))
    if above < p.share_above or not (
        ratio >= p.ratio or (ratio >= p.trend_ratio and trend >= p.trend_z)
    ):
        return
    # The rise must stand out from the log-to-log noise: 3 standard errors of a difference
    # between two window medians (a window median's error is 1.2533 sd / sqrt(w)). The best
    # window is also the lowest of about n / w independent ones, so on a short noisy log it
    # sits low by chance: the expected shortfall of such a minimum, sqrt(2 ln m) standard
    # errors, is added (a threshold on the edge of that noise flips with the logging).
    noise = signals.mad(np.diff(y)) * signals.MAD_TO_SIGMA / math.sqrt(2)
    se_end = 1.2533 * noise / math.sqrt(w)
    se_base = noise if base_w == 1 else 1.2533 * noise / math.sqrt(base_w)
    windows = 1.0 if first_low else max(1.0, (med.size - 1) / w)
    chosen = math.sqrt(2 * math.log(windows)) * se_base
    if float(med[-1]) - base < p.noise_se * math.hypot(se_end, se_base) + chosen:
        return
    # a rise must give back a real share of what the run learned: from a loss near zero a
    # 3x wobble is a few hundredths of a nat (in nats, so the share is scale-free)
    # (from the first log when the baseline is the turn inside the first window)
    start_v = float(v[0]) if first_low else math.exp(float(med[0]))
    low_v = math.exp(base)
    if start_v > low_v and math.exp(float(med[-1])) - low_v < p.give_back * (start_v - low_v):
        return
    # after a turn inside the first window the loss climbs: a low log between two that sit
    # most of the way up to the end level is one easy batch, not a turn (a loss that was
    # low before it too and jumps after it turned there)
    back = p.climb_share * (float(med[-1]) - base)
    if (
        first_low
        and 0 < turn < n - 1
        and float(y[turn + 1]) - base > back
        and float(y[turn - 1]) - base > back
    ):
        return
    # the best point inside the best window marks where the rise starts
    i0 = turn if first_low else best_k + int(np.argmin(y[best_k : best_k + w]))
    best_v, end_v = float(v[i0]), float(np.exp(med[-1]))
    if end_v < p.floor:
        return  # still ~0: the ratio measures the log's rounding, not a run falling apart
    sev = Severity.ERROR if ratio >= p.ratio else Severity.WARNING
    yield r.finding(
        severity=sev,
        title=tr("The training loss diverges", "학습 손실이 발산합니다"),
        explanation=tr(
            "After reaching {b} at step {s}, the loss climbs back up and stays up ({e} at the "
            "end, {x}× higher). The model is getting worse at its own training data: the "
            "updates are too large.",
            "{s} 스텝에서 {b}까지 내려간 뒤 손실이 다시 올라가 내려오지 않습니다(마지막 {e}, "
            "{x}배). 모델이 자기 학습 데이터조차 점점 못 맞히고 있으며, 업데이트가 너무 "
            "큽니다.",
            b=num(best_v),
            s=int(st[i0]),
            e=num(end_v),
            x=num(ratio, 2),
        ),
        suggestion=fix,
        metric=ctx.loss.key,
        step_start=int(st[i0]),
        step_end=int(st[-1]),
        evidence=tr(
            "loss {b} at step {s} → {e} (median of the last {w} logs) at step {t}: {x}× its best",
            "{s} 스텝 손실 {b} → {t} 스텝 {e}(마지막 로그 {w}개의 중앙값): 최저치의 {x}배",
            b=num(best_v),
            s=int(st[i0]),
            e=num(end_v),
            w=w,
            t=int(st[-1]),
            x=num(ratio, 2),
        ),
        values={
            "best_loss": best_v,
            "best_step": int(st[i0]),
            "end_loss": end_v,
            "ratio": ratio,
            "trend_z": trend,
        },
        onset_step=int(st[i0]),
    )


def _absurd_is_transient(
    v: np.ndarray, big: np.ndarray, p: DivergenceParams, hidden_nan: bool
) -> bool:
    """Absurd values that do not last: one bad log the loss comes straight back from, or a
    huge first value followed by a steady descent, or never reached again while the logs
    after it are real values, not NaNs hidden as 0.0 (a bad start)."""
    idx = np.flatnonzero(big)
    first, last = int(idx[0]), int(idx[-1])
    if first == 0:
        # from the first log: a bad start (or a loss on another scale, e.g. a summed CTC
        # loss) when the loss then falls steadily, or when only the first log is that high
        if v.size < 3:
            return False
        if idx.size == 1 and not hidden_nan:
            return True
        # read in log units, the scale of a positive loss; one that crosses zero (a negative
        # ELBO, a surrogate) on its own values, which the log would clamp flat
        y = signals.safe_log(v) if float(v.min()) > 0 else v
        slope, _ = signals.theil_sen(np.arange(v.size, dtype=np.float64), y)
        return slope < 0 and float(v[-1]) < float(v[0])
    after = v[last + 1 :]
    if after.size < 2 or float(np.median(after[:5])) > p.absurd:
        return False
    if float(np.min(after[:5])) <= 0.0:
        return False  # back to a loss of exactly 0: a NaN the Trainer hid, not a recovery
    if idx.size > max(2, round(p.transient_share * v.size)):
        return False
    before = v[:first]
    level = float(np.median(before[-5:]))
    return float(np.median(after[:5])) <= p.back_within * level


def _rise_after_warmup(ctx: RunContext) -> float | None:
    """Relative loss change across the LR peak (None if unknown).

    The median loss over a window after the peak against the same window before it; the
    window is 10% of the run and at least three logs, so a coarser log compares as many
    points as a dense one.
    """
    st, v = finite(ctx.loss)
    if ctx.schedule is None or v.size < 8 or not loss_measures_progress(ctx):
        return None  # in online RL the loss is beta x KL: it grows as the policy moves
    p = ctx.schedule.peak_step
    span = max(st[-1] - st[0], 1.0)
    w = max(0.1 * span, 3 * ctx.log_interval)
    before = v[(st <= p) & (st > p - w)]
    after = v[(st > p) & (st <= p + w)]
    if before.size < 2 or after.size < 2:
        return None
    base = float(np.median(before))
    if base <= 0:
        return None
    return float(np.median(after)) / base - 1.0


def _blew_up(ctx: RunContext, p: LRHighParams) -> tuple[float, int] | None:
    """A loss that blew up and came back: ``(peak / first, logs above the first)`` when the
    median of 3 logs rises to ``blow_up``x the first log or more and the loss stays above that
    first value for ``blow_up_share`` of the logs or more (no spike: a spike comes straight
    back, one bad value among good ones). None otherwise."""
    _, v = finite(ctx.loss)
    if v.size < 10 or float(v[0]) <= 0 or not loss_measures_progress(ctx):
        return None
    top = float(np.max(signals.rolling_median(v, 3)))
    above = int(np.sum(v > float(v[0])))
    if top < p.blow_up * float(v[0]) or above < p.blow_up_share * v.size:
        return None
    return top / float(v[0]), above


def _climbs_on(ctx: RunContext, response: Response, p: LRHighParams) -> bool:
    """Whether the eval loss keeps climbing long after the LR peak: the jump there is less
    than ``peak_share`` of its rise from the best to the last eval (in log). A loss that
    answers the schedule jumps at the peak and then holds or comes down as the LR decays;
    one that climbs on while the LR decays is overfitting (LL151)."""
    view = eval_view(ctx)
    if view is None or response.before <= 0 or response.after <= response.before:
        return False
    total = math.log(float(view.values[-1]) / response.before)
    return total > 0 and math.log(response.after / response.before) < p.peak_share * total


@dataclass(frozen=True)
class LRHighParams(ResponseParams):
    no_symptom: float = param(25.0, "a peak LR this many times the usual, kind known: warning")
    unknown_high: float = param(1e-3, "kind of run unknown: a peak LR above this with a symptom")
    rise_after_peak: float = param(0.05, "loss median after the LR peak this much above before")
    floor: float = param(
        0.01, "a loss still below this (nats) where the LR peaks has not responded to the schedule"
    )
    peak_share: float = param(
        0.5, "the eval jump at the LR peak is at least this share of its rise to the end (log)"
    )
    blow_up: float = param(
        5.0, "a symptom: the loss (median of 3 logs) rises to this many times its first log ..."
    )
    blow_up_share: float = param(0.2, "... and stays above the first log for this share of logs")


@rule(
    "LL112",
    "lr-too-high",
    kind="lr_too_high",
    severity=Severity.WARNING,
    family="divergence",
    phase=2,
    requires=("LL101", "LL102", "LL111", "LL121", "LL123"),
    params=LRHighParams(),
)
def lr_too_high(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """The learning rate is too high for this kind of fine-tune, and the curves show it.

    What it detects:
        A peak learning rate above the usual range for the kind of run (LoRA/QLoRA about
        2e-4, full fine-tune about 2e-5, preference tuning lower still; 1e-3 when the kind
        is unknown, 1e-2 for a model trained from scratch) together with a symptom:
        divergence, a NaN that broke the run, exploding gradients, loss spikes that do not
        recover or are 100× the level, a loss that blew up and came back (a median of 3 logs
        5× the first log or more, and above the first log at a fifth of the logs or more: no
        spike, which comes straight back), or a loss that rises right after warmup. A rate 25×
        the usual value is reported even without symptoms when the kind of run is known from
        the config (a "lora" in the run's name only shapes the wording). A loss that rises
        right after warmup: the median over the window after the LR peak is 5% above the
        median over the same window before it (10% of the run, at least three logs each
        side). Whatever the LR's value, a warning when the loss responds to the schedule
        (``analysis/response.py``): the train loss bottoms out during warmup and rises with
        the LR ramp (15% and 3 noise standard deviations, the noise read around a local
        linear trend; the minimum and the level at the peak on a running median of 3 logs
        where 3 logs span at most a quarter of the ramp in steps, so a log kept half as
        often reads the same dip; 30% when the ramp has fewer than 6
        logs, and still 3 standard deviations of the whole log's log-to-log noise; not when
        the loss falls back below that minimum, 3 logs in a row, while the LR is still at 90%
        of its peak or more: a rise the peak rate itself undoes before the schedule decays is
        the start's transient, not the rate; nor when a cross-entropy starts above every
        per-token level, ln 2^18 ≈ 12.5 nats, and falls to a third of that first log or lower
        in the ramp: a bad start, whose fall and rebound are the initialisation settling), or
        the eval loss is best before the LR peak and jumps 20% (and 3 noise standard
        deviations) when the LR gets there, and stays up (the median of the later evals
        10% above the best, and no eval back below that while the LR is still at 90% of its
        peak: a jump the peak rate itself undoes is not the rate's); not when that jump is
        less than half of its rise to the last eval (in log): an eval loss that climbs on
        while the LR decays is overfitting (LL151), not the schedule; nor when the train loss
        median fell 15% or more from the logs before the best eval to those up to the next
        (the model fit its train set better while the held-out loss jumped: overfitting's
        signature too). With few logs, the loss
        reacting to the schedule is read by its consistency: from its lowest log up to the
        LR peak, the train loss rises at every log (2 or more, 15% in all) while the LR is
        still at half its peak or more, and every log (2 or more) after the LR has decayed
        below half its peak lies below that lowest log: all of the run's progress comes as
        the schedule lowers the rate. A loss still below 0.01 nats where the LR peaks has not
        responded to anything (from 0.0001 to 0.001 is the log's rounding).
    Why it matters:
        Too large a step overshoots: the loss becomes unstable, rises or turns into NaN. The
        same LR can be normal for LoRA and far too high for a full fine-tune, so the range
        depends on the set-up.
    Evidence:
        The peak LR, the usual value for this kind of run, and the symptom seen.
    What to try:
        Divide the learning rate by 3–10 (for LoRA start at 2e-4, for a full fine-tune at
        1e-5–2e-5) and use 3–10% warmup.
    """
    p: LRHighParams = r.params
    sched = ctx.schedule
    peak = sched.peak if sched else ctx.cfg_num("learning_rate", "lr")
    if not peak or peak <= 0:
        return
    typical, _low, high = ctx.decision_band
    known = ctx.decisive_finetune != "unknown" or ctx.task == "preference"
    symptom = None
    strong = False
    for rid, label in (
        ("LL111", {"en": "the loss diverges", "ko": "손실이 발산함"}),
        ("LL101", {"en": "the loss became NaN", "ko": "손실이 NaN이 됨"}),
        ("LL102", {"en": "the loss is NaN (hidden)", "ko": "손실이 NaN(숨겨짐)"}),
        ("LL123", {"en": "the gradient norm explodes", "ko": "그래디언트 노름이 폭증함"}),
    ):
        f = ctx.has(rid)
        if f is None:
            continue
        # a NaN is a symptom when it broke the run; divergence or exploding gradients at
        # warning or above
        broke = f.severity is Severity.ERROR
        if broke or (rid in ("LL111", "LL123") and f.severity is not Severity.INFO):
            symptom, strong = label, True
            break
    if symptom is None:
        spike = ctx.has("LL121")
        huge = spike is not None and float(spike.evidence.values.get("max_ratio", 0)) >= 100
        if spike and (int(spike.evidence.values.get("unrecovered", 0)) > 0 or huge):
            symptom = (
                {"en": "the loss spikes 100× or more", "ko": "손실이 100배 이상 튐"}
                if huge
                else {"en": "the loss spikes without recovering", "ko": "손실이 튀고 회복하지 못함"}
            )
        elif (blown := _blew_up(ctx, p)) is not None:
            symptom = tr(
                "the loss blows up to {x}× its first value and stays above it for {n} logs",
                "손실이 처음 값의 {x}배까지 폭증하고 {n}개 로그 동안 그 위에 머묾",
                x=f"{blown[0]:.0f}",
                n=blown[1],
            )
        else:
            rise = _rise_after_warmup(ctx)
            if rise is not None and rise > p.rise_after_peak:
                symptom = tr(
                    "the loss rises {p} right after the LR peak",
                    "LR 최고점 직후 손실이 {p} 상승함",
                    p=f"{rise * 100:+.0f}%",
                )
    # a model trained from scratch takes rates up to the unknown band's edge (1e-2)
    scratch = bool(ctx.cfg("from_scratch") or ctx.cfg("pretraining"))
    threshold = high if known else (LR_BANDS["unknown"][2] if scratch else p.unknown_high)
    response = warmup_response(ctx, p) or high_lr_response(ctx, p) or peak_eval_jump(ctx, p)
    if response is not None and response.kind == "peak" and _climbs_on(ctx, response, p):
        response = None  # the first step of overfitting that goes on, not the schedule
    if response is not None and response.after < p.floor:
        response = None  # from 0.0001 to 0.001 is the log's rounding, not a worse model
    if strong and symptom is not None and peak > threshold:
        response = None  # the symptom above says more
    if response is not None:
        # the loss reacts to the schedule itself: evidence whatever the LR's absolute value
        sev = Severity.WARNING
        symptom = (
            tr(
                "the train loss rose from {a} to {b} while the LR ramped up from {l0} to {l1}",
                "LR이 {l0}에서 {l1}로 오르는 동안 학습 손실이 {a}에서 {b}로 올랐음",
                a=num(response.before),
                b=num(response.after),
                l0=fmt_lr(response.lr_before or 0.0),
                l1=fmt_lr(response.lr_after or 0.0),
            )
            if response.kind == "warmup"
            else tr(
                "the train loss rose at every log from {a} to {b} while the LR was near its "
                "peak ({l1} at the last of them), and fell below {a} only once the LR decayed",
                "LR이 최고점 근처({l1})인 동안 학습 손실이 로그마다 {a}에서 {b}로 올랐고, LR이 "
                "줄어든 뒤에야 {a} 아래로 내려왔음",
                a=num(response.before),
                b=num(response.after),
                l1=fmt_lr(response.lr_after or 0.0),
            )
            if response.kind == "high"
            else tr(
                "the eval loss was best at step {s} ({a}) and jumped to {b} as the LR reached "
                "its peak",
                "평가 손실이 {s} 스텝({a})에서 가장 낮았다가 LR이 최고점에 이르자 {b}로 뛰었음",
                s=response.step,
                a=num(response.before),
                b=num(response.after),
            )
        )
    elif symptom is not None and peak > threshold:
        sev = Severity.ERROR if strong else Severity.WARNING
    elif known and peak >= p.no_symptom * typical:
        sev = Severity.WARNING
        symptom = {"en": "no symptom yet", "ko": "아직 증상은 없음"}
    else:
        return
    kind_name = {
        "lora": {"en": "LoRA/QLoRA", "ko": "LoRA/QLoRA"},
        "full": {"en": "a full fine-tune", "ko": "전체 파인튜닝"},
        "unknown": {"en": "most fine-tunes", "ko": "일반적인 파인튜닝"},
    }[ctx.decisive_finetune]
    if ctx.task == "preference":
        kind_name = (
            {"en": "online RL (GRPO/PPO)", "ko": "온라인 RL(GRPO/PPO)"}
            if rewards_logged(ctx)
            else {"en": "preference tuning (DPO)", "ko": "선호도 튜닝(DPO)"}
        )
    metric = ctx.lr.key if ctx.lr is not None else (ctx.loss.key if ctx.loss else "learning_rate")
    step = response.step if response is not None else (sched.peak_step if sched else None)
    yield r.finding(
        severity=sev,
        title=tr("The learning rate is too high", "학습률이 너무 높습니다"),
        explanation=tr(
            "The peak learning rate {p} is {x}× the usual {t} for {k}, and {s}. Steps this "
            "large overshoot: the model jumps past good solutions instead of settling in.",
            "최고 학습률 {p}는 {k}에서 흔히 쓰는 {t}의 {x}배이며, {s}. 이렇게 큰 스텝은 좋은 "
            "해를 지나쳐 버려 안정되지 못합니다.",
            p=fmt_lr(peak),
            x=num(peak / typical, 2),
            t=fmt_lr(typical),
            k=kind_name,
            s=symptom,
        ),
        suggestion=tr(
            "Divide the learning rate by 3–10 (LoRA: start at 2e-4; full fine-tune: 1e-5–2e-5) "
            "and use 3–10% warmup.",
            "학습률을 3~10배로 낮추고(LoRA는 2e-4, 전체 파인튜닝은 1e-5~2e-5부터), "
            "워밍업을 3~10% 두세요.",
        ),
        metric=metric,
        step_start=step,
        step_end=ctx.last_step or None,
        evidence=tr(
            "peak LR {p} ({x}× the usual {t} for {k}); {s}",
            "최고 LR {p}({k} 기준 {t}의 {x}배); {s}",
            p=fmt_lr(peak),
            x=num(peak / typical, 2),
            t=fmt_lr(typical),
            k=kind_name,
            s=symptom,
        ),
        values={"peak_lr": peak, "typical_lr": typical, "finetune": ctx.decisive_finetune},
        onset_step=step,
    )

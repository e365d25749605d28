"""Sudden jumps: loss spikes, gradient-norm spikes, and a gradient norm that keeps growing."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from losslens.analysis import signals
from losslens.analysis.context import RunContext
from losslens.analysis.messages import num, tr
from losslens.analysis.rules.base import Rule, param, rule
from losslens.analysis.rules.common import finite, finite_raw
from losslens.analysis.rules.generalization import NEAR_ZERO
from losslens.analysis.spikefind import (
    CLEAR,
    WIDE,
    Spike,
    _neighbour_floor,
    _window_min,
    _z_median_at,
    came_back,
    find_spikes,
)
from losslens.model import Finding, FloatArray, IntArray, Severity

__all__ = ["Spike", "_neighbour_floor", "_window_min", "_z_median_at", "find_spikes"]

#: Robust z (median/MAD of the neighbours, log space) above which a point is a spike.
LOSS_Z = 8.0
GRAD_Z = 6.0
#: A gradient-norm spike this many times its neighbours is a warning on its own.
HUGE_GRAD = 100.0


@dataclass(frozen=True)
class SpikeParams:
    z: float = param(LOSS_Z, "robust z (median/MAD of the neighbours, log space) of a spike")
    ratio: float = param(2.0, "a spike is at least this many times its neighbours' median")
    huge: float = param(100.0, "a spike this many times the level around it is a warning")
    nan_grad_z: float = param(
        3.0, "z enough for a spike at a step whose gradient norm is NaN/inf (skipped step)"
    )
    clear: float = param(
        CLEAR, "a point this many times its largest neighbour is a spike whatever their spread"
    )
    wide: int = param(WIDE, "the peak is also ratio x the median of this many times the window")
    recurring: int = param(
        2,
        "spike events from which a gradient-norm spike at one of them makes them a warning "
        "(one isolated spike that comes straight back is info with it)",
    )
    recurring_size: float = param(
        4.0,
        "... or each this many times the level around it (over a level above near zero): "
        "judged by size, with or without a gradient-norm spike",
    )


def nan_grad_steps(ctx: RunContext) -> set[int]:
    """Steps whose logged gradient norm is NaN or infinite."""
    g = ctx.grad_norm
    if g is None:
        return set()
    bad = ~np.isfinite(g.values)
    return {int(x) for x in g.steps[bad].tolist()}


def _nan_grad_spikes(
    st: FloatArray | IntArray, v: FloatArray, nan_steps: set[int], p: SpikeParams, known: set[int]
) -> list[Spike]:
    """Loss jumps at steps whose gradient norm is NaN/inf, below the usual z threshold."""
    if not nan_steps or v.size < 5:
        return []
    half = signals.window(v.size, 0.05, 3, 25)
    at = np.isin(st, np.fromiter(nan_steps, dtype=np.int64, count=len(nan_steps)))
    if known:
        at &= ~np.isin(st, np.fromiter(known, dtype=np.int64, count=len(known)))
    at[0] = False
    idx = np.flatnonzero(at)
    if not idx.size:
        return []
    y = signals.safe_log(v, 1e-8)
    z, base = _z_median_at(y, half, idx, mad_floor=0.05)  # only where the gradient is NaN
    out = []
    for k, i in enumerate(idx.tolist()):
        if not (np.isfinite(z[k]) and z[k] > p.nan_grad_z and y[i] - base[k] > math.log(p.ratio)):
            climb = _nan_grad_climb(st, v, i, half, p.ratio, known)
            if climb is not None:
                out.append(climb)
            continue
        if base[k] <= -13.8:
            continue  # neighbours at a loss of 0: a hidden NaN, not a level
        if v[i] <= v[i - 1]:
            continue  # lower than the log before: a descent, not a jump
        bl = float(np.exp(base[k]))
        rec = came_back(v[i + 1 : i + 3], bl, float(v[i]))
        out.append(Spike(i, i, int(st[i]), float(v[i]), bl, float(v[i] / bl), rec))
    return out


def _nan_grad_climb(
    st: FloatArray | IntArray, v: FloatArray, i: int, half: int, ratio: float, known: set[int]
) -> Spike | None:
    """The loss climbing at every log up to ``i`` (a step whose gradient norm is NaN/inf) to
    ``ratio`` times the level before the climb began: one excursion paired with a NaN
    gradient norm. The logs of the climb are its own neighbours and hide it from the
    neighbour test, so its size is read against the median of up to ``half`` logs before its
    first rise; it has as many logs to come back down as it took to rise (at least 2)."""
    j = i
    while j > 0 and v[j - 1] < v[j]:
        j -= 1
    if j == i or j < 3 or any(int(st[x]) in known for x in range(j, i + 1)):
        return None  # no climb, no level before it, or part of a spike already found
    level = float(np.median(v[max(0, j - half) : j]))
    if level <= 1e-6 or v[i] < ratio * level:
        return None  # (a level of 0 is a NaN the Trainer hid, LL102)
    first = j + int(np.argmax(v[j : i + 1] > 1.25 * level))  # the first log clearly above it
    rec = came_back(v[i + 1 : i + 1 + max(2, i - j)], level, float(v[i]))
    return Spike(i, i, int(st[i]), float(v[i]), level, float(v[i] / level), rec, int(st[first]))


def _level_jumps(
    st: FloatArray | IntArray, v: FloatArray, nan_steps: set[int], p: SpikeParams, known: set[int]
) -> list[Spike]:
    """Jumps up from the level before them that the neighbour test cannot see because the
    loss stays up after them (a step change: the logs after the jump are no level to stand
    above): at least ``clear`` times the median of the logs before it (the conventions'
    100x), or ``ratio`` times it at a step whose gradient norm is NaN/inf; always at least
    ``ratio`` times the log just before (a jump, not a drift)."""
    n = v.size
    if n < 5:
        return []
    half = signals.window(n, 0.05, 3, 25)
    with np.errstate(divide="ignore", invalid="ignore"):
        up = (v[1:] >= p.ratio * v[:-1]) & (v[:-1] > 0) & (v[1:] >= 0.05)
    up[:2] = False  # a level needs three logs before the jump
    nan_at = (
        np.isin(st, np.fromiter(nan_steps, dtype=np.int64, count=len(nan_steps)))
        if nan_steps
        else np.zeros(n, dtype=bool)
    )
    idx = np.flatnonzero(up) + 1
    if known and idx.size:
        idx = idx[~np.isin(st[idx], np.fromiter(known, dtype=np.int64, count=len(known)))]
    if not idx.size:
        return []
    # the level before each candidate: the median of up to ``half`` logs before it
    back = np.arange(1, half + 1)[None, :]
    base = np.empty(idx.size)
    for c in range(0, idx.size, 16384):  # gathered by chunks: memory O(chunk x half)
        rows = idx[c : c + 16384, None] - back
        win = np.where(rows >= 0, v[np.clip(rows, 0, n - 1)], np.nan)
        base[c : c + rows.shape[0]] = signals.nanmedian_rows(win)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = v[idx] / base
        # a level of 0 is a NaN the Trainer hid (LL102), not a level
        hit = (base > 1e-6) & ((ratio >= p.clear) | (nan_at[idx] & (ratio >= p.ratio)))
    recover_within = max(2, round(0.02 * n))
    out = []
    for k in np.flatnonzero(hit).tolist():
        i, bl = int(idx[k]), float(base[k])
        rec = came_back(v[i + 1 : i + 1 + recover_within], bl, float(v[i]))
        out.append(Spike(i, i, int(st[i]), float(v[i]), bl, float(ratio[k]), rec))
    return out


def _eval_improved_after(ctx: RunContext, step: int) -> bool:
    """Whether the eval loss improved after ``step``: an eval after it, and the best eval the
    last one."""
    est, ev = finite(ctx.eval_loss)
    return bool(ev.size >= 2 and est[-1] > step and float(ev[-1]) <= float(ev.min()))


@rule(
    "LL121",
    "loss-spike",
    kind="loss_spike",
    severity=Severity.INFO,
    family="spikes",
    params=SpikeParams(),
)
def loss_spike(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """The loss jumps far above its neighbours at a few logs.

    What it detects:
        Logs whose loss is at least 2× the median of the neighbouring logs and more than 8
        robust standard deviations above them (median/MAD in log space, the point itself and
        spikes already found left out, in up to three passes so that neighbouring spikes do
        not hide each other; neighbourhood 5% of the log on each side), or 3 standard
        deviations at a step whose gradient norm is NaN/inf (a skipped step) or at the log
        right after a run of such steps (the first update after them), or a climb at
        every log up to such a step reaching 2× the median of the logs before the climb (its
        own logs would hide it from the neighbour test), or at least
        100× the largest neighbour whatever their spread (no noise among them reaches it).
        A spike is a jump up: a log lower than the one before it is on the way down from a
        higher value (a bad start settling), not a spike; and it must also stand 2× above
        the median of a window 4× as wide (a few collapsed logs around it do not lower the
        run's level). A jump that stays up (a step change, which its neighbours after it
        hide) counts when it is at least 100× the median of the logs before it, or 2× at a
        step whose gradient norm is NaN/inf, and 2× the log just before it. Adjacent logs
        form one event, dated at its first log. Severity by size
        and consequence: a spike that comes back within 2% of the log (to within 25% of the
        level, or with 90% of the jump undone) and is under 100× the level around it is info
        (as the severity conventions grade a spike that comes straight back), also when the
        gradient norm spikes (finite) at the same step, if it is the only spike event: that
        is one bad batch, not harm. One 100× or more (over a level below 0.105 nats, the
        memorization rule's near zero, not one after which the eval loss improved to its best
        at the last eval, unless it climbs back to the first logged loss), one that does not
        come back, one with a NaN gradient norm (at its log or just
        before it, as above), spike events that
        recur (2 or more) with a gradient-norm spike at one of them, or 2 spike events or
        more each 4× the level around it or more (a level above near zero), with or without
        a gradient-norm spike, is a warning.

    Principle: an isolated spike that comes straight back is worth knowing (info) unless it
    reaches the conventions' bar (≥ 100× the surrounding level, a NaN gradient norm); spikes
    that recur are a repeated problem the user should act on, shown by a gradient-norm spike
    at one of them or, judged by size, by each being several times the level. A ratio
    over a level near zero measures nothing (a bump of 0.3 over 2e-4 is 1,500×): there, as
    for memorization, harm is taken as shown unless an eval loss rules it out (one that kept
    improving after the spike, to its best at the last eval); a spike that undoes the
    training, back to where the run started, is a warning whatever the eval says.
    Why it matters:
        One bad batch (garbage text, a very long or mislabelled example) produces a large
        loss. If the model recovers at once it is usually harmless; if the loss stays up, the
        update damaged the weights.
    Evidence:
        Each spike's step, value, the surrounding level and whether it recovered.
    What to try:
        Look at the batch at that step (bad encoding, repeated n-grams, empty answers), keep
        gradient clipping on; if spikes repeat, lower the learning rate.
    """
    st, v = finite_raw(ctx.loss)
    if ctx.loss is None or v.size < 5:
        return
    p: SpikeParams = r.params
    spikes = find_spikes(st, v, z_min=p.z, ratio_min=p.ratio, clear=p.clear, wide=p.wide)
    nan_steps = nan_grad_steps(ctx)
    # a NaN/inf gradient norm pairs with the loss at its own log and at the log right after
    # a run of them: the first update after the skipped steps shows what they did
    skipped = np.isin(st, list(nan_steps))
    paired = nan_steps | {int(st[i + 1]) for i in np.flatnonzero(skipped[:-1] & ~skipped[1:])}
    spikes += _nan_grad_spikes(st, v, paired, p, {x.step for x in spikes})
    spikes += _level_jumps(st, v, nan_steps, p, {x.step for x in spikes})
    spikes.sort(key=lambda x: x.step)
    if not spikes:
        return
    with_nan = [x for x in spikes if x.step in paired]
    # a finite gradient-norm spike at a loss spike is the same bad batch: it makes the spikes
    # a warning only when they recur (a repeated data or stability problem to act on); one
    # isolated spike that comes straight back is info with it, as the conventions grade it
    co = False
    gst, gv = finite_raw(ctx.grad_norm)
    if len(spikes) >= p.recurring and gv.size >= 5:
        gsteps = {s.step for s in find_spikes(gst, gv, z_min=GRAD_Z, ratio_min=3.0)}
        for s in spikes:
            prev = int(st[s.index - 1]) if s.index > 0 else s.step
            if s.step in gsteps or prev in gsteps:
                co = True
    unrecovered = [s for s in spikes if s.recovered is False]
    # a ratio over a level near zero measures nothing: there a huge spike is harm the log
    # must not rule out, as with memorization; an eval loss that improved after it, to its
    # best at the last eval, rules it out unless the spike climbed back to the first loss
    start = float(v[0])
    huge = [
        x
        for x in spikes
        if x.ratio >= p.huge
        and (x.baseline >= NEAR_ZERO or x.value >= start or not _eval_improved_after(ctx, x.step))
    ]
    # spikes that recur, each several times the level around it, are a repeated problem
    # judged by size (bad batches in the data), whether or not the gradient norm shows them
    sized = [x for x in spikes if x.ratio >= p.recurring_size and x.baseline >= NEAR_ZERO]
    recurring = co or len(sized) >= p.recurring
    sev = Severity.WARNING if unrecovered or recurring or huge or with_nan else Severity.INFO
    big = max(spikes, key=lambda s: s.ratio)
    listing = ", ".join(f"{num(s.value)}@{s.step}" for s in spikes[:5]) + (
        " …" if len(spikes) > 5 else ""
    )
    if unrecovered:
        rec_en = f"{len(unrecovered)} did not come back down"
        rec_ko = f"{len(unrecovered)}개는 다시 내려오지 않음"
    else:
        rec_en, rec_ko = "each came back down at once", "모두 곧바로 다시 내려옴"
    yield r.finding(
        severity=sev,
        title=tr(
            "The loss spiked {n} time(s)",
            "손실이 {n}번 튀었습니다",
            n=len(spikes),
        ),
        explanation=tr(
            "At step {s} the loss jumped to {v}, {x}× the level around it ({b}). A single bad "
            "or unusual batch does this; it is harmless if the loss comes straight back down.",
            "{s} 스텝에서 손실이 주변 수준({b})의 {x}배({v})까지 튀었습니다. 이상하거나 "
            "특이한 배치 하나가 이런 일을 일으킵니다. 곧바로 다시 내려오면 문제없습니다.",
            s=big.step,
            v=num(big.value),
            x=num(big.ratio, 2),
            b=num(big.baseline),
        ),
        suggestion=tr(
            "Inspect the batch at that step (bad encoding, repeated text, empty answers); keep "
            "gradient clipping on. If spikes repeat or the loss stays up, lower the learning "
            "rate.",
            "해당 스텝의 배치를 살펴보세요(깨진 인코딩, 반복 텍스트, 빈 답변). 그래디언트 "
            "클리핑은 켜 두고, 튀는 일이 반복되거나 손실이 내려오지 않으면 학습률을 낮추세요.",
        ),
        metric=ctx.loss.key,
        step_start=spikes[0].start,
        step_end=int(st[spikes[-1].end]),
        evidence=tr(
            "loss {l} (neighbours ≈{b}, up to {x}×); {rec}",
            "손실 {l} (주변 ≈{b}, 최대 {x}배); {rec}",
            l=listing,
            b=num(big.baseline),
            x=num(big.ratio, 2),
            rec={"en": rec_en, "ko": rec_ko},
        ),
        values={
            "spikes": len(spikes),
            "max_ratio": big.ratio,
            "max_step": big.step,
            "max_value": big.value,
            "steps": ",".join(str(x.step) for x in spikes),
            "spans": ",".join(f"{x.start}-{int(st[x.end])}" for x in spikes),
            "unrecovered": len(unrecovered),
        },
        onset_step=spikes[0].start,
    )


def _spans(raw: object) -> list[tuple[int, int]]:
    """The ``start-end`` step ranges LL121 lists in its ``spans`` value."""
    out = []
    for part in str(raw or "").split(","):
        a, sep, b = part.rpartition("-")
        if sep and a.lstrip("-").isdigit() and b.lstrip("-").isdigit():
            out.append((int(a), int(b)))
    return out


def _wide_ratio(v: FloatArray, i: int, wide: int) -> float:
    """``v[i]`` over the median of up to ``wide`` times the spike window of logs on each
    side of it (itself left out): the run's level around the spike, from enough logs that one
    scattered neighbourhood does not set it."""
    half = wide * signals.window(v.size, 0.05, 3, 25)
    around = np.concatenate([v[max(0, i - half) : i], v[i + 1 : i + 1 + half]])
    around = around[np.isfinite(around) & (around > 0)]
    if around.size == 0:
        return math.inf
    return float(v[i]) / float(np.median(around))


@dataclass(frozen=True)
class GradSpikeParams:
    z: float = param(GRAD_Z, "robust z (median/MAD of the neighbours, log space) of a spike")
    ratio: float = param(5.0, "a spike is at least this many times its neighbours' median")
    skip: float = param(0.02, "share of the run skipped at the start (LoRA starts from zero)")
    huge: float = param(HUGE_GRAD, "a spike this many times its neighbours is a warning")
    clear: float = param(
        CLEAR, "a point this many times its largest neighbour is a spike whatever their spread"
    )
    wide: int = param(WIDE, "the peak is also ratio x the median of this many times the window")


@rule(
    "LL122",
    "grad-spike",
    kind="grad_spike",
    severity=Severity.INFO,
    family="spikes",
    requires=("LL121",),
    params=GradSpikeParams(),
)
def grad_spike(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """The gradient norm jumps far above its neighbours at a few logs.

    Principle: a warning's height is measured against a level estimated from enough logs
    that the logging interval cannot decide it (the few nearest logs of a sparse log are
    too noisy a level to call a jump 100×).

    What it detects:
        Logged gradient norms at least 5× the median of the neighbouring logs and more than 6
        robust standard deviations above them (log space, the point itself left out), or at
        least 100× the largest neighbour whatever their spread (a short log spread over
        decades hides nothing that far above it), outside the first 2% of the run where LoRA
        adapters start from zero and before the first log at the usual level (a run that
        starts high has no spike yet, only a bad start). As for loss spikes, a value lower
        than the log before it is no spike, and the spike must also stand 5× above the median
        of a window 4× as wide: a return from a few collapsed logs (a step with no gradient
        signal) to the run's usual level is not a spike. A
        spike 100× its neighbours or more, and 100× the median of the logs over the wide
        window (4× as wide), is a warning; otherwise info. A spike inside a
        loss-spike event (within one log of it) is part of that event: the loss-spike finding
        carries its severity, so it is info here.
    Why it matters:
        ``grad_norm`` is one step's value, so single large values are common and usually
        harmless when the loss does not react. Together with a loss spike they mark a batch
        that pushed the weights hard.
    Evidence:
        The spike steps, values and the level around them.
    What to try:
        Usually nothing. If the loss reacts, keep clipping at 1.0 or lower (0.3 for QLoRA)
        and lower the learning rate.
    """
    st, v = finite_raw(ctx.grad_norm)
    if ctx.grad_norm is None or v.size < 5:
        return
    horizon = max(ctx.planned_steps or 0, ctx.last_step, int(st[-1]))
    p: GradSpikeParams = r.params
    spikes = find_spikes(
        st,
        v,
        z_min=p.z,
        ratio_min=p.ratio,
        skip_before=p.skip * horizon,
        clear=p.clear,
        wide=p.wide,
    )
    # before the gradient first settles at its usual level there is no level to spike from
    settled = int(st[int(np.argmax(v <= p.ratio * float(np.median(v))))])
    spikes = [s for s in spikes if s.step > settled]
    if not spikes:
        return
    loss_f = ctx.has("LL121")
    spans = _spans(loss_f.evidence.values.get("spans")) if loss_f is not None else []
    gap = ctx.log_interval
    paired = [s for s in spikes if any(a - gap <= s.step <= b + gap for a, b in spans)]
    co = bool(paired)
    big = max(spikes, key=lambda s: s.ratio)
    # a gradient 100x its neighbours is not noise, even when the loss did not react; one
    # inside a loss-spike event is that event, whose finding carries the severity
    # graded against the run's level over the wide window as well: six neighbours scattered
    # over decades give a median too noisy to call 100x (halving the log must not make a
    # jump that was info, or nothing, a warning)
    sev = Severity.INFO
    if any(
        min(s.ratio, _wide_ratio(v, s.index, p.wide)) >= p.huge for s in spikes if s not in paired
    ):
        sev = Severity.WARNING
    listing = ", ".join(f"{num(s.value)}@{s.step}" for s in spikes[:5]) + (
        " …" if len(spikes) > 5 else ""
    )
    effect = (
        tr(
            "the loss spiked at the same time (see the loss-spike finding)",
            "같은 시점에 손실도 튐(손실 스파이크 항목 참고)",
        )
        if co
        else tr("the loss did not react", "손실은 영향을 받지 않음")
    )
    yield r.finding(
        severity=sev,
        title=tr(
            "The gradient norm spiked {n} time(s)",
            "그래디언트 노름이 {n}번 튀었습니다",
            n=len(spikes),
        ),
        explanation=tr(
            "At step {s} the gradient norm was {v}, {x}× the level around it. grad_norm is a "
            "single step's value, so isolated jumps are common; they matter only when the "
            "loss reacts too ({e}).",
            "{s} 스텝에서 그래디언트 노름이 주변 수준의 {x}배인 {v}였습니다. grad_norm은 한 "
            "스텝의 값이라 가끔 튀는 것은 흔하며, 손실도 함께 반응할 때만 문제가 됩니다({e}).",
            s=big.step,
            v=num(big.value),
            x=num(big.ratio, 2),
            e=effect,
        ),
        suggestion=tr(
            "Usually nothing to do. If the loss reacts, keep clipping at max_grad_norm 1.0 or "
            "lower (0.3 for QLoRA) and lower the learning rate.",
            "보통은 할 일이 없습니다. 손실도 반응한다면 max_grad_norm을 1.0 이하(QLoRA는 0.3)로 "
            "클리핑하고 학습률을 낮추세요.",
        ),
        metric=ctx.grad_norm.key,
        step_start=spikes[0].start,
        step_end=int(st[spikes[-1].end]),
        evidence=tr(
            "grad_norm {l} (neighbours ≈{b}, up to {x}×); {e}",
            "grad_norm {l} (주변 ≈{b}, 최대 {x}배); {e}",
            l=listing,
            b=num(big.baseline),
            x=num(big.ratio, 2),
            e=effect,
        ),
        values={
            "spikes": len(spikes),
            "max_ratio": big.ratio,
            "max_step": big.step,
            "steps": ",".join(str(x.step) for x in spikes),
        },
        onset_step=spikes[0].step,
    )

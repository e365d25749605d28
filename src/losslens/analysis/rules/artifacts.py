"""Logging artifacts that make a healthy run look wrong.

A train loss multiplied by the gradient-accumulation factor is also corrected here, before the
rules run (:func:`rescale_loss`, called by the engine right after the context is built).
Some transformers releases (4.46–4.47, Gemma-3 in 4.50.3) logged the train loss summed over
the accumulation steps instead of averaged; read as it is it looks like a loss far above the
eval loss or, when the bug starts mid-run, like a sudden sustained rise. The signature needs
no config: at every evaluation from some point on the train-loss level is the same integer
multiple (2 or more) of the eval loss.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from losslens.analysis import signals
from losslens.analysis.context import RunContext
from losslens.analysis.evalview import train_around
from losslens.analysis.messages import Text, num, tr
from losslens.analysis.rules.base import Rule, param, rule
from losslens.analysis.rules.common import finite
from losslens.model import Finding, FloatArray, Series, Severity

#: transformers releases with gradient-accumulation loss-scale bugs in the logged loss.
KNOWN_BAD = ("4.46.", "4.47.0", "4.47.1", "4.50.3")


@dataclass(frozen=True)
class RescaleParams:
    min_evals: int = param(3, "evaluations showing the multiple")
    tolerance: float = param(0.12, "|ratio / k - 1| at every one of them")
    max_cv: float = param(0.12, "spread of the ratios (coefficient of variation)")
    max_factor: int = param(64, "larger multiples are not gradient accumulation")
    min_evals_ga: int = param(2, "with gradient_accumulation_steps (GA) known: evals needed")
    ga_band: tuple[float, float] = param((0.75, 1.33), "... median train/eval ratio within GA x")
    ga_cv: float = param(0.3, "... and a spread (coefficient of variation) under this")
    first_epoch: float = param(
        1.0, "or at the evals up to this epoch (every train batch still unseen) alone"
    )
    jump_window: float = param(0.05, "no eval set: logs each side of a jump (share, at least 3)")
    jump_noise: float = param(6.0, "... the jump in robust sds of the log-to-log changes")
    jump_settled: float = param(
        1.25,
        "... from a level at most this x the lowest before it (a loss climbing into the jump "
        "is diverging, not changing scale)",
    )


PARAMS = RescaleParams()


def detect_scale(ctx: RunContext, p: RescaleParams = PARAMS) -> tuple[int, int] | None:
    """``(factor, from_step)`` when the train loss is an integer multiple of the eval loss,
    or, with no eval loss, when it jumps up by an integer factor and stays there."""
    est, ev = finite(ctx.eval_loss)
    ga = ctx.gradient_accumulation
    if ctx.loss is not None and ev.size == 0:
        return detect_jump(ctx, p)
    if ctx.loss is None or ev.size < (p.min_evals_ga if ga and ga >= 2 else p.min_evals):
        return None
    ratios = []
    for s, e in zip(est.tolist(), ev.tolist(), strict=True):
        t = train_around(ctx, s, est)
        ratios.append(t / e if t is not None and e > 0 else float("nan"))
    r = np.asarray(ratios)
    ok = np.isfinite(r)
    if ga and ga >= 2 and ok.sum() >= p.min_evals_ga:
        # the config names the factor: a looser band around it is enough evidence
        med = float(np.median(r[ok]))
        cv = float(np.std(r[ok]) / np.mean(r[ok]))
        if p.ga_band[0] * ga <= med <= p.ga_band[1] * ga and cv < p.ga_cv:
            return int(ga), int(ctx.loss.steps[0])
    first = _first_pass(ctx, est, r, ga, p)
    if first is not None:
        return first
    if ok.sum() < p.min_evals:
        return None
    # the multiple holds over a suffix of the evals (the whole run, or from a change point)
    for start in range(0, int(r.size) - p.min_evals + 1):
        tail = r[start:]
        if not np.all(np.isfinite(tail)):
            continue
        k = _factor(tail, p)
        if k is None:
            continue
        if float(np.std(tail) / np.mean(tail)) > p.max_cv:
            continue
        ga = ctx.gradient_accumulation
        if ga is not None and ga >= 2 and ga != k:
            return None  # a multiple that is not the configured accumulation
        before = r[:start][np.isfinite(r[:start])]
        if start == 0 or before.size == 0 or float(np.median(before)) >= k / 2:
            # no normal stretch before it (the ratio was not ~1 there, only noisier, e.g.
            # during a fast first descent): the whole log is scaled
            return k, int(ctx.loss.steps[0])
        # from a change point: halfway between the last normal eval and the first scaled one
        return k, int((est[start - 1] + est[start]) // 2) + 1
    return None


def detect_jump(ctx: RunContext, p: RescaleParams = PARAMS) -> tuple[int, int] | None:
    """``(factor, from_step)`` when the train loss jumps up by an integer factor at one log
    and stays scaled: the loss logging changed mid-run (a resumed run under another
    transformers release or another accumulation), not the model.

    The jump is the change between the medians of the ``w`` logs before and after a cut
    (``w`` = 5% of the logs, at least 3, so a spike does not count); the largest one must be
    within ``tolerance`` of ``log k`` for an integer ``k`` ≥ 2 (``k`` = GA when the config
    names it), ``jump_noise`` robust standard deviations of the log-to-log changes, and
    every later window of ``w`` logs must stay above the midpoint between the two levels,
    so a loss that rises and falls back (a spike, a bump) is not rescaled; a loss that goes
    below zero has no scale to multiply and is never rescaled. The level before
    the jump must be within ``jump_settled`` of the lowest window before it: a logging change
    multiplies a loss where it stands, while a loss that was already climbing into the jump
    is a run falling apart (LL111), which a rescale would hide.
    """
    s = ctx.loss
    if s is None:
        return None
    st0, v0 = finite(s)
    if v0.size and float(v0.min()) < 0:
        return None  # a loss below zero (a negative ELBO, a surrogate) has no scale to multiply
    keep = v0 > 0
    st0, v0 = st0[keep], v0[keep]
    # bucket medians keep a long per-step log cheap and keep a change of level
    st, v = signals.downsample(st0, v0, 400)
    w = max(3, round(p.jump_window * v.size))
    if v.size < 4 * w:
        return None
    y = np.log(v)
    noise = signals.mad(np.diff(y)) * signals.MAD_TO_SIGMA
    med = signals.rolling_median(y, w)  # med[i] = median of y[i : i + w]
    # the change across the cut after log i: median of y[i+1 : i+1+w] - of y[i+1-w : i+1]
    cuts = np.arange(w - 1, v.size - w)
    if cuts.size == 0:
        return None
    jumps = med[cuts + 1] - med[cuts + 1 - w]
    j = int(np.argmax(jumps))
    i, d = int(cuts[j]), float(jumps[j])
    ga = ctx.gradient_accumulation
    k = int(ga) if ga and ga >= 2 else round(math.exp(d))
    if k < 2 or k > p.max_factor or abs(math.exp(d) / k - 1) > p.tolerance:
        return None
    if d < p.jump_noise * max(noise, 1e-6):
        return None
    before = float(med[i + 1 - w])
    if before - float(np.min(med[: i + 2 - w])) > math.log(p.jump_settled):
        return None  # already climbing: divergence, not a change of scale
    later = med[i + 1 :]
    if later.size == 0 or float(np.min(later)) < before + d / 2:
        return None  # it came back: a bump, not a change of scale
    # the step of the change, at full resolution: the split around the cut that leaves the
    # most logs on the right side of the midpoint between the two levels
    lo, hi = float(st[max(0, i + 1 - w)]), float(st[min(st.size - 1, i + w)])
    region = (st0 >= lo) & (st0 <= hi)
    rs, high = st0[region], np.log(v0[region]) > before + d / 2
    if rs.size == 0:
        return k, int(st[i + 1])
    # score[j]: logs below before index j plus logs above from index j on
    below = np.concatenate(([0], np.cumsum(~high)))
    above = np.concatenate((np.cumsum(high[::-1])[::-1], [0]))
    j = int(np.argmax(below + above))
    return k, int(rs[min(j, rs.size - 1)])


def _first_pass(
    ctx: RunContext, est: FloatArray, r: FloatArray, ga: int | None, p: RescaleParams
) -> tuple[int, int] | None:
    """The multiple read at the evals of the first pass over the data only.

    Until every example has been seen once each train batch is new data, so the train loss
    estimates the held-out loss and the train/eval ratio is about 1; later it may fall
    as the model fits its examples (a multiple that holds only at the start is still the
    artifact: a real train loss is never k times the eval loss on unseen batches).
    """
    assert ctx.loss is not None
    epochs = [ctx.epoch_at(float(x)) for x in est]
    sel = np.asarray([e is not None and e <= p.first_epoch for e in epochs], dtype=bool)
    sel &= np.isfinite(r)
    first = r[sel]
    if first.size < (p.min_evals_ga if ga and ga >= 2 else p.min_evals):
        return None
    med = float(np.median(first))
    cv = float(np.std(first) / np.mean(first))
    if ga and ga >= 2:
        if p.ga_band[0] * ga <= med <= p.ga_band[1] * ga and cv < p.ga_cv:
            return int(ga), int(ctx.loss.steps[0])
        return None
    k = _factor(first, p)
    if k is not None and cv <= p.max_cv:
        return k, int(ctx.loss.steps[0])
    return None


def _factor(ratios: FloatArray, p: RescaleParams) -> int | None:
    """The integer k ≥ 2 that every ratio is within ``tolerance`` of (None when none is).

    Above ~8 the tolerance spans several integers, which the ratios cannot tell apart (the
    train loss runs a few percent above the eval loss anyway); gradient accumulation is
    nearly always a power of two, so one among them is preferred, else the nearest.
    """
    med = float(np.median(ratios))
    fits = [
        k
        for k in range(max(2, math.floor(med / (1 + p.tolerance))), p.max_factor + 1)
        if np.all(np.abs(ratios / k - 1) <= p.tolerance)
    ]
    if not fits:
        return None
    powers = [k for k in fits if k & (k - 1) == 0]
    return min(powers or fits, key=lambda k: abs(med / k - 1))


def rescale_loss(ctx: RunContext) -> None:
    """Divide the train loss by the detected factor from where it applies (in the context
    only: the stored run keeps its numbers) and record it in ``ctx.loss_scale``."""
    found = detect_scale(ctx)
    if found is None or ctx.loss is None:
        return
    k, from_step = found
    s = ctx.loss
    values = s.values.copy()
    sel = s.steps >= from_step
    values[sel] = values[sel] / k
    ctx.loss = Series(s.key, s.steps, values, s.wall_times)
    ctx.loss_scale = found


@rule(
    "LL161",
    "ga-loss-scale",
    kind="other",
    severity=Severity.INFO,
    family="artifacts",
    params=PARAMS,
)
def ga_loss_scale(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """The logged train loss is multiplied by the gradient-accumulation factor.

    What it detects:
        At 3 evaluations or more (all of them, or all from some point on where the ratio
        was ~1 before; else from the start), the train-loss level (as in eval-gap) is the
        same integer multiple k ≥ 2 of the eval loss: within 12% of k at each, with a
        spread (coefficient of variation) under 12% (when several integers fit, as above
        ~8, a power of two: accumulation nearly always is one). No config is needed; when
        ``gradient_accumulation_steps`` (GA) is known it must equal k, and then 2 evals
        whose median ratio is within 0.75–1.33× GA (spread under 30%) are enough. Some
        transformers releases (4.46–4.47, Gemma-3 in 4.50.3) logged the loss summed over the
        accumulation steps instead of averaged. The train loss is divided by k (from where
        the multiple starts) before every other rule reads it, so the artifact is not taken
        for a gap, a rise or divergence. The same tests also run on the evals of the first
        pass over the data alone (epoch ≤ 1): there every train batch is unseen, so the
        train loss estimates the held-out loss and the ratio is ~1 in a correct log, even
        when the model later fits its examples and the ratio falls. With no eval set: the
        train loss jumps up at one log by an integer factor k ≥ 2 (the change between the
        medians of the 5% of logs, at least 3, on each side; within 12% of k, k = GA when
        known, and 6 robust standard deviations of the log-to-log changes) from a level the
        loss had settled at (within 1.25× of its lowest before the jump: a loss already
        climbing into it is diverging, and a rescale would hide that) and never comes back
        below halfway (a resumed run under another release or accumulation), so the jump is
        not read as divergence (a loss that goes below zero, a negative ELBO, has no scale to
        multiply and is never rescaled). Info: the model trains as it should and the engine
        reads the loss divided back; only the printed numbers are off (worth knowing when
        comparing runs), no harm to the run is shown.
    Why it matters:
        The number printed as "loss" is k times too large, so it cannot be compared with
        other runs or with the eval loss, and a change of scale mid-run looks like the loss
        jumping up.
    Evidence:
        The factor, the ratios at each eval, the step it starts, GA and the transformers
        version when known.
    What to try:
        Compare runs on eval loss only; upgrade transformers; compare runs with the same GA.
    """
    if ctx.loss_scale is None or ctx.loss is None:
        return
    k, from_step = ctx.loss_scale
    est, ev = finite(ctx.eval_loss)
    p: RescaleParams = r.params
    ratios = []
    for s, e in zip(est.tolist(), ev.tolist(), strict=True):
        t = train_around(ctx, s, est)  # already divided back by k
        if t is not None and e > 0 and s >= from_step:
            ratios.append(k * t / e)
    # where the multiple shows (later the model may fit its examples and the ratio fall, or
    # a fast first descent make it noisy): the ratios near k
    shown = [x for x in ratios if p.ga_band[0] * k <= x <= p.ga_band[1] * k] or ratios
    ga = ctx.gradient_accumulation or k
    version = str(ctx.cfg("transformers_version") or "")
    ver = (
        tr(
            "; transformers {v} is a known-affected release",
            "; transformers {v}는 문제가 알려진 버전",
            v=version,
        )
        if version.startswith(KNOWN_BAD)
        else tr("", "")
    )
    if not ratios:
        if ev.size:
            return
        yield _jump_finding(r, ctx, k, from_step, ver)
        return
    med = float(np.median(shown))
    yield r.finding(
        title=tr(
            "The logged loss is scaled by gradient accumulation",
            "기록된 손실이 그래디언트 누적 배수만큼 커져 있습니다",
        ),
        explanation=tr(
            "The train loss is consistently about {x}× the eval loss, and gradient "
            "accumulation is {g}. Some transformers versions log the loss summed over the "
            "accumulation steps: the model is fine, the printed number is not.",
            "학습 손실이 평가 손실의 약 {x}배로 일정하고, 그래디언트 누적은 {g}입니다. 일부 "
            "transformers 버전은 누적 스텝에 걸친 손실의 합을 기록합니다. 모델은 정상이고, "
            "출력된 숫자가 잘못된 것입니다.",
            x=num(med, 2),
            g=ga
            if ctx.gradient_accumulation
            else tr("not in the config (the multiple says {k})", "설정에 없음(배수로는 {k})", k=k),
        ),
        suggestion=tr(
            "Compare runs on eval loss only; upgrade transformers; compare runs with the same "
            "gradient_accumulation_steps.",
            "실행끼리는 평가 손실로만 비교하고, transformers를 업그레이드하고, "
            "gradient_accumulation_steps가 같은 실행끼리 비교하세요.",
        ),
        metric=ctx.loss.key if ctx.loss is not None else ctx.eval_loss.key,
        step_start=from_step,
        step_end=int(est[-1]),
        evidence=tr(
            "train/eval ratio {r} at {n} evals; {g}{v}",
            "평가 {n}회에서 학습/평가 비율 {r}; {g}{v}",
            r=", ".join(num(x, 2) for x in shown[:6]),
            n=len(shown),
            g=tr("gradient_accumulation_steps {g}", "gradient_accumulation_steps {g}", g=ga)
            if ctx.gradient_accumulation
            else tr(
                "factor {k} (gradient_accumulation_steps unknown)",
                "배수 {k}(gradient_accumulation_steps 모름)",
                k=k,
            ),
            v=ver,
        ),
        values={
            "median_ratio": med,
            "factor": k,
            "gradient_accumulation_steps": ga,
            "from_step": from_step,
        },
        onset_step=from_step,
    )


def _jump_finding(r: Rule, ctx: RunContext, k: int, from_step: int, ver: Text) -> Finding:
    """LL161 for a run with no eval set: the logged loss jumped by ``k`` and stayed."""
    assert ctx.loss is not None
    st, v = finite(ctx.loss)  # already divided back by k from ``from_step``
    before = v[st < from_step]
    after = v[st >= from_step]
    a = float(np.median(before[-5:])) if before.size else float("nan")
    b = k * float(np.median(after[:5])) if after.size else float("nan")
    ga = ctx.gradient_accumulation
    ga_txt = (
        tr("; gradient_accumulation_steps {g}", "; gradient_accumulation_steps {g}", g=ga)
        if ga
        else tr("", "")
    )
    return r.finding(
        title=tr(
            "The logged loss changes scale by {k}× at step {s}",
            "{s} 스텝에서 기록된 손실의 배율이 {k}배로 바뀝니다",
            k=k,
            s=from_step,
        ),
        explanation=tr(
            "The train loss jumps from about {a} to {b} between two logs, {k}× exactly, and "
            "stays there: the model did not get {k} times worse in one step, the logging "
            "changed (some transformers versions log the loss summed over the {k} "
            "gradient-accumulation steps, e.g. after resuming with another release). The loss "
            "is read divided by {k} from there on.",
            "학습 손실이 두 로그 사이에 약 {a}에서 {b}로 정확히 {k}배 뛰고 그대로 유지됩니다. "
            "모델이 한 스텝 만에 {k}배 나빠진 것이 아니라 기록 방식이 바뀐 것입니다(일부 "
            "transformers 버전은 그래디언트 누적 {k}스텝의 손실 합을 기록합니다. 예: 다른 "
            "버전으로 재개). 그 이후 손실은 {k}로 나눠 읽습니다.",
            a=num(a),
            b=num(b),
            k=k,
        ),
        suggestion=tr(
            "Compare losses only within one scale (before or after step {s}); keep the "
            "transformers release and gradient_accumulation_steps fixed within a run; "
            "upgrade transformers.",
            "{s} 스텝 전후 한쪽 배율 안에서만 손실을 비교하세요. 한 실행 안에서는 "
            "transformers 버전과 gradient_accumulation_steps를 바꾸지 말고, transformers를 "
            "업그레이드하세요.",
            s=from_step,
        ),
        metric=ctx.loss.key,
        step_start=from_step,
        step_end=int(st[-1]) if st.size else from_step,
        evidence=tr(
            "train loss {a} → {b} at step {s} ({k}×), and scaled ever since{g}{v}",
            "{s} 스텝에서 학습 손실 {a} → {b} ({k}배), 이후 계속 같은 배율{g}{v}",
            a=num(a),
            b=num(b),
            s=from_step,
            k=k,
            g=ga_txt,
            v=ver,
        ),
        values={"factor": k, "from_step": from_step, "loss_before": a, "loss_after": b},
        onset_step=from_step,
    )

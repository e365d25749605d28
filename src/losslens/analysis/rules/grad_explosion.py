"""A gradient norm that grows tenfold while the loss stops improving (LL123)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from losslens.analysis import signals
from losslens.analysis.context import RunContext
from losslens.analysis.messages import num, tr
from losslens.analysis.rules.base import Rule, param, rule
from losslens.analysis.rules.common import finite_raw
from losslens.analysis.rules.numerics import hidden_nan_steps
from losslens.model import Finding, Severity


@dataclass(frozen=True)
class ExplosionParams:
    growth: float = param(10.0, "median of the last 20% of grad norms over the first 25%")
    head: float = param(0.25, "share of the logs in the first window")
    tail: float = param(0.2, "share of the logs in the last window")
    trend_z: float = param(2.5, "Mann-Kendall z of the log grad norm")
    loss_gain: float = param(0.05, "a loss that fell less than this share has stopped improving")


@rule(
    "LL123",
    "grad-explosion",
    kind="grad_explosion",
    severity=Severity.WARNING,
    family="spikes",
    requires=("LL101", "LL102", "LL111"),
    params=ExplosionParams(),
)
def grad_explosion(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """The gradient norm grows tenfold or more while the loss stops improving.

    What it detects:
        The median gradient norm of the last 20% of finite logs is at least 10× that of the
        first 25%, with a significant rising trend (Mann-Kendall z ≥ 2.5) or, on logs too few
        for a trend test to reach significance, with every log of the last half at 10× the
        first 25% or more (a jump held that consistently is a trend), while the loss has stopped
        improving: its last 20% is less than 5% below its first 25% (judged by size: a loss
        flat at 11.3 nats that ends 1% lower has not improved), read over the same span as
        the finite gradient norms and without the zeros the Trainer logs for a NaN loss
        (LL102): a loss hidden as 0.0 after the norm turned NaN did not improve. Error when
        the loss also diverges or becomes NaN. A gradient norm that grows while the loss
        keeps falling is normal late in a decaying schedule and is not reported.
    Why it matters:
        Exploding gradients make each update huge; the loss follows, then NaN.
    Evidence:
        The early and late median gradient norms and the loss over the same span.
    What to try:
        Clip gradients (max_grad_norm 0.3–1.0), lower the learning rate, use bf16, add warmup.
    """
    st, g = finite_raw(ctx.grad_norm)
    if ctx.grad_norm is None or g.size < 8:
        return
    p: ExplosionParams = r.params
    # the cheap tests first; the trend (over every log) only when they pass
    early = float(np.median(signals.safe_log(signals.head(g, p.head), 1e-12)))
    late = float(np.median(signals.safe_log(signals.tail(g, p.tail), 1e-12)))
    if late - early < math.log(p.growth):
        return
    # the loss over the same span as the finite gradient norms, without the zeros the
    # Trainer logs for a NaN loss (LL102): neither is a loss that improved
    lst, lv = finite_raw(ctx.loss)
    keep = lst <= st[-1]
    hidden = hidden_nan_steps(ctx)
    if hidden:
        keep &= ~np.isin(lst, np.asarray(hidden, dtype=np.int64))
    lv = lv[keep]
    if lv.size < 4:
        return
    loss_early = float(np.median(signals.head(lv, p.head)))
    loss_late = float(np.median(signals.tail(lv, p.tail)))
    if loss_late < loss_early * (1.0 - p.loss_gain):
        return
    # few logs: a trend test cannot reach significance; a jump held on every log of the
    # last half (each tenfold the first window's level or more) is as consistent
    held = bool(np.all(signals.safe_log(g[g.size // 2 :], 1e-12) - early >= math.log(p.growth)))
    if not held and signals.mann_kendall_z(signals.safe_log(g, 1e-12)) < p.trend_z:
        return
    strong = any(
        f is not None and f.severity is Severity.ERROR
        for f in (ctx.has("LL111"), ctx.has("LL101"), ctx.has("LL102"))
    )
    sev = Severity.ERROR if strong else Severity.WARNING
    e_v, l_v = math.exp(early), math.exp(late)
    yield r.finding(
        severity=sev,
        title=tr("The gradient norm explodes", "그래디언트 노름이 폭증합니다"),
        explanation=tr(
            "The gradient norm grew {x}× (from about {a} to {b}) while the loss stopped "
            "improving: each update is getting larger, which usually ends in divergence or NaN.",
            "손실이 나아지지 않는 동안 그래디언트 노름이 {x}배(약 {a} → {b}) 커졌습니다. "
            "업데이트가 점점 커지고 있으며, 보통 발산이나 NaN으로 끝납니다.",
            x=num(l_v / e_v, 2),
            a=num(e_v),
            b=num(l_v),
        ),
        suggestion=tr(
            "Clip gradients (max_grad_norm 0.3–1.0), lower the learning rate, prefer bf16 over "
            "fp16, and add warmup.",
            "그래디언트를 클리핑하고(max_grad_norm 0.3~1.0), 학습률을 낮추고, fp16보다 bf16을 "
            "쓰고, 워밍업을 추가하세요.",
        ),
        metric=ctx.grad_norm.key,
        step_start=int(st[0]),
        step_end=int(st[-1]),
        evidence=tr(
            "median grad_norm {a} (first 25%) → {b} (last 20%); loss {c} → {d}",
            "grad_norm 중앙값 {a}(처음 25%) → {b}(마지막 20%); 손실 {c} → {d}",
            a=num(e_v),
            b=num(l_v),
            c=num(loss_early),
            d=num(loss_late),
        ),
        values={
            "grad_early": e_v,
            "grad_late": l_v,
            "loss_early": loss_early,
            "loss_late": loss_late,
        },
        onset_step=int(st[0]),
    )

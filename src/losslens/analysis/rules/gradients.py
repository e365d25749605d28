"""Gradient norms that report no update: frozen at one value, or exactly zero."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from losslens.analysis.context import RunContext
from losslens.analysis.messages import num, tr
from losslens.analysis.rules.base import Rule, param, rule
from losslens.model import Finding, Severity


@dataclass(frozen=True)
class FrozenGradParams:
    min_logs: int = param(10, "logged gradient norms needed")
    digits: int = param(6, "significant digits to which all of them are equal")


@rule(
    "LL104",
    "frozen-grad-norm",
    kind="other",
    severity=Severity.ERROR,
    family="numerics",
    params=FrozenGradParams(),
)
def frozen_grad_norm(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """The gradient norm is the same number at every log.

    What it detects:
        Ten logged gradient norms or more, all positive and equal to six significant digits.
    Why it matters:
        Real gradients change from batch to batch. A constant norm (e.g. exactly 1.7320508,
        the square root of 3) is the signature of a broken kernel or library combination: the
        reported gradients are not the model's.
    Evidence:
        The constant value and how many logs show it.
    What to try:
        Check the environment (transformers/peft/torch versions, a recent upgrade), run a few
        steps without custom kernels (flash-attention, Liger, Unsloth patches) and compare.
    """
    p: FrozenGradParams = r.params
    g = ctx.grad_norm
    if g is None:
        return
    v = g.finite.values
    if v.size < p.min_logs or not (v > 0).all():
        return
    # rounding to significant digits is monotonic: every value rounds alike exactly when
    # the smallest and the largest do (no set of every rounded value)
    if float(f"{float(v.min()):.{p.digits}g}") != float(f"{float(v.max()):.{p.digits}g}"):
        return
    yield r.finding(
        title=tr("The gradient norm never changes", "그래디언트 노름이 전혀 변하지 않습니다"),
        explanation=tr(
            "Every logged gradient norm is exactly {v}. Real gradients vary from batch to "
            "batch, so these numbers do not come from the model: something in the software "
            "stack is broken.",
            "기록된 그래디언트 노름이 모두 정확히 {v}입니다. 실제 그래디언트는 배치마다 "
            "달라지므로 이 값은 모델에서 나온 것이 아닙니다. 소프트웨어 구성 어딘가가 "
            "고장 난 것입니다.",
            v=num(float(v[0]), 8),
        ),
        suggestion=tr(
            "Check a recent upgrade of transformers/peft/torch; run a few steps without custom "
            "kernels (flash-attention, Liger, Unsloth patches) and compare.",
            "최근 transformers/peft/torch 업그레이드를 확인하고, 커스텀 커널(flash-attention, "
            "Liger, Unsloth 패치) 없이 몇 스텝 돌려 비교해 보세요.",
        ),
        metric=g.key,
        step_start=int(g.finite.steps[0]),
        step_end=int(g.finite.steps[-1]),
        evidence=tr(
            "grad_norm = {v} at all {n} logs",
            "grad_norm이 로그 {n}개 모두에서 {v}",
            v=num(float(v[0]), 8),
            n=int(v.size),
        ),
        values={"grad_norm": float(v[0]), "points": int(v.size)},
        onset_step=int(g.finite.steps[0]),
    )


@dataclass(frozen=True)
class ZeroGradParams:
    min_logs: int = param(10, "logged gradient norms needed")
    share: float = param(
        0.5, "share of logs with a gradient norm of exactly 0: that many optimizer steps do nothing"
    )


@rule(
    "LL105",
    "zero-gradient-steps",
    kind="grad_vanishing",
    severity=Severity.WARNING,
    family="numerics",
    requires=("LL102", "LL134"),
    params=ZeroGradParams(),
)
def zero_gradient_steps(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """A gradient norm of exactly 0 is a step that changed nothing, whatever the loss says.

    What it detects:
        Half or more of the logged gradient norms exactly 0.0 (ten logs at least), with zero
        and non-zero norms mixed in both halves of the log while the loss at the zero logs is
        positive: batches that carry no supervised token (a warning: half the optimizer steps
        are wasted). A norm of 0 at every log is LL134 (or LL103 when the loss is 0 as well:
        nothing is supervised); a norm that turns 0 for good after a blow-up is a dead
        network, which the divergence and LR readings describe.
    Why it matters:
        A real gradient of a positive loss is never exactly 0. An exact 0 means the batch had
        no target token (every label -100: answers cut off by the maximum length, a template
        that does not match) or no trainable weight received a gradient; those steps only
        advance the schedule.
    Evidence:
        How many logs have a gradient norm of exactly 0, and the loss there.
    What to try:
        Count the labels that are not -100 per batch; raise ``max_seq_length`` or drop the
        examples whose answer is truncated away; check the response template.
    """
    p: ZeroGradParams = r.params
    g = ctx.grad_norm
    if g is None or ctx.loss is None or ctx.has("LL102"):
        return
    gst, gv = g.finite.steps, g.finite.values
    if gv.size < p.min_logs:
        return
    zero = gv == 0.0
    n = int(zero.sum())
    if n == 0 or zero.all():
        return  # none, or none at any log: LL134 (LL103 when the loss is 0 as well)
    if n < p.share * gv.size or ctx.has("LL134"):
        return  # (LL134 already reports the norm that collapsed)
    half = gv.size // 2
    if not all(zero[a:b].any() and (~zero[a:b]).any() for a, b in ((0, half), (half, gv.size))):
        return  # not mixed through the run: a norm that turns 0 for good is a dead network
    lst, lv = ctx.loss.finite.steps, ctx.loss.finite.values
    at = lv[np.isin(lst, gst[zero])]
    if at.size < 0.5 * n or float(np.median(at)) <= 0:
        return  # the loss at those logs is not seen, or is 0 too (nothing supervised)
    share = n / gv.size
    yield r.finding(
        title=tr("Many steps have no gradient at all", "많은 스텝에서 그래디언트가 전혀 없습니다"),
        explanation=tr(
            "The gradient norm is exactly 0 at {p} of the logs while the loss there is "
            "positive: those batches carry no supervised token (or reach no trainable "
            "weight), so their optimizer steps change nothing.",
            "손실이 양수인데도 로그의 {p}에서 그래디언트 노름이 정확히 0입니다. 그 배치들에는 "
            "감독되는 토큰이 없거나 학습 가능한 가중치에 닿지 않아, 해당 옵티마이저 스텝은 "
            "아무것도 바꾸지 않습니다.",
            p=f"{share * 100:.0f}%",
        ),
        suggestion=tr(
            "Count the labels that are not -100 in each batch; raise max_seq_length or drop "
            "the examples whose answer is cut off; check the response template.",
            "배치마다 -100이 아닌 라벨 수를 세어 보세요. max_seq_length를 늘리거나 답변이 "
            "잘리는 예제를 빼고, 응답 템플릿을 확인하세요.",
        ),
        metric=g.key,
        step_start=int(gst[0]),
        step_end=int(gst[-1]),
        evidence=tr(
            "grad_norm exactly 0 at {n} of {t} logs ({p}), in both halves of the run; median "
            "loss at those logs {l}",
            "로그 {t}개 중 {n}개({p})에서 grad_norm이 정확히 0(실행 전반·후반 모두); 그 로그의 "
            "손실 중앙값 {l}",
            n=n,
            t=int(gv.size),
            p=f"{share * 100:.0f}%",
            l=num(float(np.median(at))),
        ),
        values={"zero_grad_logs": n, "points": int(gv.size), "share": share},
        onset_step=int(gst[int(np.argmax(zero))]),
    )

"""An eval loss that jumps a hundredfold for one evaluation and comes straight back (LL124)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from losslens.analysis.context import RunContext
from losslens.analysis.messages import num, tr
from losslens.analysis.rules.base import Rule, param, rule
from losslens.analysis.rules.common import finite
from losslens.model import Finding, Severity


@dataclass(frozen=True)
class EvalSpikeParams:
    ratio: float = param(
        100.0, "an eval loss this many times the evals just before and after it (both)"
    )


@rule(
    "LL124",
    "eval-spike",
    kind="loss_spike",
    severity=Severity.WARNING,
    family="spikes",
    requires=("LL101", "LL121"),
    params=EvalSpikeParams(),
)
def eval_spike(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """One evaluation's loss is a hundred times the evaluations around it.

    Principle: the conventions call a spike of 100× the surrounding level a warning whatever
    follows; an eval loss averages a whole held-out set, so one that jumps a hundredfold
    for a single evaluation shows the model at that checkpoint was broken, even if the next
    evaluation is back.

    What it detects:
        An eval loss (finite, above zero) that is 100× or more both the eval just before it
        and the eval just after it; the largest such jump is reported. Not read when the
        loss went non-finite (LL101) or a train-loss spike is already reported at warning or
        above (LL121), which says it.
    Why it matters:
        A checkpoint saved at that step is unusable, and a best-checkpoint or early-stopping
        rule that reads the eval loss can be misled. The usual causes are an update that
        blew the weights up and was partly undone (a learning rate too high for a moment, a
        bad batch), or overflow in the evaluation itself (mixed precision, a division by a
        tiny number in the loss).
    Evidence:
        The eval loss at the spike and at the evals around it, and the ratio.
    What to try:
        Clip gradients (``max_grad_norm``), lower the peak learning rate or lengthen the
        warmup, check the batches trained just before that evaluation, and run the
        evaluation in full precision.
    """
    p: EvalSpikeParams = r.params
    if ctx.has("LL101") is not None:
        return
    spike = ctx.has("LL121")
    if spike is not None and spike.severity is not Severity.INFO:
        return
    if ctx.eval_loss is None:
        return
    st, v = finite(ctx.eval_loss)
    if v.size < 3 or float(np.min(v)) <= 0:
        return
    over = v[1:-1] / np.maximum(v[:-2], v[2:])
    hits = np.flatnonzero(over >= p.ratio)
    if hits.size == 0:
        return
    i = int(hits[np.argmax(v[1:-1][hits])]) + 1
    before, at, after = float(v[i - 1]), float(v[i]), float(v[i + 1])
    ratio = at / max(before, after)
    step = int(st[i])
    yield r.finding(
        title=tr(
            "The eval loss jumped {x}× for one evaluation at step {s}",
            "스텝 {s}에서 평가 손실이 한 번 {x}배로 뛰었습니다",
            x=num(ratio, 3),
            s=step,
        ),
        explanation=tr(
            "The eval loss was {b} just before, {a} at step {s} and {c} just after: a held-out "
            "set's average a hundred times its neighbours means the model at that checkpoint "
            "was broken, even though it came back.",
            "평가 손실이 직전 {b}, 스텝 {s}에서 {a}, 직후 {c}였습니다: 검증 세트 평균이 이웃의 "
            "백 배라면 돌아왔더라도 그 체크포인트의 모델은 망가져 있었습니다.",
            b=num(before),
            a=num(at),
            c=num(after),
            s=step,
        ),
        suggestion=tr(
            "Clip gradients (max_grad_norm), lower the peak learning rate or lengthen the "
            "warmup, check the batches trained just before that evaluation, and run the "
            "evaluation in full precision; do not keep the checkpoint from that step.",
            "그래디언트를 클리핑하고(max_grad_norm), 최대 학습률을 낮추거나 워밍업을 늘리고, "
            "그 평가 직전에 학습한 배치를 확인하고, 평가를 전체 정밀도로 실행하세요. 그 스텝의 "
            "체크포인트는 쓰지 마세요.",
        ),
        metric=ctx.eval_loss.key,
        step_start=int(st[i - 1]),
        step_end=int(st[i + 1]),
        evidence=tr(
            "eval loss {b} → {a} at step {s} → {c} ({x}× its neighbours)",
            "평가 손실 {b} → 스텝 {s}에서 {a} → {c} (이웃의 {x}배)",
            b=num(before),
            a=num(at),
            c=num(after),
            s=step,
            x=num(ratio, 3),
        ),
        values={"before": before, "value": at, "after": after, "ratio": ratio},
        onset_step=step,
    )

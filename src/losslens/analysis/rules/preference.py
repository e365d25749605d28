"""Preference tuning (DPO and the like): does the policy learn to prefer the chosen answers?

Also the saturated preference objective that memorization (LL153) grades."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from losslens.analysis import signals
from losslens.analysis.context import RunContext
from losslens.analysis.messages import num, tr
from losslens.analysis.rules.base import Rule, param, rule
from losslens.analysis.rules.common import finite, near_zero_onset, reward_accuracies
from losslens.model import Finding, Severity

#: A preference loss at chance: -log sigmoid(0), both answers equally likely.
LN2 = math.log(2)


@dataclass(frozen=True)
class ChanceParams:
    min_logs: int = param(10, "reward-accuracy logs needed")
    min_epochs: float = param(1.0, "the run went over the pairs at least this many times")
    accuracy: float = param(
        0.6, "the mean reward accuracy of the second half of the logs below this (chance 0.5)"
    )
    loss_share: float = param(
        0.95, "... and the median train loss of the second half at least this share of ln 2"
    )


@rule(
    "LL136",
    "preference-at-chance",
    kind="loss_not_decreasing",
    severity=Severity.WARNING,
    family="progress",
    requires=("LL101", "LL102", "LL131"),
    params=ChanceParams(),
)
def preference_at_chance(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """A preference run that stays at chance: the policy does not learn the preference.

    Principle: a preference loss has its own scale, ln 2 at chance (chosen and rejected
    equally likely), and the logged reward accuracy says the same thing in plain terms; a
    whole pass over the pairs that leaves both at chance taught the policy nothing.

    What it detects:
        A preference run (DPO and the like) that logs its train reward accuracy (10 logs or
        more) and went over the pairs once or more, where the mean accuracy of the second
        half of the logs is below 0.6 (chance is 0.5) and the median train loss there is not
        below chance (95% of ln 2 or more). A warning: the compute bought no preference.
        Skipped when the loss became NaN or never moved (those rules say more); a loss that
        diverges while the accuracy stays at chance is both.
    Why it matters:
        The chosen answers are no more likely than the rejected ones after a whole pass: the
        pairs carry no signal the policy can use (swapped or near-identical answers), the
        reference model does not match the policy, or the learning rate or beta leave the
        policy where it started.
    Evidence:
        The mean reward accuracy of each half of the logs and the median loss of the second
        half against ln 2.
    What to try:
        Check that chosen and rejected are not swapped and differ; start from the same model
        as the reference (a policy far from its reference starts with large rewards); try a
        learning rate of 5e-7 to 5e-6 for a full model (about 10x that for LoRA) and beta 0.1.
    """
    if ctx.task != "preference" or ctx.loss is None:
        return
    if any(ctx.has(x) for x in ("LL101", "LL102", "LL131")):
        return
    p: ChanceParams = r.params
    acc = reward_accuracies(ctx)
    if acc is None or acc.size < p.min_logs or ctx.epochs is None or ctx.epochs < p.min_epochs:
        return
    st, v = finite(ctx.loss)
    if v.size < 2:
        return
    half = acc[acc.size // 2 :]
    loss_half = float(np.median(v[v.size // 2 :]))
    a0, a1 = float(np.mean(acc[: acc.size // 2])), float(np.mean(half))
    if a1 >= p.accuracy or loss_half < p.loss_share * LN2:
        return
    yield r.finding(
        title=tr(
            "The model does not learn the preference",
            "모델이 선호를 학습하지 못합니다",
        ),
        explanation=tr(
            "After {e} epochs the reward accuracy is still at chance ({a}: the chosen answer is "
            "preferred about as often as the rejected one) and the loss ({l}) is not below "
            "ln 2 = 0.693, where a preference loss starts. The pairs taught the policy nothing.",
            "{e} 에폭이 지나도 보상 정확도가 우연 수준({a}: 선택된 답을 거절된 답만큼만 "
            "선호)이고, 손실({l})도 선호 손실의 출발점인 ln 2 = 0.693 아래로 내려가지 않았습니다. "
            "쌍 데이터에서 정책이 배운 것이 없습니다.",
            e=num(ctx.epochs, 2),
            a=num(a1, 2),
            l=num(loss_half),
        ),
        suggestion=tr(
            "Check that chosen and rejected are not swapped and really differ; use the "
            "starting model as the reference; try a learning rate of 5e-7 to 5e-6 for a full "
            "model (about 10x for LoRA) and beta 0.1.",
            "chosen과 rejected가 뒤바뀌지 않았고 실제로 다른지 확인하세요. 시작 모델을 "
            "참조 모델로 쓰세요. 전체 모델은 학습률 5e-7~5e-6(LoRA는 약 10배), beta 0.1을 "
            "시도하세요.",
        ),
        metric=ctx.loss.key,
        step_start=int(st[0]),
        step_end=int(st[-1]),
        evidence=tr(
            "reward accuracy {a0} (first half of the logs) → {a1} (second half); median "
            "loss of the second half {l} against ln 2 = 0.693",
            "보상 정확도 {a0}(로그 앞 절반) → {a1}(뒤 절반); 뒤 절반 손실 중앙값 {l}, ln 2 = 0.693",
            a0=num(a0, 2),
            a1=num(a1, 2),
            l=num(loss_half),
        ),
        values={"accuracy_first_half": a0, "accuracy_second_half": a1, "loss": loss_half},
        onset_step=int(st[0]),
    )


def _reward_accuracy(ctx: RunContext) -> float | None:
    """The train reward accuracy of a preference run (the mean of its last 10% of logs, at
    least 3): the share of pairs whose chosen answer the policy prefers; None when not
    logged."""
    a = reward_accuracies(ctx)
    if a is None:
        return None
    return float(np.mean(signals.tail(a, 0.1, lo=min(3, a.size))))


def saturated_grade(
    ctx: RunContext, end: float, accuracy: float, near_zero: float, eval_ratio: float
) -> Severity | None:
    """The grade of a preference run that separated every training pair with near certainty
    (every loss of the last 10% of logs below ``near_zero`` on its own scale, ln 2 at chance,
    and the reward accuracy at ``accuracy`` or more), else None: a warning with no eval set or
    an eval loss above ``eval_ratio`` times the train loss ``end``, info when it follows (LL153
    reads it)."""
    acc = _reward_accuracy(ctx)
    _, v = finite(ctx.loss)
    # held over the last 10% of logs: every one near zero, not a median a blow-up hides in
    top = float(np.max(signals.tail(v, 0.1, lo=min(3, v.size)))) if v.size else end
    if acc is None or acc < accuracy or not top < near_zero:
        return None
    _, ev = finite(ctx.eval_loss)
    if ev.size and float(ev[-1]) < max(eval_ratio * end, near_zero):
        return Severity.INFO  # the held-out pairs are separated as well
    return Severity.WARNING


def saturated_finding(
    r: Rule,
    ctx: RunContext,
    curve: tuple[np.ndarray, np.ndarray],
    end: float,
    sev: Severity,
    near_zero: float,
) -> Finding:
    """LL153's finding for a saturated preference objective (``curve``: steps, losses)."""
    assert ctx.loss is not None
    st, v = curve
    kw = {"a": num(float(v[0])), "b": num(end), "s": int(st[-1])}
    return r.finding(
        severity=sev,
        title=tr(
            "The preference loss collapsed to zero (loss {a} → {b})",
            "선호 손실이 0으로 무너졌습니다(손실 {a} → {b})",
            **kw,
        ),
        explanation=tr(
            "The preference loss is {b} (ln 2 ≈ 0.69 at chance) and the reward accuracy is 1: "
            "the policy separates every training pair with near certainty. The objective is "
            "saturated; the margins can only grow by drifting from the reference model, "
            "which over-fits the training pairs rather than the preference.",
            "선호 손실이 {b}(무작위 수준 ln 2 ≈ 0.69)이고 보상 정확도가 1입니다. 정책이 모든 "
            "학습 쌍을 거의 확실하게 구분합니다. 목적 함수가 포화되어, 마진은 참조 모델에서 "
            "멀어지는 방식으로만 커지며 이는 선호가 아니라 학습 쌍에 과적합하는 것입니다.",
            **kw,
        ),
        suggestion=tr(
            "Hold out an eval split of pairs; lower the learning rate or raise beta; train "
            "fewer steps; check that chosen and rejected answers are not trivially different.",
            "평가용 쌍을 따로 두세요. 학습률을 낮추거나 beta를 높이고, 스텝을 줄이세요. "
            "선택/거절 답변이 너무 쉽게 구분되지 않는지 확인하세요.",
        ),
        metric=ctx.loss.key,
        step_start=int(st[0]),
        step_end=int(st[-1]),
        evidence=tr(
            "preference loss {a} → {b} at step {s}; reward accuracy 1.0",
            "선호 손실 {a} → {b}({s} 스텝); 보상 정확도 1.0",
            **kw,
        ),
        values={"loss_start": float(v[0]), "loss_end": float(v[-1])},
        onset_step=int(st[near_zero_onset(v, near_zero)]),
    )

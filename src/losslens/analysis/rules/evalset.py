"""What the eval set can and cannot tell: a task learned before one pass, no eval set at all."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from losslens.analysis.context import RunContext
from losslens.analysis.messages import num, tr
from losslens.analysis.rules.base import Rule, param, rule
from losslens.analysis.rules.common import finite, is_likelihood
from losslens.model import Finding, Severity


@dataclass(frozen=True)
class TooEasyParams:
    zero: float = param(0.01, "a train loss below this is ~0")
    before_epoch: float = param(1.0, "... reached before this epoch, and staying there")


@rule(
    "LL155",
    "too-easy",
    kind="other",
    severity=Severity.INFO,
    family="generalization",
    requires=("LL102", "LL103"),
    params=TooEasyParams(),
)
def too_easy(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """The loss reaches ~0 before the model has seen the data once.

    What it detects:
        A train loss below 0.01 before the end of the first epoch that stays there (a loss
        that goes below zero, no likelihood, is not read). Always
        info: a loss that low on examples the model has not seen yet cannot be memorization
        and damages nothing; it says the targets are easy (templated answers, a separable
        label), or leak, and an eval loss that follows it down is held-out data sharing that
        ease, not harm. The numbers cannot tell an easy task from a leak.
    Why it matters:
        A model cannot memorise examples it has not seen yet. A near-zero loss in the first
        epoch means the task is trivial as posed: the answer leaks into the input, every
        label is the same, or the eval split duplicates the training data.
    Evidence:
        When the loss fell below 0.01, the epoch at that point, and the eval loss.
    What to try:
        Check the label distribution, that inputs do not contain the answer, and that train
        and eval share no examples.
    """
    st, v = finite(ctx.loss)
    if ctx.loss is None or v.size < 5 or ctx.task == "preference":
        return
    if any(ctx.has(x) for x in ("LL102", "LL103")):
        return
    if not is_likelihood(v):
        return
    p: TooEasyParams = r.params
    near = v < p.zero
    if not near.any():
        return
    i = int(np.argmax(near))
    ep = ctx.epoch_at(float(st[i]))
    if ep is None or ep >= p.before_epoch or float(np.median(v[i:])) >= p.zero:
        return
    est, ev = finite(ctx.eval_loss)
    eval_txt = (
        tr(
            "; eval loss {e} at step {s}",
            "; {s} 스텝 평가 손실 {e}",
            e=num(float(ev[-1])),
            s=int(est[-1]),
        )
        if ev.size
        else tr("", "")
    )
    yield r.finding(
        title=tr(
            "The task looks too easy: loss ~0 within the first epoch",
            "과제가 너무 쉬워 보입니다: 첫 에폭 안에 손실 ~0",
        ),
        explanation=tr(
            "The loss was below 0.01 by step {s} (epoch {e}), before the model had even seen "
            "all the data once. That is not learning: the answer probably leaks into the input, "
            "the labels are constant, or the eval set duplicates the training data.",
            "{s} 스텝(에폭 {e})에서 이미 손실이 0.01 아래였습니다. 데이터를 한 번 다 보기도 "
            "전입니다. 이는 학습이 아니라, 입력에 정답이 새어 들어갔거나 라벨이 모두 같거나 "
            "평가 데이터가 학습 데이터와 겹치는 경우입니다.",
            s=int(st[i]),
            e=num(ep, 2),
        ),
        suggestion=tr(
            "Check the label distribution, that inputs do not contain the answer, and that "
            "train and eval share no examples.",
            "라벨 분포, 입력에 정답이 들어 있지 않은지, 학습과 평가 데이터가 겹치지 않는지 "
            "확인하세요.",
        ),
        metric=ctx.loss.key,
        step_start=int(st[i]),
        step_end=int(st[-1]),
        evidence=tr(
            "train loss {a} at step {s0} → {b} at step {s} (epoch {e}){x}",
            "학습 손실 {s0} 스텝 {a} → {s} 스텝 {b}(에폭 {e}){x}",
            a=num(float(v[0])),
            s0=int(st[0]),
            b=num(float(v[i])),
            s=int(st[i]),
            e=num(ep, 2),
            x=eval_txt,
        ),
        values={"step": int(st[i]), "epoch": ep, "loss": float(v[i])},
        onset_step=int(st[i]),
    )


@dataclass(frozen=True)
class NoEvalParams:
    cause_severity: str = param(
        "warning", "the least severity of memorization / too many epochs that calls for an eval"
    )


@rule(
    "LL156",
    "no-eval",
    kind="other",
    severity=Severity.INFO,
    family="generalization",
    phase=2,
    requires=("LL153", "LL154"),
    params=NoEvalParams(),
)
def no_eval(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """There is no eval set, so overfitting cannot be confirmed.

    What it detects:
        No eval loss in the log of a run where memorization (LL153) or too many epochs
        (LL154) was found at warning or above (an epoch count alone, info, is not enough).
        Info: a missing eval set is a gap in the evidence, not harm; the harm the train loss
        shows is graded on the memorization or epochs finding this one rests on.
    Why it matters:
        Train loss alone cannot tell memorising from learning: only loss on held-out examples
        shows whether the model got better at the task or just at its training set, and at
        which step it was best.
    Evidence:
        The eval metrics are missing while the train loss suggests overfitting.
    What to try:
        Hold out 5–10% of the data and evaluate every few steps: ``losslens train
        --eval_ratio 0.1``, or ``eval_strategy="steps"``, ``eval_steps`` and an
        ``eval_dataset`` in TrainingArguments/Trainer.
    """
    if ctx.eval_loss is not None or ctx.loss is None:
        return
    p: NoEvalParams = r.params
    least = Severity(p.cause_severity).rank
    cause = next(
        (
            f
            for f in (ctx.has("LL153"), ctx.has("LL154"))
            if f is not None and f.severity.rank >= least
        ),
        None,
    )
    if cause is None:
        return
    yield r.finding(
        title=tr(
            "No eval set: overfitting cannot be confirmed",
            "평가 데이터가 없어 과적합을 확인할 수 없습니다",
        ),
        explanation=tr(
            "The run logs no eval loss. The train loss alone cannot tell memorising from "
            "learning: only the loss on held-out examples shows whether the model improved at "
            "the task, and at which step it was best.",
            "이 실행에는 평가 손실이 없습니다. 학습 손실만으로는 암기와 학습을 구별할 수 "
            "없습니다. 따로 떼어 둔 예제의 손실만이 모델이 과제를 더 잘하게 되었는지, 어느 "
            "스텝이 가장 좋았는지 알려 줍니다.",
        ),
        suggestion=tr(
            "Hold out 5–10% of the data and evaluate every few steps: losslens train "
            '--eval_ratio 0.1, or eval_strategy="steps" with eval_steps and an eval_dataset in '
            "TrainingArguments/Trainer.",
            "데이터의 5~10%를 떼어 두고 몇 스텝마다 평가하세요: losslens train --eval_ratio 0.1, "
            '또는 TrainingArguments/Trainer에 eval_strategy="steps", eval_steps, eval_dataset을 '
            "지정하세요.",
        ),
        metric=ctx.loss.key,
        step_start=None,
        step_end=None,
        evidence=tr(
            "no eval/loss series; “{r}” suggests overfitting",
            "eval/loss 시리즈 없음; “{r}” 결과가 과적합을 시사",
            r=cause.title,
        ),
        values={"because": cause.rule_id},
        onset_step=None,
    )

"""Held-out metrics that say nothing: an accuracy that never changes, the model's predictions
never moved (LL158); a metric that is never a number, the evaluation never worked (LL159)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from losslens import keys
from losslens.analysis.context import RunContext
from losslens.analysis.messages import num, tr
from losslens.analysis.rules.base import Rule, param, rule
from losslens.model import Finding, Severity


@dataclass(frozen=True)
class FrozenMetricParams:
    min_evals: int = param(5, "evals of the held-out accuracy needed, every one the same value")


def _counted(key: str) -> str | None:
    """``accuracy`` or ``error rate`` for a held-out metric that counts answers right or
    wrong (``val_accuracy``; ``eval_wer``, ``eval_cer``), else None."""
    name = key.rsplit("/", 1)[-1].lower()
    if not keys.is_held_out(key):
        return None
    if name.endswith(("acc", "accuracy")):
        return "accuracy"
    return "error rate" if name in ("wer", "cer") else None


@rule(
    "LL158",
    "frozen-accuracy",
    kind="loss_not_decreasing",
    severity=Severity.WARNING,
    family="progress",
    requires=("LL131",),
    params=FrozenMetricParams(),
)
def frozen_accuracy(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """The held-out accuracy or error rate is the same number at every evaluation.

    Principle: an accuracy counts right answers and an error rate wrong ones, so each
    changes whenever one prediction does; a value repeated to the last digit over many
    evaluations means the predictions never changed, whatever the loss did.

    What it detects:
        A held-out accuracy (``val_accuracy``, ``eval_acc`` …) logged at 5 evaluations or
        more with exactly the same value at every one, strictly between 0 and its ceiling
        (1, or 100 for a percentage): the model gives the same answers all run, typically
        one class for every example (a balanced 5-class set then reads 0.2). At the ceiling
        the task is solved; at 0 the metric may be an exact match the model never reaches,
        so neither is read. Likewise a word or character error rate (``eval_wer``,
        ``eval_cer``) above 0 at every one of 5 evaluations or more (a WER of exactly 1.0:
        every word wrong, the model transcribes nothing). A warning; not read when the loss
        itself is reported as not decreasing (LL131), which says it already.
    Why it matters:
        A classifier that predicts one class has learned nothing about the inputs: the loss
        can still move (it calibrates the one answer's probability) while every prediction
        stays the same.
    Evidence:
        The metric, its value and how many evaluations repeated it.
    What to try:
        Check the labels reach the loss (class indices, one-hot shape), the class balance
        (weight the loss or resample), and the learning rate (too high collapses to the
        majority class, too low never leaves it); check the inputs are not constant.
    """
    p: FrozenMetricParams = r.params
    if ctx.has("LL131") is not None:
        return
    for key, s in ctx.run.series.items():
        counted = _counted(key)
        if counted is None:
            continue
        f = s.finite
        v = f.values
        if v.size < p.min_evals or float(np.ptp(v)) != 0.0:
            continue
        value = float(v[0])
        ceiling = 100.0 if value > 1.0 else 1.0
        if not 0.0 < value < ceiling and not (counted == "error rate" and value > 0.0):
            continue
        name = key.rsplit("/", 1)[-1]
        yield r.finding(
            title=tr(
                "The held-out {k} never changed: the predictions stayed the same",
                "검증 {k}이(가) 한 번도 바뀌지 않았습니다: 예측이 그대로였습니다",
                k=name,
            ),
            explanation=tr(
                "{k} was exactly {v} at all {n} evaluations. An accuracy or an error rate "
                "changes as soon as one prediction does, so the model gave the same answers all "
                "run (often one class for every example, or an empty transcript), whatever its "
                "loss did.",
                "{k}이(가) {n}번의 평가 모두에서 정확히 {v}였습니다. 정확도나 오류율은 예측 하나만 "
                "바뀌어도 달라지므로, 모델은 손실과 상관없이 실행 내내 같은 답(흔히 모든 예제에 한 "
                "클래스, 또는 빈 전사)을 냈습니다.",
                k=name,
                v=num(value, 4),
                n=v.size,
            ),
            suggestion=tr(
                "Check that the labels reach the loss (class indices, one-hot shape), the class "
                "balance (weight the loss or resample) and the learning rate; check the inputs "
                "are not constant.",
                "라벨이 손실에 제대로 들어가는지(클래스 인덱스, 원-핫 형태), 클래스 균형(손실 "
                "가중치나 재표집), 학습률을 확인하고, 입력이 상수가 아닌지 확인하세요.",
            ),
            metric=key,
            step_start=int(f.steps[0]),
            step_end=int(f.steps[-1]),
            evidence=tr(
                "{k} = {v} at every one of {n} evals (steps {a}–{b})",
                "{k} = {v}, 평가 {n}번 모두 (스텝 {a}–{b})",
                k=name,
                v=num(value, 4),
                n=v.size,
                a=int(f.steps[0]),
                b=int(f.steps[-1]),
            ),
            values={"metric": key, "value": value, "evals": int(v.size)},
            onset_step=int(f.steps[0]),
        )
        return


@dataclass(frozen=True)
class NeverFiniteParams:
    min_evals: int = param(3, "evals of a held-out metric needed, none of them a number")


@rule(
    "LL159",
    "metric-never-finite",
    kind="nan_or_inf",
    severity=Severity.WARNING,
    family="numerics",
    requires=("LL101",),
    params=NeverFiniteParams(),
)
def metric_never_finite(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """A held-out metric is NaN or infinite at every evaluation.

    Principle: a held-out metric measures the result of the run; one that never produced a
    number at any evaluation measured nothing, so the run's result was never evaluated,
    however well its training loss went.

    What it detects:
        A held-out series other than the eval loss (``val_dice``, ``eval_f1`` …; the eval
        loss is LL101's) logged at 3 evaluations or more, every value NaN or infinite,
        while the train loss has finite values. A warning; not read when LL101 already
        reports a non-finite loss.
    Why it matters:
        Model selection, early stopping and the final report all read this metric: with no
        number at any evaluation the run cannot be judged or its best checkpoint chosen.
        The usual cause is a division by zero in the metric (an empty class, a mask with no
        positives) or predictions that are NaN on the eval set only (mixed precision).
    Evidence:
        The metric and how many evaluations were not a number.
    What to try:
        Compute the metric on one eval batch by hand: guard its denominators (add a small
        epsilon, skip empty classes), check the eval inputs and labels (a mask with no
        positives), and run the eval in full precision to rule out overflow.
    """
    p: NeverFiniteParams = r.params
    if ctx.has("LL101") is not None or ctx.loss is None or len(ctx.loss.finite) == 0:
        return
    eval_key = ctx.eval_loss.key if ctx.eval_loss is not None else None
    for key, s in ctx.run.series.items():
        if key == eval_key or not keys.is_held_out(key) or len(s) < p.min_evals:
            continue
        if bool(np.isfinite(s.values).any()):
            continue
        name = key.rsplit("/", 1)[-1]
        yield r.finding(
            title=tr(
                "The held-out {k} was never a number",
                "검증 {k}이(가) 한 번도 숫자가 아니었습니다",
                k=name,
            ),
            explanation=tr(
                "{k} was NaN or infinite at all {n} evaluations, while the train loss was "
                "finite: the evaluation never measured the model, so the run's result cannot "
                "be judged from it.",
                "학습 손실은 유한했지만 {k}은(는) {n}번의 평가 모두에서 NaN 또는 무한대였습니다. "
                "평가가 모델을 한 번도 측정하지 못했으므로 실행 결과를 판단할 수 없습니다.",
                k=name,
                n=len(s),
            ),
            suggestion=tr(
                "Compute the metric on one eval batch by hand: guard its denominators (an "
                "epsilon, skip empty classes), check the eval labels (a mask with no positives) "
                "and run the eval in full precision.",
                "평가 배치 하나로 지표를 직접 계산해 보세요: 분모를 보호하고(엡실론, 빈 클래스 "
                "제외), 평가 라벨(양성이 없는 마스크)을 확인하고, 평가를 전체 정밀도로 실행하세요.",
            ),
            metric=key,
            step_start=int(s.steps[0]),
            step_end=int(s.steps[-1]),
            evidence=tr(
                "{k} not a number at all {n} evals (steps {a}–{b})",
                "{k}: 평가 {n}번 모두 숫자 아님 (스텝 {a}–{b})",
                k=name,
                n=len(s),
                a=int(s.steps[0]),
                b=int(s.steps[-1]),
            ),
            values={"metric": key, "evals": len(s)},
            onset_step=int(s.steps[0]),
        )
        return

"""Overfitting read from a held-out task metric when no eval loss is logged (LL157)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from losslens import keys
from losslens.analysis import signals
from losslens.analysis.context import RunContext
from losslens.analysis.evalview import (
    TaskMetric,
    eval_move,
    metric_points,
    task_metrics,
    train_around,
)
from losslens.analysis.messages import num, tr
from losslens.analysis.rules.base import Rule, param, rule
from losslens.analysis.rules.common import finite
from losslens.analysis.rules.generalization import OverfitParams
from losslens.model import Finding, FloatArray, Severity

_OVERFIT = OverfitParams()


@dataclass(frozen=True)
class MetricStallParams:
    min_evals: int = param(5, "evals of the metric needed (a stall is read over several)")
    after_evals: int = param(3, "evals after the metric reached its level, at least")
    stall_epochs: float = param(
        _OVERFIT.stall_epochs, "epochs the metric stayed at its level (LL151's stalled eval loss)"
    )
    train_drop: float = param(
        _OVERFIT.stall_train_drop,
        "... while the train loss fell at least this share (LL151's stalled eval loss)",
    )
    gap: float = param(
        _OVERFIT.stall_gap,
        "with the same metric logged on the train set, the train-held-out gap widens by this "
        "share of the held-out value (LL151's widening gap)",
    )


def _gap_widening(
    ctx: RunContext, m: TaskMetric, st: FloatArray, v: FloatArray, i: int
) -> float | None:
    """How much the train set's lead over the held-out score on metric ``m`` (its points
    ``st``, ``v``, oriented higher-better as :func:`metric_points` gives them) grew from eval
    ``i`` to the last, as a share of the held-out value at the last; None when the train
    set's score on the metric is not logged."""
    train = ctx.run.series.get(f"train/{m.key.rsplit('/', 1)[-1]}")
    if train is None or len(train.finite) < 2:
        return None
    sign = 1.0 if m.higher_better else -1.0
    ts, tv = train.finite.steps.astype(float), train.finite.values

    def lead(k: int) -> float:
        return sign * signals.value_at(ts, tv, float(st[k])) - float(v[k])

    return (lead(-1) - lead(i)) / max(abs(float(v[-1])), 1e-12)


@rule(
    "LL157",
    "metric-stall",
    kind="overfitting",
    severity=Severity.WARNING,
    family="generalization",
    requires=("LL102", "LL103", "LL111"),
    params=MetricStallParams(),
)
def metric_stall(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """A held-out task metric stopped improving while the train loss kept falling.

    Principle: with no eval loss logged, the held-out task metric is the eval curve; a
    stall there while training still gains is the stalled-eval reading of LL151, from the
    metric instead of the loss.

    What it detects:
        Runs that log no held-out loss (eval, validation or test) but a held-out task metric
        (accuracy, F1, WER, BLEU …) at 5 evals or more, not at its best at the last eval (a
        metric at its best there is still improving). The metric reached its level at the
        first eval within its typical eval-to-eval move (the median absolute change between
        consecutive evals) of its best, which may be the first eval itself (a metric that
        never beat its first value while the train loss fell learned nothing that carries
        over); from there it stayed for 2 epochs or more and 3 evals or more (so no later
        eval beat it by more than that move), while the train loss fell 10% or more over the
        same stretch (the train logs within half an eval interval of each eval): the model
        kept fitting its training examples and the held-out task did not follow (LL151's
        stalled eval loss, with its 2 epochs and 10%). Not when another held-out task metric
        is still at its best at the last eval (the task still gains by that measure), nor,
        when the train set's score on the same metric is logged (``train/accuracy`` beside
        ``eval/accuracy``), when the train set's lead over the held-out score grew by less
        than 5% of the held-out value over the stall (LL151's widening gap: a held-out 98.8%
        beside a train 99.3% followed the training). A warning; the numbers cannot size the
        harm to an error without an eval loss.
    Why it matters:
        The passes after the stall taught the model its training examples, not the task:
        compute spent for no held-out gain, and often a worse model than the one at the
        stall.
    Evidence:
        The metric at its first eval, where it reached its level, its best and last values,
        and the train loss at the stall and at the end.
    What to try:
        Keep the checkpoint at the stall (early stopping on the metric), train fewer
        epochs, add regularization (dropout, weight decay, augmentation) or more data, and
        log an eval loss so the harm can be measured.
    """
    p: MetricStallParams = r.params
    if ctx.loss is None or any(ctx.has(x) for x in ("LL102", "LL103", "LL111")):
        return
    held_out_loss = [k for k in ctx.run.series if keys.is_held_out(k) and "loss" in k.lower()]
    if held_out_loss or (ctx.eval_loss is not None and finite(ctx.eval_loss)[1].size >= 2):
        return  # an eval loss is logged: it is the eval curve (LL151)
    metrics = task_metrics(ctx)
    if any(m.still_improving for m in metrics):
        return  # another held-out measure of the task is still at its best: it still gains
    for m in metrics:
        st, v = metric_points(ctx, m)
        if v.size < p.min_evals:
            continue
        raw = v if m.higher_better else -v
        move = eval_move(v)
        if move <= 0:
            continue  # never moved at all: no level it stalled at
        if float(v[-1]) >= float(np.max(v)):
            continue  # at its best at the last eval: still improving
        i = int(np.argmax(v >= float(np.max(v)) - move))  # reached its level here
        e0, e1 = ctx.epoch_at(float(st[i])), ctx.epoch_at(float(st[-1]))
        if raw.size - 1 - i < p.after_evals or e0 is None or e1 is None:
            continue
        if e1 - e0 < p.stall_epochs:
            continue
        t0, t1 = train_around(ctx, float(st[i]), st), train_around(ctx, float(st[-1]), st)
        if t0 is None or t1 is None or t0 <= 0 or t1 > (1 - p.train_drop) * t0:
            continue
        widened = _gap_widening(ctx, m, st, v, i)
        if widened is not None and widened < p.gap:
            continue  # the train set's own score moved with it: the held-out task followed
        name = m.key.rsplit("/", 1)[-1]
        yield r.finding(
            severity=Severity.WARNING,
            title=tr(
                "The held-out {k} stopped improving while training went on",
                "학습이 계속되는 동안 검증 {k}이(가) 더 나아지지 않았습니다",
                k=name,
            ),
            explanation=tr(
                "{k} reached {a} at epoch {e0} and did not improve beyond its usual "
                "eval-to-eval move in the {n} epochs after, while the train loss fell from "
                "{t0} to {t1}. The model kept fitting its training examples without the "
                "held-out task following.",
                "{k}은(는) {e0} 에폭에 {a}에 도달한 뒤 이후 {n} 에폭 동안 평소의 평가 간 변동 "
                "이상 나아지지 않았고, 그동안 학습 손실은 {t0}에서 {t1}(으)로 떨어졌습니다. "
                "모델이 검증 과제의 향상 없이 학습 예제에만 계속 맞춰졌습니다.",
                k=name,
                a=num(float(raw[i])),
                e0=num(e0, 3),
                n=num(e1 - e0, 3),
                t0=num(t0),
                t1=num(t1),
            ),
            suggestion=tr(
                "Keep the checkpoint from epoch {e} (early stopping on {k}), train fewer "
                "epochs, add regularization (dropout, weight decay, augmentation) or more "
                "data, and log an eval loss.",
                "{e} 에폭의 체크포인트를 쓰고({k} 기준 조기 종료), 에폭 수를 줄이고, 정규화"
                "(드롭아웃, 가중치 감쇠, 증강)나 데이터를 늘리고, 평가 손실도 기록하세요.",
                e=num(e0, 3),
                k=name,
            ),
            metric=m.key,
            step_start=int(st[i]),
            step_end=int(st[-1]),
            evidence=tr(
                "{k} {f} (first) → {a} at step {s} (epoch {e0}), best {b}, last {l}; train "
                "loss {t0} → {t1} ({d}) over the same {n} epochs",
                "{k} {f}(처음) → {s} 스텝(에폭 {e0}) {a}, 최고 {b}, 마지막 {l}; 같은 {n} 에폭 "
                "동안 학습 손실 {t0} → {t1} ({d})",
                k=name,
                f=num(float(raw[0])),
                a=num(float(raw[i])),
                s=int(st[i]),
                e0=num(e0, 3),
                b=num(m.best),
                l=num(m.last),
                t0=num(t0),
                t1=num(t1),
                d=f"{100 * (t1 / t0 - 1):+.0f}%",
                n=num(e1 - e0, 3),
            ),
            values={
                "metric": m.key,
                "level_step": int(st[i]),
                "level_value": float(raw[i]),
                "best": m.best,
                "last": m.last,
                "move": move,
                "train_at_level": t0,
                "train_last": t1,
                "epochs_after": e1 - e0,
            },
            onset_step=int(st[i]),
        )
        return

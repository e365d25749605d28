"""An eval loss that holds while the train loss keeps creeping down (LL160)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from losslens.analysis.context import RunContext
from losslens.analysis.evalview import eval_view
from losslens.analysis.messages import tr
from losslens.analysis.progress_signal import (
    eval_held_stretch,
    head_count,
    log_from_start,
    loss_measures_progress,
)
from losslens.analysis.rules.base import Rule, param, rule
from losslens.analysis.rules.common import finite
from losslens.model import Finding, Severity

#: Findings that say the run is broken or the curve is already read as a generalization
#: problem: either way this reading has nothing to add.
_BEFORE = ("LL101", "LL102", "LL103", "LL104", "LL111", "LL151", "LL153")


@dataclass(frozen=True)
class EvalHeldParams:
    stretch_epochs: float = param(
        2.0, "epochs the second half of the eval curve must span (6 evals or more in all)"
    )
    flat_gain: float = param(
        0.01, "... over which the eval loss gains and loses less than this per epoch (log)"
    )
    creep_gain: float = param(
        0.05, "... while the train loss gains less than this per epoch (and loses less than flat)"
    )
    level_share: float = param(
        0.5, "... at this share of its first value or more (a loss near zero is LL153's)"
    )
    lr_share: float = param(0.5, "... and the LR at the stretch's start this share of its peak")
    waste_epochs: float = param(
        5.0,
        "a warning when the stretch spans this many epochs or more (LL135's long stretch: "
        "waste whatever the cause) and the last eval is above the curve's best",
    )


@rule(
    "LL160",
    "eval-held",
    kind="overfitting",
    severity=Severity.WARNING,
    family="generalization",
    requires=_BEFORE,
    params=EvalHeldParams(),
)
def eval_held(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """The eval loss stopped improving while the train loss still creeps down.

    Principle: an eval loss that holds while the train loss keeps falling is no under-learning
    (the model still fits its training set) but the start of overfitting: the passes since
    buy nothing that carries over. Many such passes ending above the best eval are waste the
    user should act on; fewer, or a held-out loss still at its best, are worth knowing.

    What it detects:
        Over the second half of 6 evals or more (3 evals or more, at least 2 epochs long,
        started while the LR was at least half the schedule's peak), the eval loss gains and
        loses less than 1% per epoch (Theil-Sen, log) while the train loss over the same
        steps still gains 1% per epoch or more but less than 5% (a faster fall is read by
        LL151; a train loss as flat as the eval loss is a plateau, LL135's) at half its
        first value or more, in a train log that starts with the run. A warning when the
        stretch spans 5 epochs or more (LL135's long stretch: waste whatever the cause) and
        the last eval is above the eval curve's best (the epochs bought nothing on held-out
        data); info otherwise (a rise beyond the curve's noise is LL151's overfitting). Not
        read when the run is broken (non-finite loss, divergence), when LL151 already reads
        the curve as overfitting, when LL153 reads memorization, or in online RL
        (the loss is no progress measure).
    Why it matters:
        The epochs spent since the eval loss stopped improving fit only the training
        examples; the checkpoint where the eval loss was best is the one to keep, and a
        longer run will not make the model better on new data.
    Evidence:
        The stretch's length in epochs, the eval loss's gain per epoch and level over it, and
        the train loss's gain per epoch.
    What to try:
        Early stopping on the eval loss (``load_best_model_at_end`` with
        ``EarlyStoppingCallback``), fewer epochs; more or more varied training data,
        regularization (dropout, weight decay, LoRA dropout) if the eval level is too high.
    """
    p: EvalHeldParams = r.params
    if any(ctx.has(x) is not None for x in _BEFORE) or not loss_measures_progress(ctx):
        return
    st, v = finite(ctx.loss)
    view = eval_view(ctx)
    if ctx.loss is None or ctx.eval_loss is None or view is None or v.size < 5:
        return
    if not log_from_start(ctx) or float(v.min()) <= 0:
        return
    first = float(np.median(v[: head_count(v.size)]))
    held = eval_held_stretch(
        ctx,
        (st.astype(np.float64), v, first),
        epochs=p.stretch_epochs,
        lr_share=p.lr_share,
        gains=(p.flat_gain, p.creep_gain),
        high_share=p.level_share,
    )
    # a train loss as flat as the eval loss is a plateau of both (LL135's), not a model that
    # still fits its training set
    if held is None or held[2] < p.flat_gain:
        return
    note, onset, _, span = held
    # the epochs since bought nothing on held-out data: waste when there were many of them
    # and the held-out loss ended no better than its best (the overfitting itself, a rise
    # beyond the curve's noise, is LL151's)
    wasted = span >= p.waste_epochs and view.best < view.n - 1
    yield r.finding(
        severity=Severity.WARNING if wasted else Severity.INFO,
        title=tr(
            "The eval loss stopped improving at step {s} while the train loss still falls",
            "{s} 스텝부터 평가 손실은 멈췄는데 학습 손실은 계속 내려갑니다",
            s=onset,
        ),
        explanation=tr(
            "The model still fits its training examples, but nothing of it carries over to "
            "the eval set: the epochs since are spent on the training set only. The "
            "checkpoint at step {b} (best eval loss) is the one to keep.",
            "모델이 학습 예제에는 계속 맞춰 가지만 평가 세트로는 이어지지 않습니다. 그 뒤의 "
            "에폭은 학습 세트에만 쓰였습니다. 평가 손실이 가장 낮은 {b} 스텝 체크포인트를 "
            "쓰세요.",
            b=view.best_step,
        ),
        suggestion=tr(
            "Stop on the eval loss (load_best_model_at_end with EarlyStoppingCallback) or "
            "train fewer epochs; for a lower eval level, add data or regularization "
            "(dropout, weight decay, LoRA dropout).",
            "평가 손실 기준으로 멈추거나(load_best_model_at_end와 EarlyStoppingCallback) "
            "에폭을 줄이세요. 평가 수준을 낮추려면 데이터나 정규화(dropout, weight decay, "
            "LoRA dropout)를 늘리세요.",
        ),
        metric=ctx.eval_loss.key,
        step_start=onset,
        step_end=int(view.steps[-1]),
        evidence=note,
        values={
            "best_eval_loss": view.best_value,
            "best_step": view.best_step,
            "last_eval_loss": float(view.values[-1]),
        },
        onset_step=onset,
    )

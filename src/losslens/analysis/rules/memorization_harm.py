"""How LL153 grades memorization by the harm the eval loss shows, and its reading of
classifiers, whose near-zero train loss shows nothing by itself."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from losslens.analysis.context import RunContext
from losslens.analysis.evalview import (
    EvalView,
    eval_move,
    eval_view,
    improving_metric,
    level_excused,
    metric_points,
    task_metrics,
    within_min_scatter,
)
from losslens.analysis.messages import num, tr
from losslens.analysis.rules.base import Rule
from losslens.model import Finding, Severity

if TYPE_CHECKING:
    from losslens.analysis.rules.memorization import MemoParams


def overfits(ctx: RunContext) -> bool:
    """Whether overfitting (LL151) was found at warning or above: harm shown by eval."""
    of = ctx.has("LL151")
    return of is not None and of.severity is not Severity.INFO


def harm_grade(ctx: RunContext, view: EvalView, p: MemoParams) -> Severity:
    """The grade of memorization that the eval loss shows harm for: an error (the result is
    damaged) with a harm of the size LL151 grades an error (LL151 an error, or the evals after
    the best, ``held_evals`` or more of them, ``error_rise`` or more above it, median); a
    smaller one, a stall, a few percent or a rise that one or two evals show, a warning.

    Principle: damage is a harm that holds: one eval after the best, however high, may be
    the curve's own movement (a noisy eval that comes back), as LL151 grades it."""
    of = ctx.has("LL151")
    later = view.values[view.best + 1 :]
    big = (
        later.size >= p.held_evals
        and float(np.median(later)) >= (1 + p.error_rise) * view.best_value
    )
    if big or (of is not None and of.severity is Severity.ERROR):
        return Severity.ERROR
    return Severity.WARNING


def metric_lowered(ctx: RunContext, sev: Severity) -> Severity:
    """One level lower when a logged task metric (accuracy, F1, WER ...) is still improving
    at the last eval, or improved after the eval-loss minimum: the held-out task shows the
    model still generalizes better, whatever the train loss says."""
    if sev is Severity.INFO:
        return sev
    view = eval_view(ctx)
    if view is None or improving_metric(ctx, since=float(view.best_step)) is None:
        return sev
    return Severity.WARNING if sev is Severity.ERROR else Severity.INFO


def metric_holds(ctx: RunContext, min_evals: int) -> bool:
    """With no eval loss, whether the held-out task metrics show no harm: each one logged at
    ``min_evals`` evals or more ends at its best, or within its own typical eval-to-eval move
    of it (the median absolute change between consecutive evals).

    Principle: a held-out metric is an eval set; one that holds its best while the train
    loss went to near zero shows the model answers unseen examples as well as ever, so the
    near-zero loss shows no harm (info), whatever the number of passes."""
    held = False
    for m in task_metrics(ctx):
        _, v = metric_points(ctx, m)
        if v.size < min_evals:
            continue
        if float(np.max(v)) - float(v[-1]) > eval_move(v):
            return False  # worse at the end than its best beyond its own wobble: harm
        held = True
    return held


def classifier_harm(ctx: RunContext, p: MemoParams, end: float) -> EvalView | None:
    """The eval curve of a classifier that learned its examples by heart, else None.

    A classifier's train loss near zero is the normal end of fitting an easy task, so it
    shows nothing by itself; it is learning by heart when the run went on over the same
    examples many times (``class_epochs``, the count the epoch rule calls many) while the
    eval loss, best at least ``class_best_before`` epochs before the end, stayed above that
    best (overfitting at warning, or the level after the best beyond its noise and beyond
    the scatter expected of the lowest of the curve's evals, ``within_min_scatter``), and the
    training examples are fitted ``first_pass_gap`` times tighter than the held-out ones
    (the median eval loss after the best that many times the train loss): a held-out loss
    closer to the train loss shows unseen examples predicted about as well, an eval rise
    that is overfitting (LL151), not learning by heart."""
    e = ctx.epochs
    if e is None or e < p.class_epochs or not end < p.near_zero:
        return None
    view = eval_view(ctx)
    if view is None or view.best + 1 >= view.n:
        return None
    best_epoch = ctx.epoch_at(float(view.best_step))
    if best_epoch is None or e - best_epoch < p.class_best_before:
        return None
    if float(np.median(view.values[view.best + 1 :])) < p.first_pass_gap * end:
        return None  # the held-out examples predicted about as well: nothing learned by heart
    # harm: overfitting at warning, or the level after the best beyond its noise and beyond
    # the scatter the lowest eval of a noisy curve is expected to fall below its level
    excused = level_excused(view.values[view.best :], p.flat_gain, view.noise)
    return view if overfits(ctx) or not (excused or within_min_scatter(view)) else None


def classifier_finding(
    r: Rule,
    ctx: RunContext,
    st: np.ndarray,
    v: np.ndarray,
    end: float,
    view: EvalView,
    p: MemoParams,
) -> Finding:
    assert ctx.loss is not None and ctx.epochs is not None
    level = float(np.median(view.values[view.best + 1 :]))
    kw = {
        "a": num(float(v[0])),
        "b": num(end),
        "e": num(ctx.epochs, 3),
        "m": num(view.best_value),
        "be": num(ctx.epoch_at(float(view.best_step)) or 0.0, 2),
        "l": num(level),
    }
    return r.finding(
        severity=metric_lowered(ctx, harm_grade(ctx, view, p)),
        title=tr(
            "The classifier memorised its training examples (loss {a} → {b})",
            "분류기가 학습 예제를 암기했습니다(손실 {a} → {b})",
            **kw,
        ),
        explanation=tr(
            "After {e} epochs the train loss is {b}: the model fits its training examples "
            "almost perfectly, while the eval loss, best at epoch {be} ({m}), stayed above it "
            "since (median {l}): the passes after the eval best fitted the examples, not the task.",
            "{e} 에폭 후 학습 손실이 {b}입니다. 모델이 학습 예제를 거의 완벽하게 맞히지만, 평가 "
            "손실은 에폭 {be}에서 최저({m})를 찍은 뒤 계속 그보다 높습니다(중앙값 {l}). 그 뒤의 "
            "반복은 과제가 아니라 예제를 맞추는 데 쓰였습니다.",
            **kw,
        ),
        suggestion=tr(
            "Stop at the eval best (early stopping, load_best_model_at_end); train fewer "
            "epochs; add regularization or more examples.",
            "평가 최저점에서 멈추세요(조기 종료, load_best_model_at_end). 에폭을 줄이고, "
            "정규화를 더하거나 예제를 늘리세요.",
        ),
        metric=ctx.loss.key,
        step_start=view.best_step,
        step_end=int(st[-1]),
        evidence=tr(
            "train loss {a} → {b} over {e} epochs; eval loss best {m} at epoch {be}, median {l} "
            "after it",
            "{e} 에폭 동안 학습 손실 {a} → {b}; 평가 손실 최저 {m}(에폭 {be}), 그 뒤 중앙값 {l}",
            **kw,
        ),
        values={
            "loss_start": float(v[0]),
            "loss_end": float(v[-1]),
            "epochs": ctx.epochs,
            "eval_best_step": view.best_step,
            "eval_level_after": level,
        },
        onset_step=view.best_step,
    )

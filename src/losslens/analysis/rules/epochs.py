"""Too many passes over the data: the epoch count, graded by the harm it did."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from losslens.analysis.advice import epochs_suggestion
from losslens.analysis.context import RunContext
from losslens.analysis.evalview import eval_view, useful_until
from losslens.analysis.messages import num, tr
from losslens.analysis.rules.base import Rule, param, rule
from losslens.analysis.rules.common import is_likelihood, near_zero_onset
from losslens.model import Finding, Severity


@dataclass(frozen=True)
class EpochParams:
    info_epochs: float = param(10.0, "epochs from which the count is reported at all (info)")
    many: float = param(10.0, "epochs a memorised run must reach for an error")
    min_epochs_after_best: float = param(
        1.0, "the eval best at least this many epochs before the end shows harm"
    )
    wasted_share: float = param(
        1 / 3,
        "... and the passes after it at least this share of the run (the run 1.5x as long as "
        "it needed): fewer are overfitting that early stopping fixes (LL151), not the count",
    )
    recipe_epochs: float = param(
        3.0, "up to this many epochs (the usual 1-3) the count is never too many: info at most"
    )
    solved_epochs: float = param(
        2.0,
        "with no eval set, this many epochs after the loss reached ~0 in the first pass "
        "(LL155) trained on a solved objective: a warning",
    )
    solved_drop: float = param(
        10.0, "... when its first value was at least this many times the ~0 value reached"
    )
    solved_level: float = param(
        0.105,
        "or, on text tasks, the train level over the last tenth of the first epoch below this "
        "(training tokens at ~90% probability before any example was seen twice)",
    )
    epoch_slack: float = param(
        0.1,
        "the fix trains the whole epochs up to the eval's best (a task metric's, when later), "
        "an epoch end read this far past it still counting as that epoch",
    )


@rule(
    "LL154",
    "too-many-epochs",
    kind="too_many_epochs",
    severity=Severity.WARNING,
    family="memorization",
    requires=("LL151", "LL153", "LL155"),
    params=EpochParams(),
)
def too_many_epochs(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """The run goes over the data too many times for its size.

    Principle: the count is the problem (a warning) when the memorised examples show (with
    no eval set, any count past the usual 3). An eval loss that rose after its best is
    overfitting, one problem that LL151 reports: the passes that led to it are its cause,
    reported as an info with the number of passes to train, not as a second problem. Passes
    over a task the first pass already solved are waste whatever their number: with no eval
    set to show they help, 2 or more of them are a warning.

    What it detects:
        The epochs reached (logged, or steps × effective batch / examples). An epoch count
        alone is worth an info (10 or more), as is one whose eval loss was best one epoch or
        more before the end, and a third of the run or more before it, and rose after it
        (overfitting, LL151, at warning or above): the info then gives the passes up to the
        best. The count is escalated only when the model memorised its examples (LL153 at
        warning or above; an error when that is an error and the epochs reach 10): after 10
        epochs, or, with no eval set, after more than the usual 3 (nothing else dates the
        harm: the passes beyond the recipe did it). When a logged task metric kept improving
        after the eval-loss minimum, the passes up to its best were not wasted: the epoch
        from which the harm counts is the metric's best. Many epochs with no eval set and a
        train loss far from zero stay info: no harm is shown. Up to 3 epochs (the usual 1–3
        passes, the recipe this rule advises) the count is never too many, whatever the eval
        shows: info at most (an eval loss rising after its best there is overfitting,
        LL151), except when the first pass solved the objective (a loss that never goes
        below zero: ~0 within it, LL155, or, on a text task, the median of the last tenth of
        epoch 1 below 0.105 nats, dated where that level was first reached; from 10× that
        value or more) and the run went on for 2 epochs or more with no eval set: those
        passes trained on a solved objective, a warning at any count.
    Why it matters:
        Fine-tuning usually needs 1–3 passes over the data. Each extra pass on a small
        dataset mostly teaches the model to reproduce those examples.
    Evidence:
        The number of epochs and how it follows from steps, batch and data size when known.
    What to try:
        1–3 epochs (``num_train_epochs``), or ``max_steps`` ≈ epochs × examples / effective
        batch; add more data rather than more passes. When the eval loss was best at epoch
        ``b`` (LL151), the passes up to it (``ceil(b)``, or up to a task metric's later best)
        with the best checkpoint kept, in the same numbers and flags.
    """
    p: EpochParams = r.params
    e = ctx.epochs
    if e is None:
        return
    mem = ctx.has("LL153")
    of = ctx.has("LL151")
    best_epoch = useful_epoch = None
    if of is not None and of.severity is not Severity.INFO and of.onset_step is not None:
        best_epoch = ctx.epoch_at(of.onset_step)
        # the passes up to the best of a task metric that kept improving were not wasted
        useful_epoch = ctx.epoch_at(useful_until(ctx, float(of.onset_step)))
    harm = (
        useful_epoch is not None
        and e - useful_epoch >= p.min_epochs_after_best
        and e - useful_epoch >= p.wasted_share * e
    )
    mem_harm = mem is not None and mem.severity is not Severity.INFO
    # no eval set, and the examples memorised (LL153 at warning or above) over more than the
    # usual passes: nothing else dates the harm, the passes beyond the recipe did it, however
    # far below 10 the count is (with an eval set, the eval says when passes began to hurt)
    memorised = mem_harm and e > p.recipe_epochs and eval_view(ctx) is None
    solved = _solved_at(ctx, p, e)
    if not harm and not memorised and solved is None and e < p.info_epochs:
        return
    # the eval loss rising after its best is overfitting, the one problem LL151 reports (with
    # the passes to train); the count that led to it is its cause, worth an info
    sev = Severity.INFO
    if mem is not None and mem_harm:
        by_mem = (
            Severity.ERROR if mem.severity is Severity.ERROR and e >= p.many else Severity.WARNING
        )
        sev = max(sev, by_mem, key=lambda x: x.rank)
    if e <= p.recipe_epochs:
        # the usual 1-3 passes are not too many: what the eval shows is overfitting (LL151)
        sev = Severity.INFO
    if solved is not None:
        # passes over a task the first pass solved, with no eval set to show they help
        sev = max(sev, Severity.WARNING, key=lambda x: x.rank)
    n, bs = ctx.dataset_size, ctx.effective_batch
    steps = ctx.last_step
    if n and bs and steps:
        calc = steps * bs / n
        how = tr(
            "{s} steps × effective batch {b} / {n} examples = {c} epochs",
            "{s} 스텝 × 유효 배치 {b} / 예제 {n}개 = {c} 에폭",
            s=steps,
            b=bs,
            n=n,
            c=num(calc, 3),
        )
        if ctx.epoch is not None and abs(calc - e) > 0.05 * e:
            # The Trainer counts a partial accumulation at each epoch's end as a step, so
            # the logged epoch is the true number of passes; the formula is only a bound.
            how = tr(
                "epoch {e} at step {s} ({n} examples, effective batch {b}; the Trainer "
                "counts each epoch's partial accumulation as a step)",
                "{s} 스텝에서 에폭 {e} (예제 {n}개, 유효 배치 {b}; Trainer는 에폭 끝의 "
                "부분 누적도 한 스텝으로 셉니다)",
                e=num(e, 4),
                s=steps,
                n=n,
                b=bs,
            )
        elif ctx.epoch is not None:
            how = tr("{h} (logged {e})", "{h} (기록 {e})", h=how, e=num(e, 4))
    else:
        how = tr("epoch {e} at step {s}", "{s} 스텝에서 에폭 {e}", e=num(e, 4), s=steps)
    if best_epoch is not None:
        how = tr(
            "{h}; eval loss was best at epoch {b}",
            "{h}; 평가 손실은 에폭 {b}에서 최저",
            h=how,
            b=num(best_epoch, 2),
        )
    if solved is not None:
        how = tr(
            "{h}; the loss was near zero from epoch {z}: {w} epochs on a solved objective, "
            "no eval set",
            "{h}; 에폭 {z}부터 손실 0 근처: 이미 풀린 목표로 {w} 에폭, 평가 세트 없음",
            h=how,
            z=num(solved, 2),
            w=num(e - solved, 2),
        )
    if useful_epoch is not None and best_epoch is not None and useful_epoch > best_epoch:
        how = tr(
            "{h}, a task metric at epoch {b}",
            "{h}, 과제 지표는 에폭 {b}에서 최고",
            h=how,
            b=num(useful_epoch, 2),
        )
    data = tr(" over {n} examples", " (예제 {n}개)", n=n) if n else tr("", "")
    ecount = num(e, 3) if e < 100 else f"{e:.0f}"
    title = tr(
        "Too many epochs: {e} passes over the data",
        "에폭이 너무 많습니다: 데이터를 {e}번 반복",
        e=ecount,
    )
    explanation = tr(
        "The run went over its training data {e} times{d}. Fine-tuning usually needs 1–3 "
        "passes; beyond that, especially on a small dataset, the model mostly learns to "
        "reproduce those examples.",
        "학습 데이터를 {e}번 반복했습니다{d}. 파인튜닝에는 보통 1~3번이면 충분하며, 그 "
        "이상은(특히 데이터가 적을 때) 주로 그 예제들을 그대로 재현하는 법을 배우게 됩니다.",
        e=ecount,
        d=data,
    )
    # with the eval's best (or a task metric's, later) the fix is the passes that helped
    reach = max(best_epoch or 0.0, useful_epoch or 0.0)
    target = max(1, math.ceil(reach - p.epoch_slack))
    log_every = ctx.cfg_num("logging_steps") or ctx.log_interval
    if best_epoch is not None and target < e:
        later = useful_epoch if useful_epoch is not None and useful_epoch > best_epoch else None
        suggestion = epochs_suggestion(
            n, bs, log_every, target, best_epoch=best_epoch, metric_epoch=later
        )
    else:
        suggestion = epochs_suggestion(n, bs, log_every)
    if solved is not None:
        title = tr(
            "Passes over a solved task: {w} of {e} epochs",
            "이미 풀린 과제를 반복 학습: {e} 에폭 중 {w} 에폭",
            w=num(e - solved, 2),
            e=ecount,
        )
        explanation = tr(
            "The loss was near zero from epoch {z}, within the first pass; every pass after that "
            "trained on an objective already solved, and with no eval set nothing shows "
            "that it helped.",
            "에폭 {z}부터, 첫 반복 안에서 손실이 0 근처였습니다. 그 뒤의 반복은 모두 이미 "
            "풀린 목표를 학습했고, 평가 세트가 없어 도움이 되었다는 근거가 없습니다.",
            z=num(solved, 2),
        )
        suggestion = tr(
            "Train one epoch (or stop early), add an eval set to see what the extra passes "
            "do, and check whether the answers are templated or leak into the inputs.",
            "1 에폭만 학습하거나 조기 종료하고, 추가 반복의 효과를 보려면 평가 세트를 "
            "추가하세요. 정답이 템플릿이거나 입력에 새어 들어가지 않았는지도 확인하세요.",
        )
    yield r.finding(
        severity=sev,
        title=title,
        explanation=explanation,
        suggestion=suggestion
        or tr(
            "Use 1–3 epochs (num_train_epochs), or max_steps ≈ epochs × examples / effective "
            "batch; add more data rather than more passes.",
            "1~3 에폭(num_train_epochs)으로 줄이거나 max_steps ≈ 에폭 × 예제 수 / 유효 배치로 "
            "맞추세요. 반복을 늘리기보다 데이터를 늘리세요.",
        ),
        metric=ctx.epoch.key if ctx.epoch is not None else (ctx.loss.key if ctx.loss else "epoch"),
        step_start=None,
        step_end=ctx.last_step or None,
        evidence=how,
        values={"epochs": e}
        | ({"examples": n} if n else {})
        | ({"effective_batch": bs} if bs else {})
        | ({"best_epoch": best_epoch} if best_epoch is not None else {}),
        onset_step=None,
    )


def _solved_at(ctx: RunContext, p: EpochParams, epochs: float) -> float | None:
    """The epoch at which the first pass solved the objective, when no eval set is logged,
    the loss fell there from ``solved_drop`` times its level or more, and the run went on for
    ``solved_epochs`` or more after it (of ``epochs`` in all): the loss ~0 within the first
    pass (LL155), or, on text tasks, a level below ``solved_level`` over the last tenth of
    the first epoch (the median of its logs, at least 3), dated where it was first reached."""
    if eval_view(ctx) is not None or ctx.loss is None:
        return None
    first = ctx.loss.finite.values
    if not first.size or not is_likelihood(first):
        return None
    easy = ctx.has("LL155")
    if easy is not None:
        ep, level = easy.evidence.values.get("epoch"), float(easy.evidence.values["loss"])
    elif ctx.text_task and ctx.epoch is not None and len(ctx.epoch.finite) >= 2:
        e = ctx.epoch.finite
        st = ctx.loss.finite.steps.astype(float)
        at = np.interp(st, e.steps.astype(float), e.values)
        tail = first[(at > 0.9) & (at <= 1.0)]
        if tail.size < 3 or float(np.median(tail)) >= p.solved_level:
            return None
        # dated as a level, as LL153 dates it: one lucky batch does not date it
        i = near_zero_onset(first, p.solved_level)
        ep, level = float(at[i]), float(np.median(tail))
    else:
        return None
    if float(first[0]) < p.solved_drop * level:
        return None
    if not isinstance(ep, (int, float)) or epochs - ep < p.solved_epochs:
        return None
    return float(ep)

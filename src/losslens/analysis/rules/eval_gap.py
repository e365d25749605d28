"""The train-eval gap (LL152): an eval loss far above the train loss, and growing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from losslens.analysis.context import RunContext
from losslens.analysis.evalview import eval_view, still_improving, train_around, within_noise
from losslens.analysis.messages import num, tr
from losslens.analysis.rules.base import Rule, param, rule
from losslens.analysis.rules.common import finite
from losslens.model import Finding, Severity


@dataclass(frozen=True)
class GapParams:
    ratio: float = param(1.5, "eval loss at least this many times the train-loss level")
    gap: float = param(0.3, "... and at least this much higher (nats)")
    min_evals: int = param(2, "evals needed to call the eval loss not getting worse (then info)")
    flat_gain: float = param(0.01, "the last eval within this much of the best (or ...")
    flat_noise: float = param(2.0, "... this many eval noise sds) is not getting worse")


@rule(
    "LL152",
    "eval-gap",
    kind="eval_gap",
    severity=Severity.WARNING,
    family="generalization",
    requires=("LL111", "LL151"),
    params=GapParams(),
)
def eval_gap(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """The eval loss is far above the train loss.

    Principle: one harm, one warning: where the eval loss moved away from its best
    (overfitting, LL151, at warning or above), the gap is that harm's evidence, an info.

    What it detects:
        At the last evaluation, eval loss at least 1.5× the train-loss level at that step
        and at least 0.3 higher. The level is the median of the train logs within half an
        eval interval of the eval (the same stretch of training): one train log is one noisy
        batch when logging often, and a wider window would mix in far-away logs when
        logging rarely. Eval loss below train loss (common with
        dropout or contrastive losses) is not reported, nor is a gap in a run that diverged
        (LL111 error). Info when the eval loss (2 evals or more) is not getting worse: at the
        last eval still at, or within 1% and 2 noise standard deviations of, its best (however
        long it has been flat), with no overfitting (LL151) at warning or above; info too
        when overfitting is found at warning or above, which names the harm. A gap that
        stays while the held-out loss holds its level is worth knowing; harm is the eval loss
        moving away from its best.
    Why it matters:
        A large gap means the model does much better on examples it has seen than on new
        ones: it generalizes poorly, whether or not the eval loss is rising yet.
    Evidence:
        Eval and train loss at the last eval, the ratio, and the gap at the first eval.
    What to try:
        Fewer epochs or steps, a lower learning rate, more (and more varied) data, LoRA
        dropout; make sure train and eval come from the same distribution.
    """
    est, ev = finite(ctx.eval_loss)
    if ctx.eval_loss is None or ev.size < 1 or ctx.loss is None:
        return
    div = ctx.has("LL111")
    if div is not None and div.severity is Severity.ERROR:
        return  # a run that blew up: the gap says nothing about generalization
    pairs = []
    for s, e in zip(est.tolist(), ev.tolist(), strict=True):
        t = train_around(ctx, s, est)
        if t is not None and t > 0:
            pairs.append((int(s), e, t))
    if not pairs:
        return
    s1, e1, t1 = pairs[-1]
    p: GapParams = r.params
    if not (e1 >= p.ratio * t1 and e1 - t1 >= p.gap):
        return
    s0, e0, t0 = pairs[0]
    # an eval loss that is not getting worse (at, or within its noise of, its best at the
    # last eval, however long it has been flat) with no overfitting found shows no harm from
    # training on: the gap is worth knowing (the model fits its examples better than new
    # ones), not a warning
    view = eval_view(ctx)
    of = ctx.has("LL151")
    improving = (
        view is not None
        and view.n >= p.min_evals
        and (of is None or of.severity is Severity.INFO)
        and (still_improving(ctx, view) or within_noise(view, p.flat_gain, p.flat_noise))
    )
    # overfitting found at warning or above names the harm: the gap is its evidence (info),
    # as readers label it (one harm, one warning)
    named = of is not None and of.severity is not Severity.INFO
    first = (
        tr(
            "; gap {g0} at step {s0} → {g1} at step {s1}",
            "; 격차 {s0} 스텝 {g0} → {s1} 스텝 {g1}",
            g0=num(e0 - t0),
            s0=s0,
            g1=num(e1 - t1),
            s1=s1,
        )
        if len(pairs) >= 2
        else tr("", "")
    )
    yield r.finding(
        severity=Severity.INFO if improving or named else Severity.WARNING,
        title=tr(
            "Eval loss is far above train loss",
            "평가 손실이 학습 손실보다 훨씬 높습니다",
        ),
        explanation=tr(
            "At step {s} the eval loss is {e} against a train loss of {t} ({x}×): the model "
            "does much better on examples it has seen than on new ones.",
            "{s} 스텝에서 평가 손실은 {e}, 학습 손실은 {t}입니다({x}배). 모델이 본 적 있는 "
            "예제는 잘 맞히지만 새로운 예제는 훨씬 못 맞힙니다.",
            s=s1,
            e=num(e1),
            t=num(t1),
            x=num(e1 / t1, 2),
        ),
        suggestion=tr(
            "Train fewer epochs or steps, lower the learning rate, add more varied data or "
            "LoRA dropout; make sure the eval split comes from the same distribution as train.",
            "에폭이나 스텝 수를 줄이고, 학습률을 낮추고, 더 다양한 데이터나 LoRA 드롭아웃을 "
            "추가하세요. 평가 데이터가 학습 데이터와 같은 분포인지 확인하세요.",
        ),
        metric=ctx.eval_loss.key,
        step_start=pairs[0][0],
        step_end=s1,
        evidence=tr(
            "eval {e} vs train {t} at step {s} (ratio {x}){f}",
            "{s} 스텝 평가 {e} vs 학습 {t} (비율 {x}){f}",
            e=num(e1),
            t=num(t1),
            s=s1,
            x=num(e1 / t1, 2),
            f=first,
        ),
        values={"eval_loss": e1, "train_loss": t1, "ratio": e1 / t1, "gap": e1 - t1},
        onset_step=next(s for s, e, t in pairs if e >= p.ratio * t and e - t >= p.gap),
    )

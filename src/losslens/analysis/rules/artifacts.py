"""Logging artifacts that make a healthy run look wrong."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from losslens.analysis.context import RunContext
from losslens.analysis.messages import num, tr
from losslens.analysis.rules.base import Rule, rule
from losslens.analysis.rules.common import finite, train_level_near
from losslens.model import Finding, Severity

#: transformers releases with gradient-accumulation loss-scale bugs in the logged loss.
KNOWN_BAD = ("4.46.", "4.47.0", "4.47.1", "4.50.3")


@rule("LL161", "ga-loss-scale", kind="other", severity=Severity.WARNING, family="artifacts")
def ga_loss_scale(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """The logged train loss is scaled by the gradient-accumulation factor.

    What it detects:
        With ``gradient_accumulation_steps`` (GA) of 2 or more and at least two evals: the
        ratio of the train-loss level (as in eval-gap) to the eval loss, at every eval, lies
        between 0.8×GA and 1.25×GA and is stable
        (coefficient of variation under 20%). Some transformers releases (4.46–4.47, Gemma-3 in
        4.50.3) logged the loss summed over the accumulation steps instead of averaged.
    Why it matters:
        The model is fine but the number printed as "loss" is GA times too large, so it
        cannot be compared with other runs and looks like the model is not learning.
    Evidence:
        The ratios at each eval, GA, and the transformers version when known.
    What to try:
        Compare runs on eval loss only; upgrade transformers; compare runs with the same GA.
    """
    ga = ctx.gradient_accumulation
    est, ev = finite(ctx.eval_loss)
    if not ga or ga < 2 or ev.size < 2 or ctx.eval_loss is None:
        return
    ratios = []
    for s, e in zip(est.tolist(), ev.tolist(), strict=True):
        t = train_level_near(ctx, s)
        if t is not None and e > 0:
            ratios.append(t / e)
    if len(ratios) < 2:
        return
    arr = np.asarray(ratios)
    med = float(np.median(arr))
    cv = float(np.std(arr) / np.mean(arr))
    if not (0.8 * ga <= med <= 1.25 * ga) or cv >= 0.2:
        return
    version = str(ctx.cfg("transformers_version") or "")
    ver = (
        tr(
            "; transformers {v} is a known-affected release",
            "; transformers {v}는 문제가 알려진 버전",
            v=version,
        )
        if version.startswith(KNOWN_BAD)
        else tr("", "")
    )
    yield r.finding(
        title=tr(
            "The logged loss is scaled by gradient accumulation",
            "기록된 손실이 그래디언트 누적 배수만큼 커져 있습니다",
        ),
        explanation=tr(
            "The train loss is consistently about {x}× the eval loss, and gradient "
            "accumulation is {g}. Some transformers versions log the loss summed over the "
            "accumulation steps: the model is fine, the printed number is not.",
            "학습 손실이 평가 손실의 약 {x}배로 일정하고, 그래디언트 누적은 {g}입니다. 일부 "
            "transformers 버전은 누적 스텝에 걸친 손실의 합을 기록합니다. 모델은 정상이고, "
            "출력된 숫자가 잘못된 것입니다.",
            x=num(med, 2),
            g=ga,
        ),
        suggestion=tr(
            "Compare runs on eval loss only; upgrade transformers; compare runs with the same "
            "gradient_accumulation_steps.",
            "실행끼리는 평가 손실로만 비교하고, transformers를 업그레이드하고, "
            "gradient_accumulation_steps가 같은 실행끼리 비교하세요.",
        ),
        metric=ctx.loss.key if ctx.loss is not None else ctx.eval_loss.key,
        step_start=int(est[0]),
        step_end=int(est[-1]),
        evidence=tr(
            "train/eval ratio {r} at {n} evals; gradient_accumulation_steps {g}{v}",
            "평가 {n}회에서 학습/평가 비율 {r}; gradient_accumulation_steps {g}{v}",
            r=", ".join(num(x, 2) for x in ratios[:6]),
            n=len(ratios),
            g=ga,
            v=ver,
        ),
        values={"median_ratio": med, "gradient_accumulation_steps": ga},
        onset_step=int(est[0]),
    )

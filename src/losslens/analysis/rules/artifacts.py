"""Logging artifacts that make a healthy run look wrong.

A train loss multiplied by the gradient-accumulation factor is also corrected here, before the
rules run (:func:`rescale_loss`, called by the engine right after the context is built).
Some transformers releases (4.46–4.47, Gemma-3 in 4.50.3) logged the train loss summed over
the accumulation steps instead of averaged; read as it is it looks like a loss far above the
eval loss or, when the bug starts mid-run, like a sudden sustained rise. The signature needs
no config: at every evaluation from some point on the train-loss level is the same integer
multiple (2 or more) of the eval loss.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from losslens.analysis.context import RunContext
from losslens.analysis.messages import num, tr
from losslens.analysis.rules.base import Rule, param, rule
from losslens.analysis.rules.common import finite, train_level_near
from losslens.model import Finding, Series, Severity

#: transformers releases with gradient-accumulation loss-scale bugs in the logged loss.
KNOWN_BAD = ("4.46.", "4.47.0", "4.47.1", "4.50.3")


@dataclass(frozen=True)
class RescaleParams:
    min_evals: int = param(3, "evaluations showing the multiple")
    tolerance: float = param(0.12, "|ratio / k - 1| at every one of them")
    max_cv: float = param(0.12, "spread of the ratios (coefficient of variation)")
    max_factor: int = param(64, "larger multiples are not gradient accumulation")
    min_evals_ga: int = param(2, "with gradient_accumulation_steps (GA) known: evals needed")
    ga_band: tuple[float, float] = param((0.75, 1.33), "... median train/eval ratio within GA x")
    ga_cv: float = param(0.3, "... and a spread (coefficient of variation) under this")


PARAMS = RescaleParams()


def detect_scale(ctx: RunContext, p: RescaleParams = PARAMS) -> tuple[int, int] | None:
    """``(factor, from_step)`` when the train loss is an integer multiple of the eval loss."""
    est, ev = finite(ctx.eval_loss)
    ga = ctx.gradient_accumulation
    if ctx.loss is None or ev.size < (p.min_evals_ga if ga and ga >= 2 else p.min_evals):
        return None
    ratios = []
    for s, e in zip(est.tolist(), ev.tolist(), strict=True):
        t = train_level_near(ctx, s)
        ratios.append(t / e if t is not None and e > 0 else float("nan"))
    r = np.asarray(ratios)
    ok = np.isfinite(r)
    if ga and ga >= 2 and ok.sum() >= p.min_evals_ga:
        # the config names the factor: a looser band around it is enough evidence
        med = float(np.median(r[ok]))
        cv = float(np.std(r[ok]) / np.mean(r[ok]))
        if p.ga_band[0] * ga <= med <= p.ga_band[1] * ga and cv < p.ga_cv:
            return int(ga), int(ctx.loss.steps[0])
    if ok.sum() < p.min_evals:
        return None
    # the multiple holds over a suffix of the evals (the whole run, or from a change point)
    for start in range(0, int(r.size) - p.min_evals + 1):
        tail = r[start:]
        if not np.all(np.isfinite(tail)):
            continue
        k = round(float(np.median(tail)))
        if k < 2 or k > p.max_factor:
            continue
        if np.any(np.abs(tail / k - 1) > p.tolerance):
            continue
        if float(np.std(tail) / np.mean(tail)) > p.max_cv:
            continue
        ga = ctx.gradient_accumulation
        if ga is not None and ga >= 2 and ga != k:
            return None  # a multiple that is not the configured accumulation
        if start == 0:
            return k, int(ctx.loss.steps[0])
        # from a change point: halfway between the last normal eval and the first scaled one
        return k, int((est[start - 1] + est[start]) // 2) + 1
    return None


def rescale_loss(ctx: RunContext) -> None:
    """Divide the train loss by the detected factor from where it applies (in the context
    only: the stored run keeps its numbers) and record it in ``ctx.loss_scale``."""
    found = detect_scale(ctx)
    if found is None or ctx.loss is None:
        return
    k, from_step = found
    s = ctx.loss
    values = s.values.copy()
    sel = s.steps >= from_step
    values[sel] = values[sel] / k
    ctx.loss = Series(s.key, s.steps, values, s.wall_times)
    ctx.loss_scale = found


@rule(
    "LL161",
    "ga-loss-scale",
    kind="other",
    severity=Severity.WARNING,
    family="artifacts",
    params=PARAMS,
)
def ga_loss_scale(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """The logged train loss is multiplied by the gradient-accumulation factor.

    What it detects:
        At 3 evaluations or more (all of them, or all from some point on), the train-loss
        level (as in eval-gap) is the same integer multiple k ≥ 2 of the eval loss: within
        12% of k at each, with a spread (coefficient of variation) under 12%. No config is
        needed; when ``gradient_accumulation_steps`` (GA) is known it must equal k, and then
        2 evals whose median ratio is within 0.75–1.33× GA (spread under 30%) are enough. Some
        transformers releases (4.46–4.47, Gemma-3 in 4.50.3) logged the loss summed over the
        accumulation steps instead of averaged. The train loss is divided by k (from where
        the multiple starts) before every other rule reads it, so the artifact is not taken
        for a gap, a rise or divergence. A warning: the model is fine but every loss number
        the run printed is wrong until transformers is fixed.
    Why it matters:
        The number printed as "loss" is k times too large, so it cannot be compared with
        other runs or with the eval loss, and a change of scale mid-run looks like the loss
        jumping up.
    Evidence:
        The factor, the ratios at each eval, the step it starts, GA and the transformers
        version when known.
    What to try:
        Compare runs on eval loss only; upgrade transformers; compare runs with the same GA.
    """
    if ctx.loss_scale is None or ctx.loss is None:
        return
    k, from_step = ctx.loss_scale
    est, ev = finite(ctx.eval_loss)
    ratios = []
    for s, e in zip(est.tolist(), ev.tolist(), strict=True):
        t = train_level_near(ctx, s)  # already divided back by k
        if t is not None and e > 0 and s >= from_step:
            ratios.append(k * t / e)
    if not ratios:
        return
    med = float(np.median(ratios))
    ga = ctx.gradient_accumulation or k
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
        step_start=from_step,
        step_end=int(est[-1]),
        evidence=tr(
            "train/eval ratio {r} at {n} evals; gradient_accumulation_steps {g}{v}",
            "평가 {n}회에서 학습/평가 비율 {r}; gradient_accumulation_steps {g}{v}",
            r=", ".join(num(x, 2) for x in ratios[:6]),
            n=len(ratios),
            g=ga,
            v=ver,
        ),
        values={"median_ratio": med, "gradient_accumulation_steps": ga, "from_step": from_step},
        onset_step=from_step,
    )

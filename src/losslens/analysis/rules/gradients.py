"""Gradient norms that report no update: frozen at one value, exactly zero, or vanishing while
the loss is still high."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from losslens.analysis import signals
from losslens.analysis.chance import near_uniform
from losslens.analysis.context import RunContext
from losslens.analysis.messages import num, tr
from losslens.analysis.progress_signal import loss_is_cross_entropy
from losslens.analysis.rules.base import Rule, param, rule
from losslens.analysis.rules.common import finite
from losslens.model import Finding, Severity


@dataclass(frozen=True)
class FrozenGradParams:
    min_logs: int = param(10, "logged gradient norms needed")
    digits: int = param(6, "significant digits to which all of them are equal")


@rule(
    "LL104",
    "frozen-grad-norm",
    kind="other",
    severity=Severity.ERROR,
    family="numerics",
    params=FrozenGradParams(),
)
def frozen_grad_norm(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """The gradient norm is the same number at every log.

    What it detects:
        Ten logged gradient norms or more, all positive and equal to six significant digits.
    Why it matters:
        Real gradients change from batch to batch. A constant norm (e.g. exactly 1.7320508,
        the square root of 3) is the signature of a broken kernel or library combination: the
        reported gradients are not the model's.
    Evidence:
        The constant value and how many logs show it.
    What to try:
        Check the environment (transformers/peft/torch versions, a recent upgrade), run a few
        steps without custom kernels (flash-attention, Liger, Unsloth patches) and compare.
    """
    p: FrozenGradParams = r.params
    g = ctx.grad_norm
    if g is None:
        return
    v = g.finite.values
    if v.size < p.min_logs or not (v > 0).all():
        return
    # rounding to significant digits is monotonic: every value rounds alike exactly when
    # the smallest and the largest do (no set of every rounded value)
    if float(f"{float(v.min()):.{p.digits}g}") != float(f"{float(v.max()):.{p.digits}g}"):
        return
    yield r.finding(
        title=tr("The gradient norm never changes", "그래디언트 노름이 전혀 변하지 않습니다"),
        explanation=tr(
            "Every logged gradient norm is exactly {v}. Real gradients vary from batch to "
            "batch, so these numbers do not come from the model: something in the software "
            "stack is broken.",
            "기록된 그래디언트 노름이 모두 정확히 {v}입니다. 실제 그래디언트는 배치마다 "
            "달라지므로 이 값은 모델에서 나온 것이 아닙니다. 소프트웨어 구성 어딘가가 "
            "고장 난 것입니다.",
            v=num(float(v[0]), 8),
        ),
        suggestion=tr(
            "Check a recent upgrade of transformers/peft/torch; run a few steps without custom "
            "kernels (flash-attention, Liger, Unsloth patches) and compare.",
            "최근 transformers/peft/torch 업그레이드를 확인하고, 커스텀 커널(flash-attention, "
            "Liger, Unsloth 패치) 없이 몇 스텝 돌려 비교해 보세요.",
        ),
        metric=g.key,
        step_start=int(g.finite.steps[0]),
        step_end=int(g.finite.steps[-1]),
        evidence=tr(
            "grad_norm = {v} at all {n} logs",
            "grad_norm이 로그 {n}개 모두에서 {v}",
            v=num(float(v[0]), 8),
            n=int(v.size),
        ),
        values={"grad_norm": float(v[0]), "points": int(v.size)},
        onset_step=int(g.finite.steps[0]),
    )


@dataclass(frozen=True)
class ZeroGradParams:
    min_logs: int = param(10, "logged gradient norms needed")
    share: float = param(
        0.5, "share of logs with a gradient norm of exactly 0: that many optimizer steps do nothing"
    )


@rule(
    "LL105",
    "zero-gradient-steps",
    kind="grad_vanishing",
    severity=Severity.WARNING,
    family="numerics",
    requires=("LL102", "LL134"),
    params=ZeroGradParams(),
)
def zero_gradient_steps(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """A gradient norm of exactly 0 is a step that changed nothing, whatever the loss says.

    What it detects:
        Half or more of the logged gradient norms exactly 0.0 (ten logs at least), with zero
        and non-zero norms mixed in both halves of the log while the loss at the zero logs is
        positive: batches that carry no supervised token (a warning: half the optimizer steps
        are wasted). A norm of 0 at every log is LL134 (or LL103 when the loss is 0 as well:
        nothing is supervised); a norm that turns 0 for good after a blow-up is a dead
        network, which the divergence and LR readings describe.
    Why it matters:
        A real gradient of a positive loss is never exactly 0. An exact 0 means the batch had
        no target token (every label -100: answers cut off by the maximum length, a template
        that does not match) or no trainable weight received a gradient; those steps only
        advance the schedule.
    Evidence:
        How many logs have a gradient norm of exactly 0, and the loss there.
    What to try:
        Count the labels that are not -100 per batch; raise ``max_seq_length`` or drop the
        examples whose answer is truncated away; check the response template.
    """
    p: ZeroGradParams = r.params
    g = ctx.grad_norm
    if g is None or ctx.loss is None or ctx.has("LL102"):
        return
    gst, gv = g.finite.steps, g.finite.values
    if gv.size < p.min_logs:
        return
    zero = gv == 0.0
    n = int(zero.sum())
    if n == 0 or zero.all():
        return  # none, or none at any log: LL134 (LL103 when the loss is 0 as well)
    if n < p.share * gv.size or ctx.has("LL134"):
        return  # (LL134 already reports the norm that collapsed)
    half = gv.size // 2
    if not all(zero[a:b].any() and (~zero[a:b]).any() for a, b in ((0, half), (half, gv.size))):
        return  # not mixed through the run: a norm that turns 0 for good is a dead network
    lst, lv = ctx.loss.finite.steps, ctx.loss.finite.values
    at = lv[np.isin(lst, gst[zero])]
    if at.size < 0.5 * n or float(np.median(at)) <= 0:
        return  # the loss at those logs is not seen, or is 0 too (nothing supervised)
    share = n / gv.size
    yield r.finding(
        title=tr("Many steps have no gradient at all", "많은 스텝에서 그래디언트가 전혀 없습니다"),
        explanation=tr(
            "The gradient norm is exactly 0 at {p} of the logs while the loss there is "
            "positive: those batches carry no supervised token (or reach no trainable "
            "weight), so their optimizer steps change nothing.",
            "손실이 양수인데도 로그의 {p}에서 그래디언트 노름이 정확히 0입니다. 그 배치들에는 "
            "감독되는 토큰이 없거나 학습 가능한 가중치에 닿지 않아, 해당 옵티마이저 스텝은 "
            "아무것도 바꾸지 않습니다.",
            p=f"{share * 100:.0f}%",
        ),
        suggestion=tr(
            "Count the labels that are not -100 in each batch; raise max_seq_length or drop "
            "the examples whose answer is cut off; check the response template.",
            "배치마다 -100이 아닌 라벨 수를 세어 보세요. max_seq_length를 늘리거나 답변이 "
            "잘리는 예제를 빼고, 응답 템플릿을 확인하세요.",
        ),
        metric=g.key,
        step_start=int(gst[0]),
        step_end=int(gst[-1]),
        evidence=tr(
            "grad_norm exactly 0 at {n} of {t} logs ({p}), in both halves of the run; median "
            "loss at those logs {l}",
            "로그 {t}개 중 {n}개({p})에서 grad_norm이 정확히 0(실행 전반·후반 모두); 그 로그의 "
            "손실 중앙값 {l}",
            n=n,
            t=int(gv.size),
            p=f"{share * 100:.0f}%",
            l=num(float(np.median(at))),
        ),
        values={"zero_grad_logs": n, "points": int(gv.size), "share": share},
        onset_step=int(gst[int(np.argmax(zero))]),
    )


@dataclass(frozen=True)
class VanishParams:
    min_logs: int = param(8, "gradient-norm logs needed for a collapse")
    zero_logs: int = param(
        3,
        "... and for a norm of exactly 0 at every log (a level, not a trend: no noise to wait out)",
    )
    early: float = param(0.2, "the early level: median of this first share of the logs")
    late: float = param(0.25, "the late level: median of this last share of the logs")
    collapse: float = param(1e-3, "late below this share of early: the gradients vanished")
    short_logs: int = param(
        5, "fewer logs than min_logs, but at least this many: the first log is the early level"
    )
    short_collapse: float = param(
        1e-4,
        "... and the last 3 logs' median must be below this share of it (a log too short"
        " for two windows: ten times the bar, so one odd first log cannot make a collapse)",
    )
    loss_floor: float = param(0.1, "... while the late loss is above this (not converged)")
    falling: float = param(
        0.98,
        "... and no longer falling: the last 30% of the second half of the loss logs "
        "is not below this share of its first 30%",
    )
    frozen_logs: int = param(5, "logs of loss and gradient norm needed for a frozen loss")
    frozen: float = param(
        0.005, "a frozen loss: every log within this share of its median (max - min)"
    )
    tiny: float = param(
        0.01, "... at a uniform guess over a large vocabulary, with a median gradient below this"
    )


@rule(
    "LL134",
    "vanishing-gradients",
    kind="grad_vanishing",
    severity=Severity.WARNING,
    family="progress",
    requires=("LL103",),
    params=VanishParams(),
)
def vanishing_gradients(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """The gradient norm is zero, or collapses, while the loss is still high.

    What it detects:
        Every logged gradient norm exactly 0 (3 logs or more; error: no gradient reaches
        the trainable weights), or, over 8 logs or more, the median of the last 25% of logs
        below 1/1000 of the first 20% (3 logs each at least) while the loss is still above
        0.1 and no longer falling, or above 0 and below 1/10,000 of the first log (a collapse
        inside the first 20%, which its median hides). A log of 5 to 7 gradient norms is too
        short for two windows of 3: there the median of the last 3 must be below 1/10,000 of
        the first log, and the loss no longer falling means its second half is no lower than
        the best of its first half. Tiny
        gradients on a loss near zero are the consequence of having nothing left to learn
        and are not reported. With no earlier level to fall from: a token cross-entropy
        frozen at a uniform guess over a large vocabulary (5 logs or more, every one within
        0.5% of their median, which is ln 1000 ≈ 6.9 nats or more and a plausible per-token
        mean) while the median gradient norm is above 0 and below 0.01.

    Principle: a gradient norm that falls four decades from the first log (a first step may
    be ten times the usual level, not ten thousand) has vanished however few the logs, and a
    loss that then does not get below its early best is not converging. A model that guesses
    uniformly misplaces nearly all of its probability on
    every token, so the gradient of its loss is far from small; a loss that does not move
    at all at that level, with a gradient norm in the thousandths, says the gradient does not
    reach the weights that would change the output. The same frozen loss with an ordinary
    gradient norm is a run that is not learning for another reason (LL131), not this one.
    Why it matters:
        Without gradient the weights do not change. The usual cause with PEFT is gradient
        checkpointing with frozen inputs, so no gradient reaches the adapters.
    Evidence:
        Early and late median gradient norms and the loss; for a frozen loss, its level and
        the median gradient norm.
    What to try:
        Call ``model.enable_input_require_grads()`` or use ``gradient_checkpointing_kwargs=
        {"use_reentrant": False}``; check ``print_trainable_parameters()`` and the
        ``target_modules`` names.
    """
    p: VanishParams = r.params
    st, g = finite(ctx.grad_norm)
    _lst, lv = finite(ctx.loss)
    if ctx.grad_norm is None or g.size < p.zero_logs or ctx.has("LL103"):
        return  # (a loss of 0 from the start has no gradient: LL103 says why)
    fix = tr(
        "Call model.enable_input_require_grads() or pass gradient_checkpointing_kwargs="
        '{{"use_reentrant": False}}; check print_trainable_parameters() and the target_modules '
        "names.",
        "model.enable_input_require_grads()를 호출하거나 gradient_checkpointing_kwargs="
        '{{"use_reentrant": False}}를 넘기세요. print_trainable_parameters()와 target_modules '
        "이름을 확인하세요.",
    )
    if np.all(g == 0):
        yield r.finding(
            severity=Severity.ERROR,
            title=tr("There is no gradient at all", "그래디언트가 전혀 없습니다"),
            explanation=tr(
                "Every logged gradient norm is exactly 0: no gradient reaches the trainable "
                "weights, so the model cannot change.",
                "기록된 그래디언트 노름이 모두 정확히 0입니다. 학습 가능한 가중치에 그래디언트가 "
                "전혀 닿지 않아 모델이 바뀔 수 없습니다.",
            ),
            suggestion=fix,
            metric=ctx.grad_norm.key,
            step_start=int(st[0]),
            step_end=int(st[-1]),
            evidence=tr(
                "grad_norm = 0 at all {n} logs", "grad_norm이 로그 {n}개 모두에서 0", n=g.size
            ),
            values={"points": int(g.size)},
            onset_step=int(st[0]),
        )
        return
    level = float(np.median(lv)) if lv.size else math.nan
    grad = float(np.median(g))
    if (
        g.size >= p.frozen_logs
        and lv.size >= p.frozen_logs
        and loss_is_cross_entropy(ctx)
        and near_uniform(level)
        and float(np.ptp(lv)) <= p.frozen * level
        and 0 < grad < p.tiny
    ):
        # no earlier level to fall from: the level itself says the gradient is missing
        explanation = tr(
            "The loss does not move from {l}, the score of a uniform guess over about {k} "
            "tokens, while the gradient norm stays near {g}: a model that guesses uniformly "
            "should get a large gradient, so it does not reach the weights that would change "
            "the output.",
            "손실이 약 {k}개 토큰 중 균등 추측의 점수인 {l}에서 움직이지 않고 그래디언트 "
            "노름은 {g} 근처에 머뭅니다. 균등하게 추측하는 모델은 큰 그래디언트를 받아야 "
            "하므로, 출력을 바꿀 가중치에 그래디언트가 닿지 않고 있습니다.",
            l=num(level),
            k=f"{math.exp(level):,.0f}",
            g=num(grad),
        )
        evidence = tr(
            "loss {l} at every log (within {w}); median grad_norm {g}",
            "모든 로그에서 손실 {l}({w} 이내); grad_norm 중앙값 {g}",
            l=num(level),
            w=f"{p.frozen * 100:g}%",
            g=num(grad),
        )
        values = {"loss_level": level, "grad_median": grad}
    else:
        short = first = g.size < p.min_logs
        if g.size < (p.short_logs if short else p.min_logs) or lv.size < 4:
            return
        late = float(np.median(signals.tail(g, p.late, lo=3)))
        loss_late = float(np.median(signals.tail(lv, p.late, lo=min(3, lv.size))))
        half = lv[lv.size // 2 :]
        if short:
            # too few logs for two windows of 3: the first log is the early level, with a
            # bar ten times as strict
            early, bar = float(g[0]), p.short_collapse
            still_falling = float(np.median(half)) < p.falling * float(lv[: lv.size // 2].min())
        else:
            # at least 3 logs per window: the median of 2 is their mean, which one odd log
            # (the first step's gradient before a collapse) sets on its own
            early, bar = float(np.median(signals.head(g, p.early, lo=3))), p.collapse
            if late >= bar * early and 0 < late < p.short_collapse * float(g[0]):
                # collapsed within the first window: four decades below the first log (the
                # short log's bar) is a collapse however long the log (to exactly 0 for
                # good: a dead network, which the divergence and LR readings describe)
                early, bar, first = float(g[0]), p.short_collapse, True
            still_falling = half.size >= 4 and float(
                np.median(signals.tail(half, 0.3))
            ) < p.falling * float(np.median(signals.head(half, 0.3)))
        if early <= 0 or late >= bar * early or loss_late <= p.loss_floor or still_falling:
            return
        explanation = tr(
            "The gradient norm fell from about {a} to {b} (more than {k}×) while the loss "
            "stays at {l}: the weights have almost stopped changing, but the model has not "
            "learned the data.",
            "손실이 {l}에 머무는 동안 그래디언트 노름이 약 {a}에서 {b}까지({k}배 이상) "
            "줄었습니다. 가중치가 거의 바뀌지 않지만 모델은 데이터를 배우지 못했습니다.",
            a=num(early),
            b=num(late),
            l=num(loss_late),
            k=f"{1 / bar:,.0f}",
        )
        evidence = tr(
            "grad_norm {a} ({w}) → median {b} ({z}); loss {l}",
            "grad_norm {a}({w}) → 중앙값 {b}({z}); 손실 {l}",
            w=tr("first log", "첫 로그")
            if first
            else tr("median of the first 20%", "처음 20% 중앙값"),
            z=tr("last 3 logs", "마지막 로그 3개") if short else tr("last 25%", "마지막 25%"),
            a=num(early),
            b=num(late),
            l=num(loss_late),
        )
        values = {"grad_early": early, "grad_late": late, "loss_late": loss_late}
    yield r.finding(
        title=tr("The gradients vanish", "그래디언트가 사라집니다"),
        explanation=explanation,
        suggestion=fix,
        metric=ctx.grad_norm.key,
        step_start=int(st[0]),
        step_end=int(st[-1]),
        evidence=evidence,
        values=values,
        onset_step=int(st[0]),
    )

"""One reading per metric: the usual bands, made aware of the kind of run.

Readings say what a level means for *this* run (a LoRA LR of 2e-4 is normal, a full
fine-tune LR of 2e-4 is high) and point at the findings about that metric. They never
decide anything a rule has not: a metric with a warning finding reads "attention".
"""

from __future__ import annotations

import math

import numpy as np

from losslens.analysis import signals
from losslens.analysis.context import LR_BANDS, RunContext
from losslens.analysis.messages import Text, join, num, tr
from losslens.analysis.messages import lr as fmt_lr
from losslens.analysis.progress_signal import TEXT_FAR, rewards_logged
from losslens.analysis.rules.common import finite
from losslens.analysis.rules.generalization import NEAR_ZERO
from losslens.analysis.rules.schedule import SHAPE_NAMES
from losslens.model import Finding, MetricReading, Series, Severity

_FINETUNE = {
    "lora": {"en": "LoRA/QLoRA", "ko": "LoRA/QLoRA"},
    "full": {"en": "a full fine-tune", "ko": "전체 파인튜닝"},
}


def _status(findings: list[Finding], metric: str, default: str = "ok") -> str:
    worst = max((f.severity.rank for f in findings if f.evidence.metric == metric), default=-1)
    if worst >= Severity.ERROR.rank:
        return "problem"
    if worst >= Severity.WARNING.rank:
        return "attention"
    return default


def _trend(first: float, last: float) -> Text:
    change = last / first - 1 if first else 0.0
    if change <= -0.05:
        return tr(
            "fell {a} → {b} ({p})",
            "감소 {a} → {b} ({p})",
            a=num(first),
            b=num(last),
            p=f"{change * 100:+.0f}%",
        )
    if change >= 0.05:
        return tr(
            "rose {a} → {b} ({p})",
            "증가 {a} → {b} ({p})",
            a=num(first),
            b=num(last),
            p=f"{change * 100:+.0f}%",
        )
    return tr("flat around {a}", "{a} 부근에서 평평", a=num(last))


def _loss(ctx: RunContext, s: Series, findings: list[Finding]) -> MetricReading:
    st, v = finite(s)
    if v.size == 0:
        return MetricReading(
            s.key, _status(findings, s.key, "problem"), tr("no finite values", "유한한 값 없음")
        )
    end = signals.end_median(v)
    first = float(v[0])
    if not ctx.text_task:
        band = tr("", "")
    elif end > TEXT_FAR:
        vocab = ctx.cfg_num("vocab_size")  # chance is ln V only when the config says V
        band = (
            tr(
                "high: far from the answer (random guessing over {v} tokens gives ln {v} ≈ {c})",
                "높음: 아직 정답과 거리가 멂(토큰 {v}개 중 무작위 추측은 ln {v} ≈ {c})",
                v=int(vocab),
                c=f"{math.log(vocab):.2f}",
            )
            if vocab is not None and vocab >= 2
            else tr("high: far from the answer", "높음: 아직 정답과 거리가 멂")
        )
    elif end > 2:
        band = tr("still high: much left to learn", "아직 높음: 배울 것이 많이 남음")
    elif end >= 0.5:
        band = tr("a typical range for fine-tuning", "파인튜닝에서 흔한 범위")
    elif end >= NEAR_ZERO:
        band = tr("low: the model fits its training data well", "낮음: 학습 데이터를 잘 맞힘")
    else:
        band = tr(
            "very low: the model reproduces its training text",
            "매우 낮음: 학습 텍스트를 그대로 재현함",
        )
    summary = join(_trend(first, end), band, sep="; ") if band["en"] else _trend(first, end)
    i = int(np.argmin(v))
    return MetricReading(
        s.key,
        _status(findings, s.key),
        summary,
        {
            "first": first,
            "last": float(v[-1]),
            "min": float(v[i]),
            "min_step": int(st[i]),
            "points": len(s),
        },
    )


def _eval(ctx: RunContext, s: Series, findings: list[Finding]) -> MetricReading:
    st, v = finite(s)
    if v.size == 0:
        return MetricReading(
            s.key, _status(findings, s.key, "problem"), tr("no finite values", "유한한 값 없음")
        )
    i = int(np.argmin(v))
    if v.size == 1:
        summary = tr(
            "a single eval: {v} at step {s}",
            "평가 1회: {s} 스텝 {v}",
            v=num(float(v[0])),
            s=int(st[0]),
        )
    elif i == v.size - 1:
        summary = tr(
            "{t}; best at the last eval (still improving)",
            "{t}; 마지막 평가가 최저(아직 개선 중)",
            t=_trend(float(v[0]), float(v[-1])),
        )
    else:
        # the rise from the best says how far the end is from it; the epoch says when
        e = ctx.epoch_at(float(st[i]))
        rise = f"{(float(v[-1]) / float(v[i]) - 1) * 100:+.1f}%" if v[i] > 0 else None
        summary = tr(
            "best {b} at step {s}{e}, {l} at the last eval{p}",
            "{s} 스텝{e}에서 최저 {b}, 마지막 평가 {l}{pk}",
            b=num(float(v[i])),
            s=int(st[i]),
            e=tr(" (epoch {e})", " (에폭 {e})", e=num(e, 2)) if e is not None else "",
            l=num(float(v[-1])),
            p=f" ({rise} from the best)" if rise else "",
            pk=f"(최저 대비 {rise})" if rise else "",
        )
    return MetricReading(
        s.key,
        _status(findings, s.key),
        summary,
        {
            "first": float(v[0]),
            "last": float(v[-1]),
            "min": float(v[i]),
            "min_step": int(st[i]),
            "points": len(s),
        },
    )


def _lr(ctx: RunContext, s: Series, findings: list[Finding]) -> MetricReading:
    sched = ctx.schedule
    if sched is None:
        return MetricReading(
            s.key, _status(findings, s.key, "info"), tr("too few values", "값이 너무 적음")
        )
    peak = sched.peak
    typical, low, high = ctx.lr_band
    status = "ok"
    online_rl = rewards_logged(ctx)
    if online_rl:  # sampled rewards: LRs of the preference range, whatever the task looks like
        typical, low, high = LR_BANDS["preference"]
    if ctx.finetune in _FINETUNE and ctx.task != "preference" and not online_rl:
        who = _FINETUNE[ctx.finetune]
        if peak > high:
            band = tr(
                "high for {w} (usual ~{t})", "{w} 기준 높음(보통 ~{t})", w=who, t=fmt_lr(typical)
            )
            status = "attention"
        elif peak < low:
            band = tr(
                "low for {w} (usual ~{t})", "{w} 기준 낮음(보통 ~{t})", w=who, t=fmt_lr(typical)
            )
            status = "attention"
        else:
            band = tr("normal for {w}", "{w}에 알맞음", w=who)
    elif ctx.task == "preference" or online_rl:
        who = (
            tr("online RL (GRPO/PPO)", "온라인 RL(GRPO/PPO)")
            if online_rl
            else tr("preference tuning", "선호도 튜닝")
        )
        band = (
            tr("in the usual range for {w}", "{w}에서 흔한 범위", w=who)
            if low <= peak <= high
            else tr("outside the usual range for {w}", "{w}의 일반 범위 밖", w=who)
        )
    elif peak >= 1e-2:
        band = tr(
            "very high: unstable for almost any fine-tune",
            "매우 높음: 거의 모든 파인튜닝에서 불안정",
        )
        status = "attention"
    elif peak > 1e-3:
        band = tr("high for most fine-tunes", "대부분의 파인튜닝에 높음")
    elif peak >= 5e-5:
        band = tr(
            "typical for LoRA/QLoRA; it would be high for a full fine-tune",
            "LoRA/QLoRA에 일반적; 전체 파인튜닝이라면 높음",
        )
    elif peak > 1e-6:
        band = tr(
            "typical for a full fine-tune; low for LoRA",
            "전체 파인튜닝에 일반적; LoRA에는 낮음",
        )
    else:
        band = tr("very low: barely learning", "매우 낮음: 거의 학습되지 않음")
    shape = SHAPE_NAMES.get(sched.kind, SHAPE_NAMES["unknown"])
    if sched.kind == "constant":
        sched_txt = tr("constant at {p}", "일정: {p}", p=fmt_lr(peak))
    else:
        sched_txt = tr(
            "{k}{w}, peak {p} at step {s}, {e} at the end",
            "{k}{w}, {s} 스텝에서 최고 {p}, 마지막 {e}",
            k=shape,
            w=tr(" with warmup", "(워밍업 포함)") if sched.warmup else tr("", ""),
            p=fmt_lr(peak),
            s=sched.peak_step,
            e=fmt_lr(sched.end),
        )
    worst = _status(findings, s.key, status)
    return MetricReading(
        s.key,
        worst,
        join(sched_txt, band, sep="; "),
        {"peak": peak, "end": sched.end, "schedule": sched.kind, "warmup": int(sched.warmup)},
    )


def _loss_near_zero(ctx: RunContext) -> bool:
    """Whether the train loss ended below ln(1/0.9): training tokens at ~90% probability."""
    if ctx.loss is None:
        return False
    _st, v = finite(ctx.loss)
    return v.size > 0 and signals.end_median(v) < NEAR_ZERO


def _grad(ctx: RunContext, s: Series, findings: list[Finding]) -> MetricReading:
    _st, v = finite(s)
    if v.size == 0:
        return MetricReading(
            s.key, _status(findings, s.key, "problem"), tr("no finite values", "유한한 값 없음")
        )
    med = float(np.median(v))
    status = "ok"
    if med > 10:
        level = tr(
            "high level: explosion risk if it keeps growing", "높은 수준: 계속 커지면 폭주 위험"
        )
    elif med < 0.01 and _loss_near_zero(ctx):
        # a loss near zero leaves little to correct: small gradients are its consequence
        level = tr(
            "very small, as expected with the loss near zero",
            "매우 작음: 손실이 0에 가까우므로 예상되는 수준",
        )
    elif med < 0.01:
        level = tr("very small: learning may have stalled", "매우 작음: 학습이 멈췄을 수 있음")
    else:
        level = tr("a normal level", "정상 수준")
    if ctx.max_grad_norm is None and med >= 5.0:
        # the log shows the norm before clipping; without max_grad_norm it cannot be told
        # whether every update was clipped (with the usual default 1.0 it would be)
        level = tr(
            "{l}; max_grad_norm unknown: whether updates were clipped cannot be known",
            "{l}; max_grad_norm을 알 수 없어 업데이트가 잘렸는지 알 수 없음",
            l=level,
        )
    if v.size >= 5:
        early = float(np.median(signals.head(v, 0.25)))
        late = float(np.median(signals.tail(v, 0.25)))
        moved = late > 2 * early or late < 0.5 * early
        z = signals.mann_kendall_z(signals.safe_log(v)) if moved else 0.0  # only then it matters
        if z >= 2.5 and late > 2 * early:
            trend = tr("rising ({a} → {b})", "증가 중({a} → {b})", a=num(early), b=num(late))
        elif z <= -2.5 and late < 0.5 * early:
            trend = tr("falling ({a} → {b})", "감소 중({a} → {b})", a=num(early), b=num(late))
        else:
            trend = tr("stable", "안정적")
    else:
        trend = tr("too few values for a trend", "추세를 보기엔 값이 적음")
    spikes = [
        f
        for f in findings
        if f.evidence.metric == s.key and f.kind in ("grad_spike", "grad_explosion")
    ]
    spike_txt = (
        tr("spikes: see findings", "튐: 발견 항목 참고") if spikes else tr("no spikes", "튐 없음")
    )
    summary = tr(
        "median {m} ({a}–{b}), {t}, {sp}; {l}",
        "중앙값 {m}({a}–{b}), {t}, {sp}; {l}",
        m=num(med),
        a=num(float(v.min())),
        b=num(float(v.max())),
        t=trend,
        sp=spike_txt,
        l=level,
    )
    return MetricReading(
        s.key,
        _status(findings, s.key, status),
        summary,
        {"median": med, "min": float(v.min()), "max": float(v.max()), "points": len(s)},
    )


def _epoch(ctx: RunContext, s: Series, findings: list[Finding]) -> MetricReading:
    e = ctx.epochs or 0.0
    if e > 20:
        band = tr(
            "overfitting risk: far more passes than fine-tuning needs",
            "과적합 위험: 파인튜닝에 필요한 것보다 훨씬 많은 반복",
        )
        status = "attention"
    elif e > 10:
        band = tr("many passes: memorisation risk", "반복이 많음: 암기 위험")
        status = "attention"
    elif e > 3:
        band = tr("more than the usual 1–3", "일반적인 1~3보다 많음")
        status = "ok"
    else:
        band = tr("the usual 1–3 passes or fewer", "일반적인 1~3회 이하")
        status = "ok"
    data = (
        tr(" over {n} examples", " (예제 {n}개)", n=ctx.dataset_size)
        if ctx.dataset_size
        else tr("", "")
    )
    shown = num(e, 3) if e < 10 else num(e, 4)
    summary = tr("{e} epochs{d}; {b}", "{e} 에폭{d}; {b}", e=shown, d=data, b=band)
    epoch_findings = [f for f in findings if f.kind == "too_many_epochs"]
    worst = max((f.severity.rank for f in epoch_findings), default=-1)
    if worst >= Severity.ERROR.rank:
        status = "problem"
    elif worst >= Severity.WARNING.rank:
        status = "attention"
    return MetricReading(
        s.key,
        status,
        summary,
        {"epochs": e} | ({"examples": ctx.dataset_size} if ctx.dataset_size else {}),
    )


def readings(ctx: RunContext, findings: list[Finding]) -> list[MetricReading]:
    out = []
    for s, fn in (
        (ctx.loss, _loss),
        (ctx.eval_loss, _eval),
        (ctx.lr, _lr),
        (ctx.grad_norm, _grad),
        (ctx.epoch, _epoch),
    ):
        if s is not None:
            out.append(fn(ctx, s, findings))
    return out

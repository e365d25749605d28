"""Too little learning judged by size: slow progress per epoch, a loss still near its start
after several passes, and a model that was best before it learned anything."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from losslens.analysis import signals
from losslens.analysis.context import RunContext
from losslens.analysis.evalview import eval_view
from losslens.analysis.messages import num, tr
from losslens.analysis.rules.base import Rule, param, rule
from losslens.analysis.rules.common import finite, lr_at, train_level_near
from losslens.model import Finding, FloatArray, Severity

_PROGRESS = ("LL112", "LL131", "LL132", "LL133")
_BROKEN = ("LL101", "LL102", "LL103", "LL104", "LL111")


@dataclass(frozen=True)
class UnderParams:
    passes: float = param(2.0, "epochs after which a loss still near its start is under-learning")
    still_high: float = param(0.70, "... near its start: at least this share of its first value")
    slow_gain: float = param(
        0.01, "... while gaining less than this per epoch over the second half (log)"
    )
    barely: float = param(0.90, "or at least this share of its first value ...")
    cut_short: float = param(0.05, "... gaining less than this per epoch (faster: a run cut short)")
    stretch_epochs: float = param(2.0, "epochs of a stretch judged by its gain per epoch")
    per_epoch_gain: float = param(0.01, "... a plateau when it gains less than this per epoch")
    high_level: float = param(0.5, "... while still at this share of the first value or more")
    lr_share: float = param(0.5, "... and the LR at its start at least this share of the peak")
    min_logs: int = param(5, "train logs needed (else the eval loss is read instead)")
    first_best_evals: int = param(3, "evals with the best at the first: not learning")
    first_best_train_gain: float = param(0.10, "... when the train loss gains less than this")


def _points(ctx: RunContext, p: UnderParams) -> tuple[FloatArray, FloatArray, str] | None:
    """The train loss, or the eval loss when train logs are too sparse to judge."""
    st, v = finite(ctx.loss)
    if v.size >= p.min_logs and ctx.loss is not None:
        return st, v, ctx.loss.key
    view = eval_view(ctx)
    if view is not None and view.n >= p.min_logs and ctx.eval_loss is not None:
        return view.steps, view.values, ctx.eval_loss.key
    return None


def _epoch_span(ctx: RunContext, a: float, b: float) -> float | None:
    ea, eb = ctx.epoch_at(a), ctx.epoch_at(b)
    return None if ea is None or eb is None else eb - ea


@rule(
    "LL135",
    "under-learning",
    kind="loss_plateau",
    severity=Severity.WARNING,
    family="progress",
    requires=(*_BROKEN, *_PROGRESS, "LL153"),
    params=UnderParams(),
)
def under_learning(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """The loss improves too little for the passes made over the data.

    What it detects:
        Judged by size, not by statistical significance, once the other progress rules
        (LL131–LL133) said nothing: after 2 epochs or more the loss (the train loss, or the
        eval loss when fewer than 5 train logs) is still at 70% or more of its first logged
        value and, over the second half of the log, gains (or loses) less than 1% per epoch
        by its Theil-Sen slope (a slow but steady decline is not a plateau), or at 90% or
        more while gaining less than 5% per epoch (a loss still falling fast is a run cut
        short, not under-learning); the log must start with the run; or a stretch of 2
        epochs or more, started while the LR was at least half its peak, gains (or loses)
        less than 1% per epoch while the loss is still at half its first value or more (a
        slow but significant decline at a high level is still a plateau); or, with 3 evals
        or more, the eval loss was best at the first eval while the train loss gained less
        than 10% (the model is not learning, it is not overfitting).
    Why it matters:
        The passes made over the data are not paying off: the run costs compute and the
        model changes little. Common causes are a learning rate that is too low, an adapter
        too small for the task, labels that carry no signal, or a task too hard for the
        model.
    Evidence:
        The loss at the start and at the end (or over the stretch), the epochs, the gain per
        epoch.
    What to try:
        Raise the learning rate toward the usual value, raise the LoRA rank or target all
        linear layers, check the labels and the data, or stop early to save the compute.
    """
    p: UnderParams = r.params
    if any(ctx.has(x) for x in _BROKEN + _PROGRESS + ("LL153",)):
        return  # (near zero is memorization, not under-learning)
    pts = _points(ctx, p)
    if pts is None:
        return
    st, v, key = pts
    if v.size < 3 or float(v[0]) <= 0:
        return
    first = float(np.median(v[: max(1, round(0.05 * v.size))]))
    last = float(np.median(signals.tail(v, 0.1, lo=min(3, v.size))))
    epochs = _epoch_span(ctx, float(st[0]), float(st[-1]))
    fix = tr(
        "Raise the learning rate toward the usual value; raise the LoRA rank or target all "
        "linear layers; check the labels and the data; or stop early to save the compute.",
        "학습률을 일반적인 값 쪽으로 올리고, LoRA 랭크를 올리거나 모든 선형 층을 대상으로 "
        "하세요. 라벨과 데이터를 확인하거나, 연산을 아끼려면 일찍 멈추세요.",
    )
    kind_note = None
    # (1) still near its start after several passes
    passes = ctx.epochs if ctx.epochs is not None else epochs
    # the gain per epoch over the second half: a run still falling fast at the end was cut
    # short (not under-learning), one that fell early and then stopped has plateaued
    gain = None
    half = st >= st[0] + 0.5 * (st[-1] - st[0])
    if ctx.steps_per_epoch and int(half.sum()) >= 3:
        slope, _ = signals.theil_sen(st[half], signals.safe_log(v[half]))
        gain = -slope * ctx.steps_per_epoch
    elif passes and last > 0:
        gain = math.log(first / last) / passes
    if (
        passes is not None
        and (ctx.covers_start or key != (ctx.loss.key if ctx.loss else ""))
        and passes >= p.passes
        and gain is not None
        and (
            (last >= p.still_high * first and abs(gain) < p.slow_gain)
            or (last >= p.barely * first and gain < p.cut_short)
        )
    ):
        kind_note = tr(
            "after {e} epochs the loss is still {x}% of its first value ({a} → {b})",
            "{e} 에폭 후에도 손실이 처음 값의 {x}%입니다({a} → {b})",
            e=num(passes, 2),
            x=f"{last / first * 100:.0f}",
            a=num(first),
            b=num(last),
        )
        onset = int(st[0])
    else:
        onset = -1
    # (2) a long stretch with a small gain per epoch at a high level
    if kind_note is None and ctx.steps_per_epoch:
        span = p.stretch_epochs * ctx.steps_per_epoch
        sel = st >= float(st[-1]) - span
        if sel.sum() >= 4 and float(st[-1] - st[sel][0]) >= 0.9 * span:
            xs, ys = st[sel], signals.safe_log(v[sel])
            slope, _ = signals.theil_sen(xs, ys)
            per_epoch = -slope * ctx.steps_per_epoch  # relative gain per epoch (log units)
            level = float(np.exp(np.median(ys)))
            lr0 = lr_at(ctx, float(xs[0]))
            lr_ok = ctx.schedule is None or lr0 is None or lr0 >= p.lr_share * ctx.schedule.top
            flat = -p.per_epoch_gain < per_epoch < p.per_epoch_gain  # rising is not a plateau
            if flat and level >= p.high_level * first and lr_ok:
                kind_note = tr(
                    "over the last {e} epochs the loss gains {g}% per epoch at ≈{l}",
                    "마지막 {e} 에폭 동안 손실이 ≈{l}에서 에폭당 {g}%만 줄었습니다",
                    e=num(float(xs[-1] - xs[0]) / ctx.steps_per_epoch, 2),
                    g=f"{(1 - math.exp(-per_epoch)) * 100:.1f}",
                    l=num(level),
                )
                onset = int(xs[0])
    # (3) best at the first eval and the train loss hardly moves
    if kind_note is None:
        view = eval_view(ctx)
        _, lv = finite(ctx.loss)
        if view is not None and view.n >= p.first_best_evals and view.best == 0 and lv.size:
            t0 = train_level_near(ctx, float(view.steps[0]))
            t1 = float(np.median(signals.tail(lv, 0.1, lo=min(3, lv.size))))
            if t0 and t1 > (1 - p.first_best_train_gain) * t0 and view.rise() > 0:
                kind_note = tr(
                    "the eval loss was best at the first eval ({a} at step {s}) and the train "
                    "loss hardly moved ({c} → {d})",
                    "평가 손실은 첫 평가에서 가장 낮았고({s} 스텝 {a}) 학습 손실도 거의 "
                    "움직이지 않았습니다({c} → {d})",
                    a=num(view.best_value),
                    s=view.best_step,
                    c=num(t0),
                    d=num(t1),
                )
                onset = view.best_step
    if kind_note is None:
        return
    yield r.finding(
        title=tr("The model is learning too little", "모델이 너무 적게 배우고 있습니다"),
        explanation=tr(
            "Judged by size: {n}. The passes over the data are not paying off.",
            "크기로 판단했습니다: {n}. 데이터를 반복해도 효과가 없습니다.",
            n=kind_note,
        ),
        suggestion=fix,
        metric=key,
        step_start=onset,
        step_end=int(st[-1]),
        evidence=kind_note,
        values={"loss_first": first, "loss_last": last}
        | ({"epochs": epochs} if epochs is not None else {}),
        onset_step=onset,
    )

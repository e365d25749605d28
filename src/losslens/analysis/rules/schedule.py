"""The learning-rate schedule and clipping: mismatch with the config, warmup, saturated clipping."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from losslens.analysis.context import RunContext
from losslens.analysis.messages import lr as fmt_lr
from losslens.analysis.messages import num, tr
from losslens.analysis.rules.base import Rule, param, rule
from losslens.analysis.rules.common import finite
from losslens.model import Finding, Severity

_SCHEDULER_SHAPES = {
    "constant": "constant",
    "constant_with_warmup": "constant",
    "linear": "linear",
    "cosine": "cosine",
    "cosine_with_min_lr": "cosine",
    "warmup_stable_decay": None,
    "cosine_with_restarts": None,
    "polynomial": None,
    "inverse_sqrt": None,
    "reduce_lr_on_plateau": None,
}

SHAPE_NAMES = {
    "constant": {"en": "constant", "ko": "상수"},
    "linear": {"en": "linear decay", "ko": "선형 감소"},
    "cosine": {"en": "cosine decay", "ko": "코사인 감소"},
    "decaying": {"en": "decaying", "ko": "감소"},
    "warmup_only": {"en": "still warming up", "ko": "워밍업 중"},
    "unknown": {"en": "irregular", "ko": "불규칙"},
}


@dataclass(frozen=True)
class MismatchParams:
    above: float = param(1.1, "logged peak LR above this x the configured learning_rate")
    below: float = param(0.5, "... or below this x it, when the log covers the peak")


@rule(
    "LL141",
    "schedule-mismatch",
    kind="other",
    severity=Severity.WARNING,
    family="schedule",
    params=MismatchParams(),
)
def schedule_mismatch(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """The logged learning rate does not follow the configured schedule or value.

    What it detects:
        The schedule recognised from the logged LR (constant, linear or cosine decay, with or
        without warmup: the shape that fits within 4% of the peak) differs from the
        configured ``lr_scheduler_type``; or the logged peak LR is more than 10% above the
        configured ``learning_rate`` (no standard scheduler goes above it), or below half of
        it although the log covers the peak.
    Why it matters:
        The run did not train with the settings you think it did: a config that was not
        applied, a scheduler built for another number of steps, or a value overridden
        somewhere else.
    Evidence:
        The configured and the observed schedule or LR.
    What to try:
        Print ``trainer.lr_scheduler.get_last_lr()`` and the resolved TrainingArguments;
        check ``max_steps``/``num_train_epochs`` and where the learning rate is set.
    """
    sched = ctx.schedule
    if sched is None or ctx.lr is None:
        return
    fix = tr(
        "Print trainer.lr_scheduler.get_last_lr() and the resolved TrainingArguments; check "
        "max_steps / num_train_epochs and every place the learning rate is set.",
        "trainer.lr_scheduler.get_last_lr()와 최종 TrainingArguments를 출력해 보고, "
        "max_steps / num_train_epochs와 학습률을 설정하는 모든 곳을 확인하세요.",
    )
    cfg_type = str(ctx.cfg("lr_scheduler_type", "scheduler", "lr_scheduler") or "").lower()
    cfg_type = cfg_type.removeprefix("schedulertype.")
    want = _SCHEDULER_SHAPES.get(cfg_type)
    got = sched.kind
    if want and got in ("constant", "linear", "cosine") and want != got:
        yield r.finding(
            title=tr(
                "The LR schedule is not the configured one",
                "학습률 스케줄이 설정과 다릅니다",
            ),
            explanation=tr(
                "The config asks for a {w} schedule, but the logged learning rate follows {g}.",
                "설정은 {w} 스케줄인데, 기록된 학습률은 {g} 형태입니다.",
                w=cfg_type,
                g=SHAPE_NAMES[got],
            ),
            suggestion=fix,
            metric=ctx.lr.key,
            step_start=int(ctx.lr.steps[0]),
            step_end=int(ctx.lr.steps[-1]),
            evidence=tr(
                "configured {w}; observed {g} (peak {p} at step {s})",
                "설정 {w}; 관측 {g} ({s} 스텝에서 최고 {p})",
                w=cfg_type,
                g=SHAPE_NAMES[got],
                p=fmt_lr(sched.peak),
                s=sched.peak_step,
            ),
            values={"configured": cfg_type, "observed": got},
            onset_step=None,
        )
        return
    cfg_lr = ctx.cfg_num("learning_rate", "lr")
    if not cfg_lr:
        return
    covers_peak = (sched.warmup or ctx.covers_start) and not sched.still_rising
    p: MismatchParams = r.params
    if sched.peak > p.above * cfg_lr or (covers_peak and sched.peak < p.below * cfg_lr):
        yield r.finding(
            title=tr(
                "The logged learning rate is not the configured one",
                "기록된 학습률이 설정값과 다릅니다",
            ),
            explanation=tr(
                "The config says learning_rate {c}, but the logged LR peaks at {p}.",
                "설정은 learning_rate {c}인데 기록된 학습률의 최고치는 {p}입니다.",
                c=fmt_lr(cfg_lr),
                p=fmt_lr(sched.peak),
            ),
            suggestion=fix,
            metric=ctx.lr.key,
            step_start=sched.peak_step,
            step_end=sched.peak_step,
            evidence=tr(
                "configured {c}; logged peak {p} at step {s} ({x}×)",
                "설정 {c}; {s} 스텝에서 기록된 최고 {p} ({x}배)",
                c=fmt_lr(cfg_lr),
                p=fmt_lr(sched.peak),
                s=sched.peak_step,
                x=num(sched.peak / cfg_lr, 2),
            ),
            values={"configured_lr": cfg_lr, "peak_lr": sched.peak},
            onset_step=None,
        )


@dataclass(frozen=True)
class WarmupParams:
    most_of_run: float = param(
        0.8,
        "a ramp still rising whose shortest plausible end is at this share of the planned "
        "steps or later: warmup as long as the run (warning; at most a fifth of the run "
        "left at the chosen rate)",
    )
    long_share: float = param(0.5, "a warmup this share of the planned steps or more (info)")
    zero: float = param(1e-3, "an LR below this share of the peak is the end-of-run 0")


#: Learning rates are set to usual values: 1, 2, 3 or 5 times a power of ten.
USUAL_LR_MANTISSAS = (1.0, 2.0, 3.0, 5.0)


def next_usual_lr(x: float) -> float:
    """The smallest usual learning rate (1, 2, 3 or 5 × 10^k) at or above ``x`` (> 0)."""
    e = math.floor(math.log10(x))
    for k in (e - 1, e, e + 1):
        for m in USUAL_LR_MANTISSAS:
            c = float(f"{m}e{k}")
            if c >= x * (1 - 1e-9):
                return c
    return x


def ramp_end(st: np.ndarray, v: np.ndarray, target: float) -> float | None:
    """The step where an LR still rising at its last log reaches ``target``, at the rate it
    rose over the logged ramp (None when it does not rise)."""
    if st.size < 2 or st[-1] <= st[0]:
        return None
    slope = float(v[-1] - v[0]) / float(st[-1] - st[0])
    if slope <= 0:
        return None
    return float(st[-1]) + max(0.0, target - float(v[-1])) / slope


def _rises_to_the_end(v: np.ndarray, zero: float) -> bool:
    """Whether the logged LR rises from well below its peak at every log up to the peak, and
    every log after the peak is 0 (the value a linear or cosine scheduler gives at
    ``max_steps``): a warmup as long as the run."""
    if v.size < 4:
        return False
    i = int(np.argmax(v))
    peak = float(v[i])
    after = v[i + 1 :]
    if peak <= 0 or i < 2 or not after.size or float(np.max(after)) > zero * peak:
        return False
    ramp = v[: i + 1]
    return float(ramp[0]) < 0.5 * peak and bool(np.all(np.diff(ramp) > 0))


@rule(
    "LL142",
    "warmup-incomplete",
    kind="warmup_issue",
    severity=Severity.WARNING,
    family="schedule",
    params=WarmupParams(),
)
def warmup_incomplete(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """Warmup never reaches the peak learning rate, or takes most of the run.

    What it detects:
        A config whose ``warmup_steps`` is at least ``max_steps``, or a logged LR that rises
        at every log and only the last log(s) show an LR of 0 (the scheduler's value at
        ``max_steps`` when the warmup is as long as the run): a warning. A log whose LR still
        rises at its last log does not show where the ramp ends: it ends at the earliest
        where the ramp, at its logged rate, reaches the configured learning rate, or else
        the first usual value (1, 2, 3 or 5 × 10^k: how learning rates are set) at or above
        the last logged LR, and never before the last log. When even that earliest end is at
        80% of the planned steps (of the run, when it finished) or later, the warmup takes
        most or all of the run: a warning (a finished run still rising at its end is one).
        The same bar holds for a ramp whose peak is logged: its end lies between the peak
        log and the next one, where the ramp at its logged rate reaches the configured LR or
        else the first usual value at or above the logged peak; at 80% of the planned steps
        or later, the warmup is as long as the run (a warning). A warmup that takes 50% or
        more of the planned steps (that end, or the logged peak): info.
    Why it matters:
        During warmup the LR is below the value you chose; if warmup is longer than the run,
        the model never trains at the intended rate and learns less than it could.
    Evidence:
        Where the LR peaks and how it compares to the run length.
    What to try:
        Set ``warmup_ratio`` to 0.03–0.1 (or ``warmup_steps`` to a few percent of
        ``max_steps``); check it was not given in steps when a ratio was meant.
    """
    p: WarmupParams = r.params
    sched = ctx.schedule
    st, v = finite(ctx.lr)
    horizon = ctx.planned_steps or (ctx.last_step if ctx.finished else None)
    warm = ctx.cfg_num("warmup_steps")
    ratio = ctx.cfg_num("warmup_ratio")
    fix = tr(
        "Use warmup_ratio 0.03–0.1 (or warmup_steps a few percent of max_steps); check the "
        "value was not given in steps where a ratio was meant.",
        "warmup_ratio를 0.03~0.1로(또는 warmup_steps를 max_steps의 몇 퍼센트로) 두세요. "
        "비율을 뜻했는데 스텝 수로 넣지 않았는지 확인하세요.",
    )
    metric = ctx.lr.key if ctx.lr is not None else "train/learning_rate"
    never = to_end = False
    if (warm and ctx.planned_steps and warm >= ctx.planned_steps) or (ratio and ratio >= 1):
        never = True
    elif sched is not None and sched.still_rising and (ctx.finished or ctx.cfg_num("max_steps")):
        # still ramping up at the last log: the ramp ends at the earliest where, at its logged
        # rate, it reaches the configured LR or else the first usual value (1, 2, 3, 5 x 10^k)
        # at or above its last LR (never before the last log). Warmup as long as the run when
        # even that is near the planned end; long (info) otherwise
        if horizon and st.size and v[-1] > 0:
            peak_cfg = ctx.cfg_num("learning_rate", "lr")
            target = peak_cfg if peak_cfg and peak_cfg >= v[-1] else next_usual_lr(float(v[-1]))
            end = ramp_end(st, v, target)
            if end is not None and end >= p.most_of_run * horizon:
                never = True
            elif end is not None and end >= p.long_share * horizon:
                yield _long_warmup(r, metric, fix, st, round(end), horizon, target, True)
                return
    elif _rises_to_the_end(v, p.zero):
        # the LR rises at every log and only the last log(s) show 0: the scheduler's value
        # at max_steps when warmup_steps equals max_steps, so no step trained at a stable or
        # decaying LR (the same as still rising at the end)
        never = to_end = True
    if never:
        peak_cfg = ctx.cfg_num("learning_rate", "lr")
        end_lr = float(v[-1]) if v.size else None
        yield r.finding(
            title=tr(
                "Warmup never reaches the peak LR", "워밍업이 최고 학습률에 도달하지 못합니다"
            ),
            explanation=tr(
                "The learning rate was still rising when the run ended: warmup is longer than "
                "the run, so the model never trained at the learning rate you chose.",
                "실행이 끝날 때까지 학습률이 계속 오르고 있었습니다. 워밍업이 실행보다 길어서 "
                "모델이 설정한 학습률로 한 번도 학습하지 못했습니다.",
            ),
            suggestion=fix,
            metric=metric,
            step_start=int(st[0]) if st.size else None,
            step_end=int(st[-1]) if st.size else None,
            evidence=tr(
                "LR {a} → {b} at the last step {s}{c}{w}",
                "LR {a} → 마지막 {s} 스텝 {b}{c}{w}",
                a=fmt_lr(float(v[0])) if v.size else "-",
                b=fmt_lr(end_lr),
                s=int(st[-1]) if st.size else ctx.last_step,
                c=tr(" (configured {p})", " (설정 {p})", p=fmt_lr(peak_cfg))
                if peak_cfg
                else tr("", ""),
                w=tr(
                    "; warmup_steps {w} ≥ max_steps {m}",
                    "; warmup_steps {w} ≥ max_steps {m}",
                    w=int(warm),
                    m=ctx.planned_steps,
                )
                if warm and ctx.planned_steps and warm >= ctx.planned_steps
                else tr(
                    "; it rose to {p} at step {t}, then only the last log(s) show 0",
                    "; {t} 스텝에서 {p}까지 오른 뒤 마지막 로그만 0",
                    p=fmt_lr(float(np.max(v))),
                    t=int(st[int(np.argmax(v))]),
                )
                if to_end
                else tr("", ""),
            ),
            values={"last_lr": end_lr or 0.0} | ({"warmup_steps": int(warm)} if warm else {}),
            onset_step=int(st[0]) if st.size else None,
        )
        return
    if sched is None or not sched.warmup or sched.warmup_end_step is None or not horizon:
        return
    share = sched.warmup_end_step / horizon
    if share < p.long_share or sched.kind == "warmup_only":
        return
    # the same bar whether the end was logged or estimated: a ramp that peaks at 80% of the
    # planned steps or later leaves too few steps at the chosen rate (warmup as long as the
    # run). The true end lies between the peak log and the next one: where, at the ramp's
    # logged rate, it reaches the configured LR or else the first usual value at or above the
    # logged peak, as for a ramp still rising at its last log
    i = int(np.argmax(v))
    end = float(sched.warmup_end_step)
    if 0 < i < v.size - 1:
        peak_cfg = ctx.cfg_num("learning_rate", "lr")
        top = float(v[i])
        target = peak_cfg if peak_cfg and peak_cfg >= top else next_usual_lr(top)
        reach = ramp_end(st[: i + 1], v[: i + 1], target)
        if reach is not None:
            end = min(reach, float(st[i + 1]))
    most = end >= p.most_of_run * horizon
    yield _long_warmup(r, metric, fix, st, sched.warmup_end_step, horizon, sched.peak, most=most)


def _long_warmup(
    r: Rule,
    metric: str,
    fix: dict[str, str],
    st: np.ndarray,
    end: int,
    horizon: int,
    peak: float,
    estimated: bool = False,
    most: bool = False,
) -> Finding:
    """The warmup ends at step ``end``, half of the planned steps or more (``estimated``:
    the LR still rises at the last log and ``end`` is where its ramp reaches ``peak``): info,
    or a warning when it ends so late that it takes most of the run (``most``)."""
    share = end / horizon
    return r.finding(
        severity=Severity.WARNING if most else Severity.INFO,
        title=tr("Warmup takes a large part of the run", "워밍업이 실행의 큰 부분을 차지합니다"),
        explanation=tr(
            "The learning rate only reaches its peak at step {s}, {p} of the run; until then "
            "the model trains below the rate you chose.",
            "학습률이 실행의 {p} 지점인 {s} 스텝에서야 최고치에 닿습니다. 그때까지는 설정한 "
            "학습률보다 낮게 학습합니다.",
            s=end,
            p=f"{share * 100:.0f}%",
        ),
        suggestion=fix,
        metric=metric,
        step_start=int(st[0]),
        step_end=end,
        evidence=tr(
            "LR still rising at the last log; at its logged rate it reaches {p} at about step "
            "{s} of {h} ({x})",
            "마지막 로그에서도 LR 상승 중; 기록된 속도로는 {h} 스텝 중 약 {s} 스텝에서 {p}에 "
            "도달 ({x})",
            p=fmt_lr(peak),
            s=end,
            h=horizon,
            x=f"{share * 100:.0f}%",
        )
        if estimated
        else tr(
            "LR peak {p} at step {s} of {h} ({x})",
            "{h} 스텝 중 {s} 스텝에서 LR 최고 {p} ({x})",
            p=fmt_lr(peak),
            s=end,
            h=horizon,
            x=f"{share * 100:.0f}%",
        ),
        values={"warmup_end": end, "share": share},
        onset_step=int(st[0]),
    )


@dataclass(frozen=True)
class ClipParams:
    share: float = param(0.8, "share of second-half grad norms above max_grad_norm")
    ratio: float = param(5.0, "... with their median this many times max_grad_norm")


#: LL143's thresholds, shared with the under-learning rule (clipping as the cause).
CLIP = ClipParams()

#: Optimizers that divide each update by a running estimate of the gradient's scale (Adam and
#: its variants, Adafactor, RMSprop, Adagrad) or keep only its sign (Lion): a clipping factor
#: that is about the same at every step cancels out of their updates.
_SCALE_FREE = ("adam", "adafactor", "rmsprop", "adagrad", "lion", "lamb", "ademamix")


def scale_free_optimizer(ctx: RunContext) -> bool | None:
    """Whether the configured optimizer ignores a constant gradient scale (None: unknown)."""
    name = str(ctx.cfg("optim", "optimizer", "optimizer_type") or "").lower()
    name = name.removeprefix("optimizernames.")
    if not name:
        return None
    return any(k in name for k in _SCALE_FREE)


@dataclass(frozen=True)
class Clipping:
    max_grad_norm: float
    share: float  # of second-half logs above max_grad_norm
    median: float  # second-half median grad norm
    start_step: int  # first step of the second half


def saturated_clipping(ctx: RunContext, p: ClipParams = CLIP) -> Clipping | None:
    """Clipping at nearly every step by a large factor, in a run whose optimizer feels it.

    None when ``max_grad_norm`` is unknown (the log shows the norm before clipping), when
    clipping is occasional or trims by a small factor, and when the optimizer is known to be
    scale-free (its update does not shrink when every gradient is scaled down alike)."""
    mgn = ctx.max_grad_norm
    st, g = finite(ctx.grad_norm)
    if mgn is None or g.size < 8 or scale_free_optimizer(ctx):
        return None
    half = g[g.size // 2 :]
    share = float(np.mean(half > mgn))
    med = float(np.median(half))
    if share < p.share or med / mgn < p.ratio:
        return None
    return Clipping(mgn, share, med, int(st[g.size // 2]))


@rule(
    "LL143",
    "clipping-saturated",
    kind="clipping_saturated",
    severity=Severity.WARNING,
    family="schedule",
    requires=("LL131", "LL132", "LL133", "LL135"),
    params=CLIP,
)
def clipping_saturated(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """Gradient clipping is active at nearly every step and shrinks the updates.

    What it detects:
        With ``max_grad_norm`` known from the config: in the second half of the run, 80% or
        more of the logged (pre-clip) gradient norms are above it and their median is 5× the
        threshold or more. Clipping that only trims updates by a small factor (QLoRA clips
        at 0.3 by design) is not reported, and neither is clipping under an optimizer known
        from the config to be scale-free (Adam and its variants, Adafactor, RMSprop,
        Adagrad, Lion): they divide each update by a running estimate of the gradient's
        scale, so a factor applied at every step cancels out and the steps keep their size.
        A warning when the loss also learns too little (LL131–LL133, LL135: the harm), else
        info (the loss still falls). Without ``max_grad_norm`` in the config clipping cannot
        be known (the log shows the norm before clipping): the grad-norm reading says so when
        the norms are 5 or more.
    Why it matters:
        With plain SGD (or an optimizer that is not known) a clipped update has a fixed
        size, so the learning rate you set is not the one that acts: when clipping far below
        the gradient norm, training crawls and the schedule barely matters.
    Evidence:
        The threshold, the share of clipped logs and the median gradient norm.
    What to try:
        Raise ``max_grad_norm`` (1.0 is the usual default) or lower the learning rate so that
        clipping only catches outliers.
    """
    p: ClipParams = r.params
    clip = saturated_clipping(ctx, p)
    if clip is None or ctx.grad_norm is None:
        return  # unknown threshold (the grad-norm reading says so), or no shrinking
    st = ctx.grad_norm.finite.steps
    mgn, share, med = clip.max_grad_norm, clip.share, clip.median
    ratio = med / mgn
    slow = any(ctx.has(x) for x in ("LL131", "LL132", "LL133", "LL135"))
    yield r.finding(
        severity=Severity.WARNING if slow else Severity.INFO,
        title=tr("Gradient clipping is always active", "그래디언트 클리핑이 항상 걸려 있습니다"),
        explanation=tr(
            "{p} of the gradient norms are above max_grad_norm {m} (median {g}, {x}×), so "
            "almost every update is shrunk to a fixed size: the learning rate you set is not "
            "the one that acts.",
            "그래디언트 노름의 {p}가 max_grad_norm {m}보다 큽니다(중앙값 {g}, {x}배). 거의 모든 "
            "업데이트가 고정된 크기로 줄어들어, 설정한 학습률이 실제로는 작동하지 않습니다.",
            p=f"{share * 100:.0f}%",
            m=num(mgn),
            g=num(med),
            x=num(ratio, 2),
        ),
        suggestion=tr(
            "Raise max_grad_norm (1.0 is the usual default) or lower the learning rate so that "
            "clipping only catches outliers.",
            "max_grad_norm을 올리거나(보통 기본값 1.0) 학습률을 낮춰 클리핑이 이상치만 "
            "잡도록 하세요.",
        ),
        metric=ctx.grad_norm.key,
        step_start=clip.start_step,
        step_end=int(st[-1]),
        evidence=tr(
            "{p} of logs in the second half above max_grad_norm {m}; median grad_norm {g}",
            "후반부 로그의 {p}가 max_grad_norm {m} 초과; grad_norm 중앙값 {g}",
            p=f"{share * 100:.0f}%",
            m=num(mgn),
            g=num(med),
        ),
        values={"max_grad_norm": mgn, "share_clipped": share, "median_grad_norm": med},
        onset_step=int(st[0]),
    )

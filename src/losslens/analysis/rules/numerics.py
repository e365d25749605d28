"""Numerical breakdowns: NaN/Inf, NaN hidden by the Trainer, loss exactly zero."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from losslens.analysis import signals
from losslens.analysis.components import component_losses
from losslens.analysis.context import RunContext
from losslens.analysis.messages import num, tr
from losslens.analysis.progress_signal import log_from_start, loss_measures_progress
from losslens.analysis.rules.base import Rule, param, rule
from losslens.model import Finding, Series, Severity

_FIX_NAN = tr(
    "Use bf16 instead of fp16 if the GPU supports it (models pre-trained in bf16 overflow in "
    "fp16), lower the learning rate 2–10×, keep gradient clipping on (max_grad_norm 0.3–1.0), "
    "and resume from the last checkpoint saved before the first NaN.",
    "GPU가 지원하면 fp16 대신 bf16을 쓰세요(bf16으로 사전학습된 모델은 fp16에서 넘치기 쉽습니다). "
    "학습률을 2~10배 낮추고, 그래디언트 클리핑(max_grad_norm 0.3~1.0)을 켜 두고, "
    "첫 NaN 이전에 저장된 체크포인트에서 다시 시작하세요.",
)


def hidden_nan_steps(ctx: RunContext) -> list[int]:
    """Steps where the Trainer logged loss 0.0 while grad_norm was NaN/inf (masked NaN)."""
    if ctx.loss is None or ctx.grad_norm is None:
        return []
    zero = ctx.loss.values == 0.0
    if not zero.any():
        return []
    gs, gv = ctx.grad_norm.steps, ctx.grad_norm.values
    if gs.size == 0 or bool(np.isfinite(gv).all()):
        return []
    if gs.size > 1 and not bool(np.all(gs[1:] >= gs[:-1])):
        order = np.argsort(gs, kind="stable")  # ties keep logging order: the last one counts
        gs, gv = gs[order], gv[order]
    last = np.ones(gs.size, dtype=bool)  # the last value logged at each step
    last[:-1] = gs[1:] != gs[:-1]
    us, uv = gs[last], gv[last]
    cs = ctx.loss.steps[zero]
    j = np.minimum(np.searchsorted(us, cs), us.size - 1)
    hit = (us[j] == cs) & ~np.isfinite(uv[j])
    return [int(x) for x in cs[hit].tolist()]


def _hidden_reported(ctx: RunContext, n: int, min_logs: int) -> bool:
    """Whether ``n`` hidden-NaN logs are enough for LL102 (``min_logs``, or fewer in a log
    that short)."""
    return ctx.loss is not None and (n >= min_logs or len(ctx.loss) <= min_logs)


@dataclass(frozen=True)
class NanParams:
    early: float = param(0.02, "share of the run where fp16's loss scaler calibrates (info)")
    early_steps: int = param(
        10, "... or this many first optimizer steps, whichever is longer (the scaler's halvings)"
    )
    run: int = param(3, "non-finite grad norms in a row that are never rare")
    share: float = param(0.05, "... or this share of the later logs (and at least 3 of them)")
    transient: float = param(0.02, "non-finite losses this rare (at least 1) can be transient")
    back_within: float = param(2.0, "... when the loss carries on within this x its level")


def _component_nan(ctx: RunContext) -> Series | None:
    """With no single train loss, the component loss (``train/*_loss``: a GAN's generator
    and discriminator, a VAE's terms) that first turned non-finite: a NaN in any component is
    a NaN in their sum, the objective the optimizer follows. None when every one is finite."""
    first: tuple[int, Series] | None = None
    for key in component_losses(ctx.run):
        s = ctx.run.series[key]
        bad = np.flatnonzero(~np.isfinite(s.values))
        if bad.size and (first is None or int(s.steps[bad[0]]) < first[0]):
            first = (int(s.steps[bad[0]]), s)
    return first[1] if first is not None else None


@rule(
    "LL101",
    "nan-inf",
    kind="nan_or_inf",
    severity=Severity.ERROR,
    family="numerics",
    requires=("LL121",),
    params=NanParams(),
)
def nan_inf(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """Loss, eval loss or gradient norm became NaN or infinite.

    Principle: a skipped optimizer step is read from the LR at the run's own logging
    interval, so a run logged half as often reaches the same verdict (next to the warmup
    peak too).

    What it detects:
        Any NaN or infinite train or eval loss (error; eval-only: warning); with no single
        train loss, any component loss logged instead (``*_loss``: a NaN in a component is a
        NaN in the sum the optimizer follows). A train loss that
        is NaN at a few logs (2% at most) and carries on at its level after is a warning, not a
        broken run, and so is a logged loss that stays NaN while the gradient norms after it
        are finite and the eval loss keeps improving (the Trainer's running sum kept one NaN).
        NaN/inf gradient norms while the loss stays finite: info in the first 2% of the run
        or the first 10 optimizer steps when they form one unbroken block there (fp16's loss
        scaler halving its scale from its large start, whatever the run's length; a log that
        starts far into training, by its steps or its logged epoch, holds no start) or when
        rare and known to be scaler skips (fp16 in the config, or the logged LR held at that
        step while the schedule moves around it: the optimizer step was skipped; under a
        constant LR every log holds it, so that says nothing), or when each is a single log
        the run comes back from (the next gradient norm finite, none at the last log) and
        they are rare (under 5% of the later logs, or just one in the whole log): a NaN that
        reached the weights would leave every later value NaN, so a run that carries on
        finite skipped that update, which costs one step and harms nothing; a warning
        otherwise (overflows that repeat in a row, are frequent, or end the log). A loss
        spike at that step is the same event: the loss-spike finding (LL121) carries its
        warning. A single loss the Trainer hid as 0.0 with a NaN gradient norm at that step,
        in a log long enough that LL102 leaves it, is read as that gradient overflow.
    Why it matters:
        Once a NaN reaches the weights every later update is garbage: the run is lost from that
        step on. Occasional skipped steps only slow training down, but many mean fp16 overflows.
    Evidence:
        The first non-finite step, how many logs were non-finite, the last finite value before.
    What to try:
        bf16 instead of fp16, a 2–10× lower learning rate, gradient clipping, resuming from the
        last checkpoint before the first NaN.
    """
    p: NanParams = r.params
    # NaN losses the Trainer hid as 0.0 are LL102's when it reports them; one such log in a
    # longer log, which LL102 leaves, is read here as the gradient overflow it also is
    hidden = set(hidden_nan_steps(ctx))
    if hidden and not _hidden_reported(ctx, len(hidden), HiddenNanParams().min_logs):
        hidden = set()
    loss_bad = False
    for s, which in ((ctx.loss or _component_nan(ctx), "train"), (ctx.eval_loss, "eval")):
        if s is None:
            continue
        bad = ~np.isfinite(s.values)
        if not bad.any():
            continue
        i = int(np.argmax(bad))
        onset = int(s.steps[i])
        prior = s.values[:i][np.isfinite(s.values[:i])]
        last_ok = float(prior[-1]) if prior.size else None
        kinds = sorted({("inf" if np.isinf(v) else "NaN") for v in s.values[bad].tolist()})
        shown = "/".join(kinds)
        n_bad = int(bad.sum())
        sev = Severity.ERROR if which == "train" else Severity.WARNING
        transient = which == "train" and _transient(s.values, p)
        if which == "train" and not transient and _weights_fine(ctx, s, i):
            # the logged loss stays NaN but the gradients are finite after it and the eval
            # loss keeps improving: the Trainer's running sum kept one NaN (a logging
            # artifact with logging_nan_inf_filter=False), the weights are fine
            sev = Severity.WARNING
        if transient:
            # one bad value among finite ones, and the loss carries on at its level: the
            # run is not lost (the update was most likely skipped), but it is worth acting on
            sev = Severity.WARNING
        loss_bad = loss_bad or which == "train"
        before = (
            tr(" (last finite value {v})", " (직전 유한 값 {v})", v=num(last_ok))
            if last_ok is not None
            else tr("", "")
        )
        wk = {"en": which, "ko": "학습" if which == "train" else "평가"}
        yield r.finding(
            severity=sev,
            title=tr(
                "The {w} loss was {k} at {n} log(s), then carried on",
                "{w} 손실이 로그 {n}개에서 {k}였다가 다시 이어졌습니다",
                w=wk,
                k=shown,
                n=n_bad,
            )
            if transient
            else tr("The {w} loss became {k}", "{w} 손실이 {k}가 되었습니다", w=wk, k=shown),
            explanation=tr(
                "The numbers overflowed: from step {s} the {w} loss is not a number any more, "
                "and once that reaches the weights every later update is garbage.",
                "수치가 넘쳤습니다. {s} 스텝부터 {w} 손실이 더 이상 숫자가 아니며, "
                "이것이 가중치에 들어가면 이후의 모든 업데이트가 망가집니다.",
                s=onset,
                w=wk,
            ),
            suggestion=_FIX_NAN,
            metric=s.key,
            step_start=onset,
            step_end=int(s.steps[np.flatnonzero(bad)[-1]]) if transient else int(s.steps[-1]),
            evidence=tr(
                "{w} loss {k} at step {s}{b}; {n} of {t} logs non-finite",
                "{s} 스텝에서 {w} 손실 {k}{b}; 로그 {t}개 중 {n}개가 유한하지 않음",
                w=wk,
                k=shown,
                s=onset,
                b=before,
                n=n_bad,
                t=len(s),
            ),
            values={"first_bad_step": onset, "non_finite": n_bad, "points": len(s)}
            | ({"last_finite": last_ok} if last_ok is not None else {}),
            onset_step=onset,
        )
    g = ctx.grad_norm
    if g is None or loss_bad:
        return
    bad = ~np.isfinite(g.values)
    if hidden and bad.any():
        bad &= ~np.isin(g.steps, np.fromiter(hidden, dtype=np.int64, count=len(hidden)))
    if not bad.any():
        return
    steps = g.steps
    if log_from_start(ctx):
        horizon = max(ctx.planned_steps or 0, ctx.last_step, int(steps[-1]))
        # the scaler's calibration is one unbroken block of skipped steps at the start;
        # non-finite norms that stop and start again inside the first steps are not one
        late = steps > max(p.early * horizon, p.early_steps)
        first = np.flatnonzero(bad & ~late)
        if first.size and int(first[-1] - first[0]) + 1 != first.size:
            late = steps > p.early * horizon
    else:
        # the scaler calibrates at the run's start: a log that starts far into training (an
        # excerpt numbered from 1, a resumed run) holds no start, so its overflows are mid-run
        late = np.ones(steps.size, dtype=bool)
    frac = float(bad[late].sum()) / max(1, int(late.sum()))
    run_len = signals.longest_run(bad)
    n_late = int(bad[late].sum())
    # fp16's loss scaler skips a few steps while it calibrates at the start, by design; an
    # overflow later in the run (or many) means something blew up and is worth acting on,
    # unless fp16 is known and it stays rare (the scaler probing a larger scale)
    # unless it stays rare and is a scaler skip: fp16 known from the config, or the logged
    # LR held at that step (the scheduler did not step because the optimizer step was skipped)
    fp16 = bool(ctx.cfg("fp16")) or _lr_held(ctx, [int(x) for x in steps[bad & late].tolist()])
    rare = run_len < p.run and (frac < p.share or n_late < 3)
    # a lone non-finite norm the next log is finite again after never reached the weights
    # (a NaN there leaves every later value NaN): that update was skipped, one step lost
    skipped = run_len == 1 and not bool(bad[-1]) and (frac < p.share or int(bad.sum()) == 1)
    sev = Severity.INFO if n_late == 0 or (fp16 and rare) or skipped else Severity.WARNING
    bad_steps = [int(s) for s in steps[bad].tolist()]
    spike = ctx.has("LL121")
    spiked: set[int] = set()
    if spike is not None:
        spiked = {int(x) for x in str(spike.evidence.values.get("steps", "")).split(",") if x}
    # a loss spike at a step whose gradient overflowed is one event: the loss-spike finding
    # carries its warning (a spike paired with a NaN gradient norm), this one says whether
    # the overflow itself was a rare skipped step
    shown = ", ".join(str(s) for s in bad_steps[:6]) + (" …" if len(bad_steps) > 6 else "")
    if sev is Severity.INFO:
        title = tr(
            "A few optimizer steps were skipped (grad_norm NaN/inf)",
            "일부 옵티마이저 스텝이 건너뛰어졌습니다(grad_norm NaN/inf)",
        )
        expl = tr(
            "At a few steps the gradients overflowed and the update was skipped (as the fp16 "
            "loss scaler does by design): the values after them are finite, so no NaN reached "
            "the weights. Training continued normally.",
            "몇몇 스텝에서 그래디언트가 넘쳐 업데이트를 건너뛰었습니다(fp16 손실 스케일러가 "
            "원래 하는 동작). 그 뒤의 값이 유한하므로 NaN이 가중치에 닿지 않았고, 학습은 "
            "정상적으로 이어졌습니다.",
        )
        if spiked & set(bad_steps):
            expl = tr(
                "At a few steps the gradients overflowed and the update was skipped; the loss "
                "spiked at that step (see the loss-spike finding). Training continued.",
                "몇몇 스텝에서 그래디언트가 넘쳐 업데이트를 건너뛰었고, 그 스텝에서 손실이 "
                "튀었습니다(손실 스파이크 항목 참고). 학습은 이어졌습니다.",
            )
        fix = tr(
            "Nothing, if it stays rare. If it becomes frequent, switch to bf16.",
            "드물게만 일어난다면 그대로 두어도 됩니다. 잦아지면 bf16으로 바꾸세요.",
        )
    else:
        title = tr(
            "The gradient norm was NaN/inf at {n} log(s) mid-run",
            "학습 도중 로그 {n}개에서 그래디언트 노름이 NaN/inf였습니다",
            n=len(bad_steps),
        )
        expl = tr(
            "The gradients overflowed after the start of the run, where no loss-scaler "
            "calibration explains it: those updates were skipped or, worse, corrupted the "
            "weights, so training is slower or broken.",
            "실행 시작 이후, 손실 스케일러 보정으로 설명되지 않는 시점에 그래디언트가 "
            "넘쳤습니다. 해당 업데이트는 건너뛰어졌거나 가중치를 망가뜨렸으므로 학습이 "
            "느려지거나 깨집니다.",
        )
        fix = _FIX_NAN
    yield r.finding(
        severity=sev,
        title=title,
        explanation=expl,
        suggestion=fix,
        metric=g.key,
        step_start=bad_steps[0],
        step_end=bad_steps[-1],
        evidence=tr(
            "grad_norm non-finite at {n} of {t} logs (steps {s}); longest run {m}",
            "grad_norm이 로그 {t}개 중 {n}개에서 유한하지 않음(스텝 {s}); 최장 연속 {m}개",
            n=len(bad_steps),
            t=len(g),
            s=shown,
            m=run_len,
        ),
        values={"non_finite": len(bad_steps), "points": len(g), "longest_run": run_len},
        onset_step=bad_steps[0],
    )


def _lr_held(ctx: RunContext, bad_steps: list[int]) -> bool:
    """Whether the logged LR moved at least one scheduler step less than the schedule over
    the logging interval that ends at each of ``bad_steps`` (a skipped step: the scheduler
    does not step when the optimizer step is skipped).

    The schedule's rate per step is read from the intervals next to it. With a log at every
    step this is the LR equal to the one before while the schedule moves around it; with a
    log every k steps, the LR moved about k - 1 steps' worth instead of k: how often the
    run was logged must not decide whether a skip can be seen. A held LR is evidence only
    where the LR otherwise changes from log to log: under a constant LR (or a flat stretch of
    a schedule) every log holds the LR, skipped or not. Next to a turn of the schedule (the
    warmup peak) the interval is read at the rate of the side it moved with: a log every k
    steps puts the peak at the interval's start where a log every step saw the LR held.
    """
    lr = ctx.lr
    if lr is None or not bad_steps:
        return False
    at = {int(k): float(v) for k, v in zip(lr.steps.tolist(), lr.values.tolist(), strict=True)}
    order = sorted(at)

    def rate(a: int, b: int) -> float:  # LR change per step from log a to log b
        d = at[order[b]] - at[order[a]]
        return (
            0.0
            if math.isclose(at[order[a]], at[order[b]], rel_tol=1e-9)
            else d / (order[b] - order[a])
        )

    for s in bad_steps:
        i = order.index(s) if s in at else -1
        if i <= 0:
            return False
        # the schedule's rate next to the interval: before it and right after it
        near = [rate(i - 2, i - 1)] if i >= 2 else []
        near += [rate(i, i + 1)] if i + 1 < len(order) else []
        near = [x for x in near if x != 0.0]
        gap = order[i] - order[i - 1]
        if not near:
            return False
        if gap == 1 and rate(i - 1, i) == 0.0:  # held at a log of every step
            continue
        if len(near) == 2 and near[0] * near[1] < 0:
            # a turn of the schedule next to the interval (a warmup peak logged at its
            # start): the interval is read at the rate of the side it moved with; a turn
            # inside it, seen as no move at all, leaves no rate to read
            own = rate(i - 1, i)
            near = [x for x in near if x * own > 0]
            if not near:
                return False
        per_step = sum(near) / len(near)
        moved = rate(i - 1, i) * gap / per_step  # in scheduler steps
        if not -0.5 <= moved <= gap - 0.5:
            return False
    return True


def _weights_fine(ctx: RunContext, s: Series, i: int) -> bool:
    """After the first bad train loss: finite gradient norms and a finite eval loss that
    keeps improving (the weights cannot be NaN)."""
    onset = float(s.steps[i])
    g = ctx.grad_norm
    if g is None:
        return False
    after = g.values[g.steps > onset]
    if after.size < 2 or not np.all(np.isfinite(after)):
        return False
    e = ctx.eval_loss
    if e is None:
        return False
    ev = e.values[e.steps > onset]
    before = e.values[(e.steps <= onset) & np.isfinite(e.values)]
    if ev.size < 1 or not np.all(np.isfinite(ev)):
        return False
    return before.size == 0 or float(ev[-1]) <= float(np.min(before))


def _transient(values: np.ndarray, p: NanParams) -> bool:
    """Few non-finite values among finite ones, with the loss back at its level after."""
    bad = ~np.isfinite(values)
    n_bad = int(bad.sum())
    if n_bad == 0 or n_bad > max(1, round(p.transient * values.size)) or values.size < 5:
        return False
    first, last = int(np.argmax(bad)), int(values.size - 1 - np.argmax(bad[::-1]))
    before = values[:first][np.isfinite(values[:first])]
    after = values[last + 1 :][np.isfinite(values[last + 1 :])]
    if before.size < 2 or after.size < 2:
        return False
    lvl_b, lvl_a = float(np.median(before[-5:])), float(np.median(after[:5]))
    return lvl_b > 0 and lvl_a <= p.back_within * lvl_b


@dataclass(frozen=True)
class HiddenNanParams:
    min_logs: int = param(
        2, "logs with loss 0.0 and a NaN/inf grad norm (1 in a log of 2 or fewer)"
    )


@rule(
    "LL102",
    "hidden-nan",
    kind="nan_or_inf",
    severity=Severity.ERROR,
    family="numerics",
    params=HiddenNanParams(),
)
def hidden_nan(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """The Trainer hid a NaN loss: loss logged as 0.0 while grad_norm is NaN.

    What it detects:
        Logs where the loss is exactly 0.0 and the gradient norm at the same step is NaN or
        infinite (two such logs or more). With ``logging_nan_inf_filter=True`` (the default)
        the Hugging Face Trainer drops NaN losses from the running sum, so a run whose every
        step is NaN prints ``loss 0.0``.
    Why it matters:
        The loss is not zero: it is NaN, and the model is not learning anything. The zero looks
        like a perfect result and hides a broken run.
    Evidence:
        The steps with loss 0.0 and a non-finite grad_norm.
    What to try:
        Set ``logging_nan_inf_filter=False`` to see the real values, then treat it as a NaN: bf16
        instead of fp16, a lower learning rate, gradient clipping, check flash-attention and
        DeepSpeed ``overlap_comm``.
    """
    p: HiddenNanParams = r.params
    steps = hidden_nan_steps(ctx)
    if not steps or ctx.loss is None or not _hidden_reported(ctx, len(steps), p.min_logs):
        return
    yield r.finding(
        title=tr(
            "The loss is NaN, hidden as 0.0 by the Trainer",
            "손실이 NaN인데 Trainer가 0.0으로 감추고 있습니다",
        ),
        explanation=tr(
            "The log shows loss 0.0 while the gradient norm is NaN. The Trainer leaves NaN "
            "losses out of what it prints (logging_nan_inf_filter), so when every step is NaN "
            "it prints 0.0. The loss is not perfect: it is broken and nothing is learned.",
            "로그에는 손실이 0.0으로 보이지만 그래디언트 노름은 NaN입니다. Trainer는 NaN 손실을 "
            "출력에서 빼기 때문에(logging_nan_inf_filter) 모든 스텝이 NaN이면 0.0을 찍습니다. "
            "완벽한 손실이 아니라 망가진 학습이며, 아무것도 배우지 못하고 있습니다.",
        ),
        suggestion=tr(
            "Set logging_nan_inf_filter=False to see the real loss. Then: bf16 instead of fp16, "
            "a lower learning rate, gradient clipping; if it persists, try without "
            "flash-attention, or with DeepSpeed overlap_comm=False.",
            "logging_nan_inf_filter=False로 실제 손실을 확인하세요. 그다음 fp16 대신 bf16, "
            "더 낮은 학습률, 그래디언트 클리핑을 적용하고, 계속되면 flash-attention을 끄거나 "
            "DeepSpeed overlap_comm=False를 시도하세요.",
        ),
        metric=ctx.loss.key,
        step_start=steps[0],
        step_end=steps[-1],
        evidence=tr(
            "loss 0.0 with grad_norm NaN at {n} of {t} logs (steps {a}–{b})",
            "로그 {t}개 중 {n}개에서 손실 0.0, grad_norm NaN ({a}–{b} 스텝)",
            n=len(steps),
            t=len(ctx.loss),
            a=steps[0],
            b=steps[-1],
        ),
        values={"hidden_nan_logs": len(steps), "points": len(ctx.loss)},
        onset_step=steps[0],
    )


@dataclass(frozen=True)
class ZeroParams:
    min_logs: int = param(5, "logs with a loss of exactly 0.0, the first ones included ...")
    share: float = param(0.8, "... at least this share of all logs (or of those from a drop)")
    start_logs: int = param(3, "... the first this many logs all exactly 0.0")
    late_epoch: float = param(
        1.5, "a log starting at or after this epoch is read by LL153, unless the grad norm is 0"
    )
    sudden_from: float = param(
        0.1,
        "or a loss at or above this (nats) that is exactly 0.0 at the next log: no step learns "
        "that fast (a loss is logged with 4 decimals) ...",
    )
    sudden_logs: int = param(3, "... and at this many logs or more from there")


@rule(
    "LL103",
    "zero-loss",
    kind="other",
    severity=Severity.ERROR,
    family="numerics",
    params=ZeroParams(),
)
def zero_loss(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """The loss is exactly 0 from the start, or drops to exactly 0 in one log: nothing is trained.

    Principle: a logged loss is rounded (the Trainer keeps 4 decimals), so a loss that fell
    gradually prints as 0.0 once it is below 0.00005; no training step takes a loss from 0.1
    nats or more to below that in one logging interval, so such a fall is the loss stopping
    being computed, not the model learning.

    What it detects:
        Five logs or more, the first ones included, with a loss of exactly 0.0 (at least 80% of
        all logs), while the gradient norm is finite, in a log that starts before the data
        was seen 1.5 times; or a loss of 0.1 or more at one log and exactly 0.0 from the next
        (3 logs or more, at least 80% of the logs from there on). A loss that falls gradually
        and then prints as 0.0 because of rounding is memorization, not this, and so is a
        log whose first record comes after many unlogged passes over the data (see
        memorization). Not read in online RL (a sampled reward is logged): there the loss is
        β×KL, exactly 0 while the policy still equals its reference.
    Why it matters:
        Cross-entropy over zero target tokens is 0: the model is graded on nothing and learns
        nothing. Usual causes are a chat/response template that does not match the data
        (every label set to -100) or answers cut off by the maximum sequence length.
    Evidence:
        How many logs are exactly 0 and where they start.
    What to try:
        Print one collated batch and count the labels that are not -100; check the response
        template or ``train_on_responses_only`` settings; raise ``max_seq_length``.
    """
    if ctx.loss is None or hidden_nan_steps(ctx) or not loss_measures_progress(ctx):
        return
    p: ZeroParams = r.params
    v = ctx.loss.finite.values
    st = ctx.loss.finite.steps
    if v.size < p.min_logs:
        return
    zeros = v == 0.0
    i = int(np.argmax(zeros))
    # a fall to exactly 0 in one log from a level no step can leave that fast
    sudden = (
        i > 0
        and float(v[i - 1]) >= p.sudden_from
        and zeros[i:].sum() >= p.sudden_logs
        and zeros[i:].mean() >= p.share
    )
    start = zeros[: p.start_logs].all()
    if not sudden and (zeros.sum() < p.min_logs or zeros.mean() < p.share or not start):
        return
    first_epoch = ctx.epoch_at(float(st[0]))
    g = ctx.grad_norm
    grad_zero = (
        g is not None and len(g.finite) >= p.min_logs and bool(np.all(g.finite.values == 0.0))
    )
    if not sudden and first_epoch is not None and first_epoch >= p.late_epoch and not grad_zero:
        # the log starts after the data was seen more than once: see LL153 (a memorised
        # loss still has a gradient; one that is exactly 0 too was never supervised)
        return
    fell = (
        tr(
            " after {a} at step {s}",
            " ({s} 스텝 {a} 다음)",
            a=num(float(v[i - 1])),
            s=int(st[i - 1]),
        )
        if sudden
        else tr("", "")
    )
    yield r.finding(
        title=tr(
            "The loss is exactly 0: no target tokens are being trained",
            "손실이 정확히 0입니다: 학습 대상 토큰이 없습니다",
        ),
        explanation=tr(
            "A loss of exactly 0 from step {s}{f} means the model is graded on nothing: "
            "every answer token was masked out (labels -100), usually because the response "
            "template does not match the data or the answers were truncated, or the loss "
            "stopped being computed (an fp16 overflow).",
            "{s} 스텝부터{f} 손실이 정확히 0이라는 것은 채점할 토큰이 하나도 없다는 뜻입니다. "
            "보통 응답 템플릿이 데이터와 맞지 않거나 답변이 잘려서 모든 정답 토큰이 "
            "마스킹(labels -100)되었거나, 손실이 더 이상 계산되지 않는 경우(fp16 오버플로)입니다.",
            s=int(st[i]),
            f=fell,
        ),
        suggestion=tr(
            "Print one collated batch and count labels that are not -100; check the response "
            "template / train_on_responses_only settings; raise max_seq_length.",
            "콜레이트된 배치 하나를 출력해 -100이 아닌 라벨 수를 세어 보세요. 응답 템플릿과 "
            "train_on_responses_only 설정을 확인하고 max_seq_length를 늘리세요.",
        ),
        metric=ctx.loss.key,
        step_start=int(st[i]),
        step_end=int(st[-1]),
        evidence=tr(
            "loss exactly 0.0 at {n} of {t} logs, from step {s}{f}",
            "로그 {t}개 중 {n}개에서 손실이 정확히 0.0 ({s} 스텝부터{f})",
            n=int(zeros.sum()),
            t=int(v.size),
            s=int(st[i]),
            f=fell,
        ),
        values={"zero_logs": int(zeros.sum()), "points": int(v.size)},
        onset_step=int(st[i]),
    )

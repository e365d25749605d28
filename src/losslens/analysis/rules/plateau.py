"""A plateau: after an initial drop the loss stays flat for a large part of the run."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from losslens.analysis import signals
from losslens.analysis.context import RunContext
from losslens.analysis.evalview import eval_view
from losslens.analysis.messages import lr as fmt_lr
from losslens.analysis.messages import num, tr
from losslens.analysis.periodic import periods
from losslens.analysis.progress_signal import (
    TEXT_FAR,
    TEXT_HIGH,
    high_token_ce,
    log_from_start,
    loss_measures_progress,
)
from losslens.analysis.rules.base import Rule, param, rule
from losslens.analysis.rules.common import finite, lr_at
from losslens.analysis.rules.progress import (
    BROKEN,
    FLAT_BOUND,
    PROGRESS,
    confidently_flat,
    no_progress,
)
from losslens.model import Finding, Severity


@dataclass(frozen=True)
class PlateauParams:
    min_logs: int = param(8, "train logs needed")
    min_stretch: int = param(
        6, "logs in the flat stretch (fewer logs widen the CI, which then decides)"
    )
    grid_to: float = param(0.6, "onsets tried every 5% of the run up to this share")
    min_share: float = param(0.4, "the flat stretch covers at least this share of the run")
    max_fall: float = param(0.02, "its Theil-Sen line lowers the loss by less (log, per run)")
    max_rise: float = param(0.2, "... and raises it by less (a rising loss is not a plateau)")
    trend_z: float = param(
        -1.645,
        "... and its Mann-Kendall z is above this, unless the 90% CI rules out a decline of "
        "`flat_bound` (a steady decline too small to matter) and no eval loss is logged",
    )
    flat_bound: float = param(FLAT_BOUND, "... and the 90% CI rules out a larger decline")
    converged: float = param(0.3, "a level below this counts as converged")
    lr_share: float = param(
        0.5,
        "the LR at the onset is at least this share of its peak (as LL135's stretch: below "
        "half, the schedule winding down can flatten the loss)",
    )
    sized_logs: int = param(
        20,
        "... or, judged by size, a stretch of this many logs whose Theil-Sen line moves it "
        "less than `max_fall`, when its noise does not rule out a larger decline ...",
    )
    text_high: float = param(
        TEXT_HIGH,
        "... at a level that is high by itself: a text task's token cross-entropy at this or "
        "above (perplexity ≈ 20)",
    )
    high_share: float = param(
        0.5,
        "a plateau at this share of the first value or more is at a high level (as LL135's "
        "stretch): warning; below it the run fell most of the way and levelled off: info",
    )
    far_level: float = param(
        TEXT_FAR,
        "... and in a text task a per-token cross-entropy at this or above is a high level "
        "whatever the first value (a bad start inflates that): the level the report's "
        "reading calls far from the answer",
    )


@rule(
    "LL132",
    "loss-plateau",
    kind="loss_plateau",
    severity=Severity.WARNING,
    family="progress",
    requires=("LL101", "LL102", "LL103", "LL104", "LL111", "LL131"),
    params=PlateauParams(),
)
def loss_plateau(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """After an initial drop the loss stays flat for a large part of the run at full LR.

    What it detects:
        The earliest point (tried at the second log, then every 5% of the run up to 60%, so
        that a dense log gets no more chances than a sparse one) after which the loss shows
        no significant downward trend (Mann-Kendall z > -1.645; with no eval loss logged, a
        significant one too small to matter, whose 90% confidence interval rules out a 5%
        decline over the run, judged by size: nothing held out says the model still learns,
        and with an eval loss LL135 reads the slow stretch against it), nor a rise of 20% or
        more, its Theil-Sen slope,
        extrapolated over the whole run, would lower it by less than 2%, and even the low
        end of the slope's 90% confidence interval would lower it by less than 5%, for at
        least 40% of the run and 6 logs (fewer logs widen the interval, which then
        decides), while the learning rate at that point is still at least half of the
        schedule's peak (the fitted linear/cosine curve's top when one
        fits, since the true peak usually falls between two logs; half, as LL135's stretch).
        Flattening as a decaying schedule winds down is convergence, not a plateau, and a
        level below 0.3 counts as converged. The log must start with the run (as for
        LL131), and a loss that repeats a batch pattern is judged on its period means (as
        for LL131). Judged by size: in a text task, a stretch of 20 logs or more at 3 nats
        or more (perplexity ≈ 20) whose Theil-Sen line moves it by less than 2% is flat
        even when its noise cannot rule out a 5% decline (per-step logs of a small batch).
        Severity: warning when the plateau is at half its first value or more, or, in a text
        task, at 5 nats per token or more whatever the first value (a huge first value,
        a bad start, would hide it): a plateau at a high level; info when the loss fell
        most of the way first and levelled off (diminishing returns).
    Why it matters:
        Steps spent on a plateau are wasted compute; the model stopped learning long before
        the schedule ended. Common causes are data with little left to learn (duplicates, a
        high-entropy floor) or an adapter too small for the task.
    Evidence:
        Where the plateau starts, its level, its length and the LR when it started.
    What to try:
        Stop earlier (fewer steps), check the data for duplicates and quality, raise the
        LoRA rank or target all linear layers, or try a slightly higher learning rate.
    """
    p: PlateauParams = r.params
    if ctx.loss is None or not log_from_start(ctx):
        return
    if not loss_measures_progress(ctx):  # an RL loss (beta x KL) is no progress measure
        return
    # a numerical event graded info (one non-finite grad norm that recovered at once) left
    # the loss readable; any graver one says the run is broken, not flat
    broken = [f for x in BROKEN if (f := ctx.has(x)) is not None]
    if any(f.severity is not Severity.INFO for f in broken):
        return
    if ctx.has("LL131") or no_progress(ctx) is not None:
        return
    st, v = finite(ctx.loss)
    if v.size < p.min_logs:
        return
    rhythm = periods(st, v, min_periods=PROGRESS.min_periods)
    if rhythm is not None:
        # a batch effect repeating every few logs: one mean per period is the evidence
        # (see LL131), so the flat stretch is judged on the period means
        st, v = rhythm.steps, rhythm.means
    xs, ys = signals.downsample(st, signals.safe_log(v), 120)
    span = float(xs[-1] - xs[0])
    if span <= 0:
        return
    first = float(np.median(signals.head(v, 0.05, lo=1)))
    onset = None
    # candidate onsets: the second log, then every 5% of the run up to 60%. A grid in run
    # fractions rather than every log keeps the number of tries (and of chances to find a
    # flat stretch in noise) the same however often the run logged.
    grid = [1] + [
        int(np.searchsorted(xs, xs[0] + f * span)) for f in np.arange(0.05, p.grid_to + 0.01, 0.05)
    ]
    held_out = eval_view(ctx) is not None
    for k in sorted(set(grid)):
        seg_x, seg_y = xs[k:], ys[k:]
        if seg_y.size < p.min_stretch or float(seg_x[-1] - seg_x[0]) < p.min_share * span:
            break
        slope, _ = signals.theil_sen(seg_x, seg_y)
        if not (-p.max_fall < slope * span < p.max_rise):
            continue
        flat = confidently_flat(seg_x, seg_y, span, p.flat_bound)
        # judged by size: with nothing held out to say the model still learns, a steady
        # decline too small to matter (its whole plausible range under `flat_bound` over the
        # run) is flat however sure its direction; with an eval loss, LL135 reads the slow
        # stretch against what the eval shows
        if signals.mann_kendall_z(seg_y) <= p.trend_z and (not flat or held_out):
            continue
        # judged by size: a long stretch at a high level whose fitted line moves less than
        # `max_fall` is flat even when its noise cannot rule out a larger decline
        sized = (
            int((st >= seg_x[0]).sum()) >= p.sized_logs
            and ctx.text_task
            and float(np.exp(np.median(seg_y))) >= p.text_high
        )
        if sized or flat:
            onset = k
            break
    if onset is None:
        return
    start_step = float(xs[onset])
    level = float(np.exp(np.median(ys[onset:])))
    if level < p.converged:
        return
    lr0 = lr_at(ctx, start_step)
    if ctx.schedule is not None and lr0 is not None and lr0 < p.lr_share * ctx.schedule.top:
        return
    # the conventions: a plateau at a high level is a warning; a loss that fell most of the
    # way from its start and levelled off is diminishing returns, worth knowing (info)
    high = level >= p.high_share * first or high_token_ce(ctx, level, p.far_level)
    severity = Severity.WARNING if high else Severity.INFO
    drop_before = float(np.exp(ys[0]))
    i_step = int(st[int(np.searchsorted(st, start_step))])
    share = (float(st[-1]) - start_step) / max(float(st[-1] - st[0]), 1.0)
    lr_txt = (
        tr(" while the learning rate was still {l}", " 학습률이 아직 {l}일 때부터", l=fmt_lr(lr0))
        if lr0 is not None
        else tr("", "")
    )
    yield r.finding(
        severity=severity,
        title=tr("The loss has plateaued", "손실이 정체되었습니다"),
        explanation=tr(
            "The loss fell from {a} to about {b} by step {s}, then stayed flat for {p} of the "
            "run{l}. The remaining steps did not teach the model anything.",
            "손실이 {s} 스텝까지 {a}에서 약 {b}까지 떨어진 뒤{l} 실행의 {p} 동안 평평했습니다. "
            "남은 스텝은 모델에 아무것도 더 가르치지 못했습니다.",
            a=num(drop_before),
            b=num(level),
            s=i_step,
            p=f"{share * 100:.0f}%",
            l=lr_txt,
        ),
        suggestion=tr(
            "Stop earlier (fewer steps); check the data for duplicates and quality; raise the "
            "LoRA rank or target all linear layers; or try a slightly higher learning rate.",
            "더 일찍 멈추세요(스텝 수 줄이기). 데이터의 중복과 품질을 확인하고, LoRA 랭크를 "
            "올리거나 모든 선형 층을 대상으로 하거나, 학습률을 조금 올려 보세요.",
        ),
        metric=ctx.loss.key,
        step_start=i_step,
        step_end=int(st[-1]),
        evidence=tr(
            "loss ≈{b} from step {s} to {t} ({p} of the run), trend over it {c}",
            "{s}~{t} 스텝(실행의 {p}) 동안 손실 ≈{b}, 그 구간 추세 {c}",
            b=num(level),
            s=i_step,
            t=int(st[-1]),
            p=f"{share * 100:.0f}%",
            c=f"{(math.exp(float(signals.fitted_change(xs[onset:], ys[onset:]))) - 1) * 100:+.1f}%",
        ),
        values={"level": level, "plateau_start": i_step, "share_of_run": share}
        | ({"lr_at_start": lr0} if lr0 is not None else {}),
        onset_step=i_step,
    )

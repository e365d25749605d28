"""Learning the training set instead of the task: overfitting, memorization, too many epochs."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from losslens.analysis import signals
from losslens.analysis.context import RunContext
from losslens.analysis.messages import Text, num, tr
from losslens.analysis.rules.base import Rule, rule
from losslens.analysis.rules.common import finite, train_loss_near
from losslens.model import Finding, Severity

#: ln(1/0.9): below this, the model gives the training token ~90% probability on average.
NEAR_ZERO = 0.105

_EARLY_STOP = tr(
    'Keep the best checkpoint: load_best_model_at_end=True with metric_for_best_model="eval_loss" '
    "and EarlyStoppingCallback(early_stopping_patience=2); or train fewer epochs, lower the "
    "learning rate, add data or LoRA dropout.",
    "가장 좋은 체크포인트를 남기세요: load_best_model_at_end=True, "
    'metric_for_best_model="eval_loss", '
    "EarlyStoppingCallback(early_stopping_patience=2). 또는 에폭 수를 줄이거나, 학습률을 낮추거나, "
    "데이터나 LoRA 드롭아웃을 늘리세요.",
)


def staircase(ctx: RunContext) -> list[tuple[int, float]]:
    """Epoch boundaries where the train loss drops much more than anywhere inside an epoch.

    Returns ``(boundary_step, drop)`` pairs, ``drop`` in log units (negative). A boundary
    counts when the drop across it (median of the logs in a window after minus before) is
    at least 3 robust standard deviations and 2× beyond the typical in-epoch change.
    """
    st, v = finite(ctx.loss)
    spe = ctx.steps_per_epoch
    if spe is None or v.size < 12 or spe < 4 * ctx.log_interval:
        return []
    y = signals.safe_log(v, 1e-6)
    w = max(2 * ctx.log_interval, 0.15 * spe)

    def drop_at(b: float) -> float | None:
        before = y[(st <= b) & (st > b - w)]
        after = y[(st > b) & (st <= b + w)]
        if before.size < 1 or after.size < 1 or before.size + after.size < 3:
            return None
        return float(np.median(after) - np.median(before))

    offset = float(st[0]) - (ctx.epoch_at(float(st[0])) or 0.0) * spe
    bounds = []
    k = math.floor((st[0] - offset) / spe) + 1
    while offset + k * spe < st[-1] - ctx.log_interval:
        bounds.append(offset + k * spe)
        k += 1
    if not bounds:
        return []
    inner = []
    stride = max(1, st.size // 200)  # a few hundred positions are enough for the spread
    for s in st[::stride].tolist():
        if all(abs(s - b) > w for b in bounds) and s - w > st[0] and s + w < st[-1]:
            d = drop_at(s)
            if d is not None:
                inner.append(d)
    if len(inner) < 3:
        return []
    arr = np.asarray(inner)
    typical = float(np.median(arr))
    spread = max(signals.mad(arr) * signals.MAD_TO_SIGMA, 0.01)
    out = []
    for b in bounds:
        d = drop_at(b)
        if d is None:
            continue
        if d < typical - 3 * spread and d < 2 * min(typical, 0.0) and d < -0.05:
            out.append((round(b), d))
    return out


@rule(
    "LL151", "overfitting", kind="overfitting", severity=Severity.WARNING, family="generalization"
)
def overfitting(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """Eval loss rises from its best while the train loss keeps falling.

    What it detects:
        At least 3 evaluations; the last two are above ``(1 + τ) ×`` the best one, with
        ``τ = max(5%, 2× the median eval-to-eval change before the best)``, or the 4 evals
        or more after the best rise steadily (Mann-Kendall z ≥ 1.96) to 5% above it; and the
        train loss falls from the best eval step to the end. An error when the last eval is 20% or
        more above the best with 3 evals or more after it. The best step is the checkpoint to
        keep.
    Why it matters:
        After the best step the model learns specifics of the training examples that do not
        carry over. Part of a rising eval loss is over-confidence, so a task metric may
        still improve, but the checkpoint at the best step is usually the one to use.
    Evidence:
        Best eval loss and step, the last eval loss, and the train loss over the same span.
    What to try:
        Early stopping on eval loss (``load_best_model_at_end`` + ``EarlyStoppingCallback``),
        fewer epochs, a lower learning rate, more data, LoRA dropout.
    """
    est, ev = finite(ctx.eval_loss)
    if ctx.eval_loss is None or ev.size < 3:
        return
    b = int(np.argmin(ev))
    after = ev[b + 1 :]
    if after.size < 2:
        return
    pre = ev[: b + 1]
    rel_changes = np.abs(np.diff(pre)) / pre[:-1] if pre.size >= 2 else np.empty(0)
    tau = max(0.05, 2 * float(np.median(rel_changes))) if rel_changes.size else 0.05
    best = float(ev[b])
    above = bool(np.all(ev[-2:] > (1 + tau) * best))
    # a smooth eval curve that keeps climbing is overfitting even below the noise band
    climbing = after.size >= 4 and signals.mann_kendall_z(after) >= 1.96 and ev[-1] > 1.05 * best
    if not (above or climbing):
        return
    lst, lv = finite(ctx.loss)
    seg = lv[lst >= est[b] - ctx.log_interval]
    if seg.size < 2:
        return
    t0 = train_loss_near(ctx, float(est[b])) or float(seg[0])
    t1 = float(np.median(signals.tail(seg, 0.2, lo=1)))
    if t1 >= t0:
        return
    rise = float(ev[-1]) / best - 1
    sev = Severity.ERROR if rise >= 0.2 and after.size >= 3 else Severity.WARNING
    best_step = int(est[b])
    ep = ctx.epoch_at(best_step)
    ep_txt = tr(" (epoch {e})", " (에폭 {e})", e=num(ep, 2)) if ep is not None else tr("", "")
    yield r.finding(
        severity=sev,
        title=tr("The model overfits after step {s}", "{s} 스텝 이후 과적합입니다", s=best_step),
        explanation=tr(
            "The eval loss was best at step {s}{e} and has risen since, while the train loss "
            "kept falling: the model now learns details of the training examples that do not "
            "carry over. The checkpoint at step {s} is probably the best one.",
            "평가 손실은 {s} 스텝{e}에서 가장 낮았고 그 뒤로 오르는 반면, 학습 손실은 계속 "
            "내려갔습니다. 모델이 일반화되지 않는 학습 예제의 세부 사항을 외우고 있습니다. "
            "{s} 스텝 체크포인트가 아마 가장 좋습니다.",
            s=best_step,
            e=ep_txt,
        ),
        suggestion=_EARLY_STOP,
        metric=ctx.eval_loss.key,
        step_start=best_step,
        step_end=int(est[-1]),
        evidence=tr(
            "eval loss min {a} at step {s}, {b} at step {t} ({p}); train loss still falling "
            "({c} → {d})",
            "평가 손실 최저 {a}({s} 스텝), {t} 스텝 {b}({p}); 학습 손실은 계속 감소 ({c} → {d})",
            a=num(best),
            s=best_step,
            b=num(float(ev[-1])),
            t=int(est[-1]),
            p=f"{rise * 100:+.0f}%",
            c=num(t0),
            d=num(t1),
        ),
        values={
            "best_eval_loss": best,
            "best_step": best_step,
            "last_eval_loss": float(ev[-1]),
            "rise": rise,
            "train_loss_at_best": t0,
            "train_loss_end": t1,
        },
        onset_step=best_step,
    )


@rule("LL152", "eval-gap", kind="eval_gap", severity=Severity.WARNING, family="generalization")
def eval_gap(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """The eval loss is far above the train loss.

    What it detects:
        At the last evaluation, eval loss at least 1.5× the train loss logged at the same
        step and at least 0.3 higher. Eval loss below train loss (common with dropout or
        contrastive losses) is not reported.
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
    pairs = []
    for s, e in zip(est.tolist(), ev.tolist(), strict=True):
        t = train_loss_near(ctx, s)
        if t is not None and t > 0:
            pairs.append((int(s), e, t))
    if not pairs:
        return
    s1, e1, t1 = pairs[-1]
    if not (e1 >= 1.5 * t1 and e1 - t1 >= 0.3):
        return
    s0, e0, t0 = pairs[0]
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
        onset_step=next(s for s, e, t in pairs if e >= 1.5 * t and e - t >= 0.3),
    )


def _epochs_text(ctx: RunContext) -> Text:
    e = ctx.epochs
    n = ctx.dataset_size
    if e is None:
        return tr("", "")
    if n:
        return tr(
            "{n} examples over ~{e} epochs",
            "예제 {n}개를 약 {e} 에폭 동안",
            n=n,
            e=num(e, 2) if e < 10 else f"{e:.0f}",
        )
    return tr("~{e} epochs", "약 {e} 에폭", e=num(e, 2) if e < 10 else f"{e:.0f}")


@rule(
    "LL153",
    "memorization",
    kind="memorization",
    severity=Severity.WARNING,
    family="generalization",
)
def memorization(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """The model learned its training examples by heart.

    What it detects:
        On text tasks (not classification, speech, embedding or preference losses): the
        median train loss of the last 10% of logs is below 0.105 nats (the model gives the
        next training token ~90% probability), after the data was seen more than once (the
        loss first got that low past epoch 1.5, or the epoch is unknown). Error when it
        happened over 10 epochs or more or the loss is below 0.02. Also (warning): after 3
        epochs or more, an eval loss over 3× the train loss; or train loss dropping sharply at
        epoch boundaries (a staircase) while eval loss rises or stays far above train.
    Why it matters:
        A language model cannot predict natural text that well unless it has seen it: it
        reproduces its training examples verbatim and tends to answer everything in their
        style, generalizing worse.
    Evidence:
        The loss from start to end, the epoch at which it got near zero, the data size when
        known, the epoch boundaries where the loss dropped.
    What to try:
        Train 1–3 epochs, with an eval split and early stopping; lower the learning rate; add
        more and more varied examples.
    """
    st, v = finite(ctx.loss)
    if ctx.loss is None or v.size < 3 or not ctx.text_task:
        return
    if any(ctx.has(x) for x in ("LL102", "LL103", "LL111")):
        return
    fix = tr(
        "Train 1–3 epochs with an eval split and early stopping; lower the learning rate; add "
        "more, and more varied, examples.",
        "평가 데이터와 조기 종료를 두고 1~3 에폭만 학습하세요. 학습률을 낮추고, 더 많고 더 "
        "다양한 예제를 추가하세요.",
    )
    end = float(np.median(signals.tail(v, 0.1, lo=min(3, v.size))))
    if end < NEAR_ZERO:
        i = int(np.argmax(v < NEAR_ZERO))
        ep = ctx.epoch_at(float(st[i]))
        if ep is not None and ep < 1.5:
            return  # near zero before the data repeats: see LL155
        sev = (
            Severity.ERROR
            if (ctx.epochs is not None and ctx.epochs >= 10) or end < 0.02
            else Severity.WARNING
        )
        what = _epochs_text(ctx)
        ep_txt = tr(" (epoch {e})", " (에폭 {e})", e=num(ep, 3)) if ep is not None else tr("", "")
        yield r.finding(
            severity=sev,
            title=tr(
                "The model memorised its {n}training examples (loss {a} → {b})",
                "모델이 학습 예제 {n}를 암기했습니다(손실 {a} → {b})",
                n=tr("{n} ", "{n}개", n=ctx.dataset_size) if ctx.dataset_size else tr("", ""),
                a=num(float(v[0])),
                b=num(end),
            ),
            explanation=tr(
                "The train loss fell from {a} to {b}: the model now predicts its training text "
                "almost perfectly{w}. On natural text that only happens when it has learned the "
                "examples by heart; it will tend to repeat them and generalize worse.",
                "학습 손실이 {a}에서 {b}까지 떨어졌습니다. 모델이 학습 텍스트를 거의 완벽하게 "
                "예측합니다{w}. 자연어에서 이는 예제를 통째로 외웠을 때만 가능하며, 예제를 그대로 "
                "되풀이하고 일반화는 나빠지기 쉽습니다.",
                a=num(float(v[0])),
                b=num(end),
                w=tr(" ({x})", "({x})", x=what) if what["en"] else tr("", ""),
            ),
            suggestion=fix,
            metric=ctx.loss.key,
            step_start=int(st[i]),
            step_end=int(st[-1]),
            evidence=tr(
                "train loss {a} at step {s0} → {c} at step {s1}{e} → {b} at step {s2}",
                "학습 손실 {s0} 스텝 {a} → {s1} 스텝 {c}{e} → {s2} 스텝 {b}",
                a=num(float(v[0])),
                s0=int(st[0]),
                c=num(float(v[i])),
                s1=int(st[i]),
                e=ep_txt,
                b=num(float(v[-1])),
                s2=int(st[-1]),
            ),
            values={
                "loss_start": float(v[0]),
                "loss_end": float(v[-1]),
                "near_zero_step": int(st[i]),
                "threshold": NEAR_ZERO,
            }
            | ({"epochs": ctx.epochs} if ctx.epochs is not None else {})
            | ({"examples": ctx.dataset_size} if ctx.dataset_size else {}),
            onset_step=int(st[i]),
        )
        return
    gap = ctx.has("LL152")
    ratio = float(gap.evidence.values.get("ratio", 0)) if gap else 0.0
    if gap is not None and ratio > 3 and ctx.epochs is not None and ctx.epochs >= 3:
        t_end, e_end = gap.evidence.values["train_loss"], gap.evidence.values["eval_loss"]
        yield r.finding(
            title=tr(
                "The model learned its training examples, not the task",
                "모델이 과제가 아니라 학습 예제를 외웠습니다",
            ),
            explanation=tr(
                "After {e} epochs the train loss ({t}) is {x}× lower than the eval loss ({v}): "
                "the model predicts the examples it has seen far better than new ones, which is "
                "what learning them by heart looks like.",
                "{e} 에폭 후 학습 손실({t})이 평가 손실({v})보다 {x}배 낮습니다. 본 예제를 새 "
                "예제보다 훨씬 잘 맞히며, 이는 예제를 외웠을 때의 모습입니다.",
                e=num(ctx.epochs, 3),
                t=num(float(t_end)),
                v=num(float(e_end)),
                x=num(ratio, 2),
            ),
            suggestion=fix,
            metric=ctx.loss.key,
            step_start=gap.evidence.step_start,
            step_end=gap.evidence.step_end,
            evidence=tr(
                "train loss {t} vs eval loss {v} (ratio {x}) after {e} epochs",
                "{e} 에폭 후 학습 손실 {t} vs 평가 손실 {v} (비율 {x})",
                t=num(float(t_end)),
                v=num(float(e_end)),
                x=num(ratio, 2),
                e=num(ctx.epochs, 3),
            ),
            values={"eval_train_ratio": ratio, "epochs": ctx.epochs},
            onset_step=gap.onset_step,
        )
        return
    if not (ctx.has("LL151") or gap):
        return
    stairs = staircase(ctx)
    if not stairs:
        return
    parts = []
    for b, d in stairs[:3]:
        before = train_loss_near(ctx, b - ctx.log_interval)
        after = train_loss_near(ctx, b + ctx.log_interval)
        parts.append(f"{num(before)}→{num(after)}@{b}" if before and after else f"{d:+.2f}@{b}")
    yield r.finding(
        title=tr(
            "The train loss drops at every epoch boundary",
            "에폭 경계마다 학습 손실이 뚝 떨어집니다",
        ),
        explanation=tr(
            "Each time the data starts over, the train loss drops sharply: the model recognises "
            "examples it has already seen. Together with an eval loss that does not follow, this "
            "is memorization.",
            "데이터가 다시 처음부터 나올 때마다 학습 손실이 크게 떨어집니다. 이미 본 예제를 "
            "알아보는 것입니다. 평가 손실이 따라 내려가지 않으므로 암기입니다.",
        ),
        suggestion=fix,
        metric=ctx.loss.key,
        step_start=stairs[0][0],
        step_end=stairs[-1][0],
        evidence=tr(
            "loss drops at epoch boundaries: {p}",
            "에폭 경계에서 손실 하락: {p}",
            p=", ".join(parts),
        ),
        values={"boundaries": len(stairs), "largest_drop": min(d for _, d in stairs)},
        onset_step=stairs[0][0],
    )


@rule(
    "LL154",
    "too-many-epochs",
    kind="too_many_epochs",
    severity=Severity.WARNING,
    family="generalization",
)
def too_many_epochs(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """The run goes over the data too many times for its size.

    What it detects:
        The epochs reached (logged, or steps × effective batch / examples): 20 or more is an
        error, 10 or more a warning, 4 or more a warning when the model memorised (LL153).
        Also a warning when the eval loss was best more than one epoch before the end
        (overfitting, LL151).
    Why it matters:
        Fine-tuning usually needs 1–3 passes over the data. Each extra pass on a small
        dataset mostly teaches the model to reproduce those examples.
    Evidence:
        The number of epochs and how it follows from steps, batch and data size when known.
    What to try:
        1–3 epochs (``num_train_epochs``), or ``max_steps`` ≈ epochs × examples / effective
        batch; add more data rather than more passes.
    """
    e = ctx.epochs
    if e is None:
        return
    mem = ctx.has("LL153")
    of = ctx.has("LL151")
    best_epoch = None
    if e >= 20:
        sev = Severity.ERROR
    elif e >= 10 or (mem and e >= 4):
        sev = Severity.WARNING
    elif of and of.onset_step is not None:
        best_epoch = ctx.epoch_at(of.onset_step)
        if best_epoch is None or e - best_epoch < 1:
            return
        sev = Severity.WARNING
    else:
        return
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
            how = tr("{h} (logged epoch {e})", "{h} (기록된 에폭 {e})", h=how, e=num(e, 4))
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
    data = tr(" over {n} examples", " (예제 {n}개)", n=n) if n else tr("", "")
    yield r.finding(
        severity=sev,
        title=tr(
            "Too many epochs: {e} passes over the data",
            "에폭이 너무 많습니다: 데이터를 {e}번 반복",
            e=num(e, 3) if e < 100 else f"{e:.0f}",
        ),
        explanation=tr(
            "The run went over its training data {e} times{d}. Fine-tuning usually needs 1–3 "
            "passes; beyond that, especially on a small dataset, the model mostly learns to "
            "reproduce those examples.",
            "학습 데이터를 {e}번 반복했습니다{d}. 파인튜닝에는 보통 1~3번이면 충분하며, 그 "
            "이상은(특히 데이터가 적을 때) 주로 그 예제들을 그대로 재현하는 법을 배우게 됩니다.",
            e=num(e, 3) if e < 100 else f"{e:.0f}",
            d=data,
        ),
        suggestion=tr(
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


@rule("LL155", "too-easy", kind="other", severity=Severity.WARNING, family="generalization")
def too_easy(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """The loss reaches ~0 before the model has seen the data once.

    What it detects:
        A train loss below 0.01 before the end of the first epoch that stays there. Error when
        the eval loss is below 0.01 too.
    Why it matters:
        A model cannot memorise examples it has not seen yet. A near-zero loss in the first
        epoch means the task is trivial as posed: the answer leaks into the input, every
        label is the same, or the eval split duplicates the training data.
    Evidence:
        When the loss fell below 0.01, the epoch at that point, and the eval loss.
    What to try:
        Check the label distribution, that inputs do not contain the answer, and that train
        and eval share no examples.
    """
    st, v = finite(ctx.loss)
    if ctx.loss is None or v.size < 5 or ctx.task == "preference":
        return
    if any(ctx.has(x) for x in ("LL102", "LL103")):
        return
    near = v < 0.01
    if not near.any():
        return
    i = int(np.argmax(near))
    ep = ctx.epoch_at(float(st[i]))
    if ep is None or ep >= 1.0 or float(np.median(v[i:])) >= 0.01:
        return
    est, ev = finite(ctx.eval_loss)
    leak = ev.size > 0 and float(ev[-1]) < 0.01
    sev = Severity.ERROR if leak else Severity.WARNING
    eval_txt = (
        tr(
            "; eval loss {e} at step {s}",
            "; {s} 스텝 평가 손실 {e}",
            e=num(float(ev[-1])),
            s=int(est[-1]),
        )
        if ev.size
        else tr("", "")
    )
    yield r.finding(
        severity=sev,
        title=tr(
            "The task looks too easy: loss ~0 within the first epoch",
            "과제가 너무 쉬워 보입니다: 첫 에폭 안에 손실 ~0",
        ),
        explanation=tr(
            "The loss was below 0.01 by step {s} (epoch {e}), before the model had even seen "
            "all the data once. That is not learning: the answer probably leaks into the input, "
            "the labels are constant, or the eval set duplicates the training data.",
            "{s} 스텝(에폭 {e})에서 이미 손실이 0.01 아래였습니다. 데이터를 한 번 다 보기도 "
            "전입니다. 이는 학습이 아니라, 입력에 정답이 새어 들어갔거나 라벨이 모두 같거나 "
            "평가 데이터가 학습 데이터와 겹치는 경우입니다.",
            s=int(st[i]),
            e=num(ep, 2),
        ),
        suggestion=tr(
            "Check the label distribution, that inputs do not contain the answer, and that "
            "train and eval share no examples.",
            "라벨 분포, 입력에 정답이 들어 있지 않은지, 학습과 평가 데이터가 겹치지 않는지 "
            "확인하세요.",
        ),
        metric=ctx.loss.key,
        step_start=int(st[i]),
        step_end=int(st[-1]),
        evidence=tr(
            "train loss {a} at step {s0} → {b} at step {s} (epoch {e}){x}",
            "학습 손실 {s0} 스텝 {a} → {s} 스텝 {b}(에폭 {e}){x}",
            a=num(float(v[0])),
            s0=int(st[0]),
            b=num(float(v[i])),
            s=int(st[i]),
            e=num(ep, 2),
            x=eval_txt,
        ),
        values={"step": int(st[i]), "epoch": ep, "loss": float(v[i])},
        onset_step=int(st[i]),
    )


@rule(
    "LL156",
    "no-eval",
    kind="other",
    severity=Severity.WARNING,
    family="generalization",
    phase=2,
)
def no_eval(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """There is no eval set, so overfitting cannot be confirmed.

    What it detects:
        No eval loss in the log of a run where memorization (LL153) or too many epochs
        (LL154) was found.
    Why it matters:
        Train loss alone cannot tell memorising from learning: only loss on held-out examples
        shows whether the model got better at the task or just at its training set, and at
        which step it was best.
    Evidence:
        The eval metrics are missing while the train loss suggests overfitting.
    What to try:
        Hold out 5–10% of the data and evaluate every few steps: ``losslens train
        --eval_ratio 0.1``, or ``eval_strategy="steps"``, ``eval_steps`` and an
        ``eval_dataset`` in TrainingArguments/Trainer.
    """
    if ctx.eval_loss is not None or ctx.loss is None:
        return
    cause = ctx.has("LL153") or ctx.has("LL154")
    if cause is None:
        return
    yield r.finding(
        title=tr(
            "No eval set: overfitting cannot be confirmed",
            "평가 데이터가 없어 과적합을 확인할 수 없습니다",
        ),
        explanation=tr(
            "The run logs no eval loss. The train loss alone cannot tell memorising from "
            "learning: only the loss on held-out examples shows whether the model improved at "
            "the task, and at which step it was best.",
            "이 실행에는 평가 손실이 없습니다. 학습 손실만으로는 암기와 학습을 구별할 수 "
            "없습니다. 따로 떼어 둔 예제의 손실만이 모델이 과제를 더 잘하게 되었는지, 어느 "
            "스텝이 가장 좋았는지 알려 줍니다.",
        ),
        suggestion=tr(
            "Hold out 5–10% of the data and evaluate every few steps: losslens train "
            '--eval_ratio 0.1, or eval_strategy="steps" with eval_steps and an eval_dataset in '
            "TrainingArguments/Trainer.",
            "데이터의 5~10%를 떼어 두고 몇 스텝마다 평가하세요: losslens train --eval_ratio 0.1, "
            '또는 TrainingArguments/Trainer에 eval_strategy="steps", eval_steps, eval_dataset을 '
            "지정하세요.",
        ),
        metric=ctx.loss.key,
        step_start=None,
        step_end=None,
        evidence=tr(
            "no eval/loss series; {r} suggests overfitting",
            "eval/loss 시리즈 없음; {r} 결과가 과적합을 시사",
            r=cause.rule_id,
        ),
        values={"because": cause.rule_id},
        onset_step=None,
    )

"""Learning the training examples by heart (LL153); the epoch count is in ``epochs.py``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from losslens import keys
from losslens.analysis import signals
from losslens.analysis.context import RunContext
from losslens.analysis.evalview import (
    eval_view,
    still_improving,
    within_noise,
)
from losslens.analysis.messages import Text, num, tr
from losslens.analysis.progress_signal import loss_unit_unknown
from losslens.analysis.rules.base import Rule, param, rule
from losslens.analysis.rules.common import (
    finite,
    finite_raw,
    first_pass_level,
    first_pass_ratio,
    is_likelihood,
    near_zero_onset,
    train_loss_near,
)
from losslens.analysis.rules.generalization import NEAR_ZERO
from losslens.analysis.rules.memorization_harm import (
    classifier_finding,
    classifier_harm,
    harm_grade,
    metric_holds,
    metric_lowered,
    overfits,
)
from losslens.analysis.rules.preference import saturated_finding, saturated_grade
from losslens.analysis.staircase import staircase
from losslens.model import Finding, FloatArray, Severity


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


@dataclass(frozen=True)
class MemoParams:
    near_zero: float = param(NEAR_ZERO, "train loss (median of the last 10%) below this, nats")
    after_epoch: float = param(1.5, "... first reached after this epoch (the data repeated)")
    first_pass: float = param(
        1.0,
        "first reached by this epoch (examples unseen): nothing; else, before the "
        "above, only the gap and the staircase are read",
    )
    gap_ratio: float = param(3.0, "or an eval loss this many times the train loss ...")
    gap_epochs: float = param(3.0, "... after this many epochs")
    one_eval_ratio: float = param(
        1.5, "one eval only: below this many times the train loss it follows (info), else warning"
    )
    first_pass_follows: float = param(
        1.5,
        "no eval at all: the loss at the end of the first pass (unseen batches) below this "
        "many times the end level shows nothing learned by heart (as `one_eval_ratio`)",
    )
    stair_excess: float = param(
        0.2,
        "a staircase whose boundaries shed this much in all (log) warns with an eval loss that "
        "does not follow (overfitting or a large gap at warning)",
    )
    stair_excess_alone: float = param(
        0.4,
        "... and with no eval set (the staircase the only evidence): this much, the loss a "
        "third lower at the boundaries alone",
    )
    recipe_epochs: float = param(
        3.0,
        "no eval set: up to this many epochs (the usual 1-3) a near-zero loss is a warning, "
        "past them an error, and one first reached between `first_pass` and `after_epoch` is "
        "read too",
    )
    blind_class_level: float = param(
        0.01,
        "a classifier with no eval series is read only with its train loss at or below this "
        "(every label at 99%): one label's log-loss, unlike a text's, can near zero by fitting",
    )
    error_level: float = param(
        0.05,
        "no eval set: past `recipe_epochs` an error only with the train loss at or below this "
        "(half the near-zero level: ~95% probability on the next training token) ...",
    )
    error_epochs: float = param(10.0, "... or after this many epochs (many passes); else a warning")
    unknown_fall: float = param(
        0.01,
        "no eval at all and a loss of no known unit (a script's own table or log, nothing "
        "naming a task, tokens or a model): near zero only at this share of its start or "
        "below (a hundredfold fall), else info",
    )
    metric_evals: int = param(
        3,
        "with no eval loss, held-out task metrics (this many evals or more) that end at or "
        "within their own eval-to-eval move of their best show no harm: info",
    )
    first_pass_gap: float = param(
        3.0,
        "no eval at all: a loss near zero already in the first pass is read too once the run "
        "went past `after_epoch` and its end is this many times below the lowest log of the "
        "first pass from the near-zero onset (examples not yet seen: a held-out measure; the "
        "gap rule's ratio), or from its start when the onset came between epochs 1 and 1.5; "
        "a classifier with an eval set is memorised only with its eval loss after the best "
        "this many times its train loss",
    )
    first_pass_many: float = param(
        10.0,
        "no eval at all: a loss near zero already in the first pass is read too after this "
        "many epochs (many passes, as for classifiers)",
    )
    flat_gain: float = param(0.01, "eval at the end within this much of its best (or ...")
    flat_noise: float = param(2.0, "... this many eval noise sds) shows no harm: info")
    class_epochs: float = param(
        10.0,
        "classifier: a near-zero train loss is read only after this many epochs (many passes)",
    )
    class_best_before: float = param(
        1.0, "classifier: ... and the eval best at least this many epochs before the end"
    )
    error_rise: float = param(
        0.2,
        "with an eval loss, an error when it sits this much above its best after it (median) "
        "or overfitting (LL151) is an error: the harm LL151 grades an error; a smaller harm "
        "(a stall, a few percent): a warning",
    )
    held_evals: int = param(
        3,
        "... counting the evals after the best for that median: this many or more (a harm that "
        "holds)",
    )
    pref_accuracy: float = param(
        0.99,
        "preference loss: reward accuracy (mean of the last 10%) at least this, every pair "
        "separated, with every loss of the last 10% near zero",
    )


@rule(
    "LL153",
    "memorization",
    kind="memorization",
    severity=Severity.WARNING,
    family="memorization",
    requires=("LL102", "LL103", "LL111", "LL151", "LL152"),
    params=MemoParams(),
)
def memorization(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """The model learned its training examples by heart.

    What it detects:
        On text tasks (not classification, speech, embedding or preference losses): the median train
        loss of the last 10% of logs is below 0.105 nats (the model gives the next training token
        ~90% probability), after the data was seen more than once (the loss first got that low past
        epoch 1.5, or the epoch is unknown; read as a level, the same way as at the end: where most
        of the next tenth of the logs, at least 3, are below it, so one lucky batch does not date
        it; first that low within the first pass, on examples not yet seen, it is not memorization
        at all, see LL155 (a log at epoch 1.0, the end of that pass, measured first-pass batches
        too: a per-epoch log's first value is the first pass's), unless the run has no eval at
        all and went on for 10 epochs or more (many
        passes, as for classifiers): those passes learn the examples by heart like any others; or
        has no eval at all, went past 1.5 epochs and ends 3 times or more below the lowest log of
        the first pass from the point it got near zero (the pass resolved by 3 logs or more, the
        stretch by one or more; the log at epoch 1.0 counts, a mean over first-pass batches):
        every batch of the first pass is one the model had not seen, so that loss is the
        held-out measure of a run with no eval set, and repeated examples fitted 3 times
        tighter than unseen ones (the gap rule's ratio) are learned by heart;
        between epochs 1 and 1.5 only the gap and staircase readings below apply, a drop on
        re-seeing the examples being repetition itself, unless the run has no eval at all and went
        past the usual 3 passes: the passes after it are over examples already seen, as later, or
        went past 1.5 epochs and ends 3 times or more below the lowest log of the first pass (the
        same held-out measure, read over the whole pass); and,
        however early it got there, once the run went past 1.5 epochs while the eval loss rose from
        its best beyond its noise (LL151 at warning or above): the passes that kept it there over
        repeated examples fitted them, not the task). Graded by the harm shown: with overfitting
        (LL151) at warning or above, an error when the harm is of the size LL151 grades an error
        (LL151 an error, or the evals after the best 20% or more above it, median), a warning for a
        smaller one; not when the last eval loss is at or below the train loss's end level
        (unseen examples fitted as tightly as the repeated ones: no learning by heart, the
        gap and staircase readings aside); with no eval loss but held-out task metrics (3
        evals or more: accuracy, BLEU …) that each end at their best or within their own
        eval-to-eval move of it, info (a held-out measure that holds shows no harm); an error
        with no eval set after more than 3 epochs (or an unknown count) when the loss is
        near zero beyond doubt (0.05 nats or less, ~95% probability on the next training
        token) or the run went over the examples 10 times or more (the count LL154
        calls many), but info when nothing says what the loss's unit is (a script's own
        table, history or console log, with no task, tokens, text metric or model named: a
        level of 0.04 is a near-certain token in nats and an ordinary squared error) and it
        ends above 1% of its start (the median of its first 3 logs): near zero on a scale of
        its own is a hundredfold fall; else a warning: a loss of 0.06-0.1 after a few passes
        with nothing held out may be a low-entropy target (SQL, labels as text), not the
        damaged result an error names; a warning with no eval set within the usual 1–3
        epochs (a loss near zero over examples seen before, with nothing held out to show
        the model generalizes, is the issue's and the conventions' evidence of harm: the
        user should add an eval set or train less; the usual pass count keeps it below an
        error; a known classifier is read as below); a
        warning when the eval loss moved away from its best, info while it still improves or holds
        its best within its noise (1% and 2 noise standard deviations, as the gap rule reads it);
        with a single eval (no trend to read), info when it is below 1.5× the train loss (the
        held-out loss follows the train loss: templated data, not learning by heart), else a
        warning. Also: after 3 epochs or more, an eval loss over 3× the train loss (info while the
        eval loss still improves or holds its best within its noise); or the train loss dropping at
        epoch boundaries, a staircase (the change across a boundary, between the logs just before
        and just after it, against the typical change across cuts inside an epoch; needs 3 logs per
        epoch): one boundary must drop 3 robust standard deviations, 2× and 0.05 beyond it (with an
        even window, also when it is one log wider: a median of 2 logs is their mean, which one odd
        log sets); several must drop as a pattern, their median change 3 standard errors of a
        median, 2× and 0.02 beyond it, so one lucky drop among noisy boundaries is not a staircase
        and a small drop at every boundary is. The evidence must be resolvable at the run's logging
        interval: where one log spans 15% of an epoch or more, a staircase that does not also show
        with two logs each side of a cut is a warning only with the eval loss showing the harm (no
        eval set: info). A staircase is a warning when the boundaries together shed 0.2 (log) or
        more beyond the in-epoch trend while the eval loss does not follow (overfitting or a large
        gap at warning), or 0.4 or more (the loss a third lower at the boundaries alone) with
        nothing to show the model generalizes: no eval set, or an eval loss that steps down at the
        same epoch boundaries (the same staircase test on the eval loss at its own interval: eval
        examples seen in training, which cannot show generalization), where the staircase is the
        only evidence and a larger drop is asked of it; else info (a smaller drop on re-seeing the
        examples is how any second pass looks; an eval rise then is overfitting, LL151). Every grade
        is one level lower when a logged task metric (accuracy, F1, WER …) is still improving or
        improved after the eval-loss minimum (more of the metrics got better than worse): the
        held-out task shows the model still generalizes. Speech recognition counts as a text task
        here (it decodes text). Classifiers with an eval set, and losses of no known unit with
        one (a script's history naming no task, where near zero is no level known to be text):
        a near-zero train loss is how
        fitting an easy task ends, so it shows nothing by itself (with no eval set nothing shows
        the classifier generalizes, and it is read as above, like any task, once its loss is
        0.01 or less: every label at 99%; the log-loss of one label, unlike a text's, gets to
        0.02-0.1 by fitting an easy task well); it is memorization
        when the run went over the examples
        10 epochs or more (the count LL154 calls many) while the eval loss, best at least one epoch
        before the end, stayed above that best (overfitting at warning, or the median of the later
        evals beyond 1% and 3 standard errors of its noise, and beyond the scatter expected of
        the lowest of the curve's evals, as LL151 reads it) and that median is 3 times the train
        loss or more (the training examples fitted 3 times tighter than held-out ones, the
        first-pass reading's ratio; closer, unseen examples are predicted about as well and the
        rise is overfitting, LL151): an error or a warning by the size of that harm, as above;
        one level lower while a task metric still improves. Preference losses (DPO and the
        like) are read on their own scale, ln 2 at chance: every train loss of the last 10% of
        logs near zero (the same 0.105) with the reward accuracy at 1 (their mean ≥ 0.99)
        means every training pair is separated with near certainty, the objective saturated: a
        warning with no eval set or an eval loss above 1.5× the train loss (and above 0.105), info
        when the eval loss follows. Not read: a loss that goes below zero (no likelihood, a
        policy-gradient surrogate, whose near zero is no certainty), a classifier's or a loss
        of no known unit's too (no floor at zero: its ratio to the eval loss says nothing). A
        near-zero end is not read either, with no eval at all, when the first pass already
        ended (median of the logs from epoch 0.75 to 1.0, batches not yet seen: the held-out
        measure) below 1.5× that end level: the repeated examples are fitted no tighter than
        unseen ones were, a low-entropy target, not learning by heart (the gap and staircase
        readings still apply).
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
    st, v = finite_raw(ctx.loss)  # steps as stored: no float copy of a long run
    if ctx.loss is None or v.size < 3 or any(ctx.has(x) for x in ("LL102", "LL103", "LL111")):
        return
    p: MemoParams = r.params
    end = signals.end_median(v)
    if ctx.task == "preference":
        sev = saturated_grade(ctx, end, p.pref_accuracy, p.near_zero, p.one_eval_ratio)
        if sev is not None:
            yield saturated_finding(r, ctx, (st, v), end, sev, p.near_zero)
        return
    if not is_likelihood(v):
        # below zero, the loss has no floor at zero: neither its near zero nor its ratio to the
        # eval loss says how tightly the examples are fitted (a classifier's reading included)
        return
    # near zero is how an easy classification ends: memorised only on eval harm. With no
    # eval set (no eval series at all) nothing shows the classifier generalizes, and it is
    # read as any other task
    held = any(map(keys.is_held_out, ctx.run.series))
    blind = ctx.task == "classification" and not held
    # a loss of no known unit (a script's history naming no task) beside an eval set is read
    # as a classifier's: near zero is no level known to be text, so the held-out set judges
    if held and (ctx.task == "classification" or loss_unit_unknown(ctx)):
        view = classifier_harm(ctx, p, end)
        if view is not None:
            yield classifier_finding(r, ctx, st, v, end, view, p)
        return
    if blind and end > p.blind_class_level:
        return  # a classifier sure of its labels at 90-99%: a good fit, not learned by heart
    # speech recognition decodes text too: a near-zero loss there is memorised transcripts
    if not (ctx.text_task or ctx.task == "speech" or blind):
        return
    _, one_eval = finite(ctx.eval_loss)
    # no eval at all: the end of the first pass, batches not yet seen, is the held-out
    # measure. Predicted within `first_pass_follows` of the end level, the repeated examples
    # are fitted no tighter than unseen ones were (a low-entropy target): a near-zero end
    # shows no learning by heart (the staircase and gap readings below still apply)
    level = first_pass_level(ctx, st, v) if end < p.near_zero and not one_eval.size else None
    follows = level is not None and level < p.first_pass_follows * end
    # an eval loss that ends at or below the train loss: unseen examples are fitted as
    # tightly as the repeated ones, so the near-zero loss is no learning by heart
    follows = follows or bool(one_eval.size and float(one_eval[-1]) <= end)
    fix = tr(
        "Train 1–3 epochs with an eval split and early stopping; lower the learning rate; add "
        "more, and more varied, examples.",
        "평가 데이터와 조기 종료를 두고 1~3 에폭만 학습하세요. 학습률을 낮추고, 더 많고 더 "
        "다양한 예제를 추가하세요.",
    )
    i = near_zero_onset(v, p.near_zero)
    ep = ctx.epoch_at(float(st[i]))
    e = ctx.epochs
    first = ep is None or ep <= p.first_pass
    # with no eval at all, many passes over examples the model already predicted near
    # perfectly are learning by heart like any others, however early it got there: 10 from
    # the first pass, more than the usual 1-3 once the data repeated (from epoch 1)
    many_passes = (
        not one_eval.size
        and e is not None
        and (e >= p.first_pass_many if first else e > p.recipe_epochs)
    )
    # a loss kept near zero over the repeated examples while the eval loss rose from its best
    # beyond its noise fitted them, not the task, however early it got there
    harm_shown = overfits(ctx) and e is not None and e >= p.after_epoch
    # with no eval at all, the first pass's own loss is the held-out measure: repeated
    # examples fitted far tighter than the unseen ones were are learned by heart
    ratio = (
        first_pass_ratio(ctx, st, v, i, end)
        if end < p.near_zero
        and (ep is None or ep < p.after_epoch)
        and not one_eval.size
        and e is not None
        and e >= p.after_epoch
        else None
    )
    held_out = ratio if ratio is not None and ratio >= p.first_pass_gap else None
    beyond = many_passes or harm_shown or held_out is not None
    if end < p.near_zero and ep is not None and ep <= p.first_pass and not beyond:
        return  # near zero on examples not yet seen: no learning by heart (see LL155)
    # near zero only once the data repeated but before 1.5 epochs: not read as near zero,
    # but the gap and the staircase below still are (a drop on re-seeing the examples)
    if end < p.near_zero and not follows and (ep is None or ep >= p.after_epoch or beyond):
        view = eval_view(ctx)
        if view is None and one_eval.size:
            # a single eval shows no trend, but whether it follows the train loss: at its
            # level (the gap rule's ratio) nothing shows harm; far above it is a warning
            sev = (
                Severity.INFO if float(one_eval[-1]) < p.one_eval_ratio * end else Severity.WARNING
            )
        elif view is None and not one_eval.size and metric_holds(ctx, p.metric_evals):
            # no eval loss, but held-out task metrics that hold their best: no harm shown
            sev = Severity.INFO
        elif view is None and not one_eval.size and _scale_free_fall(ctx, v, end, p):
            # a loss of no known unit with nothing held out: near zero is a hundredfold fall
            # on its own scale, not a level (0.04 is an ordinary squared error)
            sev = Severity.INFO
        elif view is None and (ctx.epochs is None or ctx.epochs > p.recipe_epochs):
            # near zero and nothing to show it generalizes: an error asks for a loss near
            # zero beyond doubt, a warning for one just below the near-zero level
            sure = end <= p.error_level or (ctx.epochs or 0.0) >= p.error_epochs
            sev = Severity.ERROR if sure else Severity.WARNING
        elif view is None:
            # within the usual 1-3 passes: near zero over repeated examples with nothing held
            # out is likely harm (add an eval set, train less); the usual count keeps it a
            # warning, not an error
            sev = Severity.WARNING
        elif overfits(ctx):
            sev = harm_grade(ctx, view, p)  # harm shown: eval rose after its best
        elif still_improving(ctx, view) or within_noise(view, p.flat_gain, p.flat_noise):
            # eval still improving, or holding its best within its noise (as the gap rule
            # reads it): the held-out loss shows no harm from training on
            sev = Severity.INFO
        else:
            sev = Severity.WARNING
        sev = metric_lowered(ctx, sev)
        what = _epochs_text(ctx)
        ep_txt = tr(" (epoch {e})", " (에폭 {e})", e=num(ep, 3)) if ep is not None else tr("", "")
        held_txt = (
            tr(
                "; the end level {y} is {r}× below the first pass's lowest {x} (unseen examples)",
                "; 끝 수준 {y}는 첫 패스(아직 보지 않은 예제)의 최저 {x}보다 {r}배 낮음",
                y=num(end),
                r=num(held_out, 2),
                x=num(end * held_out),
            )
            if held_out is not None
            else tr("", "")
        )
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
                "train loss {a} at step {s0} → {c} at step {s1}{e} → {b} at step {s2}{h}",
                "학습 손실 {s0} 스텝 {a} → {s1} 스텝 {c}{e} → {s2} 스텝 {b}{h}",
                a=num(float(v[0])),
                s0=int(st[0]),
                c=num(float(v[i])),
                s1=int(st[i]),
                e=ep_txt,
                b=num(float(v[-1])),
                s2=int(st[-1]),
                h=held_txt,
            ),
            values={
                "loss_start": float(v[0]),
                "loss_end": float(v[-1]),
                "near_zero_step": int(st[i]),
                "threshold": p.near_zero,
            }
            | ({"first_pass_ratio": held_out} if held_out is not None else {})
            | ({"epochs": ctx.epochs} if ctx.epochs is not None else {})
            | ({"examples": ctx.dataset_size} if ctx.dataset_size else {}),
            onset_step=int(st[i]),
        )
        return
    gap = ctx.has("LL152")
    ratio = float(gap.evidence.values.get("ratio", 0)) if gap else 0.0
    if (
        gap is not None
        and ratio > p.gap_ratio
        and ctx.epochs is not None
        and ctx.epochs >= p.gap_epochs
    ):
        t_end, e_end = gap.evidence.values["train_loss"], gap.evidence.values["eval_loss"]
        view = eval_view(ctx)
        gap_sev = (
            Severity.INFO
            if view is not None
            and (still_improving(ctx, view) or within_noise(view, p.flat_gain, p.flat_noise))
            and not overfits(ctx)
            else Severity.WARNING
        )
        yield r.finding(
            severity=metric_lowered(ctx, gap_sev),
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
    stairs = staircase(ctx)
    if stairs is None:
        return
    # the staircase is harm when the boundaries together shed a large share of the loss and
    # nothing shows the model generalizes: no eval set, or an eval loss that does not follow
    # (overfitting, a large gap); a smaller drop on re-seeing the examples is how any second
    # pass looks, worth knowing (an eval rise then is overfitting, LL151)
    # an eval loss that drops at the same epoch boundaries is drawn from the training data:
    # it cannot show that the model generalizes, as if there were no eval set
    eval_stairs = ctx.eval_loss is not None and staircase(ctx, ctx.eval_loss) is not None
    no_eval = eval_view(ctx) is None or eval_stairs
    gap_shown = gap is not None and gap.severity is not Severity.INFO
    # a staircase not resolvable at the run's logging interval (seen with one log each side
    # of a cut, not with two) is harm only where the eval loss shows it too: alone, with no
    # eval set, it is worth knowing
    no_eval = no_eval and stairs.resolved
    # with no eval set the staircase is the only evidence: a larger drop is asked of it
    shown = (no_eval and stairs.excess >= p.stair_excess_alone) or (
        stairs.excess >= p.stair_excess and (overfits(ctx) or gap_shown)
    )
    stair_sev = metric_lowered(ctx, Severity.WARNING if shown else Severity.INFO)
    parts = []
    for b, d in sorted(stairs.drops[:3]):
        before = train_loss_near(ctx, b - ctx.log_interval)
        after = train_loss_near(ctx, b + ctx.log_interval)
        parts.append(f"{num(before)}→{num(after)}@{b}" if before and after else f"{d:+.2f}@{b}")
    more = len(stairs.drops) - len(parts)
    if more > 0:
        parts.append(f"+{more}")
    yield r.finding(
        severity=stair_sev,
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
        )
        if not eval_stairs
        else tr(
            "Each time the data starts over, the train loss drops sharply: the model recognises "
            "examples it has already seen. The eval loss drops at the same boundaries, so the "
            "eval examples were seen in training too and cannot show that the model "
            "generalizes.",
            "데이터가 다시 처음부터 나올 때마다 학습 손실이 크게 떨어집니다. 이미 본 예제를 "
            "알아보는 것입니다. 평가 손실도 같은 경계에서 떨어지므로 평가 예제도 학습에 "
            "쓰였고, 모델이 일반화하는지 보여 줄 수 없습니다.",
        ),
        suggestion=fix,
        metric=ctx.loss.key,
        step_start=min(b for b, _ in stairs.drops),
        step_end=max(b for b, _ in stairs.drops),
        evidence=tr(
            "loss drops at epoch boundaries: {p}{e}",
            "에폭 경계에서 손실 하락: {p}{e}",
            p=", ".join(parts),
            e=tr(
                "; the eval loss drops at the same boundaries (eval data seen in training)",
                "; 평가 손실도 같은 경계에서 떨어짐(학습에 쓰인 평가 데이터)",
            )
            if eval_stairs
            else tr("", ""),
        ),
        values={
            "eval_stairs": eval_stairs,
            "boundaries": len(stairs.drops),
            "largest_drop": stairs.drops[0][1],
            "excess": stairs.excess,
        },
        onset_step=min(b for b, _ in stairs.drops),
    )


def _scale_free_fall(ctx: RunContext, v: FloatArray, end: float, p: MemoParams) -> bool:
    """Whether the loss has no known unit (:func:`loss_unit_unknown`) and ends above
    ``unknown_fall`` of its start (the median of its first 3 logs, past a bad first one)."""
    start = float(np.median(v[:3]))
    return loss_unit_unknown(ctx) and start > 0 and end > p.unknown_fall * start

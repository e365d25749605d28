"""The chance level of a cross-entropy loss: what a model that guesses uniformly scores.

A model whose output probabilities are uniform over ``k`` outcomes has a cross-entropy of
``ln k`` whatever the data: a freshly initialised classification head (logits near 0) starts
there, a DPO policy equal to its reference sits at ``ln 2``, and a language model that knows
nothing sits at ``ln V`` for its vocabulary of ``V`` tokens. A loss that starts at chance and
stays near it has learned nothing beyond guessing.

The number of outcomes is read from the config when it says it (``num_labels``,
``id2label``; ``vocab_size`` for text tasks). Without it, a classification or preference
loss whose first value is within a few percent of ``ln k`` for a small ``k`` is taken to
start at chance (a fresh head is the usual reason a classifier's first loss is ``ln k``);
a language model's vocabulary is never guessed.

The same physics reads a level without knowing ``k``: a cross-entropy of ``L`` nats is the
score of a uniform guess over ``e^L`` outcomes. At ``ln 1000`` ≈ 6.9 nats or more the model
gives the right token, on average, less than a 1-in-1,000 chance: a pretrained language
model fine-tuned on its kind of text sits at 0.5-3 nats, and even the token frequencies
alone (a unigram model of English text) score about 7-7.5, so a loss that stays there has
learned next to nothing of the task. Above ``ln 2^18`` ≈ 12.5 nats (a uniform guess over
262,144 tokens, more than the largest vocabularies in use, Gemma's 256k at 12.45) a loss is
not a per-token mean cross-entropy of a model that has not diverged: it is summed, scaled or
another kind of loss (CTC, squared error), and its level says nothing by itself.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from losslens.analysis import signals
from losslens.analysis.context import RunContext
from losslens.analysis.evalview import eval_view
from losslens.analysis.messages import Text, num, tr
from losslens.analysis.progress_signal import MAX_TOKEN_CE, loss_is_cross_entropy
from losslens.model import FloatArray

#: Classes tried when the config does not say how many there are.
MAX_GUESSED_CLASSES = 10

#: ln 1000 (nats): a uniform guess over 1,000 tokens; a token loss at or above it has learned
#: next to nothing (see the module docstring).
UNIFORM_1000 = math.log(1000)


@dataclass(frozen=True)
class Chance:
    level: float  # ln k
    outcomes: int  # k
    source: str  # "num_labels" | "vocab_size" | "first loss"


def _num_labels(ctx: RunContext) -> int | None:
    n = ctx.cfg_num("num_labels")
    if n is not None and n >= 2:
        return int(n)
    labels = ctx.cfg("id2label", "label2id")
    if isinstance(labels, Mapping) and len(labels) >= 2:
        return len(labels)
    return None


def chance_level(ctx: RunContext, first: float, tolerance: float = 0.05) -> Chance | None:
    """The chance level the loss started at, when its first value ``first`` is within
    ``tolerance`` (relative) of it; None when the run did not start at chance or the
    number of outcomes cannot be known."""
    if first <= 0 or not math.isfinite(first):
        return None

    def near(k: int) -> bool:
        return abs(first / math.log(k) - 1) <= tolerance

    k = _num_labels(ctx)
    if k is not None:
        return Chance(math.log(k), k, "num_labels") if near(k) else None
    if ctx.text_task:
        vocab = ctx.cfg_num("vocab_size")
        if vocab is not None and vocab >= 2 and near(int(vocab)):
            return Chance(math.log(int(vocab)), int(vocab), "vocab_size")
        return None
    if ctx.task not in ("classification", "preference"):
        return None
    for k in range(2, MAX_GUESSED_CLASSES + 1):
        if near(k):
            return Chance(math.log(k), k, "first loss")
    return None


def near_uniform(level: float, low: float = UNIFORM_1000, high: float = MAX_TOKEN_CE) -> bool:
    """Whether a cross-entropy ``level`` (nats) is that of a uniform guess over ``e^low``
    outcomes or more, yet still a plausible per-token mean (``high`` or less)."""
    return math.isfinite(level) and low <= level <= high


def uniform_note(
    ctx: RunContext,
    levels: tuple[float, float],
    passes: float,
    kept: tuple[float, float, float, float],
    band: tuple[float, float] = (UNIFORM_1000, MAX_TOKEN_CE),
) -> Text | None:
    """Why a cross-entropy still near a uniform guess over a large vocabulary shows too
    little learning, or None.

    ``levels`` is the loss's ``(first, last)`` level; it must end within ``band`` (nats:
    ``ln 1000`` to ``ln 2^18``, see the module docstring) in a run whose loss is a
    cross-entropy, with the eval loss, when logged, ending there too (the model is judged on
    held-out data). ``kept = (share, after, barely, early)``: the loss is still at ``share``
    of its first value after ``after`` epochs, or at ``barely`` of it after ``early``; or,
    at any share, the log reaches the end of the run (finished, or its last log within one
    logging interval of the planned steps): the model the run produced is at that level.
    """
    first, last = levels
    share_bar, after, barely, early = kept
    if first <= 0 or not loss_is_cross_entropy(ctx) or not near_uniform(last, *band):
        return None
    view = eval_view(ctx)
    if view is not None and float(view.values[-1]) < band[0]:
        return None
    share = last / first
    ended = ctx.finished or bool(
        ctx.planned_steps and ctx.last_step + max(ctx.log_interval, 1.0) >= ctx.planned_steps
    )
    still = (share >= share_bar and passes >= after) or (share >= barely and passes >= early)
    if not (still or ended):
        return None
    guess = tr(
        "a uniform guess over about {k} tokens (e^{l})",
        "약 {k}개 토큰 중 균등 추측(e^{l})",
        k=f"{math.exp(last):,.0f}",
        l=num(last),
    )
    if still:
        return tr(
            "after {e} epochs the loss is still {x}% of its first value ({a} → {b}), the "
            "score of {g}: the model has learned next to nothing",
            "{e} 에폭 후에도 손실이 처음 값의 {x}%({a} → {b})로 {g}의 점수입니다. 모델이 "
            "거의 아무것도 배우지 못했습니다",
            e=num(passes, 2),
            x=f"{share * 100:.0f}",
            a=num(first),
            b=num(last),
            g=guess,
        )
    return tr(
        "the run ended with the loss at {b} ({a} at the start), the score of {g}: it "
        "stopped far from trained",
        "손실 {b}(시작 {a})에서 실행이 끝났습니다. {g}의 점수로, 학습이 한참 덜 된 상태에서 "
        "멈췄습니다",
        a=num(first),
        b=num(last),
        g=guess,
    )


def stayed_at_chance(
    ctx: RunContext,
    curve: tuple[FloatArray, FloatArray, float],
    *,
    tolerance: float,
    band: float,
    epochs: float,
    most: float,
) -> tuple[Text, int] | None:
    """A loss that starts at chance (``ln k``, first value within ``tolerance``) and (medians
    of 3 logs) leaves the band within ``band`` of its first value (below or above) no
    earlier than ``epochs`` epochs into the run and ``most`` of the log, or never: passes
    that left the model guessing are a plateau at a high level whatever the run does after
    them. ``curve`` is ``(steps, values, first value)``; the note and the onset, or None."""
    st, v, first = curve
    spe = ctx.steps_per_epoch or 0.0
    total = float(st[-1] - st[0])
    if total <= 0 or st.size < 6 or spe <= 0:
        return None
    chance = chance_level(ctx, first, tolerance)
    if chance is None:
        return None
    # medians of 3 consecutive logs, each placed at its middle log: the loss leaves the band
    # at the first of them outside it (or never, and then the band lasts to the last log)
    smooth = np.exp(signals.rolling_median(signals.safe_log(v), 3))
    out = (smooth < band * first) | (smooth > first / band)
    k = int(np.argmax(out)) + 1 if out.any() else st.size - 1
    if k < 4:
        return None
    end = float(st[k])
    e_end = ctx.epoch_at(end)
    passes = e_end if e_end is not None else end / spe
    if passes < epochs or (end - float(st[0])) < most * total:
        return None
    note = tr(
        "for the first {e} epochs ({p}% of the log) the loss stayed within {d}% of {l}, the "
        "chance level ln {k} ≈ {c} (a uniform guess over {k} outcomes)",
        "처음 {e} 에폭 동안(로그의 {p}%) 손실이 우연 수준 ln {k} ≈ {c}(결과 {k}개 중 균등 "
        "추측)인 {l}의 {d}% 안에 머물렀습니다",
        e=num(passes, 2),
        p=f"{(end - float(st[0])) / total * 100:.0f}",
        d=f"{(1 - band) * 100:.0f}",
        l=num(first),
        k=chance.outcomes,
        c=f"{chance.level:.3f}",
    )
    return note, int(st[0])


__all__ = [
    "MAX_GUESSED_CLASSES",
    "MAX_TOKEN_CE",
    "UNIFORM_1000",
    "Chance",
    "chance_level",
    "near_uniform",
    "stayed_at_chance",
    "uniform_note",
]

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
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from losslens.analysis.context import RunContext

#: Classes tried when the config does not say how many there are.
MAX_GUESSED_CLASSES = 10


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


__all__ = ["MAX_GUESSED_CLASSES", "Chance", "chance_level"]

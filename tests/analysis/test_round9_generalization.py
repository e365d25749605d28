"""Round 9: generalization and memorization readings that transfer across corpus groups.

- A preference loss is read on its own scale (ln 2 at chance): every late train loss near
  zero with the reward accuracy at 1 is a saturated objective (memorization family), a warning
  with no eval set; a DPO loss that levels off at 0.2, or one that blows up at the end, is not.
- One harm, one warning: with overfitting (LL151) at warning or above, the eval-train gap
  (LL152) is its evidence, an info.
- Two evals after the best, all above it and the last by 5%, while the eval-train gap grew
  several-fold, is overfitting even when the fast descent before the best inflates tau.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from analysis_curves import ids, noisy, one, run_of

from losslens.analysis import analyze
from losslens.model import RunData, Severity

# -- preference loss read on its own scale ----------------------------------------------------


def _dpo(loss: np.ndarray, accuracy: np.ndarray, evals: tuple[Any, Any] | None = None) -> RunData:
    steps = np.arange(1, loss.size + 1) * 10
    series: dict[str, tuple[Any, Any]] = {
        "train/loss": (steps, loss),
        "train/epoch": (steps, steps / (5.0 * steps.size)),  # 2 epochs
        "rewards/accuracies": (steps, accuracy),
        "rewards/margins": (steps, np.linspace(2.0, 16.0, steps.size)),
        "rewards/chosen": (steps, np.linspace(1.0, 15.0, steps.size)),
    }
    if evals is not None:
        series["eval/loss"] = evals
    return run_of(series, config={"task": "dpo"})


def test_a_dpo_loss_at_zero_with_every_pair_separated_is_memorization_without_eval() -> None:
    loss = np.concatenate(([0.0017, 0.0004, 0.0001, 0.0001], np.zeros(16)))
    rep = analyze(_dpo(loss, np.ones(20)))
    f = one(rep, "LL153")
    assert f.kind == "memorization"
    assert f.severity is Severity.WARNING


def test_a_dpo_loss_levelling_off_at_0_2_is_not_memorization() -> None:
    # every pair separated, but at a healthy margin: the loss flattens near 0.2, not zero
    loss = noisy(0.2 + 0.49 * np.exp(-np.arange(40) / 4.0), 0.01, seed=2)
    rep = analyze(_dpo(loss, np.ones(40)))
    assert "LL153" not in ids(rep)


def test_a_dpo_loss_that_blows_up_at_the_end_is_not_memorization() -> None:
    # near zero, then a blow-up: the median of the tail is near zero but not every log is
    loss = np.array([0.69, 0.4, 0.1, 0.01, 0.001, 0.0, 0.001, 0.0, 0.001, 16.4])
    acc = np.array([0.5, 0.7, 0.9, 1.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0])
    assert "LL153" not in ids(analyze(_dpo(loss, acc)))


def test_a_dpo_loss_at_zero_whose_eval_follows_is_info() -> None:
    loss = np.concatenate(([0.01, 0.004], np.full(18, 0.001)))
    rep = analyze(_dpo(loss, np.ones(20), evals=([100, 200], [0.002, 0.0012])))
    assert one(rep, "LL153").severity is Severity.INFO


# -- the gap, and the gap growing -------------------------------------------------------------


def _sft(train_end: float) -> RunData:
    """Eval best at step 1000 after a fast descent (tau inflated), then two rises (+15%,
    +26%); the train loss falls from ~0.33 at the best to ``train_end``."""
    steps = np.arange(10, 2001, 10)
    train = np.where(
        steps <= 1000,
        0.33 + 0.5 * np.exp(-steps / 250.0),
        0.33 + (train_end - 0.33) * (steps - 1000) / 1000.0,
    )
    series: dict[str, tuple[Any, Any]] = {
        "train/loss": (steps, noisy(train, 0.01, seed=4)),
        "eval/loss": ([500, 1000, 1500, 2000], [0.5381, 0.4163, 0.4778, 0.5259]),
    }
    return run_of(series)


def test_two_rises_while_the_gap_grows_several_fold_are_overfitting() -> None:
    rep = analyze(_sft(train_end=0.07))
    f = one(rep, "LL151")
    assert f.severity is Severity.WARNING
    assert f.onset_step == 1000
    # one harm, one warning: the large gap is the overfitting's evidence
    assert one(rep, "LL152").severity is Severity.INFO


def test_two_rises_while_the_gap_grows_less_than_3x_are_not_overfitting() -> None:
    # the same eval curve, the train loss falling only to 0.32: the gap grows ~2.2x, and the
    # train loss falls less than 10% (a bigger fall would make the two rises overfitting by
    # themselves, test_round11)
    rep = analyze(_sft(train_end=0.32))
    assert "LL151" not in ids(rep)


def test_a_large_gap_without_overfitting_stays_a_warning() -> None:
    # eval flat-then-rising by a hair after its best, train far below: the gap is the only harm
    steps = np.arange(10, 1001, 10)
    train = 0.05 + 0.9 * np.exp(-steps / 150.0)
    series: dict[str, tuple[Any, Any]] = {
        "train/loss": (steps, train),
        "eval/loss": ([250, 500, 750, 1000], [0.60, 0.58, 0.585, 0.62]),
    }
    rep = analyze(run_of(series))
    assert "LL151" not in ids(rep)
    assert one(rep, "LL152").severity is Severity.WARNING

"""Round 7: generalization and memorization readings a human reader states in one sentence.

- A sawtooth whose drop at each epoch boundary only gives back the rise inside the epoch is
  the data order repeating, not the model recognising examples (no staircase).
- Near zero is a level: one lucky batch in the first pass does not date when the train loss
  got there.
- With no eval set, a memorised run past the usual 3 passes makes the count a warning.
- One eval a full pass after the best, above it by more than 1%, with the task metrics worse
  there too, is overfitting (two measures of the held-out set agree).
- A task metric excuses an eval-loss rise only when it gained more than its own
  eval-to-eval move since the eval-loss minimum.
"""

from __future__ import annotations

import numpy as np
from analysis_curves import epoch_run, ids, noisy, one

from losslens.analysis import analyze
from losslens.model import RunData, Severity


def _sawtooth(drop: float, rise: float, epochs: int = 8, per_epoch: int = 10) -> np.ndarray:
    """log loss falling by ``drop`` at each boundary and rising by ``rise`` inside each epoch."""
    pos = np.tile(np.arange(per_epoch) / (per_epoch - 1), epochs)
    ep = np.repeat(np.arange(epochs), per_epoch)
    return noisy(0.4 * np.exp(-drop * ep + rise * pos), 0.003, seed=1)


# -- staircase: data order vs recognition ------------------------------------------------------


def test_a_sawtooth_that_gives_back_the_in_epoch_rise_is_data_order_not_memorization() -> None:
    # the loss climbs ~10% through every epoch (hard examples last) and falls back at the
    # boundary, 1% lower per epoch: the first epoch shows the same shape, nothing is recognised
    rep = analyze(epoch_run(_sawtooth(drop=0.01, rise=0.1), spe=100, every=10))
    assert "LL153" not in ids(rep)
    assert not any(f.severity is not Severity.INFO for f in rep.findings if f.rule_id == "LL154")


def test_a_drop_beyond_the_in_epoch_rise_is_a_staircase_warning_without_eval() -> None:
    # the same climb inside epochs, but each boundary sheds 0.15 more than it gives back
    rep = analyze(epoch_run(_sawtooth(drop=0.15, rise=0.05, epochs=6), spe=100, every=10))
    f = one(rep, "LL153")
    assert f.severity is Severity.WARNING
    assert f.evidence.values["boundaries"] >= 4


# -- near zero is a level, not one lucky batch -------------------------------------------------


def _lucky_then_memorised(lucky: bool) -> np.ndarray:
    ep = np.arange(1, 51) / 10  # 5 epochs, 10 logs each
    train = np.where(ep <= 2.5, 1.0 * np.exp(-ep / 1.55), 0.2 * np.exp(-(ep - 2.5) / 0.6))
    train = noisy(train, 0.02, seed=3)
    if lucky:
        train[3] = 0.05  # one easy batch at epoch 0.4
    return train


_EVALS = (
    np.arange(50, 501, 50),
    np.array([1.0, 0.9, 0.85, 0.8, 0.78, 0.77, 0.85, 0.95, 1.05, 1.15]),
)


def test_one_lucky_batch_in_the_first_pass_does_not_date_near_zero() -> None:
    # near zero is reached at epoch ~3 and the eval loss rises after its best at epoch 3:
    # memorization with harm shown, whether or not an easy batch dipped low at epoch 0.4
    for lucky in (False, True):
        rep = analyze(epoch_run(_lucky_then_memorised(lucky), spe=100, every=10, evals=_EVALS))
        assert one(rep, "LL151").severity is not Severity.INFO
        assert one(rep, "LL153").severity is Severity.ERROR


def test_a_loss_near_zero_within_the_first_pass_is_still_not_memorization() -> None:
    ep = np.arange(1, 51) / 10
    train = noisy(np.maximum(1.0 * np.exp(-ep / 0.15), 0.002), 0.02, seed=4)
    rep = analyze(epoch_run(train, spe=100, every=10))
    assert "LL153" not in ids(rep)


# -- too many epochs: memorised with no eval set -----------------------------------------------


def _decay(epochs: float, tau: float, n: int = 120) -> np.ndarray:
    ep = np.linspace(epochs / n, epochs, n)
    return noisy(0.5 * np.exp(-ep / tau), 0.01, seed=0)


def test_memorised_without_eval_past_three_epochs_makes_the_count_a_warning() -> None:
    rep = analyze(epoch_run(_decay(6.0, 2.2), spe=120 / 6.0 * 25, every=25))
    assert one(rep, "LL153").severity is Severity.ERROR
    assert one(rep, "LL154").severity is Severity.WARNING  # 6 epochs, below the 10 of old


def test_memorised_within_three_epochs_keeps_the_count_quiet() -> None:
    rep = analyze(epoch_run(_decay(2.9, 1.09), spe=120 * 25 / 2.9, every=25))
    assert all(f.severity is Severity.INFO for f in rep.findings if f.rule_id == "LL154")


def test_with_an_eval_set_the_count_below_ten_epochs_stays_quiet() -> None:
    # memorised over 6 epochs, the eval loss holding its best: the eval shows no harm
    train = _decay(6.0, 2.2)
    est = np.arange(500, 3001, 500)
    evals = (est, np.array([1.0, 0.9, 0.85, 0.83, 0.82, 0.81]))
    rep = analyze(epoch_run(train, spe=120 / 6.0 * 25, every=25, evals=evals))
    assert all(f.severity is Severity.INFO for f in rep.findings if f.rule_id == "LL154")


# -- overfitting: one pass after the best, confirmed by the task metrics -----------------------


def _one_per_epoch(acc_last: float | None) -> RunData:
    ep = np.arange(1, 31) / 10  # 3 epochs of 100 steps, a log every 10
    train = noisy(0.9 * np.exp(-ep / 1.2), 0.01, seed=5)
    est = np.array([100, 200, 300])
    evals = (est, np.array([1.0, 0.90, 0.9225]))  # best at epoch 2, +2.5% a pass later
    acc = (est, np.array([0.65, 0.74, acc_last])) if acc_last is not None else None
    extra = {"eval/accuracy": acc} if acc is not None else None
    return epoch_run(train, spe=100, every=10, evals=evals, extra=extra)


def test_a_small_rise_a_pass_after_the_best_with_the_metric_worse_is_overfitting() -> None:
    rep = analyze(_one_per_epoch(acc_last=0.714))
    f = one(rep, "LL151")
    assert f.severity is Severity.WARNING
    assert f.onset_step == 200


def test_the_same_rise_with_the_metric_better_or_absent_is_not_a_warning() -> None:
    for acc_last in (0.80, None):
        rep = analyze(_one_per_epoch(acc_last=acc_last))
        assert all(f.severity is Severity.INFO for f in rep.findings if f.rule_id == "LL151")


# -- a metric that only wobbles excuses nothing ------------------------------------------------


def _rise_with_metric(acc: list[float]) -> RunData:
    ep = np.arange(1, 51) / 10
    train = noisy(1.2 * np.exp(-ep / 7.0), 0.01, seed=6)
    est = np.arange(100, 501, 100)
    evals = (est, np.array([1.3, 1.2, 1.28, 1.34, 1.36]))  # +13% over three evals
    return epoch_run(
        train, spe=100, every=10, evals=evals, extra={"eval/accuracy": (est, np.array(acc))}
    )


def test_a_metric_gaining_less_than_its_own_move_does_not_excuse_the_rise() -> None:
    rep = analyze(_rise_with_metric([0.50, 0.55, 0.5406, 0.5438, 0.5563]))
    assert one(rep, "LL151").severity is Severity.WARNING


def test_a_metric_clearly_still_improving_excuses_a_rise_within_the_eval_movement() -> None:
    rep = analyze(_rise_with_metric([0.50, 0.55, 0.58, 0.61, 0.64]))
    assert one(rep, "LL151").severity is Severity.INFO

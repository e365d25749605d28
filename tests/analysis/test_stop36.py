"""Stop 36: two losses moving apart at every eval since the best (LL151).

Every eval after the best sits above it (two or more, by 1%), the last 2.5% above it and
beyond two noise sds of one eval, while the train level fell 10% or more over the same
stretch: the held-out loss got worse at every eval while the training loss kept improving.
Before, such a rise needed the 5% floor (or a task metric, or a gap grown 3x, to confirm
it), so the common three-epoch run with one eval per epoch and its best at the first never
showed a small overfitting that readers grade a warning.
"""

from __future__ import annotations

import numpy as np
from analysis_curves import epoch_run, noisy, rule

from losslens.model import RunData, Severity


def _three_epochs(evals: list[float], train_end: float) -> RunData:
    """3 epochs of 400 steps logged every 10, evals at each epoch's end; the train loss falls
    from 0.7 to 0.3 over the first epoch, then linearly to ``train_end``."""
    steps = np.arange(10, 1201, 10)
    train = np.interp(steps, [10, 400, 1200], [0.7, 0.3, train_end])
    return epoch_run(noisy(train, 0.01, 3), spe=400, every=10, evals=([400, 800, 1200], evals))


def test_evals_above_the_best_at_each_epoch_while_train_falls_are_overfitting() -> None:
    # best at the first eval, then +2.5% and +3.5%; train 0.30 -> 0.22 over those two epochs
    f = rule(_three_epochs([0.2843, 0.2914, 0.2942], 0.22), "LL151")
    assert f is not None and f.severity is Severity.WARNING
    assert f.onset_step == 400


def test_the_same_evals_while_the_train_loss_stays_flat_are_not() -> None:
    assert rule(_three_epochs([0.2843, 0.2914, 0.2942], 0.295), "LL151") is None


def test_a_last_eval_only_2pct_above_the_best_is_not_yet() -> None:
    assert rule(_three_epochs([0.2843, 0.2900, 0.2900], 0.22), "LL151") is None


def test_a_small_rise_inside_a_noisy_eval_curve_is_noise() -> None:
    # ten evals swinging ~5% from one to the next; the last three 2.5%, 1.2% and 3.1% above
    # the late minimum while the train level falls 20%: within two noise sds of one eval
    steps = np.arange(10, 1001, 10)
    train = np.interp(steps, [10, 100, 700, 1000], [0.4, 0.2, 0.2, 0.16])
    evals = [0.2321, 0.26, 0.2168, 0.2273, 0.2154, 0.2205, 0.2026, 0.2077, 0.205, 0.2088]
    run = epoch_run(
        noisy(train, 0.01, 4), spe=8000, every=10, evals=(np.arange(100, 1001, 100), evals)
    )
    assert rule(run, "LL151") is None

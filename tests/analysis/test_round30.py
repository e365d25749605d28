"""Round 30: an eval loss still improving must improve by a size that counts, after v21.

Under-learning (LL135) grades a slow loss info when something says the model still learns; one
such sign was an eval loss best at its last eval and lower at each of its last evals. Counted
by sign alone, an eval loss creeping down by 0.7% an epoch excused a classifier whose train loss
had been flat near chance for two epochs. The sign now needs a size: the eval loss must gain at
least the rule's own bar for a slow but steady decline (1% per epoch), or it is as flat as the
train loss beside it (the conventions: judge by size, not by statistical significance).
"""

from __future__ import annotations

import numpy as np
from analysis_curves import epoch_run, noisy, one

from losslens.analysis import analyze
from losslens.model import RunData, Severity


def _classifier_flat_near_chance(evals: list[float]) -> RunData:
    """A binary classifier over 3 epochs of 100 steps, logged every 10: the loss falls from
    chance (0.70) to about 0.63 in the first epoch and stays there (noisy, as small batches
    are), under a linear decay from 2e-5; an eval each epoch."""
    n = 30
    ep = np.arange(1, n + 1) / 10
    train = noisy(0.625 + 0.075 * np.exp(-ep / 0.25), 0.06, 7)
    steps = np.arange(10, 301, 10)
    lr = 2e-5 * (1 - steps / 300)
    acc = np.array([0.655, 0.657, 0.656])
    return epoch_run(
        train,
        spe=100,
        every=10,
        evals=(np.array([100, 200, 300]), np.array(evals)),
        extra={"train/learning_rate": (steps, lr), "eval/accuracy": ([100, 200, 300], acc)},
    )


def test_an_eval_loss_creeping_down_under_one_percent_an_epoch_does_not_excuse_a_plateau() -> None:
    f = one(analyze(_classifier_flat_near_chance([0.6332, 0.6289, 0.6234])), "LL135")
    assert f.severity is Severity.WARNING


def test_an_eval_loss_still_falling_by_a_few_percent_an_epoch_keeps_it_info() -> None:
    f = one(analyze(_classifier_flat_near_chance([0.6532, 0.6289, 0.6034])), "LL135")
    assert f.severity is Severity.INFO


# -- LL121: a ratio over a near-zero level measures nothing ------------------------------------


def _near_zero_with_bumps(bump: float, *, evals: bool = True) -> RunData:
    """A classifier whose loss falls from 0.68 to about 2e-4 within its first tenth and then
    shows single-log bumps of ``bump`` that come straight back, over 3 epochs of 100 logs;
    with ``evals``, an eval loss at each epoch end that improves to its best at the last."""
    n = 300
    loss = np.full(n, 2e-4) * noisy(np.ones(n), 0.2, 3)
    loss[:30] = 0.68 * np.exp(-np.arange(30) / 3.0) + 2e-4
    for i in (80, 140, 200, 260):
        loss[i] = bump
    at = ([1000, 2000, 3000], [0.011, 0.0041, 0.0031]) if evals else None
    return epoch_run(loss, spe=1000, every=10, evals=at)


def test_bumps_from_near_zero_with_the_eval_loss_improving_after_them_are_info() -> None:
    f = one(analyze(_near_zero_with_bumps(0.3)), "LL121")
    assert f.severity is Severity.INFO


def test_bumps_from_near_zero_with_no_eval_to_rule_out_harm_are_a_warning() -> None:
    # 1,500x a level of 2e-4, as the conventions' 100x bar says; nothing shows it did no harm
    f = one(analyze(_near_zero_with_bumps(0.3, evals=False)), "LL121")
    assert f.severity is Severity.WARNING


def test_a_bump_from_near_zero_back_to_the_first_loss_is_still_a_warning() -> None:
    f = one(analyze(_near_zero_with_bumps(0.9)), "LL121")
    assert f.severity is Severity.WARNING

"""Rounds 18 and 19 (the readings tests v14, v15g and the retired v13 asked for). Round 18: a
loss that blows up to many times its first value and stays above it for a fifth of the run
before it comes back is a symptom of a learning rate too high (LL112), as divergence, NaN or
exploding gradients are. Round 19: a train loss near zero since the first pass, kept there over
the repeated examples while the eval loss rose from its best beyond its noise, is memorization
graded by that harm (LL153), however early it got there."""

from __future__ import annotations

import numpy as np
from analysis_curves import noisy, rule, run_of, train_eval_run

from losslens.model import RunData, Severity


def _excursion(top: float) -> RunData:
    """100 steps at a constant LR of 2 logged every 2 steps: the loss starts at 5.2, climbs
    to ``top`` at step 30 and falls back under its start by step 56."""
    steps = np.arange(2, 101, 2)
    bump = (top - 4.0) * np.exp(-(((steps - 30) / 12) ** 2))
    loss = 4.0 + bump + 1.8 * np.exp(-steps / 3)
    return run_of(
        {
            "train/loss": (steps, noisy(loss, 0.05, 4)),
            "train/learning_rate": (steps, np.full(steps.size, 2.0)),
            "train/epoch": (steps, steps / 25),
        },
        config={"learning_rate": 2.0},
    )


def test_a_loss_that_blew_up_and_came_back_shows_the_lr_is_too_high() -> None:
    f = rule(_excursion(70.0), "LL112")
    assert f is not None and f.severity is Severity.WARNING


def test_a_small_bump_does_not() -> None:
    assert rule(_excursion(9.0), "LL112") is None


# -- round 19 --------------------------------------------------------------------------------


def _near_zero_early(evals: list[float]) -> RunData:
    """3 epochs of 400 steps logged every 50: the train loss falls from 1.2 to 0.07 by step 200
    (epoch 0.5) and stays there; an eval every 100 steps."""
    train = 0.07 + 1.2 * np.exp(-np.arange(50, 1201, 50) / 40)
    return train_eval_run(noisy(train, 0.01, 7), evals, eval_every=100, spe=400, every=50)


def test_a_loss_near_zero_since_the_first_pass_with_the_eval_rising_is_memorization() -> None:
    rising = [0.40, 0.46, 0.48, 0.50, 0.47, 0.58, 0.54, 0.57, 0.57, 0.59, 0.60, 0.60]
    f = rule(_near_zero_early(rising), "LL153")
    assert f is not None and f.severity is Severity.ERROR


def test_with_the_eval_holding_its_best_it_is_not() -> None:
    flat = [0.40, 0.39, 0.385, 0.38, 0.381, 0.379, 0.38, 0.378, 0.379, 0.378, 0.379, 0.378]
    assert rule(_near_zero_early(flat), "LL153") is None

"""Round 18 (the readings tests v14 and v15g asked for). A loss that blows up to many times
its first value and stays above it for a fifth of the run before it comes back is a symptom of
a learning rate too high (LL112), as divergence, NaN or exploding gradients are."""

from __future__ import annotations

import numpy as np
from analysis_curves import noisy, rule, run_of

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

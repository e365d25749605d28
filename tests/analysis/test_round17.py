"""Round 17 (the readings test v13 asked for). With no eval at all, a loss that first got near
zero while the data repeated for the first time (epochs 1 to 1.5) is memorization once the run
goes past the usual 3 passes, like one that got there later (LL153). A loss that drops from 0.1
nats or more to exactly 0 in one log and stays there is no longer computed (LL103), not a loss
that never moved (LL131)."""

from __future__ import annotations

import numpy as np
from analysis_curves import noisy, rule, run_of

from losslens.model import RunData, Severity


def _near_zero_in_the_second_pass(epochs: float) -> RunData:
    """A full fine-tune of 33 steps per epoch logged every 5 steps with no eval: the loss
    falls from 2 to under 0.1 by epoch 1.2, then to 1e-4 and stays there."""
    steps = np.arange(5, int(epochs * 33) + 1, 5)
    loss = np.maximum(2.0 * np.exp(-steps / 13), 1e-4)
    return run_of(
        {
            "train/loss": (steps, noisy(loss, 0.05, 3)),
            "train/learning_rate": (steps, 5e-5 * (1 - steps / (epochs * 33 + 5))),
            "train/epoch": (steps, steps / 33),
        },
        config={"learning_rate": 5e-5},
    )


def test_passes_past_the_usual_three_over_a_loss_near_zero_since_the_second_are_memorization() -> (
    None
):
    f = rule(_near_zero_in_the_second_pass(9.7), "LL153")
    assert f is not None and f.severity is Severity.ERROR


def test_within_the_usual_three_they_are_a_warning_when_far_below_the_first_pass() -> None:
    # round 33: the end sits far more than 3x below the first pass's lowest log (its held-out
    # measure), so the repeated examples were learned by heart; the usual count of passes
    # keeps it a warning, not the error of more passes
    f = rule(_near_zero_in_the_second_pass(2.9), "LL153")
    assert f is not None and f.severity is Severity.WARNING


def _drops_to_zero(before: float) -> RunData:
    """A console paste of 5 logs at a tiny warmup LR: the first loss, then exactly 0."""
    steps = np.arange(1, 6)
    return run_of(
        {
            "train/loss": (steps, np.array([before, 0.0, 0.0, 0.0, 0.0])),
            "train/learning_rate": (steps, 3.4e-7 * steps),
            "train/epoch": (steps, 0.005 * steps),
        }
    )


def test_a_loss_that_drops_to_exactly_0_in_one_log_is_no_longer_computed() -> None:
    f = rule(_drops_to_zero(3.85), "LL103")
    assert f is not None and f.severity is Severity.ERROR and f.onset_step == 2
    assert rule(_drops_to_zero(3.85), "LL131") is None  # it moved: not "never moves"


def test_one_that_prints_as_0_after_a_gradual_fall_is_not() -> None:
    assert rule(_drops_to_zero(0.0002), "LL103") is None

"""Round 20: "a loss that never moves" (LL131, an error) reads the whole log. A loss that fell a
tenth from its first logs moved: the updates reach the weights and the data carry a signal.
Still declining after that drop by 1% or more (its fitted line, judged by size), it learns
slowly, which the plateau rules grade; stopped dead after it, it never moves again."""

from __future__ import annotations

import numpy as np
from analysis_curves import cosine_lr, noisy, rule, run_of

from losslens.model import RunData, Severity


def _drop_then(
    level_end: float, first: float = 2.4, warmup: int = 100, fall: float = 15
) -> RunData:
    """One epoch of 2,000 steps logged every 5 under a cosine LR: the loss falls from ``first``
    to 2.05 with a time constant of ``fall`` steps, then drifts linearly to ``level_end``."""
    steps = np.arange(5, 2001, 5)
    drift = 2.05 + (level_end - 2.05) * (steps - 60).clip(0) / 1940
    loss = drift + (first - 2.05) * np.exp(-steps / fall)
    return run_of(
        {
            "train/loss": (steps, noisy(loss, 0.004, 3)),
            "train/learning_rate": (steps, cosine_lr(steps, 5e-5, 2000, warmup=warmup)),
            "train/epoch": (steps, steps / 2000),
        },
        config={"learning_rate": 5e-5},
    )


def test_a_slow_decline_after_an_early_drop_is_not_a_loss_that_never_moves() -> None:
    assert rule(_drop_then(1.96), "LL131") is None


def test_a_loss_stopped_dead_after_the_drop_never_moves_again() -> None:
    f = rule(_drop_then(2.05, first=18.0, warmup=0, fall=6), "LL131")
    assert f is not None and f.severity is Severity.ERROR


def test_a_loss_flat_from_its_first_logs_still_never_moves() -> None:
    f = rule(_drop_then(2.04, first=2.1), "LL131")
    assert f is not None and f.severity is Severity.ERROR

"""Round 24: a non-finite gradient norm beside a finite train loss leaves the loss readable.

LL131 (and LL133, which shares its reading) stood down whenever a numerical rule reported
anything, even a gradient norm that overflowed while the loss stayed finite. A gradient norm
that is inf at every step means no update was applied, and a loss that never moves is then the
harm the user sees: both are reported. A train loss that is itself NaN still stops the reading.
"""

from __future__ import annotations

import numpy as np
from analysis_curves import noisy, rule, run_of

from losslens.model import RunData


def _flat(grad: float, loss_nan_at: int | None = None) -> RunData:
    """300 steps logged every 3, a warmup to 2e-4 over 100 steps then a cosine decay; the loss
    scatters around 2.44 without a trend; every gradient norm is ``grad``."""
    steps = np.arange(3, 301, 3)
    lr = np.where(
        steps <= 100, 2e-4 * steps / 100, 1e-4 * (1 + np.cos(np.pi * (steps - 100) / 200))
    )
    loss = noisy(np.full(steps.size, 2.44), 0.02, 4)
    if loss_nan_at is not None:
        loss[loss_nan_at:] = np.nan
    return run_of(
        {
            "train/loss": (steps, loss),
            "train/grad_norm": (steps, np.full(steps.size, grad)),
            "train/learning_rate": (steps, lr),
            "train/epoch": (steps, steps / 100),
        },
        config={"learning_rate": 2e-4},
    )


def test_a_flat_loss_with_an_inf_gradient_norm_at_every_step_never_moves() -> None:
    assert rule(_flat(np.inf), "LL101") is not None
    assert rule(_flat(np.inf), "LL131") is not None


def test_a_nan_train_loss_still_stops_the_progress_reading() -> None:
    assert rule(_flat(1.0, loss_nan_at=60), "LL131") is None

"""Round 26: a loss that barely moves has stopped improving, for LL123 too.

LL123 reports a gradient norm that grows tenfold or more while the loss stops improving. It
used to stand down whenever the loss's last window was below its first by any amount, so a
loss flat at 11.3 nats (1% lower at the end) hid a gradient norm growing 1.5× at every log.
A fall of less than 5% is now read as "stopped improving"; a loss that keeps falling by more
still spares a growing gradient norm (normal late in a decaying schedule).
"""

from __future__ import annotations

import numpy as np
from analysis_curves import rule, run_of

from losslens.model import RunData


def _growing(loss_end: float) -> RunData:
    """Ten logs; the gradient norm grows 1.5× at each, the loss goes from 11.7 to loss_end."""
    steps = np.arange(1, 11)
    grad = 3.8e12 * 1.5 ** (steps - 1)
    loss = np.linspace(11.7, loss_end, steps.size)
    return run_of({"train/loss": (steps, loss), "train/grad_norm": (steps, grad)})


def test_a_growing_gradient_norm_over_a_loss_that_barely_moves_is_reported() -> None:
    # the loss ends 1.5% below its start
    assert rule(_growing(11.53), "LL123") is not None


def test_a_growing_gradient_norm_over_a_falling_loss_is_not() -> None:
    # the loss ends 30% below its start
    assert rule(_growing(8.2), "LL123") is None

"""Round 25: a stalled eval loss that holds its minimum is worth knowing, not a warning.

LL151 reads an eval loss stalled for 2 epochs or more while the train loss falls 10% or more
and the gap widens. When the evals after the curve's minimum sit within 1% of it (median),
the held-out loss did not get worse: info (the conventions' warning is "overfitting visible in
eval"). Evals that sit above the minimum as a level keep the warning, however the rise
readings miss them (a fast descent before the best makes their bar wide).
"""

from __future__ import annotations

import numpy as np
from analysis_curves import cosine_lr, noisy, rule, run_of

from losslens.model import RunData, Severity


def _stalled(evals: list[float]) -> RunData:
    """One eval per epoch of 100 steps, logged every 10; the train loss falls from 0.5 to
    0.06 over the run (40% a pass at the end), the LR decays along a cosine."""
    n = len(evals)
    steps = np.arange(10, 100 * n + 1, 10)
    train = noisy(0.5 * np.exp(-np.log(0.5 / 0.06) * steps / steps[-1]), 0.01, 3)
    est = np.arange(100, 100 * n + 1, 100)
    return run_of(
        {
            "train/loss": (steps, train),
            "train/epoch": (steps, steps / 100),
            "train/learning_rate": (steps, cosine_lr(steps, 1e-5, int(steps[-1]) + 10)),
            "eval/loss": (est, np.asarray(evals)),
        },
    )


def test_a_stalled_eval_loss_holding_its_minimum_is_info() -> None:
    # a Whisper-like curve: the minimum 0.1871 at the 7th eval, then 0.1877-0.1884 (+0.7% at
    # most) while the train loss keeps falling
    f = rule(
        _stalled([0.30, 0.25, 0.22, 0.205, 0.1951, 0.1883, 0.1871, 0.1884, 0.1880, 0.1878, 0.1884]),
        "LL151",
    )
    assert f is not None and f.severity is Severity.INFO


def test_a_stalled_eval_loss_sitting_above_its_minimum_is_a_warning() -> None:
    # a fast descent, then every eval after the minimum 2.5-3.7% above it
    f = rule(_stalled([1.0, 0.8, 0.65, 0.6, 0.62, 0.615, 0.622, 0.618]), "LL151")
    assert f is not None and f.severity is Severity.WARNING

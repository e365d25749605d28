"""Stop 39: a gradient norm that collapses over a log too short for two windows.

Six logs of a preference run whose gradient norm falls from 0.39 to 5e-6 (five decades) while
its loss wanders between 0.26 and 0.57 have no early window of three logs and no late one,
yet nothing else explains a fall that size: the weights stopped changing before the model
learned anything. A first log ten times the usual level is common, ten thousand times is not,
so on such a log the first value is the early level and the bar is ten times as strict.
"""

from __future__ import annotations

import numpy as np
from analysis_curves import rule, run_of

STEPS = np.arange(2, 14, 2)
LOSS = np.array([0.566, 0.303, 0.260, 0.433, 0.303, 0.433])


def test_a_collapse_over_six_logs_is_vanishing() -> None:
    grad = np.array([0.385, 2.8e-3, 2.2e-4, 6.0e-6, 4.6e-6, 5.8e-6])
    f = rule(run_of({"train/loss": (STEPS, LOSS), "train/grad_norm": (STEPS, grad)}), "LL134")
    assert f is not None and "first log" in f.evidence.text["en"]


def test_a_short_log_needs_four_decades() -> None:
    # a 1,000-fold fall after one odd first log is not enough on six logs
    grad = np.array([0.385, 2.8e-3, 2.2e-3, 4.0e-4, 3.6e-4, 3.9e-4])
    assert (
        rule(run_of({"train/loss": (STEPS, LOSS), "train/grad_norm": (STEPS, grad)}), "LL134")
        is None
    )


def test_a_short_log_whose_loss_keeps_falling_is_converging() -> None:
    grad = np.array([0.385, 2.8e-3, 2.2e-4, 6.0e-6, 4.6e-6, 5.8e-6])
    loss = np.array([0.566, 0.503, 0.460, 0.333, 0.253, 0.213])
    assert (
        rule(run_of({"train/loss": (STEPS, loss), "train/grad_norm": (STEPS, grad)}), "LL134")
        is None
    )

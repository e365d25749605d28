"""Stop 41: an eval loss that never moves is a model that does not learn (LL135 (f))."""

from __future__ import annotations

import numpy as np
from analysis_curves import epoch_run, noisy, rule

from losslens.model import RunData, Severity


def _flat_eval(evals: list[float]) -> RunData:
    """oh003-like: one epoch of 62 steps logged at every step, a train loss swinging about
    +-20% with no trend (its noise takes it 10% below its first logs early, so the progress
    rule LL131 reads it as having moved), and four evals."""
    train = noisy(np.full(62, 2.3), 0.2, 3)
    return epoch_run(train, spe=62, every=1, evals=(np.array([13, 26, 39, 52]), evals))


def test_an_eval_loss_that_never_moves_is_not_learning() -> None:
    # best at the last eval, 0.04% below the first: judged by size it never moved
    f = rule(_flat_eval([2.2270, 2.2268, 2.2262, 2.2261]), "LL135")
    assert f is not None and f.severity is Severity.WARNING
    assert f.onset_step == 13


def test_an_eval_loss_that_fell_beyond_the_bar_is_learning() -> None:
    # the same noisy train loss while the eval loss falls 6%: the held-out loss shows learning
    assert rule(_flat_eval([2.227, 2.18, 2.13, 2.09]), "LL135") is None

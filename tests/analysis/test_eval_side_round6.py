"""Round 6 eval-side readings: a rise the task metrics confirm (LL151), and the epoch count
graded by harm only after many passes (LL154).

Synthetic runs built from a few arrays (no mocks): each test states the shape of the curves
and the grade a user should see, with the healthy shape it must leave alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from tests.analysis.analysis_curves import noisy, train_eval_run

from losslens.analysis import analyze
from losslens.model import Severity


def _rule(report: Any, rule_id: str) -> Any:
    return next((f for f in report.findings if f.rule_id == rule_id), None)


# -- LL151: a rise after a fast descent, confirmed by the task metric ------------------------

#: a fast descent to the best at the second eval (-20%: tau = 40%), then a jump and a level
#: that stays 5-13% above the best at every later eval
_JUMP_AND_HOLD = [0.292, 0.234, 0.374, 0.247, 0.264]


def _classifier(evals: list[float], accuracy: list[float]) -> Any:
    """Two epochs of 250 steps, train logged every 50 and falling 0.57 -> 0.16, an eval every
    100 steps with an accuracy beside it."""
    train = noisy(np.linspace(0.57, 0.16, 10), 0.01, seed=3)
    return train_eval_run(train, evals, eval_every=100, spe=250, every=50, accuracy=accuracy)


def test_a_rise_the_task_metric_confirms_is_overfitting_after_a_fast_descent() -> None:
    # the descent before the best moved the curve 20% per eval, so the curve's own movement
    # (tau) hides a 13% rise; but the accuracy is worse at the last eval than at the best
    # and the eval loss never came back to its best: two measures of the held-out set agree
    # (the accuracy 3.2 points below its best, more than its 1.25-point move between evals)
    acc = [0.875, 0.894, 0.860, 0.866, 0.862]
    f = _rule(analyze(_classifier(_JUMP_AND_HOLD, acc)), "LL151")
    assert f is not None and f.severity is Severity.WARNING
    assert f.onset_step == 200


def test_the_same_rise_with_the_task_metric_still_improving_is_not_a_warning() -> None:
    acc = [0.875, 0.894, 0.900, 0.905, 0.910]
    f = _rule(analyze(_classifier(_JUMP_AND_HOLD, acc)), "LL151")
    assert f is None or f.severity is Severity.INFO


def test_a_rise_that_comes_back_to_the_best_is_not_confirmed() -> None:
    # one later eval back at the best: the jump was a swing, not a new level
    came_back = [0.292, 0.234, 0.374, 0.2345, 0.264]
    acc = [0.875, 0.894, 0.860, 0.879, 0.889]
    f = _rule(analyze(_classifier(came_back, acc)), "LL151")
    assert f is None or f.severity is Severity.INFO


def test_a_last_eval_within_the_floor_is_not_confirmed() -> None:
    # every later eval above the best, but the last only 3% above it: within the floor
    small = [0.292, 0.234, 0.374, 0.247, 0.241]
    acc = [0.875, 0.894, 0.860, 0.879, 0.889]
    f = _rule(analyze(_classifier(small, acc)), "LL151")
    assert f is None or f.severity is Severity.INFO


# -- LL154: an eval rise makes the epoch count a warning only after many passes ---------------

#: best at the second eval, then four rises in a row (+22% at the end): overfitting
_RISE = [1.00, 0.90, 0.93, 0.97, 1.02, 1.10]


def _epochstrain_eval_run(spe: int) -> Any:
    """600 steps, train logged every 10 and falling 2.0 -> 0.5, an eval every 100 steps;
    ``spe`` steps per epoch sets the number of passes (600 / spe)."""
    train = noisy(np.linspace(2.0, 0.5, 60), 0.005, seed=5)
    return train_eval_run(train, _RISE, eval_every=100, spe=spe)


@pytest.mark.parametrize("spe", [50, 100])
def test_an_eval_rise_after_its_best_is_overfitting_and_the_count_its_cause(spe: int) -> None:
    # 12 epochs (the eval best at epoch 4) or 6 (best at 2): one problem, overfitting (LL151);
    # the count that led to it is an info, with the passes to train
    rep = analyze(_epochstrain_eval_run(spe=spe))
    of = _rule(rep, "LL151")
    assert of is not None and of.severity is not Severity.INFO
    f = _rule(rep, "LL154")
    assert f is not None and f.severity is Severity.INFO
    assert "best at epoch" in f.evidence.text["en"]

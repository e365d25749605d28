"""Small but sustained eval rises (LL151): a climb out of the minimum that holds, a rise one
epoch later, and a task metric that never left its floor excusing nothing.

Synthetic runs built from a few arrays (no mocks): each test states the shape of the curves
and the grade a user should see, with the healthy shape it must leave alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from tests.analysis.analysis_curves import noisy, train_eval_run

from losslens.analysis import analyze
from losslens.model import Severity


def _overfit(report: Any) -> Any:
    return next((f for f in report.findings if f.rule_id == "LL151"), None)


# -- a climb out of the minimum that levels off above it -------------------------------------


def _second_epoch(evals: list[float], accuracy: list[float] | None = None) -> Any:
    """Two epochs of 100 steps: the train loss falls through epoch 1, drops at the epoch
    boundary (the examples seen again) and stays lower; an eval every 20 steps."""
    first = np.linspace(2.6, 1.75, 10)
    second = np.linspace(1.62, 1.57, 10)
    train = noisy(np.concatenate([first, second]), 0.004, seed=11)
    return train_eval_run(train, evals, eval_every=20, accuracy=accuracy)


#: best at the end of epoch 1, three rises in a row, then level ~1.3% above the best
_CLIMB_AND_HOLD = [1.95, 1.92, 1.90, 1.885, 1.880, 1.889, 1.898, 1.906, 1.904, 1.905]


def test_a_climb_out_of_the_minimum_that_holds_is_overfitting() -> None:
    # +1.3%: below the 5% floor, but three rises in a row and every later eval above the
    # best, far beyond an eval-to-eval noise of ~0.1%, while train falls ~10%
    f = _overfit(analyze(_second_epoch(_CLIMB_AND_HOLD)))
    assert f is not None and f.severity is Severity.WARNING
    assert f.onset_step == 100


def test_a_climb_that_comes_back_to_the_best_is_not_overfitting() -> None:
    came_back = [1.95, 1.92, 1.90, 1.885, 1.880, 1.889, 1.898, 1.906, 1.884, 1.881]
    f = _overfit(analyze(_second_epoch(came_back)))
    assert f is None or f.severity is Severity.INFO


def test_the_same_climb_with_a_task_metric_still_improving_is_info() -> None:
    # the same climb with accuracy still at its best at the last eval: a rise of 1.3%, within
    # the curve's own movement (tau = 5%), shows no harm to the task: info
    acc = [0.60, 0.62, 0.63, 0.64, 0.645, 0.650, 0.652, 0.655, 0.657, 0.660]
    f = _overfit(analyze(_second_epoch(_CLIMB_AND_HOLD, acc)))
    assert f is not None and f.severity is Severity.INFO


# -- a task metric that never left its floor excuses nothing ---------------------------------


def _climb(accuracy: list[float]) -> Any:
    """Six evals, one every half epoch, the train loss falling steadily; the eval loss
    climbs 4.4% in three rises after its best (below the 5% floor of the excuse)."""
    train = noisy(np.geomspace(2.0, 1.2, 30), 0.004, seed=12)
    return train_eval_run(
        train, [1.42, 1.40, 1.398, 1.43, 1.46, 1.49], eval_every=50, accuracy=accuracy
    )


def test_a_metric_still_improving_makes_a_small_climb_info() -> None:
    f = _overfit(analyze(_climb([0.50, 0.60, 0.601, 0.602, 0.603, 0.604])))
    assert f is not None and f.severity is Severity.INFO


def test_an_accuracy_at_its_floor_does_not_excuse_the_climb() -> None:
    # 0 -> 0.002: still "at its best" at the last eval, but the model gets fewer than one
    # answer in a hundred right: no task learned, nothing to excuse the eval loss with
    f = _overfit(analyze(_climb([0.0, 0.0, 0.0, 0.001, 0.0015, 0.002])))
    assert f is not None and f.severity is Severity.WARNING


# -- evals once per epoch: one eval after the best -------------------------------------------


def _per_epoch(
    evals: list[float], *, train_end: float = 0.25, eval_every: int = 100, acc: Any = None
) -> Any:
    """Two evals (a checkpoint two epochs into a longer run), train logged every 10 steps."""
    n = 2 * eval_every // 10
    train = noisy(np.geomspace(0.65, train_end, n), 0.01, seed=13)
    return train_eval_run(train, evals, eval_every=eval_every, accuracy=acc)


def test_an_eval_rising_clearly_one_epoch_later_while_train_falls_is_overfitting() -> None:
    # +12% after a full pass that lowered the train loss by a third
    f = _overfit(analyze(_per_epoch([0.300, 0.336])))
    assert f is not None and f.severity is Severity.WARNING
    # an accuracy that barely moves (0.880 -> 0.882) does not make it info: the rise is
    # beyond anything the eval curve showed (nothing before the best)
    f = _overfit(analyze(_per_epoch([0.300, 0.336], acc=[0.880, 0.882])))
    assert f is not None and f.severity is Severity.WARNING


def test_a_small_rise_one_epoch_later_is_not_overfitting() -> None:
    # +6%: with one eval after the best and nothing confirming it, below twice the 5% floor
    assert _overfit(analyze(_per_epoch([0.300, 0.318]))) is None


def test_a_rise_within_an_epoch_is_not_read_as_one_more_pass() -> None:
    # the same +12% between two evals half an epoch apart (one per 50 steps)
    assert _overfit(analyze(_per_epoch([0.300, 0.336], eval_every=50))) is None


def test_a_rise_one_epoch_later_with_a_flat_train_loss_is_not_overfitting() -> None:
    # the train loss hardly moves (0.65 -> 0.62 over two epochs): not overfitting
    assert _overfit(analyze(_per_epoch([0.300, 0.336], train_end=0.62))) is None


def _per_epoch_evals(evals: list[float]) -> Any:
    """One eval per epoch of 100 steps, the train loss falling throughout."""
    train = noisy(np.geomspace(0.9, 0.06, 10 * len(evals)), 0.01, seed=14)
    return train_eval_run(train, evals, eval_every=100)


def test_a_rise_one_epoch_after_a_steep_descent_is_overfitting() -> None:
    # 0.50 -> 0.147 -> 0.165: +12% one pass after the best while the train loss fell by
    # two thirds. The 70% fall before the best was learning, not the curve's own movement:
    # it must not set a bar (2 x 2 x 70%) no rise could pass
    f = _overfit(analyze(_per_epoch_evals([0.50, 0.147, 0.165])))
    assert f is not None and f.severity is Severity.WARNING
    assert f.onset_step == 200


def test_a_rise_one_epoch_after_a_curve_that_moved_both_ways_is_within_its_movement() -> None:
    # the same +12% after a curve that rose and fell before its best: within its own
    # movement (about 2 x 2 x 25%), nothing to call overfitting from one eval
    f = _overfit(analyze(_per_epoch_evals([0.20, 0.25, 0.147, 0.165])))
    assert f is None or f.severity is Severity.INFO

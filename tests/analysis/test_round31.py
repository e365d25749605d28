"""Rounds 31-32: loss spikes that recur are judged by size (31); an eval after the last train log is
dated by its epoch, and an eval loss a fifth above its best at every later eval is overfitting (32).

A loss spike that comes straight back is worth knowing (info) unless it reaches the
conventions' bar; spikes that recur are a repeated problem the user should act on. Until now
recurring spikes were a warning only when a gradient-norm spike sat at one of them, so a run
hit again and again by bad batches that the gradient norm did not show (a corrupted batch
whose gradients clipping or averaging hides) was graded like one bad batch. Two spike events
or more, each 4x the level around it or more (over a level above near zero), are now a
warning with or without a gradient-norm spike; smaller recurring spikes still need one.

The epoch at a step past the last train log was read as that log's epoch, so an eval at the
end of a pass that the train log did not reach looked less than a pass after the one before
(v26's xm001); it now grows with the step. And an eval loss whose scatter hides a trend but
not its level (every eval after the best above it, their median 20% up, while the train loss
fell) is overfitting judged by size (v26's xr001).
"""

from __future__ import annotations

import numpy as np
from analysis_curves import epoch_run, noisy, one, run_of

from losslens.analysis import analyze
from losslens.model import RunData, Severity


def _run(at: list[int], sizes: list[float], level: float = 0.6) -> RunData:
    """A fine-tuning loss falling to ``level`` over 150 steps with spikes of ``sizes`` times
    the level at the steps ``at``; a flat gradient norm (no spike there)."""
    steps = np.arange(1, 151)
    loss = noisy(level + 2.0 * np.exp(-steps / 30), 0.01, seed=5)
    grad = noisy(np.full(steps.size, 0.8), 0.02, seed=6)
    for s, k in zip(at, sizes, strict=True):
        i = s - 1
        loss[i] = k * float(np.median(loss[i - 5 : i]))
    return run_of({"train/loss": (steps, loss), "train/grad_norm": (steps, grad)})


def test_two_spikes_of_about_five_times_the_level_are_a_warning_without_gradient_spikes() -> None:
    assert one(analyze(_run([90, 130], [4.5, 5.0])), "LL121").severity is Severity.WARNING


def test_one_spike_of_five_times_the_level_stays_info() -> None:
    assert one(analyze(_run([110], [5.0])), "LL121").severity is Severity.INFO


def test_two_spikes_of_three_times_the_level_stay_info() -> None:
    assert one(analyze(_run([90, 130], [3.0, 3.0])), "LL121").severity is Severity.INFO


def test_recurring_spikes_over_a_level_near_zero_are_not_judged_by_ratio() -> None:
    # 20x a level of 0.004 is a bump of 0.08: a ratio over near zero measures nothing
    f = one(analyze(_run([90, 130], [20.0, 20.0], level=0.004)), "LL121")
    assert f.severity is Severity.INFO


def test_an_eval_after_the_last_train_log_is_dated_by_the_epochs_it_adds() -> None:
    # a classifier over 2 epochs of 100 steps, the train loss logged every 30 steps (last
    # log at step 180, epoch 1.8), an eval at each epoch end: the second eval is a full pass
    # after the first (epoch 2.0, not the 1.8 of the last train log), 17% above it while the
    # train loss fell by half: overfitting visible in eval
    train = np.array([0.52, 0.45, 0.40, 0.33, 0.26, 0.21])
    run = epoch_run(train, spe=100, every=30, evals=([100, 200], [0.35, 0.41]))
    assert one(analyze(run), "LL151").severity is Severity.WARNING


def test_an_eval_loss_a_fifth_above_its_best_at_every_later_eval_is_overfitting() -> None:
    # evals once per epoch; the best at epoch 2, then 11 evals scattered 4-54% above it (no
    # steady trend: the scatter is as large as the rise) while the train loss falls tenfold
    evals = [1.62, 1.04, 1.12, 1.09, 1.29, 1.51, 1.37, 1.22, 1.61, 1.59, 1.40, 1.54, 1.37]
    train = np.array([1.64, 1.15, 0.83, 0.54, 0.42, 0.26, 0.24, 0.18, 0.23, 0.17, 0.17, 0.14, 0.12])
    steps = 63 * np.arange(1, 14)
    run = epoch_run(train, spe=63, every=63, evals=(steps, evals))
    f = one(analyze(run), "LL151")
    assert f.severity is Severity.WARNING
    assert f.onset_step == 126

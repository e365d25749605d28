"""Round 31: loss spikes that recur, each several times the level, are judged by size.

A loss spike that comes straight back is worth knowing (info) unless it reaches the
conventions' bar; spikes that recur are a repeated problem the user should act on. Until now
recurring spikes were a warning only when a gradient-norm spike sat at one of them, so a run
hit again and again by bad batches that the gradient norm did not show (a corrupted batch
whose gradients clipping or averaging hides) was graded like one bad batch. Two spike events
or more, each 4x the level around it or more (over a level above near zero), are now a
warning with or without a gradient-norm spike; smaller recurring spikes still need one.
"""

from __future__ import annotations

import numpy as np
from analysis_curves import noisy, one, run_of

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

"""Round 8: severity calibrated to the conventions, measured per rule on both halves of real dev.

A loss spike that comes straight back is worth knowing (info) unless it reaches the
conventions' bar for a warning: 100x the surrounding level, a NaN gradient norm at that step,
or no return. A finite gradient-norm spike at the same step is the same bad batch, so one
isolated spike stays info with it; spikes that recur with gradient-norm spikes are a repeated
problem the user should act on (a warning).
"""

from __future__ import annotations

import numpy as np
from analysis_curves import noisy, one, run_of

from losslens.analysis import analyze
from losslens.model import Severity


def _spiky_run(at: list[int], size: float = 4.0, grad_too: bool = True) -> object:
    steps = np.arange(1, 121)
    loss = noisy(0.2 + 2.0 * np.exp(-steps / 12), 0.01, seed=11)
    grad = noisy(np.full(steps.size, 0.2), 0.01, seed=12)
    for s in at:
        i = s - 1
        loss[i] = size * float(np.median(loss[i - 5 : i]))
        if grad_too:
            grad[i] = 10 * float(np.median(grad[i - 5 : i]))
    return run_of({"train/loss": (steps, loss), "train/grad_norm": (steps, grad)})


def test_one_isolated_spike_with_its_gradient_norm_spike_is_info() -> None:
    rep = analyze(_spiky_run([60]))  # type: ignore[arg-type]
    assert one(rep, "LL121").severity is Severity.INFO
    assert not [f for f in rep.findings if f.severity.rank >= Severity.WARNING.rank]


def test_spikes_that_recur_with_gradient_norm_spikes_are_a_warning() -> None:
    rep = analyze(_spiky_run([45, 80, 105]))  # type: ignore[arg-type]
    assert one(rep, "LL121").severity is Severity.WARNING


def test_one_isolated_spike_of_100x_the_level_stays_a_warning() -> None:
    rep = analyze(_spiky_run([60], size=150.0, grad_too=False))  # type: ignore[arg-type]
    assert one(rep, "LL121").severity is Severity.WARNING


def test_recurring_small_spikes_without_gradient_norm_spikes_stay_info() -> None:
    # 3x the level, under round 31's bar for spikes that recur judged by size alone
    rep = analyze(_spiky_run([45, 80, 105], size=3.0, grad_too=False))  # type: ignore[arg-type]
    assert one(rep, "LL121").severity is Severity.INFO

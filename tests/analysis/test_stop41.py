"""Stop 41: an eval loss that never moves is a model that does not learn (LL135 (f))."""

from __future__ import annotations

import numpy as np
from analysis_curves import epoch_run, noisy, rule, run_of

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


def _eval_jump_at_the_peak(held: bool) -> RunData:
    """g2581-like: warmup to 2e-3 at step 20; a flat train loss; the eval loss best at step
    8 (0.70), 1.34 at step 16 as the LR peaks, then back to 0.70 at step 64 and climbing
    after it. ``held``: the LR stays at its peak to step 80, else it decays from step 20."""
    steps = np.arange(4, 161, 4)
    decay = np.clip((160 - steps) / 140, 0, 1)
    after = np.where(steps <= 80, 1.0, decay) if held else decay
    lr = np.where(steps <= 20, 2e-3 * steps / 20, 2e-3 * after)
    train = noisy(np.full(steps.size, 0.75), 0.02, 5)
    es = np.arange(8, 161, 8)
    ev = [0.70, 1.34, 0.95, 1.05, 1.0, 0.9, 0.85, 0.70, 0.9, 1.0]
    ev = [*ev, *np.linspace(1.1, 1.6, es.size - len(ev))]
    return run_of(
        {
            "train/loss": (steps, train),
            "train/learning_rate": (steps, lr),
            "eval/loss": (es, np.array(ev)),
        }
    )


def test_an_eval_jump_the_peak_rate_undoes_is_not_the_rate() -> None:
    # back at its best at step 64 while the LR is still at its peak
    assert rule(_eval_jump_at_the_peak(held=True), "LL112") is None
    # the same evals with the LR decaying from the peak: back only as the rate falls
    f = rule(_eval_jump_at_the_peak(held=False), "LL112")
    assert f is not None and f.severity is Severity.WARNING

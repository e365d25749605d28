"""Round 13: a task metric logged twice at one step keeps the first value, as the eval loss
does (a ``trainer.evaluate()`` of the best checkpoint after training is not a new point); a
plateau in a text task at 5 nats or more is at a high level whatever the first value (LL132);
a warmup that takes four fifths of the run or more is as long as the run (LL142)."""

from __future__ import annotations

import numpy as np
from analysis_curves import noisy, rule, run_of

from losslens.analysis.context import build_context
from losslens.analysis.evalview import task_metrics
from losslens.model import RunData, Severity


def test_a_metric_evaluated_again_at_the_last_step_is_not_still_improving() -> None:
    """Accuracy peaks at the first of four evals and falls after it; the best checkpoint is
    evaluated again at the last step and logs the peak once more."""
    ev_steps = [100, 200, 300, 400, 400]
    acc = [0.86, 0.84, 0.83, 0.82, 0.86]
    run = run_of(
        {
            "train/loss": (
                [50, 100, 150, 200, 250, 300, 350, 400],
                [0.6, 0.4, 0.3, 0.2, 0.15, 0.1, 0.08, 0.05],
            ),
            "eval/accuracy": (ev_steps, acc),
        }
    )
    (m,) = task_metrics(build_context(run))
    assert m.last == 0.82 and m.best == 0.86 and m.best_step == 100
    assert not m.still_improving


# -- a plateau far from the answer after a bad start ----------------------------------------


def _bad_start_plateau(level: float) -> RunData:
    """Logged every step for the first 300 of 2000 planned steps, the LR at its 2e-3 peak
    after 10 steps of warmup: the loss falls from 36 (a bad start) within 35 steps to
    ``level``, then stays there."""
    steps = np.arange(1, 301)
    loss = np.where(steps <= 35, 36.0 * (level / 36.0) ** (steps / 35), level)
    lr = np.where(steps < 10, 2e-3 * steps / 10, 2e-3)
    return run_of(
        {
            "train/loss": (steps, noisy(loss, 0.03, 5)),
            "train/learning_rate": (steps, lr),
            "train/epoch": (steps, steps / 2000),
        },
        config={"max_steps": 2000, "learning_rate": 2e-3},
    )


def test_a_plateau_at_ten_nats_after_a_bad_start_is_a_warning() -> None:
    f = rule(_bad_start_plateau(10.0), "LL132")
    assert f is not None and f.severity is Severity.WARNING
    assert 9.5 < f.evidence.values["level"] < 10.5


def test_a_plateau_that_fell_most_of_the_way_to_a_typical_level_stays_info() -> None:
    f = rule(_bad_start_plateau(1.2), "LL132")
    assert f is not None and f.severity is Severity.INFO


# -- a warmup that takes four fifths of the run --------------------------------------------------


def test_a_warmup_that_peaks_at_82_percent_of_the_run_is_a_warning() -> None:
    steps = np.arange(10, 171, 10)
    lr = np.where(steps <= 140, 5e-5 * steps / 140, 5e-5 * (170 - steps) / 30)
    run = run_of(
        {
            "train/loss": (steps, noisy(0.4 + 2.4 * np.exp(-steps / 60), 0.01, 1)),
            "train/learning_rate": (steps, lr),
        },
        config={"max_steps": 170, "learning_rate": 5e-5},
    )
    f = rule(run, "LL142")
    assert f is not None and f.severity is Severity.WARNING

"""Stop 37: the eval-loss reading says how far the last eval is from the best, and when.

"best 0.756 at step 162, 0.781 at the last eval" left the reader to work out a 3% rise and
which pass it came after; the reading now names the best's epoch and the last eval's change
from it, which is what a reader weighs when no finding is raised for it.
"""

from __future__ import annotations

import numpy as np
from analysis_curves import epoch_run, noisy

from losslens.analysis import analyze


def _eval_reading(evals: list[float]) -> dict[str, str]:
    steps = np.arange(10, 1201, 10)
    train = np.interp(steps, [10, 400, 1200], [0.7, 0.3, 0.22])
    run = epoch_run(noisy(train, 0.01, 3), spe=400, every=10, evals=([400, 800, 1200], evals))
    (reading,) = [m for m in analyze(run).readings if m.metric == "eval/loss"]
    return reading.summary


def test_the_eval_reading_names_the_rise_from_the_best_and_its_epoch() -> None:
    text = _eval_reading([0.30, 0.28, 0.29])
    assert text["en"] == (
        "best 0.280 at step 800 (epoch 2), 0.290 at the last eval (+3.6% from the best)"
    )
    assert "최저 대비 +3.6%" in text["ko"]


def test_an_eval_still_improving_at_the_last_eval_reads_as_before() -> None:
    assert "best at the last eval (still improving)" in _eval_reading([0.30, 0.28, 0.27])["en"]

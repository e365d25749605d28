"""Stop 37: the eval-loss reading says how far the last eval is from the best, and when;
and a stalled eval loss whose last eval is back at its best shows no harm (LL151 info).

"best 0.756 at step 162, 0.781 at the last eval" left the reader to work out a 3% rise and
which pass it came after; the reading now names the best's epoch and the last eval's change
from it, which is what a reader weighs when no finding is raised for it.

An eval loss stalled for two epochs while the train loss falls is a warning only when the
held-out loss got worse; the median of the evals after the minimum judged that, so one blip
between the minimum and a last eval back at it (0.721, 0.761, 0.726) read as a 3% rise.
"""

from __future__ import annotations

import numpy as np
from analysis_curves import epoch_run, noisy, rule

from losslens.analysis import analyze
from losslens.model import RunData, Severity


def _eval_reading(evals: list[float]) -> dict[str, str]:
    steps = np.arange(10, 1201, 10)
    train = np.interp(steps, [10, 400, 1200], [0.7, 0.3, 0.22])
    run = epoch_run(noisy(train, 0.01, 3), spe=400, every=10, evals=([400, 800, 1200], evals))
    (reading,) = [m for m in analyze(run).readings if m.metric == "eval/loss"]
    return reading.summary


def test_the_eval_reading_names_the_rise_from_the_best_and_its_epoch() -> None:
    text = _eval_reading([0.30, 0.28, 0.29])
    assert text["en"] == (
        "best 0.280 at step 800 (epoch 2.0), 0.290 at the last eval (+3.6% from the best)"
    )
    assert "최저 대비 +3.6%" in text["ko"]


def test_an_eval_still_improving_at_the_last_eval_reads_as_before() -> None:
    assert "best at the last eval (still improving)" in _eval_reading([0.30, 0.28, 0.27])["en"]


def _stalled(last: float) -> RunData:
    """8 epochs of 100 steps logged every 20, one eval per epoch: the eval falls to 0.7214 at
    epoch 6, blips to 0.7608 and ends at ``last``, while the train loss falls 0.37 -> 0.15."""
    steps = np.arange(20, 801, 20)
    train = np.interp(steps, [20, 600, 800], [2.0, 0.37, 0.15])
    evals = [2.058, 1.433, 1.117, 0.96, 0.9465, 0.7214, 0.7608, last]
    return epoch_run(
        noisy(train, 0.01, 5), spe=100, every=20, evals=(np.arange(100, 801, 100), evals)
    )


def test_a_stalled_eval_back_at_its_best_at_the_end_is_info() -> None:
    f = rule(_stalled(0.7257), "LL151")
    assert f is not None and f.severity is Severity.INFO


def test_a_stalled_eval_still_above_its_best_at_the_end_is_a_warning() -> None:
    f = rule(_stalled(0.7450), "LL151")
    assert f is not None and f.severity is Severity.WARNING

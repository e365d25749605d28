"""Round 22: two gradings read the evidence they show.

- LL153: with no eval set, an epoch-boundary staircase is the only evidence of learning by
  heart, so a larger drop is asked of it (0.4 in log units, the loss a third lower at the
  boundaries alone) than where the eval loss shows the harm (0.2).
- LL135 (d): a slow last stretch is graded by the gain per epoch it reports, not by another
  window's: flat over its last 2 epochs is a plateau even when the second half as a whole,
  which holds an earlier decline, gained more.
"""

from __future__ import annotations

import numpy as np
from analysis_curves import epoch_run, noisy, rule, run_of

from losslens.model import RunData, Severity


def _stairs_no_eval(means: list[float]) -> RunData:
    """Three epochs of 1,000 steps logged every 50, flat within each epoch at ``means``."""
    return epoch_run(noisy(np.repeat(means, 20), 0.004, 5), spe=1000, every=50)


def test_a_modest_staircase_with_no_eval_set_is_info() -> None:
    # 1.0 -> 0.86 -> 0.74: ~0.15 (log) at each boundary, 0.3 in all
    f = rule(_stairs_no_eval([1.0, 0.86, 0.74]), "LL153")
    assert f is not None and f.severity is Severity.INFO


def test_a_large_staircase_with_no_eval_set_is_a_warning() -> None:
    # 1.0 -> 0.74 -> 0.55: ~0.3 (log) at each boundary, 0.6 in all
    f = rule(_stairs_no_eval([1.0, 0.74, 0.55]), "LL153")
    assert f is not None and f.severity is Severity.WARNING


def _slows_to_a_stop() -> RunData:
    """Six epochs of 200 steps at a constant LR, logged every 10: a drop from 3.0 to 2.0 in
    the first epoch, 5% per epoch up to epoch 4.5, then 0.2% per epoch to the end: the
    second half (epochs 3-6) gains more than 1% per epoch, the last 2 epochs far less."""
    steps = np.arange(10, 1201, 10)
    x = steps / 200
    drift = np.where(x <= 4.5, -0.05 * x, -0.225 - 0.002 * (x - 4.5))
    loss = (2.0 + 1.0 * np.exp(-x / 0.3)) * np.exp(drift)
    return run_of(
        {
            "train/loss": (steps, noisy(loss, 0.003, 11)),
            "train/learning_rate": (steps, np.full(steps.size, 1e-4)),
            "train/epoch": (steps, x),
        },
        config={"learning_rate": 1e-4},
    )


def test_a_last_stretch_flat_after_an_earlier_decline_is_a_plateau() -> None:
    f = rule(_slows_to_a_stop(), "LL135")
    assert f is not None and f.severity is Severity.WARNING
    assert "over the last 2" in f.evidence.text["en"]

"""Round 7: fp16's loss scaler calibrates in its first optimizer steps, whatever the run length.

GradScaler starts at a large scale and halves it at every overflow, skipping those updates:
an unbroken block of NaN gradient norms in the first few steps of a short run, with finite
norms after it, is that calibration (info). NaN norms that stop and start again inside the
same first steps are not one calibration and stay a warning.
"""

from __future__ import annotations

import numpy as np
from analysis_curves import noisy, one, run_of

from losslens.analysis import analyze
from losslens.model import Severity


def _short_run(nan_at: list[int], n: int = 60) -> object:
    steps = np.arange(1, n + 1)
    loss = noisy(0.15 + 2.4 * np.exp(-steps / 10), 0.01, seed=3)
    grad = noisy(0.2 + 2.0 * np.exp(-steps / 10), 0.02, seed=4)
    grad[np.isin(steps, nan_at)] = np.nan
    lr = np.where(steps <= 5, 2e-4 * steps / 5, 2e-4 * (n - steps) / (n - 5))
    return run_of(
        {
            "train/loss": (steps, loss),
            "train/grad_norm": (steps, grad),
            "train/learning_rate": (steps, lr),
        },
        config={"max_steps": n},
    )


def test_two_nan_norms_at_steps_2_and_3_of_a_60_step_run_are_the_scaler_calibrating() -> None:
    f = one(analyze(_short_run([2, 3])), "LL101")  # type: ignore[arg-type]
    assert f.severity is Severity.INFO


def test_nan_norms_that_stop_and_start_again_in_the_first_steps_stay_a_warning() -> None:
    f = one(analyze(_short_run([2, 6])), "LL101")  # type: ignore[arg-type]
    assert f.severity is Severity.WARNING


def test_nan_norms_after_the_first_steps_stay_a_warning() -> None:
    f = one(analyze(_short_run([30, 31])), "LL101")  # type: ignore[arg-type]
    assert f.severity is Severity.WARNING

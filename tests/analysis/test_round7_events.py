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
    f = one(analyze(_short_run([2, 6, 7])), "LL101")  # type: ignore[arg-type]
    assert f.severity is Severity.WARNING


def test_nan_norms_after_the_first_steps_stay_a_warning() -> None:
    f = one(analyze(_short_run([30, 31])), "LL101")  # type: ignore[arg-type]
    assert f.severity is Severity.WARNING


# -- a Trainer given a dict of eval sets logs eval_<name>_loss and no eval_loss ------------------


def _two_eval_sets(named: bool) -> object:
    steps = np.arange(10, 601, 10)
    train = noisy(0.05 + 2.0 * np.exp(-steps / 80), 0.01, seed=5)
    ev = np.arange(50, 601, 50)
    rising = 0.9 + 0.002 * (ev - 150) ** 2 / 100  # best at 150, then up 2.3x
    flat = np.full(ev.size, 0.7)
    a, b = ("eval/g0_loss", "eval/g1_loss") if named else ("eval/loss", "eval/other_metric")
    return run_of(
        {"train/loss": (steps, train), a: (ev, rising), b: (ev, flat)},
        config={"max_steps": 600},
    )


def test_the_first_named_eval_sets_loss_is_read_as_the_eval_loss() -> None:
    ids = {f.rule_id for f in analyze(_two_eval_sets(named=True)).findings}  # type: ignore[arg-type]
    assert "LL151" in ids


def test_a_plain_eval_loss_is_still_the_one_read() -> None:
    ids = {f.rule_id for f in analyze(_two_eval_sets(named=False)).findings}  # type: ignore[arg-type]
    assert "LL151" in ids

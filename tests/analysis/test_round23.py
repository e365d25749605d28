"""Round 23.

- An eval loss flat for a few epochs while the train loss still declines by 1% per epoch or
  more is the start of overfitting, LL160's (stop 48; LL135 read it as a plateau until then):
  worth knowing (info) in any task, a warning only once it has held for 5 epochs or more and
  ends above its best (`test_plateau_as_read.py`).
- LL101: fp16's loss scaler calibrates at the run's start; a log that starts far into
  training (an excerpt numbered from 1) holds no start, so a NaN gradient norm in its first
  lines is an overflow mid-run (warning), not a start-up skip (info).
"""

from __future__ import annotations

import numpy as np
from analysis_curves import noisy, rule, run_of

from losslens.model import RunData, Severity


def _eval_flat(level: float, task: str = "sft") -> RunData:
    """Five epochs of 200 steps at a constant LR, logged every 10, evaluated every 50: the
    train loss drops from ``level / 0.55`` to ``level`` in the first epoch, then creeps down
    3% per epoch; the eval loss holds within 0.3% of ``0.95 * level`` from epoch 1 on."""
    steps = np.arange(10, 1001, 10)
    x = steps / 200
    first = level / 0.55
    loss = (level + (first - level) * np.exp(-x / 0.2)) * np.exp(-0.03 * x)
    est = np.arange(50, 1001, 50)
    ev = np.where(est <= 200, 0.95 * level / np.exp(-0.03) * (1 + 0.3 * (1 - est / 200)), 0.0)
    ev = np.where(est > 200, 0.95 * level * (1 + 0.003 * np.sin(est)), ev)
    return run_of(
        {
            "train/loss": (steps, noisy(loss, 0.003, 3)),
            "train/learning_rate": (steps, np.full(steps.size, 2e-4)),
            "train/epoch": (steps, x),
            "eval/loss": (est, ev),
        },
        config={"learning_rate": 2e-4, "task": task},
    )


def test_an_eval_loss_flat_for_a_few_epochs_while_train_still_declines_is_info() -> None:
    for run in (_eval_flat(1.8), _eval_flat(0.6, "classification")):
        f = rule(run, "LL160")
        assert f is not None and f.kind == "overfitting" and f.severity is Severity.INFO
        assert "the eval loss gains" in f.evidence.text["en"]
        plateau = rule(run, "LL135")
        assert plateau is None or "the eval loss gains" not in plateau.evidence.text["en"]


def _nan_grad_at_line(six_epochs_from: float) -> RunData:
    """Six console lines numbered 1-6 (no step numbers), the LR decaying by 1e-6 a line, a
    finite loss and a NaN gradient norm at the last line; the logged epoch starts at
    ``six_epochs_from`` and moves 0.02 a line."""
    steps = np.arange(1, 7)
    grad = np.array([0.59, 4.25, 1.34, 5.62, 5.28, np.nan])
    return run_of(
        {
            "train/loss": (steps, np.array([0.062, 0.19, 0.11, 0.10, 0.15, 0.21])),
            "train/grad_norm": (steps, grad),
            "train/learning_rate": (steps, 2.65e-4 - 1e-6 * (steps - 1)),
            "train/epoch": (steps, six_epochs_from + 0.02 * steps),
        },
    )


def test_a_nan_grad_norm_in_a_log_that_starts_mid_run_is_not_a_start_up_skip() -> None:
    # an excerpt from epoch 5.27 on: its first lines are not the run's first steps
    f = rule(_nan_grad_at_line(5.25), "LL101")
    assert f is not None and f.severity is Severity.WARNING


def test_a_nan_grad_norm_in_the_first_steps_of_a_run_is_a_start_up_skip() -> None:
    f = rule(_nan_grad_at_line(0.0), "LL101")
    assert f is not None and f.severity is Severity.INFO

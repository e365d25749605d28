"""Round 23: LL135's reading on the eval loss is graded by the boundary of its other readings.

An eval loss flat for a few epochs while the train loss still declines by 1% per epoch or
more is, below a high level, diminishing returns on the held-out set (info), as a slow but
steady decline of the train loss is; in a task with no token level (every level counts as
high) it stays a plateau (warning), as does an eval loss that stays put for 5 epochs or more
(`test_plateau_as_read.py`).
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


def test_an_eval_loss_flat_while_train_still_declines_is_info_below_a_high_level() -> None:
    f = rule(_eval_flat(1.8), "LL135")
    assert f is not None and f.severity is Severity.INFO
    assert "the eval loss gains" in f.evidence.text["en"]


def test_an_eval_loss_flat_in_a_task_with_no_token_level_is_a_warning() -> None:
    f = rule(_eval_flat(0.6, "classification"), "LL135")
    assert f is not None and f.severity is Severity.WARNING
    assert "the eval loss gains" in f.evidence.text["en"]

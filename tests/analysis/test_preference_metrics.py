"""A preference run's held-out reward accuracy is a task metric (stop 40)."""

from __future__ import annotations

import numpy as np
from analysis_curves import epoch_run, one

from losslens.analysis import analyze
from losslens.analysis.context import build_context
from losslens.analysis.evalview import task_metrics
from losslens.model import RunData, Severity

EVAL = [0.570, 0.189, 0.121, 0.109, 0.116, 0.1285, 0.127, 0.1199]
ACCURACY = [0.698, 0.927, 0.9375, 0.958, 0.948, 0.9375, 0.948, 0.948]


def _dpo(accuracy: list[float]) -> RunData:
    """A DPO run of 8 epochs of 13 steps, the loss and an eval logged at each epoch end: the
    eval loss best at epoch 4 and 10% above it at the end while the train loss falls to
    near zero, with TRL's held-out reward accuracy and margins beside it."""
    steps = 13 * np.arange(1, 9)
    train = np.array([0.6926, 0.4805, 0.1926, 0.0098, 0.0116, 0.0017, 0.0039, 0.0031])
    margins = [0.31, 2.92, 4.69, 7.48, 8.23, 8.42, 8.50, 8.43]
    return epoch_run(
        train,
        spe=13,
        every=13,
        evals=(steps, EVAL),
        extra={
            "eval/rewards/accuracies": (steps, accuracy),
            "eval/rewards/margins": (steps, margins),
        },
    )


def test_the_held_out_reward_accuracy_is_a_task_metric() -> None:
    keys = [m.key for m in task_metrics(build_context(_dpo(ACCURACY)))]
    assert keys == ["eval/rewards/accuracies"]


def test_an_eval_loss_up_with_the_reward_accuracy_down_is_overfitting() -> None:
    # the eval loss 10% above its best at the end, the held-out pairs ranked worse there
    # than at the eval-loss minimum: two measures of the held-out set agree
    f = one(analyze(_dpo(ACCURACY)), "LL151")
    assert f.severity is Severity.WARNING and f.onset_step == 52

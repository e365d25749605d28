"""Stop 45: with no eval set, a near-zero train loss past the usual 1-3 epochs is an error
only when it is near zero beyond doubt or after many passes; else it is a warning. A held-out
series is recognised under any of its spellings (``eval_``, ``test_``, ``val_``) in one place."""

from __future__ import annotations

import math

import numpy as np
import pytest
from tests.analysis.analysis_curves import epoch_run, noisy, one

from losslens import keys
from losslens.analysis import Analyzer, analyze
from losslens.model import Severity


def _no_eval_run(floor: float, epochs: float) -> object:
    """A LoRA SFT run with no eval set: train loss 1.5 -> ``floor`` over ``epochs``."""
    ep = np.linspace(epochs / 100, epochs, 100)
    train = noisy(floor + 1.5 * np.exp(-ep / 0.5), 0.02, seed=3)
    return epoch_run(train, spe=1000 / epochs, every=10)


@pytest.mark.parametrize(
    ("floor", "epochs", "grade"),
    [(0.08, 5, Severity.WARNING), (0.03, 5, Severity.ERROR), (0.08, 12, Severity.ERROR)],
)
def test_no_eval_memorization_is_an_error_only_when_sure(
    floor: float, epochs: float, grade: Severity
) -> None:
    # near zero beyond doubt, or after many passes over the examples: an error; just below
    # the near-zero level after a few passes: a warning
    rep = analyze(_no_eval_run(floor, epochs))
    assert one(rep, "LL153").severity is grade


@pytest.mark.parametrize("prefix", ["eval_", "test_", "val_"])
def test_a_classifier_with_any_held_out_series_is_not_read_as_blind(prefix: str) -> None:
    # a classifier that logs its held-out loss and accuracy as test_* has an eval set as much
    # as one that logs eval_*: its near-zero train loss, with the held-out loss still
    # improving, is how fitting an easy task ends, not memorization
    an = Analyzer(config={"task": "text-classification"})
    for s in range(1, 121):
        ep = s / 40
        row = {"loss": 0.02 + 0.7 * math.exp(-ep / 0.4), "epoch": ep}
        if s % 20 == 0:
            row |= {
                prefix + "loss": 0.3 + 0.2 * math.exp(-ep),
                prefix + "accuracy": 0.8 + 0.05 * ep,
            }
        an.log(row, s)
    an.check()
    assert an.report is not None
    assert "LL153" not in {f.rule_id for f in an.report.findings}


def test_held_out_series_are_named_one_way() -> None:
    for key in ("eval_loss", "eval/accuracy", "val_f1", "val/f1", "valid/loss", "test_wer"):
        assert keys.is_held_out(key), key
    for key in ("loss", "train/loss", "rewards/accuracies", "validity"):
        assert not keys.is_held_out(key), key

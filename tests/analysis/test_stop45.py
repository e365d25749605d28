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


def test_a_summed_loss_is_absurd_only_on_its_own_scale() -> None:
    # a loss summed over tokens: ~90 at the start, batch-to-batch swings past 100; not a
    # breakdown, while the same swings on a per-token scale would be
    rng = np.random.default_rng(0)
    summed = 90 * np.exp(-np.arange(60) / 150) * rng.lognormal(0, 0.35, 60)
    assert float(summed.max()) > 100
    rep = analyze(epoch_run(summed, spe=1000, every=2))
    assert "LL111" not in {f.rule_id for f in rep.findings}
    per_token = np.concatenate([np.linspace(3.0, 2.0, 30), [150.0, 160.0, 170.0, 180.0]])
    assert "LL111" in {f.rule_id for f in analyze(epoch_run(per_token, spe=1000, every=2)).findings}


def test_an_eval_rise_within_the_logs_rounding_is_no_overfitting() -> None:
    # a regression-like loss printed to 4 decimals: 0.0003 -> 0.0005 is two steps of rounding
    train = np.geomspace(0.07, 0.001, 200)
    ev = np.round(np.concatenate([np.geomspace(0.07, 0.0003, 170), [0.0004, 0.0005] * 15]), 4)
    rep = analyze(epoch_run(train, spe=1, every=1, evals=(np.arange(1, 201), ev)))
    assert "LL151" not in {f.rule_id for f in rep.findings}
    # the same curve at full precision, ten times higher, is read as it is
    ev10 = np.concatenate([np.geomspace(0.7, 0.003, 170), [0.004, 0.005] * 15])
    rep = analyze(epoch_run(train * 10, spe=1, every=1, evals=(np.arange(1, 201), ev10)))
    assert "LL151" in {f.rule_id for f in rep.findings}


@pytest.mark.parametrize(("end", "read"), [(0.06, False), (0.004, True)])
def test_a_classifier_with_no_eval_set_is_read_at_its_own_near_zero(end: float, read: bool) -> None:
    # a Keras classifier (``acc`` logged, nothing held out) over 25 epochs
    an = Analyzer()
    for ep in range(1, 26):
        an.log({"loss": end + 0.3 * math.exp(-ep / 3), "acc": 0.9 + ep / 300, "epoch": ep}, ep)
    an.check()
    assert an.report is not None
    assert ("LL153" in {f.rule_id for f in an.report.findings}) is read

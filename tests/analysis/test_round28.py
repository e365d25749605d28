"""Round 28: the first pass as the held-out measure of a run with no eval set.

Every batch of the first pass is one the model has not seen yet, so the train loss logged there
measures how well unseen examples are predicted. LL153 did not read a loss that got near zero
within the first pass at all ("examples not yet seen: not memorization", LL155), unless the run
went on for 10 epochs or more. A run with no eval set that then fits its repeated examples 3
times tighter (the gap rule's ratio) than the lowest log of the first pass once near zero learned
them by heart, however early it got near zero: LL153 reads it, graded as any near-zero loss with
no eval set (a warning within the usual 1-3 epochs, an error past them). The first pass is read
from the point the loss got near zero, at its lowest log: the most favourable reading of the
held-out level, so a spike there cannot raise it.
"""

from __future__ import annotations

import numpy as np
from analysis_curves import epoch_run, ids, noisy, one

from losslens.analysis import analyze
from losslens.model import Severity

SPE = 40  # steps per epoch, logged every 2 steps: 20 logs a pass, 3 passes


def _first_pass() -> np.ndarray:
    """2.8 at the start, near zero (about 0.02) by the middle of the first pass."""
    x = np.arange(1, 21) / 20
    return noisy(0.02 + 2.8 * np.exp(-x * 12), 0.05, 3)


def test_repeated_examples_fitted_far_below_the_first_pass_are_memorised() -> None:
    # epochs 2-3 take the loss from 0.02 down to 0.001 over examples already seen: 20x
    # tighter than the model predicted them when unseen
    later = noisy(0.02 * np.exp(-np.log(20.0) * np.arange(1, 41) / 40), 0.05, 4)
    rep = analyze(epoch_run(np.concatenate([_first_pass(), later]), spe=SPE, every=2))
    f = one(rep, "LL153")
    assert f.severity is Severity.WARNING
    # the evidence names the held-out measure it was read against
    assert f.evidence.values["first_pass_ratio"] >= 3.0
    assert "first pass" in f.evidence.text["en"] and "첫 패스" in f.evidence.text["ko"]


def test_repeated_examples_fitted_as_well_as_unseen_ones_are_not() -> None:
    later = noisy(np.full(40, 0.018), 0.05, 4)
    rep = analyze(epoch_run(np.concatenate([_first_pass(), later]), spe=SPE, every=2))
    assert "LL153" not in ids(rep)


def test_a_spike_in_the_first_pass_does_not_raise_its_held_out_level() -> None:
    # flat at 0.065 from the middle of the first pass, one spike of 0.6 there: the later
    # passes are no tighter than the first pass's best
    first = _first_pass() + 0.045
    first[12] = 0.6
    later = noisy(np.full(40, 0.064), 0.01, 4)
    rep = analyze(epoch_run(np.concatenate([first, later]), spe=SPE, every=2))
    assert "LL153" not in ids(rep)

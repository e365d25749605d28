"""Round 33: two readings extended to the cases their own principle covers, after v27 was scored.

LL153 reads a run with no eval set against its first pass: every batch of the first pass is
one the model had not seen, so the loss there is the held-out measure, and repeated examples
fitted 3 times tighter than unseen ones are learned by heart. That reading was made only when
the loss got near zero inside the first pass; a loss that got there just after it (between
epochs 1 and 1.5) and went on falling over the repeated examples was read by nothing (v27's
va005). It is now read against the lowest log of the whole first pass.

LL121 grades a loss spike paired with a NaN/inf gradient norm a warning (the conventions). The
pairing was read at the NaN step only; the log right after a run of NaN/inf gradient norms (the
first update after the skipped steps) is the same event (v27's vb001).
"""

from __future__ import annotations

import numpy as np
from analysis_curves import epoch_run, ids, noisy, one, run_of

from losslens.analysis import analyze
from losslens.model import RunData, Severity


def _sft(after: list[float]) -> RunData:
    """A chat fine-tune with no eval set, 25 steps an epoch, logged every 5 steps: the first
    pass falls from 3.1 to ``0.22`` (its last log before epoch 1), then ``after``."""
    return epoch_run(np.array([3.1, 1.5, 0.57, 0.22, *after]), spe=25, every=5)


def test_near_zero_just_after_the_first_pass_and_far_below_it_is_memorization() -> None:
    # near zero from epoch 1.2, ending 9x below the first pass's lowest log at epoch 2.2
    run = _sft([0.134, 0.0725, 0.063, 0.045, 0.036, 0.024, 0.024])
    assert one(analyze(run), "LL153").severity is Severity.WARNING


def test_near_zero_just_after_the_first_pass_and_close_to_it_is_not() -> None:
    # the same onset, ending only twice below the first pass's lowest log (0.12)
    run = epoch_run(
        np.array([3.1, 1.5, 0.5, 0.12, 0.1, 0.08, 0.07, 0.065, 0.06, 0.06, 0.06]), spe=25, every=5
    )
    assert "LL153" not in ids(analyze(run))


def _spiky(nan_grads: bool) -> RunData:
    """A loss near 0.33 logged every step for 240 steps, 4.7x the level at step 114; the
    gradient norm NaN/inf at steps 106-113 (or finite throughout)."""
    steps = np.arange(1, 241)
    loss = noisy(0.3 + 3.0 * np.exp(-steps / 25), 0.05, seed=7)
    loss[113] = 4.7 * float(np.median(loss[100:113]))
    grad = noisy(np.full(steps.size, 2.5), 0.2, seed=8)
    if nan_grads:
        grad[105:113] = np.nan
    return run_of({"train/loss": (steps, loss), "train/grad_norm": (steps, grad)})


def test_a_spike_right_after_a_run_of_nan_gradient_norms_is_a_warning() -> None:
    assert one(analyze(_spiky(True)), "LL121").severity is Severity.WARNING


def test_the_same_spike_with_finite_gradient_norms_stays_info() -> None:
    assert one(analyze(_spiky(False)), "LL121").severity is Severity.INFO

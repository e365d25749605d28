"""Round 27: two gradings read against the harm the numbers show, after v22 was scored.

A train loss near zero with no eval set is likely harm within 1-3 epochs too.

The conventions grade "train near zero with no eval set" as memorization with harm shown, and
the issue names it as evidence to escalate on. LL153 graded it info within the usual 1-3
passes; it is now a warning there (an error past 3 passes, as before). Near zero on examples
not yet seen (the first pass) is still not memorization (LL155), and an eval set that follows
the train loss still shows no harm.

An overfitting error (LL151: the last eval 20% or more above the best, 3 evals or more after
it) now also needs the rise to be 3 noise standard deviations of one eval: on an eval loss that
swings by a fifth from eval to eval, a 25% rise is overfitting visible in eval (a warning), not
certain damage.
"""

from __future__ import annotations

import numpy as np
from analysis_curves import epoch_run, ids, noisy, one, rule, train_eval_run

from losslens.analysis import analyze
from losslens.model import RunData, Severity


def _qlora_like() -> np.ndarray:
    """A QLoRA-like run over a small set: 4.0 at the start, 0.75 at the end of epoch 1,
    about 0.04 in the third pass (logged every step, 14 steps per epoch)."""
    ep = np.arange(1, 43) / 14
    return noisy(4.0 * np.exp(-ep * 1.55), 0.02, 1)


def test_near_zero_with_no_eval_set_in_the_third_pass_is_a_warning() -> None:
    rep = analyze(epoch_run(_qlora_like(), spe=14, every=1))
    assert one(rep, "LL153").severity is Severity.WARNING


def test_near_zero_on_examples_not_yet_seen_is_still_not_memorization() -> None:
    # the same descent compressed into the first pass: near zero before the data repeats
    train = np.concatenate([_qlora_like(), np.full(80, 0.03)])
    rep = analyze(epoch_run(train, spe=400, every=1))
    assert "LL153" not in ids(rep)


# -- LL151: an error is a rise beyond the eval curve's own movement ----------------------------


def _overfit(evals: list[float]) -> RunData:
    """An eval every 100 steps; the train loss falls from 0.6 to 0.05 over the run."""
    n = len(evals)
    train = noisy(0.6 * np.exp(-np.log(12.0) * np.arange(1, 10 * n + 1) / (10 * n)), 0.01, 2)
    return train_eval_run(train, evals, eval_every=100, spe=400)


def test_a_25_percent_rise_on_a_smooth_eval_curve_is_an_error() -> None:
    f = rule(_overfit([0.40, 0.30, 0.24, 0.20, 0.22, 0.24, 0.25, 0.25]), "LL151")
    assert f is not None and f.severity is Severity.ERROR


def test_the_same_rise_on_an_eval_curve_that_swings_by_a_fifth_is_a_warning() -> None:
    # before its best the eval loss swings by 12-25% from eval to eval (one eval's noise about
    # 9%, so 3 sds are 28%); after it, three rises in a row to 25% above it
    evals = [0.40, 0.32, 0.37, 0.29, 0.33, 0.25, 0.29, 0.22, 0.25, 0.20, 0.21, 0.225, 0.25]
    f = rule(_overfit(evals), "LL151")
    assert f is not None and f.severity is Severity.WARNING

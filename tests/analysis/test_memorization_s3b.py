"""Memorization, too-easy, no-eval and epoch-count grades follow the harm the numbers show.

error = damage, warning = likely harm or waste, info = worth knowing with no harm shown: a
loss near zero on examples not yet seen, a missing eval set, a low loss at the end of the
usual 1-3 epochs with an eval set that follows, an eval loss holding its best within its
noise, show no harm.
"""

from __future__ import annotations

import numpy as np
from analysis_curves import epoch_run, ids, noisy, one

from losslens.analysis import analyze
from losslens.model import Report, Severity


def serious(rep: Report) -> set[str]:
    return {f.rule_id for f in rep.findings if f.severity is not Severity.INFO}


# -- LL155: near zero before the data repeats --------------------------------------------------


def test_loss_near_zero_in_the_first_epoch_is_info_with_or_without_eval() -> None:
    train = np.concatenate([[0.85, 0.27, 0.045, 0.0098], np.full(146, 0.0005)])
    for evals in (None, ([1200], [2.1e-5])):
        rep = analyze(epoch_run(train, spe=1200, every=10, evals=evals))
        assert one(rep, "LL155").severity is Severity.INFO
        assert "LL153" not in ids(rep)  # examples not yet seen cannot be memorised
        assert not serious(rep)


# -- LL153 / LL156: no eval set ----------------------------------------------------------------


def _decay(epochs: float, tau: float, n: int = 120, seed: int = 0) -> np.ndarray:
    ep = np.linspace(epochs / n, epochs, n)
    return noisy(0.5 * np.exp(-ep / tau), 0.01, seed)


def test_no_eval_low_loss_within_three_epochs_is_a_warning() -> None:
    # a 2.9-epoch run ending at ~0.03 with no eval set (round 27): near zero over repeated
    # examples with nothing held out is likely harm, a warning within the usual 1-3 passes
    train = _decay(2.9, 1.09)
    rep = analyze(epoch_run(train, spe=120 * 25 / 2.9, every=25))
    assert one(rep, "LL153").severity is Severity.WARNING
    # the missing eval set is a gap in the evidence, graded on LL153: info itself
    assert one(rep, "LL156").severity is Severity.INFO


def test_no_eval_near_zero_after_many_epochs_is_an_error_and_no_eval_is_info() -> None:
    # the same descent spread over 6 epochs: near zero only after the data repeated often
    train = _decay(6.0, 2.2)
    rep = analyze(epoch_run(train, spe=120 / 6.0 * 25, every=25))
    assert one(rep, "LL153").severity is Severity.ERROR
    # the missing eval set is a gap in the evidence, not harm: graded on LL153, info itself
    assert one(rep, "LL156").severity is Severity.INFO


# -- LL153: an eval loss holding its best ------------------------------------------------------


def _memorised_with_evals(evals: list[float]) -> Report:
    # 5 epochs of 20 logs; near zero from epoch ~2.5 on
    ep = np.arange(1, 101) / 20
    train = noisy(2.0 * np.exp(-ep / 0.8) + 0.01, 0.02, seed=3)
    est = [int(100 * (i + 1)) for i in range(len(evals))]
    return analyze(epoch_run(train, spe=100, every=5, evals=(est, evals)))


def test_memorised_but_eval_within_noise_of_its_best_is_info() -> None:
    # eval best at epoch 4, +0.5% at epoch 5: nothing got worse on held-out data
    rep = _memorised_with_evals([2.0, 1.2, 1.0, 0.98, 0.985])
    assert one(rep, "LL153").severity is Severity.INFO


def test_memorised_and_eval_moving_away_from_its_best_warns() -> None:
    rep = _memorised_with_evals([2.0, 1.2, 1.0, 0.98, 1.10])  # +12%
    assert one(rep, "LL153").severity.rank >= Severity.WARNING.rank


# -- LL153: a drop at the epoch boundary when the loss got low only once the data repeated ----


def test_boundary_drop_after_the_first_pass_is_memorization() -> None:
    # epoch 1 around 0.17 (never near zero), then ~0.066 from the boundary on: the examples
    # recognised on the second pass; no eval set to show it generalizes
    e1 = noisy(np.full(70, 0.17), 0.08, seed=4)
    e2 = noisy(np.full(50, 0.066), 0.08, seed=5)
    rep = analyze(epoch_run(np.concatenate([e1, e2]), spe=350, every=5))
    f = one(rep, "LL153")
    assert f.severity is Severity.WARNING and f.evidence.values["boundaries"] == 1


def test_loss_low_already_in_the_first_pass_is_not_memorization() -> None:
    # below 0.105 at epoch ~0.6, before any example is seen twice: not learning by heart
    e1 = noisy(np.geomspace(0.2, 0.08, 70), 0.03, seed=6)
    e2 = noisy(np.full(50, 0.03), 0.03, seed=7)
    rep = analyze(epoch_run(np.concatenate([e1, e2]), spe=350, every=5))
    assert "LL153" not in ids(rep)


# -- LL151 / LL154: two evals, and the usual 1-3 epochs ---------------------------------------


def _two_evals(acc: tuple[float, float]) -> Report:
    train = noisy(np.geomspace(0.35, 0.13, 50), 0.02, seed=8)  # 2 epochs of 125 steps
    extra = {"eval/accuracy": ([125, 250], list(acc))}
    return analyze(
        epoch_run(train, spe=125, every=5, evals=([125, 250], [0.256, 0.281]), extra=extra)
    )


def test_two_evals_rise_the_task_metric_confirms_is_overfitting() -> None:
    rep = _two_evals((0.914, 0.910))
    assert one(rep, "LL151").severity is Severity.WARNING
    # two epochs are the usual recipe: the harm is overfitting, not the epoch count
    assert "LL154" not in serious(rep)


def test_two_evals_rise_with_the_task_metric_improving_is_not_a_warning() -> None:
    rep = _two_evals((0.914, 0.930))
    assert "LL151" not in serious(rep)


def test_the_log_at_the_end_of_the_first_pass_is_a_held_out_measure() -> None:
    """of002-like: 15 steps per epoch logged every 5th step, no eval set. The log at epoch
    1.0 is the mean over steps 11-15, all first-pass batches: with it the first pass has
    three logs (lowest 0.139), and the second pass ends 5x below that: learned by heart."""
    train = np.array([2.16, 1.38, 0.139, 0.0289, 0.0171, 0.0256])
    f = one(analyze(epoch_run(train, spe=15, every=5)), "LL153")
    assert f.severity is Severity.WARNING


def test_a_late_onset_in_a_resolved_first_pass_is_a_held_out_measure() -> None:
    """of005-like: 28 steps per epoch logged every 5th step, no eval set. The first pass has
    five logs and reaches near zero only at its last (0.0496, epoch 0.89): that one log is
    the held-out level, and the second pass ends 25x below it: learned by heart."""
    train = np.array([2.53, 0.421, 0.198, 0.121, 0.0496, 0.0505, 0.0142, 0.0097, 0.00196])
    train = np.concatenate([train, [0.0022, 0.00034]])
    f = one(analyze(epoch_run(train, spe=28, every=5)), "LL153")
    assert f.severity is Severity.WARNING
    assert "25× below the first pass's lowest 0.0496" in f.evidence.text["en"]

"""Memorization is graded by the harm the numbers show, with a size to it.

A classifier's train loss near zero is how fitting an easy task ends: it is memorization only
when the run went over the examples many times (10 epochs, the count LL154 calls many) while
the eval loss, best at least an epoch before the end, stayed above that best (the corpus
convention: "memorization with harm shown (eval rising after its minimum ...)" is an error).
An epoch-boundary staircase warns only when the boundaries shed a sizeable share of the loss
(0.2 in log units) and nothing shows the model generalizes: a small drop when the examples
come round again is how any second pass looks, and the eval rise there is overfitting (LL151).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from analysis_curves import ids, noisy, one, run_of

from losslens.analysis import analyze
from losslens.model import Report, Severity

# -- LL153 on classifiers ----------------------------------------------------------------------


def _classifier(
    epochs: int, evals: list[float], acc: list[float], *, spe: int = 100, every: int = 10
) -> Report:
    """A classifier (eval accuracy logged) whose train loss reaches ~1e-4 by epoch ~4, with one
    eval per epoch."""
    steps = np.arange(every, epochs * spe + 1, every)
    ep = steps / spe
    train = noisy(0.69 * np.exp(-ep / 0.45) + 1e-4, 0.05, seed=11)
    est = [spe * (i + 1) for i in range(len(evals))]
    series: dict[str, tuple[Any, Any]] = {
        "train/loss": (steps, train),
        "train/epoch": (steps, ep),
        "eval/loss": (est, evals),
        "eval/accuracy": (est, acc),
    }
    return analyze(run_of(series))


#: best at epoch 3, then above it at every later eval (+25-40%)
RISING = [0.30, 0.20, 0.16, 0.20, 0.21, 0.22, 0.21, 0.22, 0.21, 0.22, 0.22, 0.22]


def test_classifier_near_zero_for_many_epochs_with_eval_above_its_best_is_an_error() -> None:
    acc = [0.90, 0.93, 0.95, 0.949, 0.948, 0.946, 0.947, 0.946, 0.945, 0.946, 0.945, 0.944]
    rep = _classifier(12, RISING, acc)
    f = one(rep, "LL153")
    assert f.kind == "memorization" and f.severity is Severity.ERROR
    assert f.evidence.values["eval_best_step"] == 300
    # the epochs after the eval best were the harm: the epoch count is escalated with it
    assert one(rep, "LL154").severity.rank >= Severity.WARNING.rank


def test_classifier_memorised_while_its_metric_improves_is_a_warning() -> None:
    acc = [0.90, 0.93, 0.95, 0.952, 0.953, 0.955, 0.956, 0.957, 0.958, 0.959, 0.96, 0.961]
    f = one(_classifier(12, RISING, acc), "LL153")
    assert f.severity is Severity.WARNING  # the held-out task still gains: one level lower


def test_classifier_overfitting_within_a_few_epochs_is_not_memorization() -> None:
    # the same eval rise after 5 epochs: ordinary overfitting (LL151), not learning by heart
    acc = [0.90, 0.93, 0.95, 0.949, 0.948]
    rep = _classifier(5, RISING[:5], acc)
    assert "LL153" not in ids(rep)


def test_classifier_near_zero_for_many_epochs_with_eval_still_improving_is_quiet() -> None:
    # a healthy long classifier run: eval best at the last eval, nothing to escalate
    evals = [0.30, 0.22, 0.19, 0.17, 0.16, 0.155, 0.15, 0.147, 0.145, 0.143, 0.142, 0.141]
    acc = [0.90, 0.93, 0.94, 0.945, 0.95, 0.951, 0.952, 0.953, 0.954, 0.955, 0.956, 0.957]
    rep = _classifier(12, evals, acc)
    assert "LL153" not in ids(rep)
    assert not any(f.severity.rank >= Severity.WARNING.rank for f in rep.findings)


# -- LL153: the size of an epoch-boundary staircase --------------------------------------------


def _two_epochs_with_a_boundary_drop(drop: float) -> Report:
    """A text run of 2 epochs (40 logs each), flat within each epoch, ``drop`` lower after the
    boundary; eval every 0.25 epoch, best at the boundary and rising ~2% per eval after it."""
    steps = np.arange(5, 401, 5)
    level = np.where(steps <= 200, 1.60, 1.60 * (1 - drop))
    train = noisy(level, 0.004, seed=21)
    est = list(range(50, 401, 50))
    evals = [1.95, 1.90, 1.87, 1.85, 1.89, 1.93, 1.97, 2.01]
    series: dict[str, tuple[Any, Any]] = {
        "train/loss": (steps, train),
        "train/epoch": (steps, steps / 200),
        "eval/loss": (est, evals),
    }
    return analyze(run_of(series))


def test_small_boundary_drop_with_eval_rising_is_info_the_rise_is_overfitting() -> None:
    rep = _two_epochs_with_a_boundary_drop(0.08)  # ~0.08 (log) shed at the one boundary
    assert one(rep, "LL151").severity.rank >= Severity.WARNING.rank
    f = one(rep, "LL153")
    assert f.evidence.values["boundaries"] == 1 and f.evidence.values["excess"] < 0.2
    assert f.severity is Severity.INFO


def test_large_boundary_drop_with_eval_rising_warns() -> None:
    rep = _two_epochs_with_a_boundary_drop(0.30)  # ~0.36 (log) shed at the one boundary
    f = one(rep, "LL153")
    assert f.evidence.values["excess"] >= 0.2
    assert f.severity is Severity.WARNING

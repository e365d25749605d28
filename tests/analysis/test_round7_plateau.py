"""Under-learning judged by size (LL135): a loss that barely moved in a full pass at a high
level is a plateau (j); diminishing returns while the eval loss improves at every eval are
info; a level needs no trend, so two logs can show a loss kept at a uniform guess (h).
"""

from __future__ import annotations

import numpy as np
from analysis_curves import PLATEAU_FAMILY, lm_run, noisy

from losslens.analysis import analyze
from losslens.model import Finding, RunData, Severity


def family(run: RunData) -> list[Finding]:
    return [f for f in analyze(run).findings if f.kind in PLATEAU_FAMILY]


def warned(run: RunData) -> bool:
    return any(f.severity is not Severity.INFO for f in family(run))


# -- (j) barely moved in a full pass at a high level -----------------------------------------


def _barely(scale: float) -> RunData:
    # one high first log, then 2.80 -> 2.71 over 3.3 epochs (-3.2%, 1.4% per epoch at the
    # end): a steady decline that leaves the loss at 93% of its first value
    loss = scale * np.concatenate([[2.90], np.linspace(2.80, 2.71, 8)])
    return lm_run(loss, steps_per_epoch=30, max_steps=90)


def test_a_loss_that_barely_moved_over_three_epochs_at_a_high_level_is_a_warning() -> None:
    hits = [f for f in family(_barely(1.0)) if f.rule_id == "LL135"]
    assert hits and hits[0].severity is Severity.WARNING


def test_the_same_slow_decline_at_an_ordinary_level_is_only_info() -> None:
    # 1.58 -> 1.48: a slow but steady decline from an already-low start
    hits = [f for f in family(_barely(1.5 / 2.75)) if f.rule_id == "LL135"]
    assert hits and hits[0].severity is Severity.INFO


def test_a_loss_that_barely_moved_in_one_pass_at_a_high_level_is_a_warning() -> None:
    # one epoch: 2.99, then 2.81 -> 2.775 (-1.2% over the rest of the pass)
    loss = np.concatenate([[2.99], np.linspace(2.81, 2.775, 9)])
    assert warned(lm_run(loss, steps_per_epoch=100, max_steps=100))


def test_a_loss_that_fell_a_tenth_or_more_in_its_pass_has_not_barely_moved() -> None:
    # one epoch: 3.3 -> 2.9 (-12%), still falling: no plateau
    loss = np.concatenate([[3.3], np.linspace(3.1, 2.9, 9)])
    assert not warned(lm_run(loss, steps_per_epoch=100, max_steps=100))


# -- diminishing returns while the eval loss still improves ----------------------------------


def _diminishing(with_eval: bool) -> RunData:
    # 4.0 -> 3.0 over 5 epochs, gaining under 1% per epoch over the second half
    head = np.linspace(4.0, 3.05, 10)
    tail = np.linspace(3.04, 2.99, 15)
    ev = np.array([3.08, 3.02, 2.99, 2.975, 2.965, 2.96]) if with_eval else None
    return lm_run(
        noisy(np.concatenate([head, tail]), 0.002, 5),
        steps_per_epoch=50,
        max_steps=250,
        eval_loss=ev,
        eval_every=40,
    )


def test_diminishing_returns_with_an_eval_loss_improving_at_every_eval_are_info() -> None:
    assert not warned(_diminishing(with_eval=True))


def test_the_same_train_loss_without_an_eval_loss_is_a_plateau_warning() -> None:
    assert warned(_diminishing(with_eval=False))


# -- (h) on a few logs: a level needs no trend -----------------------------------------------


def _two_logs(first: float, last: float) -> RunData:
    # two logs a full epoch apart in a 2-epoch run (125 steps per epoch, logged every 100)
    return lm_run([first, last], steps_per_epoch=125, logging_steps=100, max_steps=250)


def test_two_logs_at_a_uniform_guess_over_a_large_vocabulary_are_a_warning() -> None:
    # 10.78 -> 10.77: ln 48k, a fresh language-model head that never learned
    assert warned(_two_logs(10.78, 10.77))


def test_two_logs_at_an_ordinary_level_or_falling_away_from_chance_are_not_judged() -> None:
    assert not warned(_two_logs(2.10, 2.08))
    assert not warned(_two_logs(10.8, 3.0))

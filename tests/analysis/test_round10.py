"""Round 10 (the readings test v7 asked for): a long eval curve still improving is read as a
trend (LL135), passes over a task solved within the first pass (LL154), an eval gain within
the eval's own noise (LL131) and an eval loss that steps down with the train loss at the
epoch boundaries (LL153)."""

from __future__ import annotations

import numpy as np
from analysis_curves import epoch_run, lm_run, noisy, rule, run_of

from losslens.model import RunData, Severity

# -- LL135: an eval loss still improving, read on a long noisy curve as a trend -----------------


def _slow_text_run(eval_loss: list[float]) -> RunData:
    """A text run at ~0.5 nats declining 0.3% per epoch for 5 of its 6 epochs (10 logs per
    epoch), with 12 evals (every 50 steps)."""
    first = np.linspace(0.8, 0.51, 10)
    rest = 0.5 * np.exp(-0.003 * np.arange(1, 51) / 10)
    loss = noisy(np.concatenate([first, rest]), 0.002, 4)
    return lm_run(loss, steps_per_epoch=100, max_steps=600, eval_loss=eval_loss, eval_every=50)


HEAD = [0.60, 0.56, 0.54, 0.53, 0.52, 0.515]


def test_a_long_eval_curve_best_at_its_last_eval_and_trending_down_still_improves() -> None:
    # the last two evals are not each lower (0.508 -> 0.509 -> 0.505), but the second half
    # trends down to a best at the last eval: diminishing returns, info
    f = rule(_slow_text_run([*HEAD, 0.512, 0.510, 0.511, 0.508, 0.509, 0.505]), "LL135")
    assert f is not None and f.severity is Severity.INFO


def test_a_second_half_trending_up_with_a_lucky_last_eval_does_not_soften_it() -> None:
    f = rule(_slow_text_run([*HEAD, 0.505, 0.507, 0.509, 0.511, 0.512, 0.504]), "LL135")
    assert f is not None and f.severity is Severity.WARNING


# -- LL154: passes over a task the first pass solved, with no eval set ------------------------


def _solved(first: float = 1.4, epochs: float = 3.0, evals: bool = False) -> RunData:
    """A classifier logged every 20 steps, 600 steps per epoch, at ~0 (1e-4) from step 180
    (epoch 0.3) to the end."""
    n = int(epochs * 600 / 20)
    fall = np.geomspace(first, 0.004, 9)
    loss = np.concatenate([fall, noisy(np.full(n - fall.size, 1e-4), 0.2, 1)])
    ev = (np.arange(600, epochs * 600 + 1, 600), np.full(int(epochs), 2e-4)) if evals else None
    return epoch_run(loss, spe=600, every=20, evals=ev)


def test_two_epochs_after_the_first_pass_solved_the_task_are_a_warning() -> None:
    f = rule(_solved(), "LL154")
    assert f is not None and f.severity is Severity.WARNING
    assert "solved" in f.title["en"]


def test_with_an_eval_set_the_extra_passes_are_not_called_waste() -> None:
    f = rule(_solved(evals=True), "LL154")
    assert f is None or f.severity is Severity.INFO


def test_a_loss_that_started_near_zero_was_not_solved_by_the_first_pass() -> None:
    # 0.04 -> 0.004: the loss was near its floor from the start (mostly easy tokens)
    f = rule(_solved(first=0.03), "LL154")
    assert f is None or f.severity is Severity.INFO


def test_one_more_epoch_after_solving_it_is_not_yet_waste() -> None:
    f = rule(_solved(epochs=1.5), "LL154")
    assert f is None or f.severity is Severity.INFO


# -- LL131: an eval gain within the eval's own noise does not say the model learns --------------


def _flat_train(eval_loss: list[float]) -> RunData:
    """A train loss flat at 0.58 over 500 steps (1.8 epochs, logged every 10) at a usual LoRA
    LR, with 5 evals."""
    loss = noisy(np.full(50, 0.58), 0.02, 7)
    return lm_run(
        loss, steps_per_epoch=280, max_steps=840, peak_lr=2e-4, eval_loss=eval_loss, eval_every=100
    )


def test_an_eval_gain_smaller_than_its_noise_leaves_the_error() -> None:
    f = rule(_flat_train([1.3512, 1.3372, 1.3295, 1.3385, 1.3281]), "LL131")
    assert f is not None and f.severity is Severity.ERROR


def test_a_steady_eval_gain_beyond_its_noise_makes_it_info() -> None:
    f = rule(_flat_train([1.351, 1.345, 1.339, 1.334, 1.328]), "LL131")
    assert f is not None and f.severity is Severity.INFO


# -- LL153: an eval loss that steps down at the same epoch boundaries is not held out -----------


def _staircase(eval_steps_too: bool) -> RunData:
    """Three epochs of 1000 steps logged every 50: the train loss is flat inside each epoch
    and drops 0.4-0.8 at each boundary (3.9, 3.0, 2.2); 10 evals per epoch, below the train
    loss, stepping with it or declining smoothly."""
    means = [3.9, 3.0, 2.2]
    train = noisy(np.repeat(means, 20), 0.01, 5)
    est = np.arange(100, 3001, 100)
    if eval_steps_too:
        ev = noisy(np.repeat([3.7, 3.3, 2.9], 10), 0.003, 6)
    else:
        ev = 3.7 * np.exp(-0.25 * est / 3000)
    run = epoch_run(train, spe=1000, every=50, evals=(est, ev))
    return run_of(
        {k: (s.steps, s.values) for k, s in run.series.items()},
        config={"max_steps": 3000},
    )


def test_a_staircase_whose_eval_steps_at_the_same_boundaries_is_a_warning() -> None:
    f = rule(_staircase(eval_steps_too=True), "LL153")
    assert f is not None and f.severity is Severity.WARNING
    assert f.evidence.values["eval_stairs"] is True


def test_a_staircase_with_a_smoothly_improving_eval_stays_info() -> None:
    f = rule(_staircase(eval_steps_too=False), "LL153")
    assert f is not None and f.severity is Severity.INFO

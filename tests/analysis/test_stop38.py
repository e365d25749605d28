"""Stop 38: ratios between losses near zero measure the log's rounding, not the run.

A loss logged to four decimals that sits at 0.0000–0.0003 for a whole run is 100× "its
best" at 0.0001, and a rise from 0.0000 to 0.0001 while the LR ramps up is a "response to
the schedule": neither is a model getting worse. A loss of 122 at the first log only,
followed by logs that never come near it, is a bad start, not a numerical breakdown.

A gradient norm that is NaN at one log, with the loss finite and every value after it finite,
never reached the weights (a NaN there leaves every later value NaN): the update was skipped,
as the fp16 loss scaler does, and one lost step harms nothing (info); in a row, frequent or at
the end of the log it stays a warning.
"""

from __future__ import annotations

import numpy as np
from analysis_curves import rule, run_of

from losslens.model import RunData, Severity


def _near_zero_run() -> dict[str, tuple[object, object]]:
    """75 logs every 10 steps of a loss printed to 4 decimals that never leaves ~0, the LR
    ramping to 2e-4 over the first 100 steps and then decaying."""
    steps = np.arange(10, 760, 10)
    rng = np.random.default_rng(3)
    loss = np.round(np.abs(rng.normal(0.0, 0.00012, steps.size)), 4)
    loss[:6] = [0.0003, 0.0002, 0.0, 0.0001, 0.0, 0.0]
    loss[-12:] = [0.0002, 0.0001, 0.0001, 0.0003, 0.0001, 0.0001] * 2
    lr = np.where(steps <= 100, 2e-4 * steps / 100, 2e-4 * (750 - steps) / 650)
    return {"train/loss": (steps, loss), "train/learning_rate": (steps, lr)}


def test_a_loss_that_never_leaves_zero_does_not_diverge() -> None:
    assert rule(run_of(_near_zero_run()), "LL111") is None


def test_a_rise_from_0_to_0_during_warmup_is_not_a_response_to_the_lr() -> None:
    series = _near_zero_run()
    steps, loss = series["train/loss"]
    loss = np.array(loss, dtype=float)
    loss[:10] = [0.0, 0.0, 0.0, 0.0001, 0.0001, 0.0002, 0.0002, 0.0003, 0.0003, 0.0004]
    series["train/loss"] = (steps, loss)
    assert rule(run_of(series, config={"peft": "lora"}), "LL112") is None


def test_one_huge_first_log_never_reached_again_is_a_bad_start() -> None:
    steps = np.arange(10, 380, 10)
    loss = np.r_[122.1, np.zeros(steps.size - 1)]
    assert rule(run_of({"train/loss": (steps, loss)}), "LL111") is None


def test_a_loss_that_stays_absurd_is_still_a_breakdown() -> None:
    steps = np.arange(10, 380, 10)
    loss = np.r_[122.1, 150.0, np.full(steps.size - 2, 180.0)]
    f = rule(run_of({"train/loss": (steps, loss)}), "LL111")
    assert f is not None and "exploded" in f.text("title")


def test_a_huge_first_log_followed_by_hidden_nans_is_still_a_breakdown() -> None:
    steps = np.arange(50, 1300, 50)
    loss = np.r_[1.3e11, np.zeros(steps.size - 1)]
    grad = np.full(steps.size, np.nan)
    run = run_of({"train/loss": (steps, loss), "train/grad_norm": (steps, grad)})
    f = rule(run, "LL111")
    assert f is not None and "exploded" in f.text("title")


def _skips(bad: list[int]) -> RunData:
    """200 logs of a falling loss (always finite) with the gradient norm NaN at ``bad``."""
    steps = np.arange(10, 2010, 10)
    loss = np.interp(steps, [10, 2000], [2.0, 0.9])
    grad = np.full(steps.size, 0.8)
    grad[bad] = np.nan
    lr = np.interp(steps, [10, 2000], [2e-4, 0.0])
    return run_of(
        {
            "train/loss": (steps, loss),
            "train/grad_norm": (steps, grad),
            "train/learning_rate": (steps, lr),
        }
    )


def test_a_lone_nan_grad_norm_the_run_comes_back_from_is_a_skipped_step() -> None:
    f = rule(_skips([90]), "LL101")
    assert f is not None and f.severity is Severity.INFO
    f = rule(_skips([60, 120, 170]), "LL101")
    assert f is not None and f.severity is Severity.INFO


def test_nan_grad_norms_in_a_row_or_at_the_end_stay_a_warning() -> None:
    for bad in ([90, 91], [199]):
        f = rule(_skips(bad), "LL101")
        assert f is not None and f.severity is Severity.WARNING, bad


def test_two_skips_in_a_short_log_read_the_same_at_any_step_scale() -> None:
    # 2 of 10 logs is no rare skip; the first optimizer steps must not make one of them
    # "early" at a step scale where it falls inside them, and the other "just one"
    for scale in (1, 3):
        steps = np.arange(1, 11) * scale
        loss = np.linspace(2.0, 1.5, 10)
        grad = np.full(10, 0.8)
        grad[[0, 3]] = np.nan
        f = rule(run_of({"train/loss": (steps, loss), "train/grad_norm": (steps, grad)}), "LL101")
        assert f is not None and f.severity is Severity.WARNING, scale


def _jump(climbing: bool) -> RunData:
    """240 logs, no eval: the loss at ~1.0 (or climbing from 0.3 to 1.0 over the run so far)
    jumps 4x at step 1200 and stays there."""
    steps = np.arange(10, 2410, 10)
    rng = np.random.default_rng(5)
    before = np.interp(steps, [10, 1200], [0.3, 1.0]) if climbing else np.full(steps.size, 1.0)
    loss = np.where(steps <= 1200, before, 4.0) * np.exp(rng.normal(0, 0.02, steps.size))
    return run_of({"train/loss": (steps, loss)})


def test_a_jump_from_a_settled_level_is_a_change_of_scale() -> None:
    f = rule(_jump(climbing=False), "LL161")
    assert f is not None and "4×" in f.text("title")


def test_a_jump_at_the_end_of_a_climb_is_no_change_of_scale() -> None:
    assert rule(_jump(climbing=True), "LL161") is None
    f = rule(_jump(climbing=True), "LL111")
    assert f is not None and f.severity is Severity.ERROR

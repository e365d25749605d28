"""Spikes, skipped steps and warmup read the way the severity conventions grade them.

Small synthetic series, one principle each, with the healthy (or negative) case beside it:
a spike is a jump up from the log before it (a descent from a bad start is none); a point
100x its largest neighbour is a spike however scattered they are; a return from a few
collapsed logs to the run's level is no spike; a NaN gradient norm at a loss spike is one
event whose warning the loss-spike finding carries; a held LR is evidence of a skipped step
only where the schedule moves; a warmup that runs to the last step is a warning.
"""

from __future__ import annotations

import numpy as np
from analysis_curves import noisy, one, run_of

from losslens.analysis import analyze
from losslens.model import Severity


def _rule_ids(rep: object) -> set[str]:
    return {f.rule_id for f in rep.findings}  # type: ignore[attr-defined]


# -- a spike goes up ---------------------------------------------------------------------------


def test_descent_from_a_bad_start_is_no_spike() -> None:
    steps = np.arange(1, 152, 5)
    loss = noisy(0.8 + 4.0 * np.exp(-steps / 60), 0.02, seed=3)
    loss[0], loss[1] = 35.8, 17.0  # a huge first value, then on the way down
    rep = analyze(run_of({"train/loss": (steps, loss)}))
    assert "LL121" not in _rule_ids(rep)


def test_a_jump_up_later_in_the_same_run_is_still_a_spike() -> None:
    steps = np.arange(1, 152, 5)
    loss = noisy(0.8 + 4.0 * np.exp(-steps / 60), 0.02, seed=3)
    loss[0], loss[1] = 35.8, 17.0
    loss[20] *= 4.0  # one bad batch, straight back
    f = one(analyze(run_of({"train/loss": (steps, loss)})), "LL121")
    assert f.evidence.values["steps"] == str(int(steps[20]))
    assert f.severity is Severity.INFO  # 4x the level around it and straight back


def test_a_spike_100x_the_level_is_a_warning_even_when_it_comes_straight_back() -> None:
    steps = np.arange(1, 152, 5)
    loss = noisy(0.8 + 4.0 * np.exp(-steps / 60), 0.02, seed=3)
    loss[20] *= 150.0  # one corrupt batch, straight back
    f = one(analyze(run_of({"train/loss": (steps, loss)})), "LL121")
    assert f.evidence.values["unrecovered"] == 0
    assert f.severity is Severity.WARNING


# -- 100x the largest neighbour ----------------------------------------------------------------


def test_a_gradient_100x_every_neighbour_is_a_warning_even_in_a_short_scattered_log() -> None:
    steps = np.array([749, 1498, 2247, 2996, 3745])
    loss = np.array([0.456, 0.249, 0.120, 0.044, 0.0097])
    grad = np.array([0.54, 0.82, 0.051, 119.2, 0.004])  # spread over 200x, one value 145x
    rep = analyze(run_of({"train/loss": (steps, loss), "train/grad_norm": (steps, grad)}))
    f = one(rep, "LL122")
    assert f.severity is Severity.WARNING and f.onset_step == 2996


def test_the_same_scattered_log_without_the_outlier_has_no_spike() -> None:
    steps = np.array([749, 1498, 2247, 2996, 3745])
    loss = np.array([0.456, 0.249, 0.120, 0.044, 0.0097])
    grad = np.array([0.54, 0.82, 0.051, 1.19, 0.004])  # the same spread, nothing 100x
    rep = analyze(run_of({"train/loss": (steps, loss), "train/grad_norm": (steps, grad)}))
    assert "LL122" not in _rule_ids(rep)


# -- dips do not lower the level ---------------------------------------------------------------


def _dipping_grad(seed: int) -> tuple[np.ndarray, np.ndarray]:
    steps = np.arange(1, 51)
    grad = noisy(np.full(steps.size, 0.25), 0.3, seed=seed)
    for i in (10, 14, 20, 26, 32, 34, 41, 42, 45, 47, 49):  # collapsed steps (zero advantage)
        grad[i] = 0.002
    return steps, grad


def test_a_return_from_collapsed_logs_to_the_usual_level_is_no_spike() -> None:
    steps, grad = _dipping_grad(seed=1)
    grad[48] = 0.37  # the usual level, between dips at the end of the log
    loss = noisy(np.full(steps.size, 1.0), 0.01)
    rep = analyze(run_of({"train/loss": (steps, loss), "train/grad_norm": (steps, grad)}))
    assert "LL122" not in _rule_ids(rep)


def test_a_real_spike_among_dips_is_still_found() -> None:
    steps, grad = _dipping_grad(seed=1)
    grad[30] = 40.0  # 160x the usual level
    loss = noisy(np.full(steps.size, 1.0), 0.01)
    rep = analyze(run_of({"train/loss": (steps, loss), "train/grad_norm": (steps, grad)}))
    f = one(rep, "LL122")
    assert f.onset_step == 31 and f.severity is Severity.WARNING


# -- a NaN gradient norm and a held LR ---------------------------------------------------------


def _per_step_run(
    *, constant_lr: bool, spike: bool, nans: int = 1
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    steps = np.arange(1, 61)
    loss = noisy(0.5 * np.exp(-steps / 15) + 0.05, 0.03, seed=2)
    grad = noisy(np.full(steps.size, 0.3), 0.1, seed=4)
    grad[17 : 17 + nans] = np.nan  # from step 18: the optimizer step was skipped
    if spike:
        loss[17] = 20 * loss[16]
    if constant_lr:
        lr = np.full(steps.size, 2e-4)
    else:
        lr = 2e-4 * (1 - steps / 61.0)
        lr[17] = lr[16]  # the scheduler did not step: the LR is held at step 18
    return {
        "train/loss": (steps, loss),
        "train/grad_norm": (steps, grad),
        "train/learning_rate": (steps, lr),
    }


def test_a_skipped_step_under_a_moving_schedule_is_info() -> None:
    f = one(analyze(run_of(_per_step_run(constant_lr=False, spike=False))), "LL101")
    assert f.severity is Severity.INFO


def test_a_held_lr_under_a_constant_schedule_says_nothing_about_a_skip() -> None:
    # two in a row (a lone one the run comes back from is a skip whatever the LR did)
    f = one(analyze(run_of(_per_step_run(constant_lr=True, spike=False, nans=2))), "LL101")
    assert f.severity is Severity.WARNING  # an overflow mid-run, not known to be a skip


def test_a_nan_gradient_at_a_loss_spike_is_one_event_graded_by_the_spike() -> None:
    rep = analyze(run_of(_per_step_run(constant_lr=False, spike=True)))
    spike, nan = one(rep, "LL121"), one(rep, "LL101")
    assert spike.severity is Severity.WARNING and spike.onset_step == 18
    assert nan.severity is Severity.INFO  # a rare skipped step; the spike carries the warning


# -- a spike that comes back from a level near zero --------------------------------------------


def test_a_spike_from_near_zero_that_undoes_its_jump_came_back() -> None:
    steps = np.arange(1, 61)
    loss = np.full(steps.size, 1e-4)
    loss[:10] = np.linspace(0.5, 0.01, 10)
    loss[39], loss[40] = 0.55, 8e-4  # 8e-4 is 8x the level, but 99.9% of the jump is undone
    f = one(analyze(run_of({"train/loss": (steps, loss)})), "LL121")
    assert f.evidence.values["unrecovered"] == 0


# -- warmup as long as the run -----------------------------------------------------------------


def _warmup_run(peak_step: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    steps = np.arange(1, 101)
    lr = np.where(
        steps <= peak_step,
        1e-3 * steps / peak_step,
        1e-3 * np.maximum(0.0, (100 - steps) / max(1, 100 - peak_step)),
    )
    loss = noisy(1.7 + 0.3 * np.exp(-steps / 20), 0.03, seed=5)
    return {"train/loss": (steps, loss), "train/learning_rate": (steps, lr)}


def test_warmup_that_runs_to_the_last_step_is_a_warning() -> None:
    # warmup_steps == max_steps: the LR rises at every step and the scheduler's 0 comes last
    rep = analyze(run_of(_warmup_run(99), config={"max_steps": 100}))
    f = one(rep, "LL142")
    assert f.severity is Severity.WARNING


def test_a_long_warmup_that_then_decays_stays_info() -> None:
    rep = analyze(run_of(_warmup_run(77), config={"max_steps": 100}))
    f = one(rep, "LL142")
    assert f.severity is Severity.INFO

"""Round 6: events read the way the severity conventions grade them.

Small synthetic series, one principle each, with the healthy (or negative) case beside it:
a warmup that peaks at 80% of the planned steps or later is as long as the run whether its
end is logged or estimated; a loss that climbs over several logs to a step whose gradient
norm is NaN is a spike paired with a NaN gradient norm (a warning) measured against the
level before the climb; a gradient norm of exactly 0 is a step that changed nothing.
"""

from __future__ import annotations

import numpy as np
from analysis_curves import noisy, one, run_of

from losslens.analysis import analyze
from losslens.model import Severity


def _rule_ids(rep: object) -> set[str]:
    return {f.rule_id for f in rep.findings}  # type: ignore[attr-defined]


# -- a warmup that peaks near the end is as long as the run ------------------------------------


def _warmup_run(peak_step: int, max_steps: int = 170, every: int = 10) -> object:
    steps = np.unique(np.r_[np.arange(every, max_steps + 1, every), max_steps])
    lr = np.where(
        steps <= peak_step,
        5e-5 * steps / peak_step,
        5e-5 * (max_steps - steps) / (max_steps - peak_step),
    )
    loss = noisy(0.4 + 2.4 * np.exp(-steps / 60), 0.01, seed=1)
    return run_of(
        {"train/loss": (steps, loss), "train/learning_rate": (steps, lr)},
        config={"max_steps": max_steps, "learning_rate": 5e-5},
    )


def test_a_logged_warmup_that_peaks_at_88_percent_of_the_run_is_a_warning() -> None:
    f = one(analyze(_warmup_run(150)), "LL142")  # type: ignore[arg-type]
    assert f.severity is Severity.WARNING
    assert f.evidence.values["warmup_end"] == 150


def test_the_same_warmup_logged_more_coarsely_is_still_a_warning() -> None:
    # logged every 20 steps the highest log is at 140 (82%): the ramp, at its logged rate,
    # reaches the first usual LR (5e-5) only at 150, before the next log
    f = one(analyze(_warmup_run(150, every=20)), "LL142")  # type: ignore[arg-type]
    assert f.severity is Severity.WARNING
    assert f.evidence.values["warmup_end"] == 140


def test_a_warmup_that_peaks_at_76_percent_stays_info() -> None:
    f = one(analyze(_warmup_run(130)), "LL142")  # type: ignore[arg-type]
    assert f.severity is Severity.INFO


# -- a climb to a NaN gradient norm ------------------------------------------------------------


def _climb_run(with_nan: bool) -> object:
    steps = np.arange(10, 1410, 10)
    loss = noisy(np.full(steps.size, 0.95), 0.01, seed=4)
    grad = noisy(np.full(steps.size, 0.2), 0.1, seed=5)
    # seven logs up, then back down over seven: the climb fills the neighbour window
    climb = [1.5, 2.2, 3.0, 4.0, 5.2, 6.4, 7.6]
    fall = [6.0, 4.7, 3.5, 2.4, 1.6, 1.2, 1.0]
    at = 40
    loss[at : at + 7] = climb
    loss[at + 7 : at + 14] = fall
    if with_nan:
        grad[at + 6] = float("nan")  # the top of the climb: the step was skipped
    return run_of({"train/loss": (steps, loss), "train/grad_norm": (steps, grad)})


def test_a_climb_to_a_nan_gradient_norm_is_a_loss_spike_warning() -> None:
    f = one(analyze(_climb_run(True)), "LL121")  # type: ignore[arg-type]
    assert f.severity is Severity.WARNING
    assert f.evidence.values["max_step"] == 470
    assert f.onset_step == 410  # the first log clearly above the level
    assert f.evidence.values["unrecovered"] == 0  # it came back within as many logs


def test_the_same_climb_without_a_nan_gradient_norm_is_no_warning() -> None:
    rep = analyze(_climb_run(False))  # type: ignore[arg-type]
    assert all(f.severity is Severity.INFO for f in rep.findings if f.rule_id == "LL121")


# -- a gradient norm of exactly 0 -------------------------------------------------------------


def _zero_grad_run(zero_share: float | None, *, dead_after: int | None = None) -> object:
    steps = np.arange(10, 3010, 10)
    loss = noisy(0.25 + 1.9 * np.exp(-steps / 150), 0.05, seed=7)
    grad = noisy(np.full(steps.size, 5.0), 0.3, seed=8)
    rng = np.random.default_rng(9)
    if zero_share is not None:
        grad[rng.permutation(steps.size)[: round(zero_share * steps.size)]] = 0.0
    if dead_after is not None:
        grad[dead_after:] = 0.0
    return run_of({"train/loss": (steps, loss), "train/grad_norm": (steps, grad)})


def test_a_zero_gradient_norm_at_half_the_logs_is_a_warning() -> None:
    rep = analyze(_zero_grad_run(0.55))  # type: ignore[arg-type]
    found = [f for f in rep.findings if f.kind == "grad_vanishing"]
    assert len(found) == 1  # one reading of it (LL134 when the late median collapses)
    assert found[0].severity is Severity.WARNING


def test_a_few_zero_gradient_norms_are_not_reported() -> None:
    rep = analyze(_zero_grad_run(0.1))  # type: ignore[arg-type]
    assert "LL105" not in _rule_ids(rep)


def test_a_gradient_norm_that_turns_zero_for_good_is_not_this_reading() -> None:
    rep = analyze(_zero_grad_run(None, dead_after=3))  # type: ignore[arg-type]
    assert "LL105" not in _rule_ids(rep)

"""LR too high and divergence read on sparse logs (a handful of logs, a console paste).

Small synthetic series, one principle each, with the healthy case it must leave quiet:

- with few logs the loss reacting to the schedule is read by its consistency: from its lowest
  log the train loss rises at every log while the LR is near its peak, and every log after the
  LR has decayed lies below that lowest log (all progress comes as the schedule lowers the
  rate); a normal warmup-then-decay with five logs, or a single rise, stays quiet;
- a loss that turns inside the first window (falls for a log, then climbs on a short paste) is
  read from its lowest log, since every window there straddles the turn; a noisy-but-healthy
  loss at a constant LR, and a single low log the loss jumps straight back from, stay quiet;
- on few logs a gradient-norm jump held on every log of the last half (10x the first window
  or more) is an explosion, as a significant trend is on many; one late burst is not;
- a short run whose warmup ends well before max_steps has no warmup finding above info.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from analysis_curves import run_of

from losslens.analysis import analyze
from losslens.analysis.engine import build_context
from losslens.analysis.response import high_lr_response
from losslens.model import Severity

STEPS5 = np.array([1, 25, 50, 75, 100])
#: warmup from 0 to 9e-3 at step 25, linear decay to ~0 at step 100
LR5 = np.array([0.0, 9e-3, 6e-3, 3e-3, 5e-4])


def _sev(rep: Any, rule_id: str) -> Severity | None:
    for f in rep.findings:
        if f.rule_id == rule_id:
            return f.severity  # type: ignore[no-any-return]
    return None


def _five(loss: list[float]) -> Any:
    return run_of(
        {"train/loss": (STEPS5, loss), "train/learning_rate": (STEPS5, LR5)},
        config={"max_steps": 100},
    )


# -- the loss reacts to the schedule, read on five logs --------------------------------------


def test_a_loss_that_rises_at_the_peak_and_falls_only_as_the_lr_decays_is_lr_too_high() -> None:
    run = _five([3.0, 3.4, 3.7, 1.9, 1.3])
    response = high_lr_response(build_context(run))
    assert response is not None and response.kind == "high"
    assert response.step == 25 and response.before == 3.0 and response.after == 3.7
    assert _sev(analyze(run), "LL112") is Severity.WARNING


def test_a_healthy_warmup_then_decay_with_five_logs_is_quiet() -> None:
    run = _five([3.0, 2.4, 2.0, 1.7, 1.5])
    assert high_lr_response(build_context(run)) is None
    rep = analyze(run)
    assert all(f.severity is Severity.INFO for f in rep.findings)


def test_one_rise_at_the_peak_is_not_enough_on_few_logs() -> None:
    # up at the peak, already down at the next log while the LR is still high
    run = _five([3.0, 3.5, 3.2, 1.9, 1.3])
    assert high_lr_response(build_context(run)) is None
    assert _sev(analyze(run), "LL112") is None


def test_a_rise_that_does_not_recover_below_the_start_is_not_the_schedule() -> None:
    # worse at the peak and still worse than the start after the decay: no recovery shown
    run = _five([3.0, 3.4, 3.7, 3.3, 3.1])
    assert high_lr_response(build_context(run)) is None


def test_a_small_rise_at_the_peak_is_quiet() -> None:
    # 5% in all while the LR is high: within what a batch or two moves a loss
    run = _five([3.0, 3.08, 3.15, 1.9, 1.3])
    assert high_lr_response(build_context(run)) is None


# -- divergence on a short console paste ------------------------------------------------------

STEPS11 = np.arange(1, 12)
#: a warmup log at 5e-5, then a constant 5e-4
LR11 = np.array([5e-5] + [5e-4] * 10)


def _paste(loss: list[float]) -> Any:
    return run_of({"train/loss": (STEPS11, loss), "train/learning_rate": (STEPS11, LR11)})


def test_a_loss_that_turns_inside_the_first_window_and_climbs_diverges() -> None:
    # falls 1.4 -> 0.5, then climbs on every later line to ~0.9 at a constant LR
    loss = [1.4, 0.5, 0.6, 0.68, 0.66, 0.95, 0.7, 0.74, 0.86, 0.84, 0.9]
    rep = analyze(_paste(loss))
    assert _sev(rep, "LL111") in (Severity.WARNING, Severity.ERROR)
    f = next(f for f in rep.findings if f.rule_id == "LL111")
    assert f.onset_step == 2


def test_a_noisy_but_healthy_loss_at_a_constant_lr_is_quiet() -> None:
    loss = [1.4, 0.5, 0.56, 0.47, 0.53, 0.58, 0.49, 0.55, 0.5, 0.46, 0.52]
    rep = analyze(_paste(loss))
    assert _sev(rep, "LL111") is None and _sev(rep, "LL112") is None


def test_one_low_log_the_loss_jumps_straight_back_from_is_no_turn() -> None:
    # a flat loss with one easy batch at the second log: back to its level at once
    loss = [0.6, 0.35, 0.58, 0.62, 0.57, 0.61, 0.59, 0.63, 0.58, 0.6, 0.62]
    rep = analyze(_paste(loss))
    assert _sev(rep, "LL111") is None


def _paste_with_grads(loss: list[float], grad: list[float]) -> Any:
    return run_of(
        {
            "train/loss": (STEPS11, loss),
            "train/learning_rate": (STEPS11, LR11),
            "train/grad_norm": (STEPS11, grad),
        }
    )


CLIMB = [1.4, 0.5, 0.6, 0.68, 0.66, 0.95, 0.7, 0.74, 0.86, 0.84, 0.9]


def test_a_gradient_jump_held_on_every_late_log_is_an_explosion_on_few_logs() -> None:
    # eleven lines: too few for the trend test, but every log of the last half is 10x+ early
    grad = [0.24, 0.27, 1.3, 1.2, 17.0, 7.1, 21.0, 23.0, 3.8, 14.0, 7.4]
    assert _sev(analyze(_paste_with_grads(CLIMB, grad)), "LL123") is not None


def test_one_late_gradient_burst_among_normal_logs_is_no_explosion() -> None:
    # the same climb, but the gradient norm is back at its level on most late logs
    grad = [0.24, 0.27, 0.3, 0.26, 0.28, 0.25, 9.0, 0.3, 0.27, 0.31, 0.29]
    assert _sev(analyze(_paste_with_grads(CLIMB, grad)), "LL123") is None


# -- a short run whose warmup ends well before max_steps ---------------------------------------


def test_a_short_warmup_in_a_short_run_is_no_warmup_issue() -> None:
    steps = np.arange(10, 101, 10)
    lr = np.where(steps <= 10, 2e-4, 2e-4 * (100 - steps) / 90)
    lr[0] = 1e-4
    loss = [2.0, 1.6, 1.4, 1.3, 1.22, 1.17, 1.13, 1.1, 1.08, 1.07]
    rep = analyze(
        run_of(
            {"train/loss": (steps, loss), "train/learning_rate": (steps, lr)},
            config={"max_steps": 100},
        )
    )
    assert _sev(rep, "LL142") is None
    assert all(f.severity is Severity.INFO for f in rep.findings)

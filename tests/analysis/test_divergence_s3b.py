"""Divergence and warmup read the way the severity conventions grade them.

Small synthetic series, one principle each, with its negative case beside it:

- in online RL (a sampled reward is logged) the loss is beta x KL: it starts at 0 and grows as
  the policy moves, so its rise is no divergence (without a reward the same curve is one);
- a log whose LR decays to about 0 and ramps up again holds several runs in a row: a jump at
  the first logs of a new schedule came before the new rate could move the weights far, so
  divergence is read within the last segment, however coarsely the LR was logged (a rise
  inside that segment still is divergence);
- an unfinished log whose LR still rises does not show where the warmup ends: the ramp is taken
  to end at the configured LR, else at the first usual value (1, 2, 3, 5 x 10^k) at or above its
  last LR; a warning only when even that end is near the planned end of the run.
"""

from __future__ import annotations

import numpy as np
import pytest
from analysis_curves import noisy, one, run_of

from losslens.analysis import analyze
from losslens.analysis.rules.schedule import next_usual_lr, ramp_end
from losslens.model import Severity


def _ids(rep: object) -> set[str]:
    return {f.rule_id for f in rep.findings}  # type: ignore[attr-defined]


# -- online RL: the loss is beta x KL ---------------------------------------------------------


def _kl_loss() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    steps = np.arange(10, 251, 10)
    kl = noisy(np.minimum(0.02, 2e-4 * (steps - 5)), 0.2, seed=4)
    kl[:3] = [7e-6, 9e-5, 8e-4]
    # beta x KL printed with 4 decimals (0.0 at the start), large enough to end above 0.01
    # nats: below that a rise is rounding, not divergence, with or without a reward
    loss = np.round(10 * kl, 4)
    lr = np.where(steps <= 25, 1e-5 * steps / 25, 1e-5 * (250 - steps) / 225)
    return steps, loss, lr


def test_a_growing_rl_loss_is_no_divergence() -> None:
    steps, loss, lr = _kl_loss()
    reward = noisy(0.5 + 0.004 * steps, 0.1, seed=5)
    series = {
        "train/loss": (steps, loss),
        "train/learning_rate": (steps, lr),
        "train/reward": (steps, reward),
    }
    rep = analyze(run_of(series))
    assert "LL111" not in _ids(rep) and "LL112" not in _ids(rep)


def test_the_same_curve_without_a_reward_is_divergence() -> None:
    steps, loss, lr = _kl_loss()
    rep = analyze(run_of({"train/loss": (steps, loss), "train/learning_rate": (steps, lr)}))
    assert "LL111" in _ids(rep)


# -- a restarted schedule starts a new run --------------------------------------------------


def _two_segments(second: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Steps 1-200: warmup to 2e-4 and decay to ~0, the loss falling 1.7 -> ~0.01; steps
    201-400: the LR restarts from 0 (4e-5, decaying) with the loss ``second``."""
    s1 = np.arange(1, 201)
    s2 = np.arange(201, 401)
    loss1 = noisy(0.009 + 1.7 * np.exp(-s1 / 25), 0.02, seed=1)
    lr1 = np.where(s1 <= 100, 2e-4 * (s1 - 1) / 100, 2e-4 * (200 - s1) / 100 + 2e-6)
    lr2 = 4e-5 * (400 - s2) / 199
    lr2[0] = 0.0
    steps = np.concatenate([s1, s2])
    return {
        "train/loss": (steps, np.concatenate([loss1, second])),
        "train/learning_rate": (steps, np.concatenate([lr1, lr2])),
    }


def test_a_jump_where_the_lr_restarts_from_zero_is_no_divergence() -> None:
    s2 = np.arange(201, 401)
    second = noisy(0.3 + 2.7 * np.exp(-(s2 - 201) / 40), 0.02, seed=2)  # new data, learned
    series = _two_segments(second)
    assert "LL111" not in _ids(analyze(run_of(series)))
    # logged every 5th step: the LR's 0 at step 201 is not in the log, the restart still is
    coarse = {k: (s[4::5], v[4::5]) for k, (s, v) in series.items()}
    assert "LL111" not in _ids(analyze(run_of(coarse)))


def test_without_the_restart_the_same_loss_is_divergence() -> None:
    series = _two_segments(noisy(0.3 + 2.7 * np.exp(-(np.arange(200)) / 40), 0.02, seed=2))
    steps, lr = series["train/learning_rate"]
    lr = lr.copy()
    lr[200:] = lr[199]  # the schedule goes on at its end value: no restart
    series["train/learning_rate"] = (steps, lr)
    rep = analyze(run_of(series))
    assert one(rep, "LL111").severity is Severity.ERROR


def test_a_rise_inside_the_last_segment_is_still_divergence() -> None:
    s2 = np.arange(201, 401)
    x = (s2 - 201).astype(float)
    # falls to 0.3, then climbs to ~1.5 and stays there while the new schedule runs
    second = noisy(np.where(x < 60, 0.3 + 2.7 * np.exp(-x / 15), 0.3 + 1.2 * (x - 60) / 60), 0.02)
    second = np.where(x > 120, noisy(np.full(x.size, 1.5), 0.02, seed=7), second)
    rep = analyze(run_of(_two_segments(second)))
    assert one(rep, "LL111").severity is Severity.ERROR


# -- a warmup still running at the last log ---------------------------------------------------


def test_usual_learning_rates() -> None:
    assert next_usual_lr(4.95e-5) == 5e-5
    assert next_usual_lr(5e-5) == 5e-5
    assert next_usual_lr(1.59e-5) == 2e-5
    assert next_usual_lr(2.5e-5) == 3e-5
    assert next_usual_lr(0.03) == 0.03
    assert next_usual_lr(6e-4) == 1e-3
    st = np.array([10.0, 50.0, 100.0])
    assert ramp_end(st, 5e-7 * (st - 1), 5e-5) == pytest.approx(101.0)
    assert ramp_end(st, np.full(3, 1e-5), 5e-5) is None


def _checkpoint(per_step: float, last: int, max_steps: int, **cfg: float) -> dict[str, object]:
    steps = np.arange(10, last + 1, 10)
    loss = noisy(3.0 + 6.0 * np.exp(-steps / 40), 0.01, seed=3)
    series = {
        "train/loss": (steps, loss),
        "train/learning_rate": (steps, per_step * (steps - 1)),
    }
    return {"series": series, "config": {"max_steps": max_steps, **cfg}}


def test_a_ramp_that_reaches_a_usual_lr_well_before_the_end_is_info() -> None:
    # 4.95e-5 at step 100 of 130: at 5e-7 per step it reaches 5e-5 at step 101 (78%)
    c = _checkpoint(5e-7, 100, 130)
    f = one(analyze(run_of(c["series"], config=c["config"])), "LL142")  # type: ignore[arg-type]
    assert f.severity is Severity.INFO
    assert f.evidence.values["warmup_end"] == 101


def test_a_ramp_that_cannot_end_before_the_end_of_the_run_is_a_warning() -> None:
    # 1.59e-5 at step 160 of 210: the first usual value above it, 2e-5, comes at step 201
    c = _checkpoint(1e-7, 160, 210)
    f = one(analyze(run_of(c["series"], config=c["config"])), "LL142")  # type: ignore[arg-type]
    assert f.severity is Severity.WARNING


def test_a_configured_learning_rate_beyond_the_ramp_is_a_warning() -> None:
    # the same ramp as the info case, but the config asks for 1e-4: reached at step 201 of 130
    c = _checkpoint(5e-7, 100, 130, learning_rate=1e-4)
    f = one(analyze(run_of(c["series"], config=c["config"])), "LL142")  # type: ignore[arg-type]
    assert f.severity is Severity.WARNING


# -- a jump that stays up is a spike by the conventions' size --------------------------------


def _step_change(jump: float, nan_grad: bool) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """200 logs falling to ~0.01, then the loss jumps ``jump``x at step 101 and falls back
    over ~30 logs (the logs after the jump hide it from a neighbour test; it comes back, so
    it is no change of the loss's scale either)."""
    steps = np.arange(1, 201)
    loss = noisy(0.01 + 1.6 * np.exp(-steps / 15), 0.02, seed=8)
    after = steps > 100
    loss[after] = noisy(0.0101 * jump * np.exp(-(steps[after] - 101) / 30), 0.02, seed=9)
    grad = noisy(np.full(steps.size, 0.5), 0.05, seed=10)
    if nan_grad:
        grad[100] = np.nan
    return {"train/loss": (steps, loss), "train/grad_norm": (steps, grad)}


def test_a_jump_that_stays_up_with_a_nan_gradient_is_a_warning() -> None:
    f = one(analyze(run_of(_step_change(8.0, nan_grad=True))), "LL121")
    assert f.severity is Severity.WARNING and f.onset_step == 101


def test_a_jump_100x_its_level_is_a_warning() -> None:
    f = one(analyze(run_of(_step_change(300.0, nan_grad=False))), "LL121")
    assert f.severity is Severity.WARNING and f.onset_step == 101


def test_a_smaller_jump_with_finite_gradients_is_no_spike() -> None:
    rep = analyze(run_of(_step_change(8.0, nan_grad=False)))
    assert "LL121" not in _ids(rep)

"""Round 14 (the readings test v11 asked for): with no eval at all, a loss near zero already
in the first pass is memorization after many passes (10 epochs or more), however early it got
there (LL153); the epochs a run went are the state's own epoch at its global step when that is
at or after the last log (the last log can be one logging interval short of the end)."""

from __future__ import annotations

import numpy as np
from analysis_curves import noisy, run_of

from losslens.analysis import analyze
from losslens.analysis.context import build_context
from losslens.model import Finding, RunData, Severity


def rule(run: RunData, rule_id: str) -> Finding | None:
    return next((f for f in analyze(run).findings if f.rule_id == rule_id), None)


def _low_from_the_start(epochs: float) -> RunData:
    """A LoRA SFT run of 14 steps per epoch logged every 10 steps with no eval: the loss is
    already 0.04 at the first log (epoch 0.7) and falls to 1e-4 over ``epochs`` epochs."""
    steps = np.arange(10, int(epochs * 14) + 1, 10)
    loss = np.maximum(0.04 * np.exp(-steps / 30), 1e-4)
    return run_of(
        {
            "train/loss": (steps, noisy(loss, 0.05, 2)),
            "train/learning_rate": (steps, 2e-5 * (1 - steps / (epochs * 14 + 10))),
            "train/epoch": (steps, steps / 14),
        },
        config={"learning_rate": 2e-5, "lora_r": 8},
    )


def test_many_passes_over_a_loss_near_zero_since_the_first_pass_are_memorization() -> None:
    f = rule(_low_from_the_start(33), "LL153")
    assert f is not None and f.severity is Severity.ERROR


def test_a_few_passes_over_it_are_not() -> None:
    assert rule(_low_from_the_start(5), "LL153") is None


def _last_log_short_of_the_end(global_step: int) -> RunData:
    steps = np.arange(50, 6551, 50)
    return run_of(
        {
            "train/loss": (steps, noisy(0.5 * np.exp(-steps / 2000) + 0.1, 0.02, 1)),
            "train/epoch": (steps, steps / 659),
        },
        summary={"global_step": global_step, "epoch": global_step / 659},
    )


def test_the_epochs_are_the_states_own_at_its_global_step() -> None:
    assert build_context(_last_log_short_of_the_end(6590)).epochs == 10.0


def test_a_state_before_the_last_log_does_not_set_them() -> None:
    ctx = build_context(_last_log_short_of_the_end(6500))
    assert ctx.epochs is not None and abs(ctx.epochs - 6550 / 659) < 1e-9

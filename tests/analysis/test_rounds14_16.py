"""Rounds 14–16 (the readings tests v11, v12 and v12g asked for). Round 14: with no eval at
all, a loss near zero already in the first pass is memorization after many passes (10 epochs
or more), however early it got there (LL153); the epochs a run went are the state's own epoch at
its global step when that is at or after the last log. Round 15: a gradient norm of exactly 0 at
every one of 3 logs or more is no gradient (LL134); a classifier's memorization is an error only
with a harm of the size LL151 grades an error. Round 16: so is a text task's memorization with
an eval set (one principle for both)."""

from __future__ import annotations

import numpy as np
from analysis_curves import noisy, rule, run_of

from losslens.analysis.context import build_context
from losslens.model import RunData, Severity


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


# -- round 15 (the readings test v12 asked for) ---------------------------------------------


def test_a_gradient_norm_of_exactly_0_at_every_one_of_few_logs_is_no_gradient() -> None:
    """A 5-step GRPO smoke run: loss 0 and gradient norm 0 at every step (LL134 asked for 8
    logs even for a level no noise can fake)."""
    steps = np.arange(1, 6)
    run = run_of(
        {
            "train/loss": (steps, np.zeros(5)),
            "train/grad_norm": (steps, np.zeros(5)),
            "train/reward": (steps, np.zeros(5)),
            "train/learning_rate": (steps, 1e-5 * (1.2 - 0.2 * steps)),
        }
    )
    f = rule(run, "LL134")
    assert f is not None and f.severity is Severity.ERROR


def test_two_zero_gradient_norms_are_not_enough() -> None:
    steps = np.arange(1, 3)
    run = run_of({"train/loss": (steps, [0.7, 0.6]), "train/grad_norm": (steps, [0.0, 0.0])})
    assert rule(run, "LL134") is None


def _classifier(after: list[float]) -> RunData:
    """A classifier over 18 epochs of 9 steps, logged every 9 (at each epoch end) with an eval
    there: the train loss falls to ~0.01, the eval loss to 0.056 at epoch 14, then ``after``;
    the accuracy a little lower after it."""
    steps = np.arange(9, 163, 9)
    train = 0.4 * np.exp(-steps / 40) + 0.008
    ev = list(0.3 * np.exp(-steps[:14] / 30) + 0.056 - 0.3 * np.exp(-126 / 30)) + after
    acc = list(np.linspace(0.88, 0.98, 18))
    return run_of(
        {
            "train/loss": (steps, train),
            "train/epoch": (steps, steps / 9),
            "eval/loss": (steps, ev),
            "eval/accuracy": (steps, [*acc[:14], 0.955, 0.954, 0.953, 0.952]),
        },
    )


def test_a_classifier_a_few_percent_above_its_eval_best_is_a_memorization_warning() -> None:
    f = rule(_classifier([0.0586, 0.0582, 0.0606, 0.0630]), "LL153")
    assert f is not None and f.severity is Severity.WARNING


def test_one_a_third_above_it_is_an_error() -> None:
    f = rule(_classifier([0.070, 0.075, 0.078, 0.080]), "LL153")
    assert f is not None and f.severity is Severity.ERROR


# -- round 16 (the reading test v12g asked for) ---------------------------------------------


def _many_epochs_lm(rise: float) -> RunData:
    """100 epochs of a chat SFT on 24 examples, no task metric: the train loss falls to
    ~0.09, the eval loss to 0.69 at step 150, then rises smoothly by ``rise`` to step 300."""
    steps = np.arange(5, 301, 5)
    es = np.arange(10, 301, 10)
    ev = np.where(es <= 150, 0.689 + 4.4 * np.exp(-es / 22), 0.689 * (1 + rise * (es - 150) / 150))
    return run_of(
        {
            "train/loss": (steps, 5.6 * np.exp(-steps / 30) + 0.085),
            "train/epoch": (steps, steps / 3),
            "eval/loss": (es, ev),
        },
        config={"learning_rate": 3e-3, "num_train_epochs": 100},
    )


def test_memorization_with_a_small_eval_rise_is_a_warning() -> None:
    f = rule(_many_epochs_lm(0.03), "LL153")
    assert f is not None and f.severity is Severity.WARNING


def test_memorization_with_a_large_eval_rise_is_an_error() -> None:
    f = rule(_many_epochs_lm(0.5), "LL153")
    assert f is not None and f.severity is Severity.ERROR

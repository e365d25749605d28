"""How a run was logged must not decide its diagnosis (issue 9), rule by rule.

Each test shows one principle on small synthetic series, with its negative case:

- how long a run trained is read from the epochs when its steps are line numbers (a console
  paste without a step counter): a flat loss over three epochs is a loss that never moves,
  whether the log numbers it 10..150 or 1..15;
- a skipped optimizer step shows in the LR as one scheduler step missing over the logging
  interval, at a log of every step and at a log of every k steps alike;
- whether a short log shows a loss that never moves is decided by the size of the change and
  by the confidence interval on its slope (which widens as the logs get fewer), not by a
  count of logs a coarser log falls under;
- a warmup ramp with few logs is judged against the log-to-log noise of the whole log: a
  coarser log must not turn batch noise into a loss that "responds to the schedule".
"""

from __future__ import annotations

from typing import Any

import numpy as np
from analysis_curves import run_of

from losslens.analysis import analyze
from losslens.model import RunData, Severity


def _found(run: RunData) -> dict[str, Severity]:
    return {f.rule_id: f.severity for f in analyze(run).findings}


# -- the length of a run is not its line count -----------------------------------------------


def _flat_run(steps: np.ndarray, epochs: np.ndarray | None, seed: int = 0) -> RunData:
    rng = np.random.default_rng(seed)
    loss = 5.78 * np.exp(0.004 * rng.standard_normal(steps.size))
    series: dict[str, tuple[Any, Any]] = {"train/loss": (steps, loss)}
    if epochs is not None:
        series["train/epoch"] = (steps, epochs)
    return run_of(series)


def test_a_flat_loss_over_three_epochs_is_not_learning_with_line_number_steps() -> None:
    epochs = np.linspace(0.2, 3.0, 15)
    from_state = _flat_run(np.arange(10, 151, 10), epochs)
    from_console = _flat_run(np.arange(1, 16), epochs)  # no step counter: line numbers
    assert _found(from_state).get("LL131") is Severity.ERROR
    assert _found(from_console).get("LL131") is Severity.ERROR


def test_a_short_log_without_epochs_or_within_an_epoch_is_not_judged() -> None:
    steps = np.arange(1, 16)
    assert "LL131" not in _found(_flat_run(steps, None))  # 14 steps, length unknown
    assert "LL131" not in _found(_flat_run(steps, np.linspace(0.02, 0.3, 15)))  # 0.3 epoch


def test_a_falling_loss_with_line_number_steps_is_healthy() -> None:
    steps = np.arange(1, 16)
    rng = np.random.default_rng(1)
    loss = (1.2 + 2.0 * np.exp(-steps / 5)) * np.exp(0.01 * rng.standard_normal(15))
    run = run_of({"train/loss": (steps, loss), "train/epoch": (steps, np.linspace(0.2, 3, 15))})
    assert {k for k, s in _found(run).items() if s is not Severity.INFO} == set()


# -- a skipped step, seen at any logging interval -----------------------------------------------


def _fp16_skip_run(every: int, held: bool) -> RunData:
    """A linear-decay run logged every ``every`` steps with a NaN gradient norm at step 60;
    ``held``: the scheduler did not step there (the fp16 scaler skipped the update)."""
    total, peak = 120, 2e-4
    per_step = np.arange(1, total + 1)
    done = per_step - (per_step >= 60 if held else 0)  # scheduler steps taken
    lr = peak * (1 - done / total)
    rng = np.random.default_rng(2)
    loss = (1.0 + np.exp(-per_step / 30)) * np.exp(0.01 * rng.standard_normal(total))
    grad = 0.5 * np.exp(0.1 * rng.standard_normal(total))
    grad[59] = np.nan
    keep = np.union1d(per_step[every - 1 :: every], [1, total]) - 1
    s = per_step[keep]
    return run_of(
        {
            "train/loss": (s, loss[keep]),
            "train/learning_rate": (s, lr[keep]),
            "train/grad_norm": (s, grad[keep]),
        }
    )


def test_a_skipped_step_is_a_scaler_skip_at_every_logging_interval() -> None:
    for every in (1, 2, 3, 4):
        assert _found(_fp16_skip_run(every, held=True)).get("LL101") is Severity.INFO, every


def test_a_lone_overflow_the_run_comes_back_from_is_a_skip_at_every_logging_interval() -> None:
    # the schedule moved, but every value after it is finite: no NaN reached the weights
    for every in (1, 2, 3, 4):
        assert _found(_fp16_skip_run(every, held=False)).get("LL101") is Severity.INFO, every


# -- a short log: size and confidence decide, not a count of logs ------------------------------


def test_a_loss_stuck_at_ln_vocab_is_not_learning_in_six_logs_as_in_ten() -> None:
    rng = np.random.default_rng(3)
    for n in (10, 6):
        steps = np.linspace(10, 100, n).round().astype(int)
        loss = 10.82 + 0.002 * rng.standard_normal(n)
        assert _found(run_of({"train/loss": (steps, loss)})).get("LL131") is Severity.ERROR, n


def test_six_noisy_logs_that_cannot_rule_out_a_decline_are_not_judged() -> None:
    steps = np.linspace(10, 100, 6).round().astype(int)
    noisy = np.array([2.0, 2.3, 1.7, 2.2, 1.8, 1.97])  # 1.5% lower at the end, +-15% noise
    assert "LL131" not in _found(run_of({"train/loss": (steps, noisy)}))
    falling = 2.0 * np.exp(-steps / 150)
    assert "LL131" not in _found(run_of({"train/loss": (steps, falling)}))


# -- a ramp with few logs is judged against the noise of the whole log ---------------------------


def _warmup_run(batch_noise: float, seed: int = 4) -> RunData:
    """60 steps logged every 2nd step, warmup to 2e-4 over the first 6 steps (4 logs in the
    ramp), the loss 40% up at the LR peak from its lowest log in the ramp, then falling."""
    steps = np.array([1, 2, *range(4, 61, 2)])
    lr = np.where(steps <= 6, 2e-4 * (steps - 1) / 5, 2e-4 * (60 - steps) / 54)
    rng = np.random.default_rng(seed)
    loss = 0.65 + 0.5 * np.exp(-steps / 15)
    loss = loss * np.exp(batch_noise * rng.standard_normal(steps.size))
    loss[:4] = [1.12, 1.2, 0.94, 1.31]  # steps 1, 2, 4, 6: 0.94 -> 1.31 at the peak
    return run_of({"train/loss": (steps, loss), "train/learning_rate": (steps, lr)})


def test_batch_noise_in_a_sparse_ramp_is_not_a_response_to_the_schedule() -> None:
    assert "LL112" not in _found(_warmup_run(batch_noise=0.3))


def test_a_rise_above_the_noise_in_a_sparse_ramp_is_still_lr_too_high() -> None:
    assert _found(_warmup_run(batch_noise=0.01)).get("LL112") is Severity.WARNING


def test_a_log_too_short_to_measure_its_noise_keeps_the_sparse_bar() -> None:
    """6 logs (b007-like: a whisper run at 15x the usual LR whose loss jumps 49% at the LR
    peak and never comes back): too few to measure the noise, the 30% bar alone decides."""
    steps = np.array([1, 2, 4, 6, 8, 9])
    lr = np.array([1.5e-3, 3e-3, 2.96e-3, 2.92e-3, 2.9e-3, 2.89e-3])
    loss = np.array([1.24, 1.84, 1.80, 1.59, 2.41, 2.45])
    found = _found(run_of({"train/loss": (steps, loss), "train/learning_rate": (steps, lr)}))
    assert found.get("LL112") is not None and found["LL112"] is not Severity.INFO


def test_a_sparse_ramp_rise_the_peak_rate_undoes_is_the_start_transient() -> None:
    """As in a dense ramp: the loss jumps 60% at the LR peak (3 logs in the ramp), then falls
    below its lowest ramp log while a constant schedule holds the LR at its peak (g2503-like).
    The same loss with the LR decaying after the peak stays a response to the schedule."""
    steps = np.arange(5, 101, 5)
    loss = np.array([1.51, 1.44, 2.30, 1.51, 1.52, 1.40, 1.20, 1.35, 1.30, 1.25])
    loss = np.concatenate([loss, np.linspace(1.2, 0.9, 10)])
    held = 3e-3 * np.minimum(steps / 15, 1.0)
    run = run_of({"train/loss": (steps, loss), "train/learning_rate": (steps, held)})
    assert "LL112" not in _found(run)
    decayed = np.where(steps <= 15, held, 3e-3 * (100 - steps) / 85 * 0.5)
    run = run_of({"train/loss": (steps, loss), "train/learning_rate": (steps, decayed)})
    assert _found(run).get("LL112") is Severity.WARNING


def _bad_start_run(first: float, scale: float = 1.0) -> RunData:
    """g2543-like: 150 steps logged every 5th, a linear warmup to 3e-3 over 15 steps, then a
    linear decay; the loss falls from ``first`` to 9.1 in the ramp, rebounds to 16.5 by step
    20 and then falls steadily to 0.38."""
    steps = np.array([1, *range(5, 151, 5)])
    lr = np.where(steps <= 15, 3e-3 * steps / 15, 3e-3 * (150 - steps) / 135)
    head = [first, 23.7, 9.1, 12.2, 16.5, 16.1, 15.6, 14.5, 12.4, 10.2]
    loss = scale * np.concatenate([head, np.geomspace(7.0, 0.38, steps.size - len(head))])
    return run_of(
        {"train/loss": (steps, loss), "train/learning_rate": (steps, lr)},
        config={"model_type": "llama", "vocab_size": 320},
    )


def test_the_rebound_after_a_fall_from_above_every_token_level_is_not_the_rate() -> None:
    # a first loss of 37.6 nats is no per-token cross-entropy: logits far off scale; the
    # fall is read as a ratio, so the log at twice or half its scale reads the same
    for scale in (1.0, 2.0, 0.5):
        assert "LL112" not in _found(_bad_start_run(37.6, scale)), scale
    # the same ramp from a first loss a fresh model can score is read as a response
    assert _found(_bad_start_run(12.0)).get("LL112") is Severity.WARNING

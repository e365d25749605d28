"""Round 35: a warmup rise the peak rate itself undoes is not the schedule response.

LL112 reads a train loss that bottoms out during warmup and rises with the LR ramp as a rate
too high for the run, whatever its absolute value. A rate too high for the run cannot take
the loss lower than the small early rates did while it stays at its peak: when the loss falls
back below its warmup minimum before the schedule has decayed (the LR still at 90% of its
peak or more), the rise was the start's transient (the optimizer's moment estimates, a fresh
model's first steps), not the rate. A loss that comes back down only as the LR decays stays
the schedule response.
"""

from __future__ import annotations

import numpy as np
from analysis_curves import rule, run_of

from losslens.model import RunData, Severity

WARMUP, TOTAL, PEAK = 20, 200, 2e-4


def _lr(steps: np.ndarray) -> np.ndarray:
    """Linear warmup over 20 steps, then linear decay to 0 at step 200."""
    return np.where(
        steps <= WARMUP,
        PEAK * steps / WARMUP,
        PEAK * (TOTAL - steps) / (TOTAL - WARMUP),
    )


def _run(back_at: int) -> RunData:
    """Logged every step: the loss falls to 6.0 at step 8, rises to 9.0 at the LR peak
    (step 20), and is back under 6.0 from step ``back_at`` on, falling to 1.0 at the end."""
    steps = np.arange(1, TOTAL + 1)
    loss = np.interp(
        steps.astype(float),
        [1, 8, 20, back_at - 1, back_at, TOTAL],
        [10.0, 6.0, 9.0, 6.2, 5.8, 1.0],
    )
    loss = loss * (1 + 0.01 * np.sin(steps * 1.7))
    return run_of(
        {"train/loss": (steps, loss), "train/learning_rate": (steps, _lr(steps))},
        config={"model_type": "qwen2", "peft_type": "LORA"},
    )


def test_a_warmup_rise_undone_while_the_lr_is_still_at_its_peak_is_no_response() -> None:
    # back under the warmup minimum from step 26, where the LR is still 97% of its peak
    assert rule(_run(26), "LL112") is None


def test_a_warmup_rise_undone_only_as_the_lr_decays_stays_the_schedule_response() -> None:
    # back under it only from step 120, where the LR has decayed to 44% of its peak
    finding = rule(_run(120), "LL112")
    assert finding is not None
    assert finding.severity is Severity.WARNING

"""Under-learning read the way the severity conventions grade it (issue 9, item 4).

- "A loss that never moves" is an error, and it is judged by size: in a long noisy log whose
  two estimates of the change over the run (end-window medians, Theil-Sen line) both show
  less than 5%, the loss did not move even when the noise cannot rule out a larger decline.
- An eval loss that falls more than a flat train loss says the model learns (info).
- An online-RL loss (a reward is logged) is beta x KL, not a progress measure.
- A classifier that starts at chance (ln k) and stays there for two passes and most of the
  run has plateaued at a high level, whatever it does after.
- What to try depends on the level of the learning rate.
Each case has a near neighbour that must stay quiet.
"""

from __future__ import annotations

import math

import numpy as np
from analysis_curves import ids, noisy, one, run_of

from losslens.analysis import analyze
from losslens.analysis.advice import underlearning_suggestion
from losslens.model import Severity

STEPS = np.arange(1, 61)


def _short_run(
    loss: np.ndarray, steps: np.ndarray = STEPS
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """A 60-step LoRA demo run: warmup 5 steps to 2e-4, linear decay, 0.005 epoch."""
    lr = np.where(steps < 6, 2e-4 * steps / 6, 2e-4 * (60 - steps) / 54)
    return {
        "train/loss": (steps, loss),
        "train/learning_rate": (steps, lr),
        "train/epoch": (steps, steps / 12500),
    }


def test_a_flat_loss_is_an_error_the_loss_never_moves() -> None:
    flat = noisy(np.full(STEPS.size, 2.3), 0.01, seed=3)
    f = one(analyze(run_of(_short_run(flat), config={"lora_r": 8})), "LL131")
    assert f.severity is Severity.ERROR
    assert abs(f.evidence.values["improvement"]) < 0.05


def test_never_moves_judged_by_size_in_a_noisy_short_run() -> None:
    # per-step losses scattered ±18% around 0.85 for 60 steps: the 90% interval cannot rule
    # out a 5% decline, but neither estimate of the change shows one
    scattered = noisy(np.full(STEPS.size, 0.85), 0.18, seed=7)
    f = one(analyze(run_of(_short_run(scattered))), "LL131")
    assert f.severity is Severity.ERROR
    # the same noise on a loss that falls by a third is learning
    falling = noisy(0.85 * np.exp(-0.4 * STEPS / 60), 0.18, seed=7)
    rep = analyze(run_of(_short_run(falling)))
    assert not ({"LL131", "LL132", "LL135"} & ids(rep))
    # and 12 noisy logs are too few to judge by size
    few = np.arange(5, 61, 5)
    rep = analyze(run_of(_short_run(noisy(np.full(few.size, 0.85), 0.18, seed=7), few)))
    assert "LL131" not in ids(rep)


def test_eval_falling_more_than_a_flat_train_loss_is_info() -> None:
    steps = np.arange(5, 121, 5)
    train = noisy(np.full(steps.size, 0.75), 0.04, seed=2)
    series = _short_run(train, steps) | {
        "eval/loss": (np.array([60, 120]), np.array([0.7508, 0.7411]))
    }
    f = one(analyze(run_of(series)), "LL131")
    assert f.severity is Severity.INFO and "eval" in f.explanation["en"]
    # an eval loss falling no faster than a train loss that hardly moves adds nothing
    slow = np.array(5.76 * np.exp(-0.04 * steps / 120))
    series = _short_run(slow, steps) | {
        "eval/loss": (np.array([40, 80, 120]), 5.73 * np.exp(-0.03 * np.array([0, 0.5, 1.0])))
    }
    assert one(analyze(run_of(series)), "LL131").severity is Severity.ERROR


def test_an_rl_loss_is_not_a_progress_measure() -> None:
    steps = np.arange(1, 51)
    kl_loss = np.where(steps % 12 == 0, 1e-4, 0.0)  # beta x KL, printed as 0.0
    reward = noisy(np.full(steps.size, -1.4), 0.3, seed=1)
    grpo = {
        "train/loss": (steps, kl_loss),
        "train/reward": (steps, reward),
        "train/reward_std": (steps, np.abs(noisy(np.full(steps.size, 0.5), 0.3, seed=2))),
        "train/learning_rate": (steps, np.full(steps.size, 5e-6)),
        "train/epoch": (steps, steps / 79),
    }
    assert not ({"LL131", "LL132", "LL133", "LL135"} & ids(analyze(run_of(grpo))))
    # a DPO loss pinned at ln 2 is a preference loss that never moves: DPO's implicit
    # rewards do not make the run RL
    steps = np.arange(1, 101)
    dpo = {
        "train/loss": (steps, np.full(steps.size, math.log(2))),
        "rewards/chosen": (steps, np.zeros(steps.size)),
        "rewards/margins": (steps, np.zeros(steps.size)),
        "train/learning_rate": (steps, np.full(steps.size, 5e-6)),
        "train/epoch": (steps, steps / 145),
    }
    assert one(analyze(run_of(dpo)), "LL131").severity is Severity.ERROR


def _classifier(loss: np.ndarray, steps: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    es = np.array([43, 87, 130])
    return {
        "train/loss": (steps, loss),
        "train/learning_rate": (steps, 1e-5 * (1 - steps / 645)),
        "train/epoch": (steps, steps / 43.5),
        "eval/accuracy": (es, np.array([0.606, 0.606, 0.620])),
    }


def test_a_classifier_at_chance_for_most_of_the_run_has_plateaued() -> None:
    # two epochs at ln 2 (a fresh binary head guessing), then a late start to 0.6
    steps = np.arange(5, 131, 5)
    level = np.where(steps <= 95, 0.70 - 0.04 * steps / 95, 0.66 - 0.12 * (steps - 95) / 35)
    f = one(analyze(run_of(_classifier(noisy(level, 0.02, seed=4), steps))), "LL135")
    assert f.severity is Severity.WARNING and "ln 2" in f.evidence.text["en"]
    # the same log a third of the way through its first epoch: learning starts at once
    early = np.where(steps <= 15, 0.70, 0.70 * np.exp(-0.6 * (steps - 15) / 115))
    rep = analyze(run_of(_classifier(noisy(early, 0.02, seed=4), steps)))
    assert "LL135" not in ids(rep)
    # the same shape far from any ln k (a summed loss, ≈43) is a slow decline, not a model
    # guessing: nothing says it is stuck at chance
    summed = noisy(level * 62, 0.02, seed=4)
    assert "LL135" not in ids(analyze(run_of(_classifier(summed, steps))))


def test_what_to_try_depends_on_the_learning_rate_level() -> None:
    lora = (2e-4, 2e-4)
    high = underlearning_suggestion(1e-3, lora)["en"]
    assert "not the fix" in high and "masking" in high and "Raise the learning rate" not in high
    low = underlearning_suggestion(1e-6, lora)["en"]
    assert low.startswith("Raise the learning rate")
    assert "If the learning rate is below" in underlearning_suggestion(None, lora)["en"]
    assert "warmup" in underlearning_suggestion(1e-3, lora, lr_held_back=True)["en"]
    # the kind of run unknown: 5e-5 is usual for a full fine-tune and low for LoRA
    both = underlearning_suggestion(5e-5, (2e-5, 2e-4))["en"]
    assert "full fine-tune" in both and "LoRA" in both and "masking" in both
    # LL135 on a tiny model at 1e-3 that barely learns in 10 epochs: no advice to raise it
    steps = np.arange(500, 10001, 500)
    slow = noisy(1.5 * np.exp(-0.026 * steps / 1035), 0.01, seed=1)
    series = {
        "train/loss": (steps, slow),
        "train/learning_rate": (steps, 1e-3 * (1 - steps / 10350)),
        "train/epoch": (steps, steps / 1035),
    }
    f = one(analyze(run_of(series)), "LL135")
    assert "Raise the learning rate" not in f.suggestion["en"]
    assert "not the fix" in f.suggestion["en"] and "ko" in f.suggestion
    # ... and at 2e-6 it is the first thing to try
    series["train/learning_rate"] = (steps, 2e-6 * (1 - steps / 10350))
    rep = analyze(run_of(series))
    found = [f for f in rep.findings if f.kind in ("loss_plateau", "lr_too_low")]
    assert found and all("aise" in f.suggestion["en"] for f in found)

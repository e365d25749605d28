"""Online RL runs (GRPO) read by their reward, not their loss (LL181-LL184).

- Most completions cut at the length cap for most of the run: rewards judge cut outputs.
- A reward that does not rise over the run by size against its own log-to-log noise (and not
  significantly either) is a policy that does not get better at the task.
- (Almost) every group with one reward for most of the run: zero advantages, no gradient.
- A reward function with one value at every log adds nothing to any advantage (info).
Each case has a near neighbour that must stay quiet, and a healthy GRPO run (rising reward,
some clipped completions, some zero-spread groups) gets no warning at all.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from analysis_curves import ids, one, run_of

from losslens.analysis import analyze
from losslens.model import Severity

RL_IDS = {"LL181", "LL182", "LL183", "LL184"}


def _grpo(
    reward: np.ndarray,
    *,
    every: int = 5,
    clipped: np.ndarray | None = None,
    frac_zero: np.ndarray | None = None,
    reward_std: np.ndarray | None = None,
    extra: dict[str, np.ndarray] | None = None,
    first_step: int | None = None,
) -> Any:
    """A TRL GRPO log: loss ~0 (beta x KL), warmup then linear decay, one log per ``every``."""
    n = reward.size
    start = every if first_step is None else first_step
    steps = np.arange(start, start + n * every, every)
    total = float(steps[-1])
    lr = np.where(steps < 0.1 * total, 1e-5 * steps / (0.1 * total), 1e-5 * (1.2 - steps / total))
    rng = np.random.default_rng(11)
    series: dict[str, tuple[Any, Any]] = {
        "train/loss": (steps, 1e-4 * rng.standard_normal(n)),
        "train/learning_rate": (steps, lr),
        "train/grad_norm": (steps, 0.3 + 0.05 * rng.standard_normal(n)),
        "train/kl": (steps, 0.02 * steps / total),
        "train/reward": (steps, reward),
        "train/reward_std": (
            steps,
            reward_std if reward_std is not None else 0.5 + 0.05 * rng.standard_normal(n),
        ),
        "train/epoch": (steps, steps / 2000),
    }
    if clipped is not None:
        series["train/completions/clipped_ratio"] = (steps, clipped)
        series["train/completions/mean_length"] = (steps, 100 + 412 * clipped)
        series["train/completions/max_length"] = (steps, np.full(n, 512.0))
    if frac_zero is not None:
        series["train/frac_reward_zero_std"] = (steps, frac_zero)
    for k, v in (extra or {}).items():
        series[k] = (steps, v)
    return run_of(series, config={"max_steps": int(total), "learning_rate": 1e-5})


def _noise(n: int, scale: float, seed: int) -> np.ndarray:
    return scale * np.random.default_rng(seed).standard_normal(n)


def _rising(n: int = 40, seed: int = 1) -> np.ndarray:
    return 0.4 + 0.8 * np.linspace(0, 1, n) + _noise(n, 0.25, seed)


def test_a_healthy_grpo_run_stays_quiet() -> None:
    n = 40
    clipped = np.clip(0.15 + _noise(n, 0.08, 2), 0, 1)  # some completions hit the cap
    frac = np.clip(0.2 + _noise(n, 0.1, 3), 0, 1)  # some groups all alike
    funcs = {
        "train/rewards/correctness/mean": np.clip(0.2 + 0.7 * np.linspace(0, 1, n), 0, 1),
        "train/rewards/format/mean": np.clip(0.5 + _noise(n, 0.2, 4), 0, 1),
    }
    rep = analyze(_grpo(_rising(n), clipped=clipped, frac_zero=frac, extra=funcs))
    assert not (RL_IDS & ids(rep))
    assert all(f.severity is Severity.INFO for f in rep.findings), [
        (f.rule_id, f.severity) for f in rep.findings
    ]


# -- LL181 ------------------------------------------------------------------------------------


def test_completions_cut_at_the_cap_for_most_of_the_run_warn() -> None:
    n = 20
    clipped = np.clip(0.93 + _noise(n, 0.03, 5), 0, 1)
    f = one(analyze(_grpo(_rising(n), clipped=clipped)), "LL181")
    assert f.severity is Severity.WARNING
    assert f.kind == "other"
    assert f.evidence.values["share_of_logs"] == 1.0
    assert f.evidence.values["max_length"] == 512.0
    assert f.title["ko"] and f.explanation["ko"]


def test_truncation_only_late_or_in_a_minority_stays_quiet() -> None:
    n = 20
    # a third of the completions cut, with a few logs above half: not most of the run
    some = np.where(np.arange(n) % 5 == 0, 0.6, 0.3)
    assert "LL181" not in ids(analyze(_grpo(_rising(n), clipped=some)))
    # PPO's ratio clipping (clip_ratio/...) is not truncation
    ppo = {"train/clip_ratio/low_mean": np.full(n, 0.95)}
    assert "LL181" not in ids(analyze(_grpo(_rising(n), extra=ppo)))


# -- LL182 ------------------------------------------------------------------------------------


def test_a_flat_reward_warns_and_a_falling_one_too() -> None:
    n = 50
    flat = -1.4 + _noise(n, 0.6, 6)
    f = one(analyze(_grpo(flat)), "LL182")
    assert f.severity is Severity.WARNING
    assert f.kind == "other"
    assert abs(f.evidence.values["gain_in_noise"]) < 0.5
    falling = 0.5 - 0.6 * np.linspace(0, 1, n) + _noise(n, 0.3, 7)
    f = one(analyze(_grpo(falling)), "LL182")
    assert f.evidence.values["last_third"] < f.evidence.values["first_third"]
    assert "fell" in f.explanation["en"]


def test_a_rising_reward_is_learning_even_when_noisy() -> None:
    n = 25
    # a rise of about twice the log-to-log noise over the run: visible learning
    assert "LL182" not in ids(analyze(_grpo(_rising(n))))
    # a long run whose rise is small per log but significant over 300 logs is learning too
    long = 300
    slow = 0.25 * np.linspace(0, 1, long) + _noise(long, 0.5, 8)
    assert "LL182" not in ids(analyze(_grpo(slow, every=1)))


def test_too_few_logs_or_a_late_window_are_not_judged() -> None:
    flat = -1.4 + _noise(9, 0.6, 6)
    assert "LL182" not in ids(analyze(_grpo(flat)))
    # a window late in a run (the log starts at step 5000 of it): no view of the start
    late = -1.4 + _noise(40, 0.6, 6)
    assert "LL182" not in ids(analyze(_grpo(late, first_step=5000)))


def _dpo(n: int = 40) -> Any:
    """A DPO log: implicit rewards of chosen and rejected answers, no sampled reward."""
    steps = np.arange(5, 5 + 5 * n, 5)
    return run_of(
        {
            "train/loss": (steps, 0.69 - 0.2 * np.linspace(0, 1, n)),
            "train/learning_rate": (steps, np.full(n, 5e-7)),
            "train/rewards/chosen": (steps, np.full(n, 0.1)),
            "train/rewards/rejected": (steps, np.full(n, -0.1)),
            "train/rewards/margins": (steps, 0.2 + _noise(n, 0.05, 9)),
        }
    )


def test_dpo_implicit_rewards_are_not_an_rl_reward() -> None:
    assert not (RL_IDS & ids(analyze(_dpo())))


# -- LL183 ------------------------------------------------------------------------------------


def test_groups_without_reward_spread_give_no_signal() -> None:
    n = 30
    frac = np.clip(0.95 + _noise(n, 0.03, 10), 0, 1)
    f = one(analyze(_grpo(_rising(n), frac_zero=frac)), "LL183")
    assert f.severity is Severity.WARNING
    assert f.kind == "other"
    # without frac_reward_zero_std, a zero reward_std says the same
    f = one(analyze(_grpo(np.full(n, 1.0), reward_std=np.zeros(n))), "LL183")
    assert f.evidence.metric == "train/reward_std"


def test_some_groups_without_spread_are_normal() -> None:
    n = 30
    frac = np.clip(0.4 + _noise(n, 0.15, 12), 0, 1)  # intermittent zero-advantage groups
    assert "LL183" not in ids(analyze(_grpo(_rising(n), frac_zero=frac)))
    std = np.where(np.arange(n) % 5 == 0, 0.0, 0.5)  # a fifth of the logs
    assert "LL183" not in ids(analyze(_grpo(_rising(n), reward_std=std)))


# -- LL184 ------------------------------------------------------------------------------------


def test_a_reward_function_that_never_changes_is_info() -> None:
    n = 30
    funcs = {
        "rewards/check_answer": np.full(n, -1.0),
        "rewards/format": np.clip(0.5 + _noise(n, 0.2, 13), 0, 1),
    }
    f = one(analyze(_grpo(_rising(n), extra=funcs)), "LL184")
    assert f.severity is Severity.INFO
    assert "check_answer" in f.explanation["en"] and "format" not in f.explanation["en"]
    moving = {"rewards/format/mean": np.clip(0.5 + _noise(n, 0.2, 13), 0, 1)}
    assert "LL184" not in ids(analyze(_grpo(_rising(n), extra=moving)))


def test_the_lr_reading_names_online_rl_not_preference_tuning() -> None:
    rep = analyze(_grpo(_rising()))
    (lr,) = [r for r in rep.readings if r.metric.endswith("learning_rate")]
    assert "online RL (GRPO/PPO)" in lr.summary["en"]
    assert "preference" not in lr.summary["en"]
    (lr,) = [r for r in analyze(_dpo()).readings if r.metric.endswith("learning_rate")]
    assert "preference tuning" in lr.summary["en"]

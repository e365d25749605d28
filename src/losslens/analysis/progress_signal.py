"""What the loss can say about learning progress, and what the run's LR level is.

Seven readings shared by the under-learning rules (LL131–LL133, LL135):

- In online RL fine-tuning (GRPO, PPO, RLOO: a sampled reward is logged, ``train/reward``,
  ``reward_std``, ``env/reward_mean``) the logged loss is a policy loss plus ``beta`` x KL to
  the reference model: it starts at 0 and measures how far the policy moved, not how well it
  learned. It is no progress measure: a flat or zero loss there says nothing about learning
  (the reward does). DPO's implicit rewards (``rewards/chosen``, ``rewards/margins`` ...)
  do not make a run RL: the DPO loss falls from ln 2 as the model learns.
- An eval loss is averaged over a whole set, so it is far less noisy than one train log: an
  eval loss that falls from its first eval to its last (which is at its best), and by more
  than the train loss fell, says the model is learning even when the train loss looks flat
  within its noise.
- Whether the train log starts with the run (a window late in a run cannot show progress
  from the start).
- Whether a loss level is high (the conventions: "a plateau at a high level is a warning",
  "a slow but steady decline" and "diminishing returns" are info): for a text task, a token
  cross-entropy of 3 nats (perplexity ≈ 20) or more.
- Whether the loss's absolute level is a cross-entropy in nats, so that its level can be
  compared with a uniform guess (``analysis/chance.py``): a language-model or classification
  loss, in a run that is not online RL and logs no regression metric (R², MSE, MAE: the loss
  is then a squared or absolute error, whose level depends on the units of the target).
  Speech (CTC), embedding (contrastive) and preference (DPO) losses are left out.
- Whether a regression model ever beat a constant: an R² of 0 is the score of predicting
  the mean of the targets, so an eval R² that is never above 0 says the model has not
  learned anything a constant does not know.
- The run's peak learning rate, as logged (or as configured when the LR is not logged), for
  advice that depends on whether the LR is already at usual values.
"""

from __future__ import annotations

from losslens.analysis.context import LR_BANDS, RunContext
from losslens.analysis.evalview import eval_view

#: Last name parts of a sampled reward, logged by online RL trainers (not by DPO).
_RL_REWARDS = frozenset({"reward", "reward_std", "reward_mean", "rewards_mean", "score"})

#: Last name parts of a regression metric: the loss is then a squared or absolute error.
_REGRESSION = frozenset({"r_squared", "r2", "r2_score", "mse", "rmse", "mae", "mape"})


def log_from_start(ctx: RunContext, late_epochs: float = 1.0) -> bool:
    """Whether the train log starts with the run.

    ``ctx.covers_start`` reads the step numbers; a log whose steps restart at 1 (a console
    paste without step numbers, a resumed run) can still show by its logged epoch that it
    starts far into training: a first epoch more than ``late_epochs`` plus two logging
    intervals after 0 is not the start (a run logged once per epoch first logs epoch 1).
    """
    if not ctx.covers_start:
        return False
    if ctx.first_epoch is None or not ctx.steps_per_epoch:
        return True
    interval = max(ctx.log_interval, 1.0) / ctx.steps_per_epoch
    return ctx.first_epoch <= late_epochs + 2 * interval


def rewards_logged(ctx: RunContext) -> bool:
    """Whether the log carries a sampled reward (``train/reward``, ``reward_std``,
    ``env/reward_mean``, ``objective/score``): an online RL run."""
    for name in ctx.run.series:
        parts = name.lower().split("/")
        if parts[-1] in _RL_REWARDS or (len(parts) > 1 and parts[0] in {"env", "objective"}):
            return True
    return False


def loss_measures_progress(ctx: RunContext) -> bool:
    """Whether falling train loss is what learning looks like in this run (not in RL)."""
    return not rewards_logged(ctx)


def loss_is_cross_entropy(ctx: RunContext) -> bool:
    """Whether the train loss's level is a cross-entropy in nats (a language-model or
    classification loss, no online RL, no regression metric logged)."""
    if ctx.task not in ("lm", "classification") or rewards_logged(ctx):
        return False
    return not any(name.lower().split("/")[-1] in _REGRESSION for name in ctx.run.series)


def best_r_squared(ctx: RunContext, min_evals: int = 3) -> tuple[float, int, int] | None:
    """The best eval R² as ``(value, step, evals)``, from an eval series named ``r_squared``,
    ``r2`` or ``r2_score``; None without one or with fewer than ``min_evals`` finite values."""
    for name, s in ctx.run.series.items():
        parts = name.lower().split("/")
        if parts[-1] not in ("r_squared", "r2", "r2_score") or "eval" not in parts[0]:
            continue
        f = s.finite
        if len(f) < min_evals:
            continue
        i = int(f.values.argmax())
        return float(f.values[i]), int(f.steps[i]), len(f)
    return None


def eval_gain_over_log(ctx: RunContext, min_gain: float, train_gain: float) -> float | None:
    """The eval loss's relative gain from its first to its last eval when it shows learning
    the train loss does not: at least ``min_gain`` below the first, more than the train
    loss's own gain ``train_gain`` over the run (an eval loss falling as slowly as a flat
    train loss adds nothing), and the last eval within ``min_gain`` of the best (not rising
    away from it). None otherwise, or with fewer than two evals."""
    view = eval_view(ctx)
    if view is None:
        return None
    first, last = float(view.values[0]), float(view.values[-1])
    if first <= 0 or last <= 0:
        return None
    gain = 1.0 - last / first
    if gain < min_gain or gain <= train_gain or view.rise() > min_gain:
        return None
    return gain


#: A token cross-entropy at or above this (nats; perplexity e^3 ≈ 20) is a high level: a
#: pretrained language model fine-tuned on its kind of text sits at 1-3 nats, a model that
#: knows nothing at ln V (about 10-12 for 32k-150k vocabularies).
TEXT_HIGH = 3.0


def high_level(ctx: RunContext, level: float, text_high: float = TEXT_HIGH) -> bool:
    """Whether a loss level counts as high for the conventions' "a plateau at a high level is
    a warning": for a text task (token cross-entropy) ``text_high`` nats or more; for other
    tasks the loss scale says nothing by itself, so every level counts (no change)."""
    if not ctx.text_task:
        return True
    return level >= text_high


def peak_lr(ctx: RunContext) -> float | None:
    """The run's peak learning rate: the logged schedule's, else the configured one."""
    if ctx.schedule is not None and ctx.schedule.peak > 0:
        return ctx.schedule.peak
    cfg = ctx.cfg_num("learning_rate", "lr")
    return cfg if cfg is not None and cfg > 0 else None


def usual_lr(ctx: RunContext) -> tuple[float, float]:
    """The usual peak LR for the kind of run as ``(low, high)``: one value when the kind is
    known (the run's name counts, for wording), the full fine-tune and LoRA values when not."""
    if ctx.task == "preference" or ctx.finetune != "unknown":
        typical = ctx.lr_band[0]
        return typical, typical
    return LR_BANDS["full"][0], LR_BANDS["lora"][0]


__all__ = [
    "TEXT_HIGH",
    "best_r_squared",
    "eval_gain_over_log",
    "high_level",
    "log_from_start",
    "loss_is_cross_entropy",
    "loss_measures_progress",
    "peak_lr",
    "rewards_logged",
    "usual_lr",
]

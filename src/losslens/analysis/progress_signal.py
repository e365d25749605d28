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

import math
import re

import numpy as np

from losslens.analysis import signals
from losslens.analysis.context import LR_BANDS, RunContext
from losslens.analysis.evalview import eval_view, within_noise
from losslens.analysis.messages import Text, num, tr
from losslens.model import FloatArray

#: Last name parts of a sampled reward, logged by online RL trainers (not by DPO).
_RL_REWARDS = frozenset({"reward", "reward_std", "reward_mean", "rewards_mean", "score"})

#: Last name parts of a regression metric: the loss is then a squared or absolute error.
_REGRESSION = frozenset({"r_squared", "r2", "r2_score", "mse", "rmse", "mae", "mape"})


def log_from_start(ctx: RunContext) -> bool:
    """Whether the train log starts with the run.

    ``ctx.covers_start`` reads the step numbers; a log whose steps restart at 1 (a console
    paste without step numbers, a resumed run) can still show by its logged epoch that it
    starts far into training: a first epoch more than two logging intervals after 0 is not
    the start (a run logged once per epoch first logs epoch 1, within two of its intervals).
    """
    if not ctx.covers_start:
        return False
    if ctx.first_epoch is None or not ctx.steps_per_epoch:
        return True
    interval = max(ctx.log_interval, 1.0) / ctx.steps_per_epoch
    return ctx.first_epoch <= 2 * interval


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


#: Series names that say a loss is over tokens or text (perplexity, BLEU, WER ...).
_TEXT_HINT = re.compile(r"ppl|perplexity|token|bpc|bits_per|bleu|rouge|(?:^|[/_])(?:wer|cer)$")
#: Config keys of a language model or its tokenizer.
_MODEL_KEYS = ("model_type", "architectures", "vocab_size", "model_name_or_path", "max_seq_length")


def loss_unit_unknown(ctx: RunContext) -> bool:
    """Whether nothing says what the loss's unit is: a table, history, console log or loss
    list of a script of its own (``csv``, ``json_history``, ``text_log``, ``loss_list``; not a
    Trainer's log), no task found from its metrics or config (the task is the default, a
    language model), no series over tokens or text and no model or tokenizer in its config.
    Its level then says nothing by itself: 0.04 is a near-certain next token in nats and an
    ordinary squared error."""
    fmt = (ctx.run.info.source or "").partition(":")[0]
    if ctx.task != "lm" or fmt not in ("csv", "json_history", "text_log", "loss_list"):
        return False
    cfg = ctx.run.info.config
    if cfg.get("task") or any(k in cfg for k in _MODEL_KEYS):
        return False
    return not any(_TEXT_HINT.search(name.lower()) for name in ctx.run.series)


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
    away from it), and beyond the eval's own noise: the gain is a difference of two evals,
    each with the eval-to-eval noise, so it must exceed 2 standard deviations of such a
    difference (``2·√2·noise`` in log units; no bar when too few evals measure the noise).
    None otherwise, or with fewer than two evals."""
    view = eval_view(ctx)
    if view is None:
        return None
    first, last = float(view.values[0]), float(view.values[-1])
    if first <= 0 or last <= 0:
        return None
    gain = 1.0 - last / first
    if gain < min_gain or gain <= train_gain or view.rise() > min_gain:
        return None
    if math.log(first / last) <= 2 * math.sqrt(2) * view.noise:
        return None
    return gain


def eval_held_stretch(
    ctx: RunContext,
    curve: tuple[FloatArray, FloatArray, float],
    *,
    epochs: float,
    lr_share: float,
    gains: tuple[float, float],
    high_share: float,
) -> tuple[Text, int, float, float] | None:
    """An eval loss that holds while the train loss creeps down (LL160's reading, the start of
    overfitting): over the second half of 6 evals or more (3 or more evals, at least
    ``epochs`` long, started while the LR was at least ``lr_share`` of the schedule's peak)
    the eval loss gains and loses less than ``gains[0]`` per epoch while the train loss over
    the same steps gains less than ``gains[1]`` per epoch (and loses less than ``gains[0]``)
    at ``high_share`` of its first value or more: the train loss creeps down, the model
    learns nothing that generalizes. An eval loss that rises is overfitting, read by LL151.
    ``curve`` is ``(steps, values, first value)`` of the train loss; the note, the onset,
    the train loss's gain per epoch over the stretch (log) and the stretch's length in
    epochs, or None."""
    st, v, first = curve
    flat, creep = gains
    spe = ctx.steps_per_epoch or 0.0
    view = eval_view(ctx)
    if view is None or view.n < 6 or spe <= 0:
        return None
    half = view.steps >= view.steps[0] + 0.5 * (view.steps[-1] - view.steps[0])
    es, ev = view.steps[half], view.values[half]
    if es.size < 3 or float(es[-1] - es[0]) < epochs * spe:
        return None
    e_slope, _ = signals.theil_sen(es, signals.safe_log(ev))
    sel = (st >= es[0]) & (st <= es[-1] + max(ctx.log_interval, 1.0))
    if int(sel.sum()) < 4:
        return None
    ys = signals.safe_log(v[sel])
    t_slope, _ = signals.theil_sen(st[sel], ys)
    e_gain, t_gain = -e_slope * spe, -t_slope * spe
    lr = ctx.lr.finite if ctx.lr is not None else None
    lr0 = float(np.interp(es[0], lr.steps, lr.values)) if lr is not None and len(lr) else None
    lr_ok = ctx.schedule is None or lr0 is None or lr0 >= lr_share * ctx.schedule.top
    if not (
        lr_ok
        and abs(e_gain) < flat
        and -flat < t_gain < creep
        and float(np.exp(np.median(ys))) >= high_share * first
    ):
        return None
    span = float(es[-1] - es[0]) / spe
    note = tr(
        "over the last {e} epochs the eval loss gains {g}% per epoch at ≈{l} while the train "
        "loss creeps down {t}% per epoch",
        "마지막 {e} 에폭 동안 평가 손실은 ≈{l}에서 에폭당 {g}%만 줄었고 학습 손실은 에폭당 "
        "{t}%씩 조금 내려갔습니다",
        e=num(span, 2),
        g=f"{(1 - math.exp(-e_gain)) * 100:.1f}",
        l=num(float(np.median(ev))),
        t=f"{(1 - math.exp(-t_gain)) * 100:.1f}",
    )
    return note, int(es[0]), t_gain, span


#: A token cross-entropy at or above this (nats; perplexity e^3 ≈ 20) is a high level: a
#: pretrained language model fine-tuned on its kind of text sits at 1-3 nats, a model that
#: knows nothing at ln V (about 10-12 for 32k-150k vocabularies).
TEXT_HIGH = 3.0
#: ... and at or above this (perplexity e^5 ≈ 150) far from the answer: a model that has not
#: even learnt how often each token occurs (the unigram entropy of subword text is ~7 nats).
TEXT_FAR = 5.0


def high_level(ctx: RunContext, level: float, text_high: float = TEXT_HIGH) -> bool:
    """Whether a loss level counts as high for the conventions' "a plateau at a high level is
    a warning": for a text task (token cross-entropy) ``text_high`` nats or more; for other
    tasks the loss scale says nothing by itself, so every level counts (no change)."""
    if not ctx.text_task:
        return True
    return level >= text_high


#: ln 2^18 (nats): a uniform guess over 262,144 tokens, above every vocabulary in use; a
#: higher loss is not a per-token mean cross-entropy (summed, scaled, CTC, squared error).
MAX_TOKEN_CE = math.log(2**18)


def high_token_ce(ctx: RunContext, level: float, text_high: float = TEXT_HIGH) -> bool:
    """Whether ``level`` is a high token cross-entropy: a text task's per-token mean at
    ``text_high`` nats or more (perplexity e^3 ≈ 20, above the 1-3 nats a pretrained model
    fine-tuned on its kind of text reaches) and at most ln 2^18 ≈ 12.5 (above every
    vocabulary in use: higher is a summed or scaled loss, no per-token mean)."""
    return ctx.text_task and loss_is_cross_entropy(ctx) and text_high <= level <= MAX_TOKEN_CE


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


# -- levels and gains per epoch, as LL135 reads them ------------------------------


def head_count(n: int) -> int:
    """Logs in the first window: 5% of the log, at least 1."""
    return min(n, max(1, round(0.05 * n)))


def end_level(st: FloatArray, v: FloatArray) -> float:
    """The loss level at the last log: the median of the last 10% of logs (at least 3), each
    carried to the last step along the Theil-Sen slope of the second half of the log, so that
    a loss still falling is not read higher when the same tail spans more steps (coarser
    logging)."""
    n = v.size
    k = max(min(3, n), round(0.1 * n))
    y = signals.safe_log(v)
    half = st >= st[0] + 0.5 * (st[-1] - st[0])
    slope = signals.theil_sen(st[half], y[half])[0] if int(half.sum()) >= 3 else 0.0
    carried = y[-k:] + slope * (float(st[-1]) - st[-k:])
    return float(np.exp(np.median(carried)))


def share_se(v: FloatArray) -> float:
    """Standard error (log units) of the ratio of the median of the first 5% of logs to the
    median of the last 10%: the log-to-log noise (MAD of the differences) and the sizes of
    the two windows."""
    if v.size < 3:
        return 0.0
    y = signals.safe_log(v)
    sd = signals.mad(np.diff(y)) * signals.MAD_TO_SIGMA / math.sqrt(2)
    n0 = head_count(v.size)
    n1 = max(min(3, v.size), round(0.1 * v.size))

    def se(k: int) -> float:
        return sd if k == 1 else 1.2533 * sd / math.sqrt(k)

    return math.hypot(se(n0), se(n1))


def epoch_span(ctx: RunContext, a: float, b: float) -> float | None:
    ea, eb = ctx.epoch_at(a), ctx.epoch_at(b)
    return None if ea is None or eb is None else eb - ea


def passes_made(ctx: RunContext, last_step: float) -> float | None:
    """Epochs trained by the end of the log: the epoch at its last point plus one logging
    interval (the run goes on for up to one interval after its last log, so a 2-epoch run
    logged every 10 steps is not 1.98 epochs)."""
    e = ctx.epoch_at(last_step)
    if e is None:
        return ctx.epochs
    if ctx.steps_per_epoch:
        e += max(ctx.log_interval, 1.0) / ctx.steps_per_epoch
    return e


def gain_per_epoch(ctx: RunContext, st: FloatArray, v: FloatArray) -> float | None:
    """The Theil-Sen gain per epoch (log units; > 0 falling) over the second half of a curve."""
    if not ctx.steps_per_epoch or st.size < 3:
        return None
    half = st >= st[0] + 0.5 * (st[-1] - st[0])
    if int(half.sum()) < 3:
        return None
    slope, _ = signals.theil_sen(st[half], signals.safe_log(v[half]))
    return -slope * ctx.steps_per_epoch


def eval_gain_per_epoch(ctx: RunContext) -> float | None:
    """The eval loss's gain per epoch over the second half of the evals (None: too few)."""
    view = eval_view(ctx)
    if view is None or view.n < 3:
        return None
    return gain_per_epoch(ctx, view.steps, view.values)


def eval_improving(ctx: RunContext, last_evals: int, min_gain: float = 0.0) -> bool:
    """Whether the eval loss is still improving when the log ends: best at its last eval and
    lower at each of its last ``last_evals`` evals than at the one before (all of them when
    fewer; 2 evals or more), or, on a long curve (``2 (last_evals + 1)`` evals or more in its
    second half), trending down over its second half (Theil-Sen slope below 0): one noisy
    eval must not decide what the whole curve shows. The model still learns, however slowly
    the train loss moves, when the eval loss gains ``min_gain`` per epoch or more over those
    evals (log units; the Theil-Sen slope on a long curve): judged by size, an eval loss
    creeping down by less is as flat as a train loss would be (an unknown epoch scale cannot
    say, and counts as improving)."""
    view = eval_view(ctx)
    if view is None or view.n < 2 or int(view.best) != view.n - 1:
        return False
    i = view.n - min(view.n, last_evals + 1)
    tail = view.values[i:]
    if bool(np.all(np.diff(tail) < 0)):
        gain = math.log(float(tail[0]) / float(tail[-1]))
    else:
        i = view.n // 2
        if view.n - i < 2 * (last_evals + 1):
            return False
        slope, _ = signals.theil_sen(view.steps[i:], signals.safe_log(view.values[i:]))
        if slope >= 0:
            return False
        gain = -slope * float(view.steps[-1] - view.steps[i])
    span = epoch_span(ctx, float(view.steps[i]), float(view.steps[-1]))
    return not span or gain / span >= min_gain


def eval_converged(ctx: RunContext, n: int) -> bool:
    """Whether the eval loss (``n`` evals or more) fell from its first eval beyond its noise
    and holds its best at the end: the level of its last ``n`` evals (their median, so one
    lucky last eval does not decide) within 1% and 2 noise sds of the best."""
    view = eval_view(ctx)
    if view is None or view.n < n or view.best == 0 or view.best_value <= 0:
        return False
    bar = max(0.01, 2.0 * view.noise)
    fell = math.log(float(view.values[0]) / view.best_value) > bar
    level = float(np.median(view.values[-n:])) / view.best_value - 1
    return fell and level <= bar


def progress_points(ctx: RunContext, min_logs: int) -> tuple[FloatArray, FloatArray, str] | None:
    """The train loss, or the eval loss when train logs are too sparse to judge."""
    if ctx.loss is not None and len(f := ctx.loss.finite) >= min_logs:
        return f.steps.astype(np.float64), f.values, ctx.loss.key
    view = eval_view(ctx)
    if view is not None and view.n >= min_logs and ctx.eval_loss is not None:
        # an eval loss that fell to a best and ended above it beyond its noise learned, then
        # overfit (LL151 reads that): its end over its first value measures no plateau
        if view.best > 0 and not within_noise(view):
            return None
        return view.steps, view.values, ctx.eval_loss.key
    return None


__all__ = [
    "MAX_TOKEN_CE",
    "TEXT_FAR",
    "TEXT_HIGH",
    "best_r_squared",
    "end_level",
    "epoch_span",
    "eval_converged",
    "eval_gain_over_log",
    "eval_gain_per_epoch",
    "eval_held_stretch",
    "eval_improving",
    "gain_per_epoch",
    "head_count",
    "high_level",
    "high_token_ce",
    "log_from_start",
    "loss_is_cross_entropy",
    "loss_measures_progress",
    "loss_unit_unknown",
    "passes_made",
    "peak_lr",
    "progress_points",
    "rewards_logged",
    "share_se",
    "usual_lr",
]

"""Plateaus read the way the corpus conventions read them (LL135 (d)).

- Judged by size at a high level: a token cross-entropy of 3 nats or more (perplexity ≈ 20,
  above the 1-3 nats a fine-tuned pretrained model reaches) whose last two epochs gain less
  than 5% per epoch is a plateau at a high level, at any LR and whatever the first value.
- The eval loss is the measure of what carries over: a train loss creeping down at a high
  LR while the eval loss stays put is no plateau (the model still fits its training set) but
  the start of overfitting, LL160's (stop 48).

Each reading has its negative case: a healthy run it must leave alone.
"""

from __future__ import annotations

from typing import Any

import analysis_curves as curves
import numpy as np
from analysis_curves import noisy

from losslens.analysis import analyze
from losslens.model import RunData, Severity

PLATEAU_FAMILY = frozenset({"loss_plateau", "loss_not_decreasing", "lr_too_low"})


def lm_run(loss: Any, **kw: Any) -> RunData:
    """A LoRA-rate run (peak 2e-4 unless given, grad norms ~1): ``analysis_curves.lm_run``."""
    return curves.lm_run(loss, **{"peak_lr": 2e-4, "grad_norm": 1.0, **kw})


def warned(run: RunData) -> set[str]:
    return {
        f.rule_id
        for f in analyze(run).findings
        if f.severity is not Severity.INFO and f.kind in PLATEAU_FAMILY
    }


def drop_then(
    level_after: float, per_epoch: float, epochs: int, per: int = 25, start: float = 2.0
) -> np.ndarray:
    """A quick drop from ``start`` times ``level_after`` in the first 0.4 epoch, then a
    decline of ``per_epoch`` (relative) per epoch, ``per`` logs per epoch, 1% noise."""
    n = epochs * per
    x = np.arange(n) / per
    drop = level_after * (1 + (start - 1) * np.exp(-x / 0.1))
    slow = np.exp(-per_epoch * np.maximum(x - 0.4, 0.0))
    return noisy(drop * slow, 0.01, 7)


# -- judged by size at a high level ---------------------------------------------------------


def test_a_high_token_loss_gaining_one_percent_per_epoch_is_a_plateau_at_any_lr() -> None:
    # 4 epochs at ~3.5 nats, 1% per epoch after a quick drop; the LR decays to 0 over the run
    # (half the peak at the start of the last two epochs is not required at this level)
    run = lm_run(drop_then(3.5, 0.01, 4), steps_per_epoch=250, max_steps=1000)
    assert "LL135" in warned(run)


def test_a_bad_start_does_not_hide_a_high_plateau() -> None:
    # a first value far above the plateau (3x): the share of the first value says nothing
    loss = drop_then(6.0, 0.02, 5)
    loss[:3] = [18.0, 17.0, 16.0]
    run = lm_run(loss, steps_per_epoch=250, max_steps=1250)
    assert "LL135" in warned(run)


def test_a_usual_fine_tune_level_levelling_off_is_not_warned() -> None:
    # the same shape at 1.3 nats, a normal SFT level: diminishing returns (info at most)
    run = lm_run(drop_then(1.3, 0.01, 4), steps_per_epoch=250, max_steps=1000)
    assert not warned(run)


def test_a_high_token_loss_still_falling_fast_is_not_warned() -> None:
    # 3.5 nats but 15% per epoch: still learning
    run = lm_run(drop_then(3.5, 0.15, 4), steps_per_epoch=250, max_steps=1000)
    assert not warned(run)


# -- read on the eval loss ----------------------------------------------------------------


def _eval_run(eval_gain: float, max_steps: int) -> RunData:
    """12 epochs of 100 steps: the train loss drops from ~0.9 to ~0.5 in the first epoch,
    then creeps down 2% per epoch; an eval every 70 steps at ~0.8 changing by
    ``eval_gain`` per epoch."""
    x = np.arange(120) / 10
    train = noisy((0.5 + 0.4 * np.exp(-x / 0.3)) * np.exp(-0.02 * x), 0.01, 7)
    ev_steps = np.arange(70, 1201, 70)
    ev = noisy(0.8 * np.exp(-eval_gain * ev_steps / 100), 0.01, 5)
    return lm_run(
        train,
        steps_per_epoch=100,
        max_steps=max_steps,
        peak_lr=1e-3,
        extra={"eval/loss": (ev_steps, ev)},
    )


def test_a_train_loss_creeping_while_the_eval_loss_stays_put_is_overfitting_not_a_plateau() -> None:
    # the schedule runs to 50 epochs: the LR is still ~80% of its peak
    run = _eval_run(0.0, 5000)
    assert not warned(run)
    held = [f for f in analyze(run).findings if f.rule_id == "LL160"]
    assert held and held[0].kind == "overfitting" and held[0].severity is Severity.WARNING


def test_an_eval_loss_still_improving_is_not_a_plateau() -> None:
    assert not warned(_eval_run(0.04, 5000))


def test_an_eval_loss_levelling_off_as_the_lr_winds_down_is_not_a_plateau() -> None:
    # the schedule ends with the run: the LR is below half its peak in the second half
    assert not warned(_eval_run(0.0, 1200))

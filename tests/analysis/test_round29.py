"""Round 29: the gradient explosion rule reads the loss the norm went with, after v23.

LL123 compares the growth of the gradient norm with the loss over the run. A run whose norm
grew a hundredfold while the loss stayed stuck, until the norm turned NaN and the Trainer
logged every later loss as 0.0 (a NaN it hides, LL102), read as a loss that fell to zero: the
explosion went unreported. The loss is now read over the same span as the finite gradient
norms, without the hidden-NaN zeros.

Under-learning (LL135) below a high level: a text loss at an ordinary level (under 3 nats) whose
eval loss fell to its best and holds it within its noise converged, so the later epochs show
diminishing returns (info), not a model learning too little; with no eval set nothing shows
it converged, and it stays a warning.
"""

from __future__ import annotations

import numpy as np
from analysis_curves import epoch_run, noisy, one, rule, run_of

from losslens.analysis import analyze
from losslens.model import RunData, Severity


def _stuck_then_nan(nan_from: int = 90, n: int = 120) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    steps = np.arange(50, 50 * n + 1, 50)
    loss = noisy(np.full(n, 13.6), 0.003, 1)
    grad = 1e11 * np.exp(np.linspace(0.0, np.log(1e4), n)) * noisy(np.ones(n), 0.3, 2)
    loss[nan_from:] = 0.0  # the Trainer's 0.0 for a NaN loss
    grad[nan_from:] = np.nan
    return {"train/loss": (steps, loss), "train/grad_norm": (steps, grad)}


def test_a_norm_exploding_over_a_stuck_loss_hidden_as_zero_after_nan_is_an_error() -> None:
    f = rule(run_of(_stuck_then_nan()), "LL123")
    assert f is not None and f.severity is Severity.ERROR


def test_a_norm_growing_while_the_loss_falls_is_still_not_an_explosion() -> None:
    series = _stuck_then_nan()
    steps, loss = series["train/loss"]
    falling = np.where(loss > 0, 13.6 * np.exp(-np.linspace(0, 2, loss.size)), 0.0)
    series["train/loss"] = (steps, falling)
    assert rule(run_of(series), "LL123") is None


# -- LL135: converged at an ordinary level is diminishing returns -----------------------------


def _lora_ten_epochs(with_eval: bool) -> RunData:
    """A LoRA fine-tune at an ordinary level: 1.80 falling to about 1.60 over 10 epochs of 36
    steps (flat from epoch 5), an eval each epoch that falls to 1.623 and holds it."""
    n = 360
    ep = np.arange(1, n + 1) / 36
    train = noisy(1.58 + 0.22 * np.exp(-ep / 1.8), 0.015, 5)
    ev = [1.667, 1.645, 1.634, 1.629, 1.626, 1.624, 1.623, 1.623, 1.623, 1.624]
    evals = (np.arange(36, 361, 36), np.array(ev)) if with_eval else None
    return epoch_run(train, spe=36, every=10, evals=evals)


def test_a_converged_eval_at_an_ordinary_level_makes_a_slow_loss_info() -> None:
    f = one(analyze(_lora_ten_epochs(with_eval=True)), "LL135")
    assert f.severity is Severity.INFO


def test_with_no_eval_set_the_same_slow_loss_is_still_a_warning() -> None:
    f = one(analyze(_lora_ten_epochs(with_eval=False)), "LL135")
    assert f.severity is Severity.WARNING

"""The plateau family's severity boundary (LL135): a slow loss is "a plateau at a high level"
(warning) only when nothing says the model still learns. Below a high level, an eval loss
still improving at its last evals (diminishing returns) or a train loss still falling by 1%
per epoch (a slow but steady decline) is info, and that holds for a slow stretch at the end
(d) as for a loss still near its start (b), (c); a task with no token level is judged by its
eval loss alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from analysis_curves import lm_run, noisy, run_of

from losslens.analysis import analyze
from losslens.model import Finding, RunData, Severity


def ll135(run: RunData) -> Finding | None:
    return next((f for f in analyze(run).findings if f.rule_id == "LL135"), None)


def _slow_tail(level: float, epochs: int = 6, per_epoch: float = 0.003) -> np.ndarray:
    """A text run logged 10 times per epoch: a drop in the first epoch to ``level``, then a
    decline of ``per_epoch`` per epoch for the rest (a slow stretch at the end, (d))."""
    first = np.linspace(1.6 * level, 1.02 * level, 10)
    rest = level * np.exp(-per_epoch * np.arange(1, 10 * (epochs - 1) + 1) / 10)
    return np.asarray(noisy(np.concatenate([first, rest]), 0.002, 4))


def _run(level: float, eval_loss: Any = None) -> RunData:
    loss = _slow_tail(level)
    return lm_run(loss, steps_per_epoch=100, max_steps=600, eval_loss=eval_loss, eval_every=100)


def test_a_slow_stretch_whose_eval_loss_still_improves_is_info() -> None:
    # eval falls at every eval to its best at the last: diminishing returns, not a plateau
    f = ll135(_run(0.5, eval_loss=[0.52, 0.50, 0.495, 0.492, 0.490, 0.489]))
    assert f is not None and f.severity is Severity.INFO


def test_the_same_stretch_without_an_eval_set_stays_a_warning() -> None:
    # with nothing held out, the steady 0.3%-per-epoch decline is flat by size: a plateau at
    # full LR (LL132, stop 51) where LL135 read it before
    (f,) = [x for x in analyze(_run(0.5)).findings if x.kind == "loss_plateau"]
    assert f.severity is Severity.WARNING


def test_an_eval_loss_that_rose_at_its_last_evals_does_not_soften_it() -> None:
    # best at the fourth eval, worse at the two after it: no longer improving, and not holding
    # its best either (round 29: an eval loss that holds its best within 1% converged, info)
    f = ll135(_run(0.5, eval_loss=[0.52, 0.50, 0.495, 0.490, 0.497, 0.499]))
    assert f is not None and f.severity is Severity.WARNING


def test_at_a_high_token_level_an_improving_eval_loss_leaves_a_warning() -> None:
    # 3.5 nats (perplexity ≈ 33): a plateau at a high level whatever the eval loss does
    f = ll135(_run(3.5, eval_loss=[3.7, 3.6, 3.56, 3.54, 3.53, 3.52]))
    assert f is not None and f.severity is Severity.WARNING


def _classifier(eval_loss: list[float]) -> RunData:
    """A binary classifier near ln 2 over 2.4 epochs (25 steps each, logged every 5): 0.70 ->
    0.65, 3% per epoch; two evals of loss and accuracy."""
    steps = np.arange(1, 13) * 5
    loss = noisy(0.70 * np.exp(-0.032 * steps / 25), 0.004, 2)
    ev_steps = np.array([25, 50])[: len(eval_loss)]
    series: dict[str, tuple[Any, Any]] = {
        "train/loss": (steps, loss),
        "train/learning_rate": (steps, 2e-5 * (1 - steps / 60)),
        "train/epoch": (steps, steps / 25),
        "eval/loss": (ev_steps, np.asarray(eval_loss)),
        "eval/accuracy": (ev_steps, np.array([0.6, 0.7])[: len(eval_loss)]),
    }
    return run_of(series, config={"learning_rate": 2e-5, "max_steps": 60, "logging_steps": 5})


def test_a_classifier_whose_eval_loss_still_falls_at_the_end_is_info() -> None:
    # "everything still improving when the short schedule ends": under-trained, not broken
    f = ll135(_classifier([0.6725, 0.6589]))
    assert f is None or f.severity is Severity.INFO


def test_a_classifier_whose_eval_loss_stopped_falling_stays_a_warning() -> None:
    f = ll135(_classifier([0.6589, 0.6725]))
    assert f is not None and f.severity is Severity.WARNING

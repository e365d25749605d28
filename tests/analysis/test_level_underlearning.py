"""Under-learning read from the level of the loss (LL135 (h), (i)).

A cross-entropy of L nats is what a uniform guess over e^L outcomes scores: a token loss
that stays at ln 1000 ≈ 6.9 nats or more has learned next to nothing, whatever its trend.
An R² of 0 is what predicting the mean scores: a regression model that never beats it has
learned nothing either. Neither reading may touch a loss whose level means nothing by
itself (summed, CTC, squared error) or a model that is learning.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from analysis_curves import PLATEAU_FAMILY, lm_run, noisy, run_of

from losslens.analysis import analyze
from losslens.analysis.chance import uniform_note
from losslens.analysis.context import build_context
from losslens.analysis.rules.underlearning import UnderParams
from losslens.model import RunData, Severity


def warned(run: RunData) -> set[str]:
    return {
        f.kind
        for f in analyze(run).findings
        if f.severity is not Severity.INFO and f.kind in PLATEAU_FAMILY
    }


def ll135(run: RunData) -> Any:
    hits = [f for f in analyze(run).findings if f.rule_id == "LL135"]
    return hits[0] if hits else None


def slow_fall(start: float, end: float, n: int, seed: int = 0) -> np.ndarray:
    return noisy(np.linspace(start, end, n), 0.01, seed)


# -- (h) a token loss near a uniform guess over a large vocabulary ---------------------------


def test_a_token_loss_kept_near_a_uniform_guess_after_an_epoch_is_a_warning() -> None:
    # 10.6 (about ln 40k: a fresh LM head) -> 8.9 after 1.2 epochs: 84% of the start
    run = lm_run(slow_fall(10.6, 8.9, 30), steps_per_epoch=250, max_steps=750)
    f = ll135(run)
    assert f is not None and f.severity is Severity.WARNING
    assert "uniform guess" in f.evidence.text["en"]
    assert "균등 추측" in f.evidence.text["ko"]


def test_the_same_share_at_a_pretrained_level_is_not_this_reading() -> None:
    # the same 84% after 1.2 epochs at 2.0 nats (a pretrained LM): the level says nothing,
    # and 1.2 epochs are not the several passes the share alone needs
    run = lm_run(slow_fall(2.0, 1.68, 30), steps_per_epoch=250, max_steps=750)
    f = ll135(run)
    assert f is None or "uniform guess" not in f.evidence.text["en"]
    assert warned(run) == set()


def test_a_model_that_leaves_the_uniform_level_fast_is_quiet() -> None:
    # from scratch: 10.8 -> 4.0 in one epoch, then on (a model that learns)
    x = np.linspace(0, 1, 40)
    run = lm_run(noisy(4.0 + 6.8 * np.exp(-x / 0.15), 0.01, 1), steps_per_epoch=400, max_steps=800)
    assert warned(run) == set()


def test_a_loss_barely_off_the_uniform_level_is_flagged_early() -> None:
    # 10.4 -> 9.9 (95%) at 0.45 epochs: not even the token frequencies were learned; a
    # quarter of that (0.11 epochs) is too early to say
    ctx = build_context(
        lm_run(slow_fall(10.4, 9.9, 50, seed=2), steps_per_epoch=1100, max_steps=3300)
    )
    p = UnderParams()
    kept = (p.still_high, p.uniform_passes, p.barely, p.uniform_early)
    note = uniform_note(ctx, (10.4, 9.9), 0.45, kept)
    assert note is not None and "uniform guess over about 19,930 tokens" in note["en"]
    assert uniform_note(ctx, (10.4, 9.9), 0.11, kept) is None
    # 80% at 0.45 epochs is neither barely off the start nor a full pass
    assert uniform_note(ctx, (10.4, 8.3), 0.45, kept) is None
    # the whole run, end to end, is flagged (by whichever progress rule reads it first)
    run = lm_run(noisy(np.linspace(10.4, 9.9, 50), 0.05, 2), steps_per_epoch=1100, max_steps=3300)
    assert warned(run)


def test_a_run_that_ended_at_the_uniform_level_is_flagged_whatever_its_trend() -> None:
    # 15 -> 7.6 and still falling steeply, but the schedule ended there (log within one
    # interval of max_steps): the model the run produced scores a guess over ~2,000 tokens
    loss = [15.07, 14.45, 11.74, 8.65, 7.62]
    ended = lm_run(loss, steps_per_epoch=283, logging_steps=50, max_steps=283, peak_lr=2e-5)
    f = ll135(ended)
    assert f is not None and f.severity is Severity.WARNING
    assert "ended" in f.evidence.text["en"]
    # the same curve in a run with most of its schedule ahead is a run in progress
    going = lm_run(loss, steps_per_epoch=2830, logging_steps=50, max_steps=2830, peak_lr=2e-5)
    assert warned(going) == set()


def test_a_loss_above_any_vocabulary_is_not_read_by_its_level() -> None:
    # 40 -> 34 (85%): above ln 2^18 ≈ 12.5, a summed or scaled loss, not a token mean
    run = lm_run(slow_fall(40.0, 34.0, 30), steps_per_epoch=250, max_steps=750)
    assert warned(run) == set()


def test_a_regression_or_speech_loss_is_not_read_by_its_level() -> None:
    loss = slow_fall(9.0, 8.0, 30)
    evals = np.arange(50, 301, 50)
    for name, values in (
        ("eval/mse", np.linspace(9.0, 8.2, evals.size)),  # a squared error
        ("eval/wer", np.linspace(0.9, 0.6, evals.size)),  # CTC speech recognition
    ):
        run = lm_run(loss, steps_per_epoch=250, max_steps=750, extra={name: (evals, values)})
        assert warned(run) == set(), name


def test_an_eval_loss_below_the_uniform_level_vetoes_the_reading() -> None:
    # the model is judged on held-out data: an eval loss at 2 nats says it learned
    evals = np.arange(50, 301, 50)
    run = lm_run(
        slow_fall(10.6, 8.9, 30),
        steps_per_epoch=250,
        max_steps=750,
        extra={"eval/loss": (evals, np.linspace(2.4, 2.0, evals.size))},
    )
    f = ll135(run)
    assert f is None or "uniform guess" not in f.evidence.text["en"]


def test_a_recovered_non_finite_grad_norm_does_not_hide_a_loss_that_never_moved() -> None:
    # 9.76 -> 9.6 over 2.2 epochs with one Inf grad norm that recovers at once (info)
    n = 50
    steps = np.arange(1, n + 1) * 10
    grad = noisy(np.full(n, 7.0), 0.1, 4)
    grad[0] = math.inf
    run = lm_run(
        slow_fall(9.76, 9.6, n, seed=5),
        steps_per_epoch=230,
        max_steps=2300,
        extra={"train/grad_norm": (steps, grad)},
    )
    nan = [f for f in analyze(run).findings if f.kind == "nan_or_inf"]
    assert nan and all(f.severity is Severity.INFO for f in nan)
    assert warned(run)


# -- (i) a regression model that never beat the mean ------------------------------------------


def regression_run(r2: list[float]) -> RunData:
    n = 100
    steps = np.arange(1, n + 1) * 10
    evals = np.arange(1, len(r2) + 1) * (n * 10 // len(r2))
    return run_of(
        {
            "train/loss": (steps, noisy(np.linspace(0.05, 0.035, n), 0.3, 6)),
            "train/learning_rate": (steps, np.full(n, 5e-5)),
            "train/epoch": (steps, steps / 2000),
            "eval/loss": (evals, noisy(np.full(len(r2), 0.04), 0.2, 7)),
            "eval/r_squared": (evals, r2),
        },
        config={"learning_rate": 5e-5, "max_steps": 12000},
    )


def test_an_eval_r_squared_never_above_zero_is_a_model_that_never_beat_the_mean() -> None:
    run = regression_run([-1.5, -0.4, -0.02, -0.3, -0.00005, -0.1])
    f = ll135(run)
    assert f is not None and f.severity is Severity.WARNING
    assert "R²" in f.evidence.text["en"] and "mean" in f.evidence.text["en"]


def test_an_eval_r_squared_that_rises_above_zero_is_quiet() -> None:
    run = regression_run([-1.5, -0.4, 0.1, 0.25, 0.31, 0.35])
    f = ll135(run)
    assert f is None or "R²" not in f.evidence.text["en"]

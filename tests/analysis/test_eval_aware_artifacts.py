"""Patterns read across the whole run: the epoch staircase and the gradient-accumulation
loss scale (with an eval set, at the first pass over the data; without one, as a jump)."""

from __future__ import annotations

from typing import Any

import numpy as np
from tests.analysis.analysis_curves import noisy, run_of

from losslens.analysis import RULES, analyze
from losslens.analysis.rules.base import param_docs
from losslens.model import Severity


def _by_id(report: Any) -> dict[str, Any]:
    return {f.rule_id: f for f in report.findings}


def test_a_small_drop_at_every_epoch_boundary_is_a_staircase() -> None:
    # 40 epochs of 4 logs: flat inside each epoch, 5% lower after each boundary, no eval set
    steps = np.arange(10, 1601, 10)
    epoch = steps / 40.0
    level = 3.0 * 0.95 ** np.floor((steps - 1) / 40)
    rep = analyze(
        run_of({"train/loss": (steps, noisy(level, 0.005, 4)), "train/epoch": (steps, epoch)})
    )
    f = _by_id(rep)
    assert f["LL153"].severity is Severity.WARNING
    assert f["LL153"].evidence.values["boundaries"] >= 30
    assert "LL156" in f  # and the eval set that would tell is missing


def test_one_drop_among_noisy_boundaries_is_not_a_staircase() -> None:
    # 4 epochs of 10 logs of a noisy, slowly falling loss; one boundary happens to drop
    steps = np.arange(5, 201, 5)
    loss = noisy(0.35 - 0.0004 * steps, 0.15, 7)
    loss[steps == 155] = 0.12
    rep = analyze(run_of({"train/loss": (steps, loss), "train/epoch": (steps, steps / 50.0)}))
    assert "LL153" not in _by_id(rep)


def test_ga_scale_read_at_the_first_pass_when_the_ratio_falls_later() -> None:
    # GA 2: the logged loss is 2x; eval at every 0.4 epoch; the model then fits its examples
    steps = np.arange(5, 121, 5)
    true = 0.69 * np.exp(-steps / 60) + 0.05
    es = np.arange(10, 121, 10)
    ev = np.where(es <= 40, 0.69 * np.exp(-es / 60) + 0.05, 0.69 * np.exp(-40 / 60) + 0.05)
    run = run_of(
        {
            "train/loss": (steps, noisy(2 * true, 0.01, 5)),
            "train/epoch": (steps, steps / 25.0),
            "eval/loss": (es, ev),
        },
        config={"gradient_accumulation_steps": 2},
    )
    f = _by_id(analyze(run))
    assert f["LL161"].evidence.values["gradient_accumulation_steps"] == 2
    assert "LL152" not in f  # the 2x is not read as a gap


def _jump_run(scale_from: int | None, rise: bool = False) -> Any:
    steps = np.arange(10, 6001, 10)
    loss = 2.2 * np.exp(-steps / 800) + 1.0
    if rise:  # a real blow-up: the loss climbs steadily to ~3x
        loss = np.where(steps < 3000, loss, loss * (1 + 2 * (steps - 3000) / 3000))
    if scale_from is not None:
        loss = np.where(steps >= scale_from, 4 * loss, loss)
    return run_of({"train/loss": (steps, noisy(loss, 0.02, 6))})


def test_a_loss_that_jumps_4x_and_stays_is_a_change_of_scale_not_divergence() -> None:
    f = _by_id(analyze(_jump_run(3000)))
    assert f["LL161"].evidence.values["factor"] == 4
    assert f["LL161"].onset_step == 3000
    assert "LL111" not in f


def test_a_steady_rise_is_divergence_not_a_change_of_scale() -> None:
    f = _by_id(analyze(_jump_run(None, rise=True)))
    assert "LL161" not in f
    assert "LL111" in f
    assert "LL161" not in _by_id(analyze(_jump_run(None)))


def test_thresholds_of_the_numerics_no_eval_and_gpu_rules_are_documented_params() -> None:
    for rid in ("LL102", "LL104", "LL156", "LL172"):
        docs = param_docs(RULES[rid].params)
        assert docs and all(text for _, _, text in docs), rid


def test_a_multiple_with_no_normal_stretch_before_it_scales_the_whole_log() -> None:
    # GA unknown; the train loss (logged with each eval) is 16x throughout, but the ratio is
    # noisy during the fast first descent: the scale applies from the first log, so the
    # first logs are not left 16x above the rest (no spike, no gap, no divergence)
    steps = np.arange(100, 1201, 100)
    true_eval = np.array([15.4, 2.38, 0.347, 0.318, 0.308, 0.304, 0.30, 0.298, 0.296, 0.295,
                          0.294, 0.293])  # fmt: skip
    train = 16 * np.array([17.8, 10.1, 0.62, 0.337, 0.324, 0.314, 0.31, 0.308, 0.306, 0.305,
                           0.303, 0.302])  # fmt: skip
    rep = analyze(
        run_of(
            {
                "train/loss": (steps, train),
                "train/epoch": (steps, steps / 350.0),
                "eval/loss": (steps, true_eval),
            }
        )
    )
    f = _by_id(rep)
    assert f["LL161"].evidence.values["factor"] == 16
    assert f["LL161"].onset_step == 100
    assert not {"LL111", "LL121", "LL152"} & set(f)

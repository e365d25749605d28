"""Eval-aware grading: severity follows the harm the eval curve and task metrics show.

Synthetic runs built from a few arrays (no mocks): each test states the shape of the curves
and the grade a user should see.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from tests.analysis.analysis_curves import noisy, run_of

from losslens.analysis import analyze
from losslens.model import RunData, Severity


def _by_id(report: Any) -> dict[str, Any]:
    return {f.rule_id: f for f in report.findings}


def _classifier(eval_loss: list[float], accuracy: list[float], epochs: int = 5) -> Any:
    """A classifier with one eval per epoch: train loss falling steadily to ~0.02."""
    spe = 100
    steps = np.arange(10, epochs * spe + 1, 10)
    train = noisy(0.6 * np.exp(-steps / (epochs * spe / 3.5)), 0.03, 1)
    es = np.arange(spe, epochs * spe + 1, spe)
    return run_of(
        {
            "train/loss": (steps, train),
            "train/epoch": (steps, steps / spe),
            "eval/loss": (es, eval_loss),
            "eval/accuracy": (es, accuracy),
        }
    )


def test_task_metric_at_its_best_makes_a_moderate_eval_rise_info() -> None:
    # eval loss +35% after its best at epoch 2 while accuracy reaches a new best at the end
    rep = analyze(
        _classifier([0.14, 0.111, 0.114, 0.142, 0.150], [0.953, 0.964, 0.969, 0.968, 0.971])
    )
    f = _by_id(rep)
    assert f["LL151"].severity is Severity.INFO
    assert "LL154" not in f or f["LL154"].severity is Severity.INFO
    assert rep.verdict.value == "healthy"


def test_an_eval_loss_that_more_than_doubles_stays_a_warning_despite_the_metric() -> None:
    rep = analyze(_classifier([0.35, 0.39, 0.60, 0.95, 0.99], [0.841, 0.834, 0.843, 0.844, 0.852]))
    assert _by_id(rep)["LL151"].severity is Severity.WARNING


def test_a_metric_that_stalled_after_improving_only_lowers_an_error() -> None:
    # accuracy improved after the eval-loss minimum but its best is three evals before the end
    rep = analyze(
        _classifier(
            [0.30, 0.20, 0.26, 0.28, 0.29, 0.29],
            [0.90, 0.92, 0.94, 0.935, 0.936, 0.937],
            epochs=6,
        )
    )
    assert _by_id(rep)["LL151"].severity is Severity.WARNING


def test_one_eval_after_the_best_counts_when_a_metric_or_its_size_confirms_it() -> None:
    ev = [0.8079, 0.8074, 0.9018]
    worse = analyze(_classifier(ev, [0.681, 0.682, 0.674], epochs=3))
    assert _by_id(worse)["LL151"].severity is Severity.WARNING
    # +11.7% a full epoch after the best, while that pass lowered the train loss: overfitting
    # visible in eval even while the accuracy still edges up, and without any task metric
    better = analyze(_classifier(ev, [0.681, 0.682, 0.690], epochs=3))
    assert _by_id(better)["LL151"].severity is Severity.WARNING

    def without_metric(evals: list[float]) -> RunData:
        return run_of(
            {
                k: (s.steps, s.values)
                for k, s in _classifier(evals, [0.6, 0.6, 0.6], epochs=3).series.items()
                if k != "eval/accuracy"
            }
        )

    assert _by_id(analyze(without_metric(ev)))["LL151"].severity is Severity.WARNING
    # +6% with nothing to confirm it stays within what one eval can move
    assert "LL151" not in _by_id(analyze(without_metric([0.8079, 0.8074, 0.856])))


def test_a_slow_steady_climb_is_overfitting_when_it_exceeds_the_noise() -> None:
    # an eval curve creeping up 4% over 40 evals after its best, with a little noise that
    # breaks runs of consecutive rises: below the old 5% floor, far above the noise
    n = 60
    steps = np.arange(2, 2 * n + 1, 2)
    train = 5.5 * np.exp(-steps / 25) + 0.13
    ev = np.where(steps <= 40, 5.6 * np.exp(-steps / 12) + 1.75, 1.75 * (1 + 0.0005 * (steps - 40)))
    rep = analyze(
        run_of(
            {
                "train/loss": (steps, train),
                "train/epoch": (steps, steps / 2.0),
                "eval/loss": (steps, noisy(ev, 0.002, 9)),
            }
        )
    )
    assert _by_id(rep)["LL151"].severity is Severity.WARNING


def _speech(eval_loss: list[float], wer: list[float]) -> Any:
    steps = np.arange(100, 15001, 100)
    train = noisy(0.02 + 0.7 * np.exp(-steps / 1500), 0.2, 3)
    es = np.arange(1000, 15001, 1000)
    return run_of(
        {
            "train/loss": (steps, train),
            "train/epoch": (steps, steps / 830.0),
            "eval/loss": (es, eval_loss),
            "eval/wer": (es, wer),
        }
    )


def test_memorization_with_a_task_metric_still_improving_is_info() -> None:
    ev = [0.27, 0.26, 0.239, 0.242, 0.239, 0.253, 0.227, 0.243, 0.222, 0.262, 0.219, 0.209,
          0.216, 0.249, 0.239]  # fmt: skip
    wer = np.linspace(14.3, 9.6, len(ev)).tolist()
    rep = analyze(_speech(ev, wer))
    f = _by_id(rep)
    assert f["LL153"].severity is Severity.INFO
    assert f.get("LL154") is None or f["LL154"].severity is Severity.INFO
    assert not any(x.severity is Severity.ERROR for x in rep.findings)


def test_an_eval_gap_while_eval_still_improves_is_info() -> None:
    steps = np.arange(5, 161, 5)
    train = 5.7 * np.exp(-steps / 35) + 1.1
    es = np.arange(10, 161, 10)
    ev = 3.3 * np.exp(-es / 45) + 1.95
    rep = analyze(
        run_of(
            {
                "train/loss": (steps, train),
                "train/epoch": (steps, steps / 2.0),
                "eval/loss": (es, ev),
            }
        )
    )
    assert _by_id(rep)["LL152"].severity is Severity.INFO


def test_divergence_needs_the_rise_to_give_back_part_of_the_descent() -> None:
    steps = np.arange(5, 241, 5)
    # memorised: 2.1 -> 0.025, then wobbling up to ~0.07 (3x, but 2% of what was learned)
    memo = 2.1 * np.exp(-steps / 30) + np.where(steps > 190, 0.065, 0.025)
    rep = analyze(run_of({"train/loss": (steps, noisy(memo, 0.05, 2))}))
    assert "LL111" not in _by_id(rep)
    # a real blow-up from a learned level: 2.1 -> 0.5, then back up to 1.5
    real = np.where(steps < 120, 0.5 + 1.6 * np.exp(-steps / 20), 0.5 + (steps - 120) / 120)
    rep = analyze(run_of({"train/loss": (steps, noisy(real, 0.03, 2))}))
    assert _by_id(rep)["LL111"].severity is Severity.ERROR


def _peak_run(eval_after_peak: np.ndarray, settled: bool = False) -> Any:
    """Warmup to 3e-3 at step 20, then linear decay; the eval loss is 0.7 at step 10, then
    ``eval_after_peak``. The train loss falls steadily, or (``settled``) has levelled off
    at 0.46 by step 15."""
    steps = np.arange(5, 301, 5)
    lr = np.where(steps <= 20, 3e-3 * steps / 20, 3e-3 * (300 - steps) / 280)
    es = np.arange(10, 301, 10)
    ev = np.concatenate(([0.7], eval_after_peak))
    train = 0.45 + 0.25 * np.exp(-steps / 5) if settled else 0.7 * np.exp(-steps / 40) + 0.01
    return run_of(
        {
            "train/loss": (steps, train),
            "train/learning_rate": (steps, lr),
            "train/epoch": (steps, steps / 3.0),
            "eval/loss": (es, ev),
        }
    )


def test_an_eval_jump_at_the_lr_peak_that_holds_is_the_schedule() -> None:
    held = np.concatenate(([1.2], np.linspace(1.18, 1.05, 28)))
    assert "LL112" in _by_id(analyze(_peak_run(held, settled=True)))
    # the same jump while the train loss fell 22% over the same steps: the model fit its
    # train set better while the held-out loss jumped, overfitting's signature (round 12)
    assert "LL112" not in _by_id(analyze(_peak_run(held)))


def test_an_eval_loss_that_climbs_on_after_the_lr_peak_is_overfitting_not_the_lr() -> None:
    climb = np.linspace(1.0, 3.0, 29)
    f = _by_id(analyze(_peak_run(climb)))
    assert "LL112" not in f
    assert f["LL151"].severity is Severity.ERROR

"""Generalization grading, session 3: what a still-improving task metric excuses, a gap under
a flat eval loss, evals where the train loss is unknown, and a memorised run with one eval.

Synthetic runs built from a few arrays (no mocks); each test states the shape of the curves
and the grade a user should see, with the healthy case it must not flag.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from tests.analysis.analysis_curves import noisy, run_of

from losslens.analysis import analyze
from losslens.model import Severity


def _by_id(report: Any) -> dict[str, Any]:
    return {f.rule_id: f for f in report.findings}


def _classifier(
    eval_loss: list[float], f1: list[float], epochs: int, train_end: float = 0.03
) -> Any:
    """A classifier with one eval per epoch and an F1 logged beside the eval loss; the train
    loss falls steadily from ~0.36 to ``train_end``."""
    spe = 100
    steps = np.arange(10, epochs * spe + 1, 10)
    rate = np.log(0.36 / train_end) / steps[-1]
    train = noisy(0.36 * np.exp(-rate * steps), 0.03, 1)
    es = np.arange(spe, epochs * spe + 1, spe)
    return run_of(
        {
            "train/loss": (steps, train),
            "train/epoch": (steps, steps / spe),
            "eval/loss": (es, eval_loss),
            "eval/f1": (es, f1),
        }
    )


def test_a_rise_beyond_the_eval_curves_own_movement_stays_a_warning_despite_the_metric() -> None:
    # best at the first eval, then +16% and +45% while F1 still creeps up: the eval loss
    # moved far more than it ever moved between evals (no descent to compare: the 5% floor);
    # the model's probabilities got worse even if its answers did not
    rep = analyze(_classifier([0.170, 0.197, 0.246], [0.933, 0.938, 0.946], epochs=3))
    f = _by_id(rep)["LL151"]
    assert f.severity is Severity.WARNING
    assert f.evidence.values["rise"] > 0.4


def test_a_rise_within_the_eval_curves_own_movement_is_info_while_the_metric_improves() -> None:
    # the eval loss fell 21% in one eval before its best; it then rises 35% over three evals
    # while F1 reaches a new best at the end: within tau (2x the pre-best change), no harm
    rep = analyze(
        _classifier([0.14, 0.111, 0.114, 0.142, 0.150], [0.954, 0.964, 0.968, 0.967, 0.970], 5)
    )
    f = _by_id(rep)
    assert f["LL151"].severity is Severity.INFO
    assert rep.verdict.value == "healthy"


def test_the_same_rise_without_a_task_metric_is_graded_by_the_eval_loss_alone() -> None:
    run = _classifier([0.170, 0.197, 0.246], [0.933, 0.938, 0.946], epochs=3)
    run.series.pop("eval/f1")
    assert _by_id(analyze(run))["LL151"].severity is Severity.WARNING


def test_a_noisy_eval_loss_that_settles_at_a_higher_level_is_a_warning() -> None:
    # the evals jump +-12% from one to the next, but all seven after the best sit 13-51%
    # above it: their median level (+37%) is well beyond 3 standard errors of a median of 7
    # such evals, so the rise is real although F1 drifts to a new best at the end
    ev = [0.176, 0.166, 0.157, 0.215, 0.195, 0.228, 0.177, 0.237, 0.214, 0.214]
    f1 = [0.9628, 0.9658, 0.9663, 0.963, 0.9701, 0.9664, 0.9709, 0.9683, 0.9708, 0.9718]
    f = _by_id(analyze(_classifier(ev, f1, epochs=10, train_end=0.001)))
    assert f["LL151"].severity is Severity.WARNING


def test_a_few_noisy_evals_above_the_best_are_info_while_the_metric_improves() -> None:
    # the same noise, but only three evals after the best, 3-19% above it: their level is
    # within 3 standard errors of a median of 3 such evals, and F1 keeps improving
    ev = [0.272, 0.26, 0.239, 0.2415, 0.239, 0.253, 0.227, 0.243, 0.2225, 0.262, 0.219, 0.209]
    ev += [0.2155, 0.249, 0.239]
    f1 = [0.857 + 0.003 * i for i in range(len(ev))]
    rep = analyze(_classifier(ev, f1, epochs=15))
    f = _by_id(rep)
    assert "LL151" not in f or f["LL151"].severity is Severity.INFO
    assert rep.verdict.value == "healthy"


def _sft(eval_loss: list[float], n_epochs: int = 6, spe: int = 10) -> Any:
    """A LoRA SFT run logged every step, eval every half epoch, train falling 1.33 -> ~0.58."""
    steps = np.arange(1, n_epochs * spe + 1)
    train = noisy(0.55 + 0.8 * np.exp(-steps / 18), 0.03, 2)
    es = np.arange(spe // 2, n_epochs * spe + 1, spe // 2)
    assert es.size == len(eval_loss)
    return run_of(
        {
            "train/loss": (steps, train),
            "train/epoch": (steps, steps / spe),
            "eval/loss": (es, eval_loss),
        }
    )


FLAT = [1.46, 1.26, 1.13, 1.08, 1.05, 1.026, 1.017, 1.0146, 1.0177, 1.0189, 1.0185, 1.0181]


def test_a_gap_under_an_eval_loss_flat_at_its_best_is_info() -> None:
    # eval flat within 0.4% of its best for the last two epochs while the train loss keeps
    # falling: a gap of 1.7x, worth knowing, but the held-out loss is not getting worse
    rep = analyze(_sft(FLAT))
    f = _by_id(rep)
    assert f["LL152"].severity is Severity.INFO
    assert "LL151" not in f or f["LL151"].severity is Severity.INFO
    assert rep.verdict.value == "healthy"


def test_a_gap_with_an_eval_loss_moving_away_from_its_best_is_overfittings_evidence() -> None:
    # one harm, one warning: the overfitting finding carries it, the gap is its evidence (info)
    rising = [*FLAT[:8], 1.06, 1.10, 1.15, 1.21]
    f = _by_id(analyze(_sft(rising)))
    assert f["LL152"].severity is Severity.INFO
    assert f["LL151"].severity in (Severity.WARNING, Severity.ERROR)


def _nan_tail_run(nan_from: int | None) -> Any:
    """Eval best at step 40, flat at that level to step 80, then rising at every eval; the
    train loss falls and, with ``nan_from``, is NaN from that step on (a NaN poisons the
    logged running loss)."""
    steps = np.arange(5, 121, 5)
    train = noisy(0.30 + 0.4 * np.exp(-steps / 30), 0.02, 3)
    if nan_from is not None:
        train = np.where(steps >= nan_from, np.nan, train)
    es = np.arange(10, 121, 10)
    ev = [0.66, 0.59, 0.51, 0.455, 0.457, 0.456, 0.458, 0.457, 0.50, 0.53, 0.55, 0.58]
    return run_of(
        {
            "train/loss": (steps, train),
            "train/epoch": (steps, steps / 25),
            "eval/loss": (es, ev),
        }
    )


def test_evals_after_the_train_loss_became_nan_do_not_show_overfitting() -> None:
    # past step 80 the train loss is unknown: the rise there shows nothing about train and
    # eval moving apart (before it, the eval loss held its best)
    assert "LL151" not in _by_id(analyze(_nan_tail_run(nan_from=85)))
    # the same evals with a finite train loss that keeps falling are overfitting
    f = _by_id(analyze(_nan_tail_run(nan_from=None)))
    assert f["LL151"].severity in (Severity.WARNING, Severity.ERROR)


def test_a_flat_train_loss_over_the_evals_stretches_is_not_overfitting() -> None:
    # eval rises after its best while the train loss only scatters around one level: the
    # train logs near the best and near the last eval are alike, so no "train keeps falling"
    steps = np.arange(5, 121, 5)
    train = noisy(np.full(steps.size, 0.5), 0.25, 4)
    es = np.arange(10, 121, 10)
    ev = [0.66, 0.59, 0.51, 0.455, 0.47, 0.50, 0.53, 0.55, 0.56, 0.57, 0.58, 0.59]
    run = run_of({"train/loss": (steps, train), "eval/loss": (es, ev)})
    assert "LL151" not in _by_id(analyze(run))


def _memorised(eval_loss: float | None) -> Any:
    """A chat SFT run on a few examples for 20 epochs: train loss 2.0 -> ~0.05."""
    steps = np.arange(5, 201, 5)
    train = noisy(0.05 + 1.95 * np.exp(-steps / 25), 0.02, 5)
    series: dict[str, tuple[Any, Any]] = {
        "train/loss": (steps, train),
        "train/epoch": (steps, steps / 10),
    }
    if eval_loss is not None:
        series["eval/loss"] = ([200], [eval_loss])
    return run_of(series, config={"lora_r": 16})


def test_near_zero_train_loss_with_no_eval_set_is_an_error() -> None:
    assert _by_id(analyze(_memorised(None)))["LL153"].severity is Severity.ERROR


def test_one_eval_at_the_train_level_shows_no_memorization_harm() -> None:
    # a single eval cannot show a trend, but it follows the train loss: templated data
    assert _by_id(analyze(_memorised(0.055)))["LL153"].severity is Severity.INFO
    # one eval far above the near-zero train loss: the held-out loss does not follow
    assert _by_id(analyze(_memorised(1.4)))["LL153"].severity is Severity.WARNING

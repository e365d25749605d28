"""Stop 48.

An eval loss that holds while the train loss keeps creeping down is read as the start of
overfitting (LL160), not as a plateau (LL135): the model still fits its training set, and
the passes since buy nothing that carries over. An eval-loss minimum among the last evals of
a noisy curve, with the curve back within a rebound it already made and recovered from, is a
low draw, not overfitting (LL151 info). Lightning's epoch means are the train loss when
the per-step series logged fewer points. A slow end whose eval loss fell and holds its best
is diminishing returns in a task with no token level too (LL135 info). With no eval set, a loss
whose unit nothing names (a script's own table) is near zero only after a hundredfold fall
(LL153 info above that).
"""

from __future__ import annotations

import numpy as np
from tests.analysis.analysis_curves import PLATEAU_FAMILY, epoch_run, one, run_of

from losslens.analysis import analyze
from losslens.analysis.engine import build_context
from losslens.model import Severity

_EPOCHS = np.arange(1, 19)
#: a train loss that falls 3% per epoch for 18 epochs (4.7 → 2.8)
_TRAIN = 4.7 * 0.97 ** (_EPOCHS - 1)


def _held(end: float) -> object:
    """One log and one eval per epoch: the eval loss falls to 3.526 at epoch 11, then moves
    linearly to ``end`` at epoch 18."""
    head = np.linspace(4.08, 3.526, 11)
    tail = np.linspace(3.526, end, 8)[1:]
    ev = np.concatenate([head, tail])
    return epoch_run(_TRAIN, spe=1, every=1, evals=(_EPOCHS, ev))


def test_an_eval_loss_that_holds_above_its_best_while_train_creeps_down_is_overfitting() -> None:
    rep = analyze(_held(3.55))  # type: ignore[arg-type]
    f = one(rep, "LL160")
    assert f.kind == "overfitting" and f.severity is Severity.WARNING
    assert f.onset_step >= 9
    plateau = [g for g in rep.findings if g.kind in PLATEAU_FAMILY]
    assert all(g.severity is Severity.INFO for g in plateau)


def test_an_eval_loss_that_holds_and_ends_at_its_best_is_worth_knowing_only() -> None:
    f = one(analyze(_held(3.50)), "LL160")  # type: ignore[arg-type]
    assert f.severity is Severity.INFO


def test_an_eval_loss_still_falling_with_the_train_loss_is_not_held() -> None:
    ev = 4.08 * 0.975 ** (_EPOCHS - 1)
    rep = analyze(epoch_run(_TRAIN, spe=1, every=1, evals=(_EPOCHS, ev)))
    assert "LL160" not in {f.rule_id for f in rep.findings}


# -- LL151: the minimum of a noisy curve, among its last evals, is a low draw --------------

#: an eval loss that falls with rebounds of up to 12.5% (0.8 → 0.9) to a best of 0.36
_NOISY_DESCENT = [1.0, 0.8, 0.9, 0.6, 0.65, 0.5, 0.55, 0.45, 0.48, 0.40, 0.36]


def _after_best(tail: list[float]) -> object:
    ev = np.array(_NOISY_DESCENT + tail)
    ep = np.arange(1, ev.size + 1)
    return epoch_run(1.2 * 0.9 ** (ep - 1), spe=1, every=1, evals=(ep, ev))


def test_a_best_among_the_last_evals_back_within_an_earlier_rebound_is_info() -> None:
    f = one(analyze(_after_best([0.39, 0.40, 0.395])), "LL151")  # type: ignore[arg-type]
    assert f.severity is Severity.INFO


def test_a_rise_beyond_every_earlier_rebound_is_still_overfitting() -> None:
    f = one(analyze(_after_best([0.45, 0.44, 0.46])), "LL151")  # type: ignore[arg-type]
    assert f.severity is Severity.WARNING


# -- Lightning's epoch means stand in for a sparser per-step series ------------------------


def test_the_epoch_mean_is_the_train_loss_when_the_per_step_series_logged_fewer_points() -> None:
    ep = np.arange(20)
    run = run_of(
        {
            "train_loss_step": (np.array([49, 99]), np.array([0.34, 0.42])),
            "train_loss_epoch": (6 * ep + 5, 1.9 * 0.85**ep),
            "epoch": (6 * ep + 5, ep.astype(float)),
        }
    )
    ctx = build_context(run)
    assert ctx.loss is not None and ctx.loss.key == "train_loss_epoch"
    denser = run_of(
        {
            "train_loss_step": (np.arange(1, 121), np.linspace(2.0, 1.0, 120)),
            "train_loss_epoch": (6 * ep + 5, 1.9 * 0.85**ep),
        }
    )
    loss = build_context(denser).loss
    assert loss is not None and loss.key == "train_loss_step"


# -- LL135: a classifier whose eval loss converged shows diminishing returns ----------------


def _classifier(eval_end: float) -> object:
    """30 epochs of a classifier: the train loss levels off at 0.6 (from 0.9); the eval loss
    falls from 0.9 to 0.5 by epoch 8, then moves linearly to ``eval_end``."""
    ep = np.arange(1, 31)
    train = 0.6 + 0.3 * np.exp(-(ep - 1) / 3)
    ev = np.where(ep <= 8, 0.9 - 0.4 * (ep - 1) / 7, 0.5 + (eval_end - 0.5) * (ep - 8) / 22)
    ev = ev * (1 + 0.002 * np.sin(ep * 1.7))
    acc = np.where(ep <= 8, 0.5 + 0.3 * (ep - 1) / 7, 0.8) + 0.002 * np.cos(ep)
    return epoch_run(train, spe=1, every=1, evals=(ep, ev), extra={"eval/accuracy": (ep, acc)})


def test_a_slow_end_with_a_converged_eval_loss_is_diminishing_returns_in_any_task() -> None:
    f = one(analyze(_classifier(0.5)), "LL135")  # type: ignore[arg-type]
    assert f.severity is Severity.INFO


# -- LL153: a loss of no known unit is near zero only after a hundredfold fall --------------


def _script_table(end: float) -> object:
    """A script's own per-epoch CSV (nothing names a task, tokens or a model), no eval: the
    train loss falls geometrically from 0.34 to ``end`` over 10 epochs."""
    ep = np.arange(1, 11)
    run = run_of(
        {"train/loss": (ep, 0.34 * (end / 0.34) ** ((ep - 1) / 9)), "train/epoch": (ep, ep)}
    )
    run.info.source = "csv:training_log.csv"  # type: ignore[attr-defined]
    return run


def test_a_small_loss_of_no_known_unit_with_no_eval_is_no_memorization() -> None:
    f = one(analyze(_script_table(0.033)), "LL153")  # type: ignore[arg-type]
    assert f.severity is Severity.INFO


def test_a_hundredfold_fall_of_a_loss_of_no_known_unit_is_still_memorization() -> None:
    f = one(analyze(_script_table(0.0002)), "LL153")  # type: ignore[arg-type]
    assert f.severity is not Severity.INFO

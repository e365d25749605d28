"""Stop 54: the lowest of many evals of a noisy eval curve falls below the curve's level by
scatter alone; evals after it that sit no higher than that expected shortfall are the level
it was drawn from, not overfitting (LL151 info), unless a task metric fell by more than its
own move between evals. A real climb out of the same minimum stays overfitting. The same
reading keeps a classifier's near-zero train loss over many epochs from being called learning
by heart when its eval loss only scatters around the level of its lowest draw (LL153); and a
script's history whose loss has no known unit is judged as a classifier's when it has an eval
set: a train loss near zero is no level known to be text, and the held-out set shows no harm.
With no validation loss, a test loss logged as the run trains is its held-out curve."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tests.analysis.analysis_curves import noisy, run_of, train_eval_run

from losslens.analysis import analyze
from losslens.analysis.evalview import min_shortfall
from losslens.ingest import load_into_memory
from losslens.model import RunData, Severity

_EP = np.arange(1, 21)
#: one eval per epoch: a descent for five epochs to a level near 0.6, then that level with a
#: scatter of about 15% per eval (drawn at random, seed 3); its lowest draw, 0.4432, comes at
#: epoch 7, and the thirteen evals after it scatter around the same level
_EVAL = [
    1.6298, 0.6134, 0.7985, 0.6061, 0.5793, 0.5809, 0.4432, 0.5795, 0.5270, 0.9877,
    0.6207, 0.5691, 0.5752, 0.5428, 0.5122, 0.5658, 0.6450, 0.5789, 0.6927, 0.5823,
]  # fmt: skip
_TRAIN = [round(1.3 * float(np.exp(-e / 6)) + 0.2, 4) for e in _EP]


def _overfit(evals: list[float]) -> list[Severity]:
    run: RunData = run_of(
        {"train/loss": (_EP, _TRAIN), "eval/loss": (_EP, evals), "train/epoch": (_EP, _EP)}
    )
    return [f.severity for f in analyze(run).findings if f.rule_id == "LL151"]


def test_the_shortfall_of_a_minimum_grows_with_the_number_of_draws() -> None:
    assert [round(min_shortfall(n), 2) for n in (5, 10, 30)] == [0.97, 1.34, 1.85]


def test_a_low_draw_of_a_flat_noisy_eval_curve_is_not_overfitting() -> None:
    assert _overfit(_EVAL) == [Severity.INFO]


def test_a_climb_out_of_the_same_minimum_is_still_overfitting() -> None:
    # the same draws, the evals after the minimum raised 15% rising to 90%
    climb = _EVAL[:7] + [
        round(v * f, 4) for v, f in zip(_EVAL[7:], np.linspace(1.15, 1.9, 13), strict=True)
    ]
    assert _overfit(climb) in ([Severity.WARNING], [Severity.ERROR])


def _classifier(accuracy: list[float]) -> list[Severity]:
    # a fast descent to the best at the second eval, then a jump and a level 5-13% above it;
    # on 5 evals that jump the lowest is expected 0.97 noise sds below the level
    train = noisy(np.linspace(0.57, 0.16, 10), 0.01, seed=3)
    evals = [0.292, 0.234, 0.374, 0.247, 0.264]
    run = train_eval_run(train, evals, eval_every=100, spe=250, every=50, accuracy=accuracy)
    return [f.severity for f in analyze(run).findings if f.rule_id == "LL151"]


def test_a_task_metric_that_only_wobbles_confirms_nothing() -> None:
    # the accuracy 0.5 points below its best at the last eval, less than its 1.9-point move
    # between evals: the scatter reading stands
    assert _classifier([0.875, 0.894, 0.860, 0.879, 0.889]) == [Severity.INFO]


def test_a_task_metric_that_fell_beyond_its_move_confirms_the_rise() -> None:
    assert _classifier([0.875, 0.894, 0.860, 0.866, 0.862]) == [Severity.WARNING]


def test_a_classifier_whose_eval_loss_scatters_after_a_low_draw_memorised_nothing() -> None:
    # 12 epochs, the train loss near zero from epoch 4; the eval loss settles near 0.20 with
    # its lowest draw, 0.15, at epoch 4 and scatters 0.17-0.22 after it (the minimum of 12
    # draws is expected 1.4 noise sds below their level); the accuracy holds at 0.94-0.95
    evals = [0.30, 0.22, 0.20, 0.15, 0.21, 0.18, 0.22, 0.19, 0.21, 0.17, 0.20, 0.19]
    acc = [0.90, 0.93, 0.94, 0.95, 0.94, 0.945, 0.94, 0.946, 0.941, 0.948, 0.943, 0.946]
    steps = np.arange(10, 1201, 10)
    ep = steps / 100
    train = noisy(0.69 * np.exp(-ep / 0.45) + 1e-4, 0.05, seed=11)
    est = np.arange(100, 1201, 100)
    run = run_of(
        {
            "train/loss": (steps, train),
            "train/epoch": (steps, ep),
            "eval/loss": (est, evals),
            "eval/accuracy": (est, acc),
        }
    )
    got = {f.rule_id: f.severity for f in analyze(run).findings}
    assert "LL153" not in got
    assert got.get("LL151") is Severity.INFO


def test_a_history_of_no_known_unit_with_an_eval_set_is_judged_by_the_eval(
    tmp_path: Path,
) -> None:
    # a script's CSV history (epoch, train_loss, val_loss) naming no task: 100 epochs, the
    # train loss down to 0.0015, the val loss improving to 0.0037 at epoch 98 and ending 1.5%
    # above it
    rows = ["epoch,train_loss,val_loss"]
    for e in range(1, 101):
        t = 0.2 * np.exp(-(e - 1) / 4) + 0.0015 * (1.3 - 0.3 * e / 100)
        v = 0.1 * np.exp(-(e - 1) / 4) + 0.0037 * (1.04 - 0.04 * e / 98)
        if e > 98:
            v = 0.0037 * (1.012 if e == 99 else 1.015)
        rows.append(f"{e},{t:.6f},{v:.6f}")
    path = tmp_path / "history.csv"
    path.write_text("\n".join(rows) + "\n")
    (run,) = load_into_memory(path)
    got = {f.rule_id: f.severity for f in analyze(run).findings}
    assert "LL153" not in got  # no eval harm: not learned by heart
    assert got.get("LL154") is Severity.INFO  # many epochs, the eval still near its best


def test_a_test_loss_is_the_held_out_curve_when_no_validation_loss_is_logged() -> None:
    # a script that scores its test split every epoch: the test loss is best at epoch 4 and
    # climbs 10% a pass after it while the train loss keeps falling
    ep = np.arange(1, 13)
    train = [round(1.2 * float(np.exp(-e / 3)) + 0.05, 4) for e in ep]
    test = [0.9, 0.7, 0.6, 0.55] + [round(0.55 * 1.1**k, 4) for k in range(1, 9)]
    run = run_of({"train/loss": (ep, train), "test/loss": (ep, test), "train/epoch": (ep, ep)})
    f = next(f for f in analyze(run).findings if f.rule_id == "LL151")
    assert f.severity.rank >= Severity.WARNING.rank
    assert f.onset_step == 4

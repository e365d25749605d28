"""Stop 50: a loss of unknown unit that stayed flat for the second half of the run (five
epochs or more) is a plateau that wasted those passes, whatever its unit."""

from __future__ import annotations

import numpy as np
from tests.analysis.analysis_curves import one, run_of, train_eval_run

from losslens.analysis import analyze
from losslens.model import Severity


def _flat_half(flat_from: int) -> object:
    """A script's per-epoch CSV over 20 epochs, no eval: the train loss falls from 2.0 to 1.2
    until epoch ``flat_from``, then holds near 1.2 (gaining 0.1% per epoch)."""
    ep = np.arange(1, 21)
    fall = 2.0 - 0.8 * (ep - 1) / (flat_from - 1)
    loss = np.where(ep <= flat_from, fall, 1.2 * 0.999 ** (ep - flat_from))
    loss = loss * (1 + 0.003 * np.sin(ep * 1.3))
    run = run_of({"train/loss": (ep, loss), "train/epoch": (ep, ep)})
    run.info.source = "csv:history.csv"  # type: ignore[attr-defined]
    return run


def test_a_loss_of_unknown_unit_flat_for_half_the_run_is_a_plateau() -> None:
    # a plateau at its level: LL132 reads the steady but tiny decline as flat by size (stop
    # 51), before LL135's half-run reading
    (f,) = [x for x in analyze(_flat_half(5)).findings if x.kind == "loss_plateau"]  # type: ignore[arg-type]
    assert f.severity is Severity.WARNING


def test_a_flat_end_shorter_than_half_the_run_stays_info() -> None:
    f = one(analyze(_flat_half(15)), "LL135")  # type: ignore[arg-type]
    assert f.severity is Severity.INFO


# -- LL153: damage is a harm that holds, not one eval after the best -------------------------


def _classifier(last_evals: list[float]) -> object:
    """A 30-epoch classifier whose train loss falls to 0.01; its eval loss falls to 0.20 and,
    after its best, logs ``last_evals``; accuracy logged beside it."""
    n_after = len(last_evals)
    ep = np.arange(1, 31)
    ev = np.concatenate([np.geomspace(1.5, 0.2, 30 - n_after), last_evals])
    ev[20] *= 1.6  # one noisy eval that comes back
    return _per_epoch(np.geomspace(1.9, 0.01, 30), ev, np.minimum(0.95, 0.5 + ep * 0.02))


def _per_epoch(train: np.ndarray, ev: np.ndarray, accuracy: np.ndarray) -> object:
    """One train log, one eval and its accuracy at the end of each epoch, step = epoch."""
    return train_eval_run(
        train, ev.tolist(), eval_every=1, spe=1, every=1, accuracy=accuracy.tolist()
    )


def test_one_eval_after_the_best_is_no_damage() -> None:
    f = one(analyze(_classifier([0.45])), "LL153")  # type: ignore[arg-type]
    assert f.severity is Severity.WARNING


def test_a_rise_that_holds_three_evals_is_damage() -> None:
    f = one(analyze(_classifier([0.45, 0.47, 0.5])), "LL153")  # type: ignore[arg-type]
    assert f.severity is Severity.ERROR


# -- LL111: a loss above 100 is absurd only where its unit is known --------------------------


def _summed(source: str) -> object:
    """A loss summed over pixels, ~3,300 and creeping up 4% (no task, tokens
    or model named), logged 40 times over 4 epochs."""
    steps = np.arange(1, 41)
    loss = 3300.0 * (1 + 0.001 * steps + 0.05 * np.sin(steps * 1.7))
    run = run_of({"train/loss": (steps, loss), "train/epoch": (steps, steps / 10)})
    run.info.source = source  # type: ignore[attr-defined]
    return run


def test_a_large_loss_of_no_known_unit_is_no_explosion() -> None:
    rep = analyze(_summed("csv:metrics.csv"))  # type: ignore[arg-type]
    assert not [f for f in rep.findings if f.rule_id == "LL111"]


def test_the_same_loss_in_a_trainer_log_is_an_explosion() -> None:
    f = one(analyze(_summed("hf_trainer_state:abc")), "LL111")  # type: ignore[arg-type]
    assert f.severity is Severity.ERROR


# -- LL111: a loss low before the turn too jumped there, a low log between two high ones dipped


def _seven_epochs(first: float) -> object:
    loss = [first, 0.97, 1.7, 1.8, 1.65, 1.6, 1.6]
    ep = np.arange(1, 8)
    return run_of({"train/loss": (ep, loss), "train/epoch": (ep, ep)})


def test_a_loss_that_jumps_after_its_second_log_and_stays_diverged() -> None:
    f = one(analyze(_seven_epochs(1.0)), "LL111")  # type: ignore[arg-type]
    assert f.severity is Severity.ERROR and f.onset_step == 2


def test_one_low_log_between_two_high_ones_is_an_easy_batch() -> None:
    rep = analyze(_seven_epochs(1.7))  # type: ignore[arg-type]
    assert not [f for f in rep.findings if f.rule_id == "LL111"]


# -- LL151: a rise judged by size in nats where the loss is a cross-entropy ------------------


def _near_zero_classifier(after: list[float]) -> object:
    """A 12-epoch image classifier (accuracy logged): the train loss falls 0.5 -> 0.002, the
    eval loss falls to 0.010 at epoch 9 and then logs ``after``."""
    ep = np.arange(1, 13)
    ev = np.concatenate([np.geomspace(0.4, 0.010, 9), after])
    return _per_epoch(np.geomspace(0.5, 0.002, 12), ev, np.minimum(0.997, 0.9 + ep * 0.01))


def test_a_rise_of_a_few_thousandths_of_a_nat_is_no_harm() -> None:
    f = one(analyze(_near_zero_classifier([0.013, 0.0135, 0.013])), "LL151")  # type: ignore[arg-type]
    assert f.severity is Severity.INFO


def test_a_rise_of_hundredths_of_a_nat_is_overfitting() -> None:
    f = one(analyze(_near_zero_classifier([0.03, 0.035, 0.04])), "LL151")  # type: ignore[arg-type]
    assert f.severity is not Severity.INFO

"""Round 11 (the readings test v8 asked for): a held-out loss that doubled and stayed, or rose
at every eval since its best while the train loss fell (LL151); a first pass that brought the
loss near zero, then more passes with no eval set (LL154); a preference run left at chance
(LL136); a slow loss at a high level whose eval loss and task metric still improve (LL135);
a log that starts far into its run is a window, not the run (LL131-LL135); and, from v9g, one
NaN loss the Trainer hid as 0.0 beside a NaN gradient norm (LL101)."""

from __future__ import annotations

from typing import Any

import numpy as np
from analysis_curves import epoch_run, noisy, rule, run_of

from losslens.analysis import analyze
from losslens.model import RunData, Severity

# -- LL151: a held-out loss that doubled and stayed -------------------------------------------


def _tiny_eval(after: list[float]) -> RunData:
    """A text run falling to ~0.002 over 10 epochs (72 steps each, logged every 10), with an
    eval every 100 steps on a tiny, noisy eval set: 0.05, then a best of 0.008, then ``after``."""
    steps = np.arange(10, 721, 10)
    train = noisy(0.002 + 0.5 * np.exp(-steps / 60.0), 0.1, 2)
    evals = [0.05, 0.008, *after]
    return epoch_run(
        train, spe=72, every=10, evals=(np.arange(100, 100 * len(evals) + 1, 100), evals)
    )


def test_an_eval_loss_that_doubled_after_its_best_and_stayed_is_overfitting() -> None:
    # scattered (1.3x to 4.8x the best), so the log-noise scale is wide, but doubled by size
    f = rule(_tiny_eval([0.0106, 0.039, 0.021, 0.0168, 0.0162]), "LL151")
    assert f is not None and f.severity is not Severity.INFO
    assert f.onset_step == 200


def test_an_eval_loss_scattering_around_its_best_did_not_double() -> None:
    f = rule(_tiny_eval([0.0106, 0.009, 0.0125, 0.0095, 0.011]), "LL151")
    assert f is None


# -- LL151: an eval loss that rose at every eval since its best -------------------------------


def _three_evals(train_end: float) -> RunData:
    """3 epochs of 45 steps logged every 10; the train loss falls from 4.5 to ``train_end``
    (over the last two epochs from ~3.8), evals at the end of each epoch: 0.539 (the best),
    0.5496, 0.5593."""
    steps = np.arange(10, 131, 10)
    train = np.interp(steps, [10, 45, 130], [4.5, 3.8, train_end])
    return epoch_run(
        noisy(train, 0.01, 5), spe=45, every=10, evals=([45, 90, 135], [0.539, 0.5496, 0.5593])
    )


def test_an_eval_loss_rising_at_every_eval_while_train_falls_23pct_is_overfitting() -> None:
    f = rule(_three_evals(2.95), "LL151")
    assert f is not None and f.severity is Severity.WARNING
    assert f.onset_step == 45


def test_the_same_rises_while_the_train_loss_hardly_falls_are_not() -> None:
    assert rule(_three_evals(3.7), "LL151") is None


# -- LL154: a first pass that brought the loss near zero, then more passes --------------------


def _near_zero_by_epoch_one(epochs: float = 3.0, level: float = 0.012) -> RunData:
    """A text run, 700 steps per epoch logged every 10: 1.0 falling to ``level`` within the
    first quarter of epoch 1, then creeping down to a third of it; no eval set."""
    steps = np.arange(10, int(epochs * 700) + 1, 10)
    loss = level / 3 + (1.0 - level / 3) * np.exp(-steps / 40.0)
    loss = np.maximum(loss, np.where(steps <= 700, level, 0.0))
    return epoch_run(noisy(loss, 0.05, 7), spe=700, every=10)


def test_two_passes_after_a_first_pass_that_reached_near_zero_are_a_warning() -> None:
    f = rule(_near_zero_by_epoch_one(), "LL154")
    assert f is not None and f.severity is Severity.WARNING
    assert "solved" in f.title["en"]


def test_a_first_pass_that_ended_above_the_near_zero_level_did_not_solve_it() -> None:
    f = rule(_near_zero_by_epoch_one(level=0.2), "LL154")
    assert f is None or f.severity is Severity.INFO


def test_one_more_pass_after_it_is_not_yet_waste() -> None:
    f = rule(_near_zero_by_epoch_one(epochs=2.0), "LL154")
    assert f is None or f.severity is Severity.INFO


# -- LL136: a preference run left at chance ---------------------------------------------------


def _dpo(accuracy: float, loss: float, epochs: float = 1.9) -> RunData:
    """20 DPO logs over ``epochs`` epochs, the reward accuracy and the loss scattering around
    the given levels."""
    steps = np.arange(5, 101, 5)
    rng = np.random.default_rng(3)
    series: dict[str, tuple[Any, Any]] = {
        "train/loss": (steps, loss * (1 + 0.2 * rng.standard_normal(steps.size))),
        "train/epoch": (steps, steps * epochs / 100),
        "rewards/accuracies": (steps, np.clip(accuracy + 0.08 * rng.standard_normal(20), 0, 1)),
        "rewards/margins": (steps, 0.3 * rng.standard_normal(steps.size)),
    }
    return run_of(series, config={"task": "dpo"})


def test_a_dpo_run_at_chance_after_two_epochs_does_not_learn_the_preference() -> None:
    f = rule(_dpo(accuracy=0.55, loss=1.0), "LL136")
    assert f is not None and f.severity is Severity.WARNING
    assert f.kind == "loss_not_decreasing"


def test_a_dpo_run_that_prefers_the_chosen_answers_is_learning() -> None:
    assert rule(_dpo(accuracy=0.8, loss=0.45), "LL136") is None


def test_half_an_epoch_at_chance_is_too_early_to_say() -> None:
    assert rule(_dpo(accuracy=0.55, loss=1.0, epochs=0.5), "LL136") is None


# -- LL135: at a high level, an eval loss and a task metric that still improve -----------------


def _translation(bleu: list[float] | None) -> RunData:
    """A text run at ~3.2 nats gaining ~3% per epoch over its last epochs (5 epochs of 100
    steps, logged every 10), its eval loss falling at every epoch (and BLEU beside it)."""
    steps = np.arange(10, 501, 10)
    train = 3.1 + 2.9 * np.exp(-steps / 80.0)
    est = np.arange(100, 501, 100)
    series: dict[str, tuple[Any, Any]] = {
        "train/loss": (steps, noisy(train, 0.005, 9)),
        "train/epoch": (steps, steps / 100),
        "train/learning_rate": (steps, 2e-5 * (1 - steps / 510)),
        "eval/loss": (est, [3.44, 3.07, 2.89, 2.80, 2.76]),
    }
    if bleu is not None:
        series["eval/bleu"] = (est, bleu)
    return run_of(series, config={"task": "translation"})


def test_a_high_slow_loss_whose_eval_loss_and_bleu_still_improve_is_info() -> None:
    f = rule(_translation([7.1, 9.8, 11.2, 11.9, 12.3]), "LL135")
    assert f is not None and f.severity is Severity.INFO


def test_without_a_task_metric_the_high_level_still_decides() -> None:
    f = rule(_translation(None), "LL135")
    assert f is not None and f.severity is Severity.WARNING


# -- a log that starts far into its run is a window ------------------------------------------


def _flat_block(first_epoch: float) -> RunData:
    """24 logs numbered 1..24 (a console paste without steps) over the last 0.32 epochs from
    ``first_epoch``, the loss flat at ~0.34, the LR decaying linearly."""
    steps = np.arange(1, 25)
    series: dict[str, tuple[Any, Any]] = {
        "train/loss": (steps, noisy(np.full(24, 0.34), 0.025, 11)),
        "train/epoch": (steps, first_epoch + 0.32 * (steps - 1) / 23),
        "train/learning_rate": (steps, 1.78e-5 * (1 - (steps - 1) / 24)),
    }
    return run_of(series)


def test_a_flat_block_cut_from_the_last_third_of_a_run_is_not_a_plateau_of_the_run() -> None:
    rep = analyze(_flat_block(0.681))
    assert not [f for f in rep.findings if f.kind == "loss_plateau" and f.severity.rank >= 1]


def test_the_same_flat_block_from_the_start_of_a_run_is_a_plateau() -> None:
    f = rule(_flat_block(0.0139), "LL132")
    assert f is not None and f.severity is Severity.WARNING


# -- LL101: one loss the Trainer hid as 0.0 beside a NaN gradient norm ------------------------


def _hidden_nan(at: list[int]) -> RunData:
    """A text run of 120 logged steps, loss ~2.9 falling to ~2.3, the Trainer's loss 0.0 with
    a NaN gradient norm at the steps ``at``, the LR decaying (it steps past them)."""
    steps = np.arange(1, 121)
    loss = noisy(2.3 + 0.6 * np.exp(-steps / 40.0), 0.01, 12)
    grad = noisy(np.full(steps.size, 1.0), 0.1, 13)
    for s in at:
        loss[s - 1], grad[s - 1] = 0.0, np.nan
    series: dict[str, tuple[Any, Any]] = {
        "train/loss": (steps, loss),
        "train/grad_norm": (steps, grad),
        "train/learning_rate": (steps, 3e-3 * (1 - steps / 121)),
        "train/epoch": (steps, steps / 25),
    }
    return run_of(series)


def test_one_hidden_nan_mid_run_is_a_skipped_step() -> None:
    rep = analyze(_hidden_nan([59]))
    f = next((f for f in rep.findings if f.rule_id == "LL101"), None)
    assert f is not None and f.severity is Severity.INFO  # every value after it is finite
    assert "LL102" not in {f.rule_id for f in rep.findings}


def test_two_hidden_nans_are_ll102s_and_not_read_twice() -> None:
    rep = analyze(_hidden_nan([59, 80]))
    assert "LL102" in {f.rule_id for f in rep.findings}
    assert "LL101" not in {f.rule_id for f in rep.findings}

"""Stop 36: two losses moving apart at every eval since the best (LL151).

Every eval after the best sits above it (two or more, by 1%), the last 2.5% above it and
beyond two noise sds of one eval, while the train level fell 10% or more over the same
stretch: the held-out loss got worse at every eval while the training loss kept improving.
Before, such a rise needed the 5% floor (or a task metric, or a gap grown 3x, to confirm
it), so the common three-epoch run with one eval per epoch and its best at the first never
showed a small overfitting that readers grade a warning.

And the epochs fix (LL154) for such a run: with the eval loss best at epoch 1 of 3, "train 3
epochs or fewer" tells the user to do what they did; the fix is the passes the eval says
helped, with the best checkpoint kept. And a healthy run's one-line summary names the loss's
end as its reading does (the median of the last tenth), not one noisy last batch; and tiny
gradients at a loss near zero read as its consequence, not as learning that stalled.
"""

from __future__ import annotations

import numpy as np
from analysis_curves import epoch_run, noisy, rule, run_of

from losslens.model import RunData, Severity


def _three_epochs(evals: list[float], train_end: float) -> RunData:
    """3 epochs of 400 steps logged every 10, evals at each epoch's end; the train loss falls
    from 0.7 to 0.3 over the first epoch, then linearly to ``train_end``."""
    steps = np.arange(10, 1201, 10)
    train = np.interp(steps, [10, 400, 1200], [0.7, 0.3, train_end])
    return epoch_run(noisy(train, 0.01, 3), spe=400, every=10, evals=([400, 800, 1200], evals))


def test_evals_above_the_best_at_each_epoch_while_train_falls_are_overfitting() -> None:
    # best at the first eval, then +2.5% and +3.5%; train 0.30 -> 0.22 over those two epochs
    f = rule(_three_epochs([0.2843, 0.2914, 0.2942], 0.22), "LL151")
    assert f is not None and f.severity is Severity.WARNING
    assert f.onset_step == 400


def test_the_same_evals_while_the_train_loss_stays_flat_are_not() -> None:
    assert rule(_three_epochs([0.2843, 0.2914, 0.2942], 0.295), "LL151") is None


def test_a_last_eval_only_2pct_above_the_best_is_not_yet() -> None:
    assert rule(_three_epochs([0.2843, 0.2900, 0.2900], 0.22), "LL151") is None


def test_a_small_rise_inside_a_noisy_eval_curve_is_noise() -> None:
    # ten evals swinging ~5% from one to the next; the last three 2.5%, 1.2% and 3.1% above
    # the late minimum while the train level falls 20%: within two noise sds of one eval
    steps = np.arange(10, 1001, 10)
    train = np.interp(steps, [10, 100, 700, 1000], [0.4, 0.2, 0.2, 0.16])
    evals = [0.2321, 0.26, 0.2168, 0.2273, 0.2154, 0.2205, 0.2026, 0.2077, 0.205, 0.2088]
    run = epoch_run(
        noisy(train, 0.01, 4), spe=8000, every=10, evals=(np.arange(100, 1001, 100), evals)
    )
    assert rule(run, "LL151") is None


# -- LL154: the fix trains the passes the eval says helped ----------------------------------


def test_the_epochs_fix_trains_up_to_the_eval_best_when_there_is_one() -> None:
    from losslens.analysis.advice import epochs_suggestion

    text = epochs_suggestion(1058, 16, 5, target_epochs=1, best_epoch=1.0)
    assert text is not None
    assert "best at epoch 1.0" in text["en"] and "--max_steps 67" in text["en"]
    assert "--num_train_epochs 1" in text["en"] and "--max_steps 67" in text["ko"]
    # a task metric best later: the passes up to it, and both epochs named as they are
    later = epochs_suggestion(238, 8, 10, target_epochs=9, best_epoch=7.0, metric_epoch=9.0)
    assert later is not None and "--max_steps 270" in later["en"]
    assert "best at epoch 7.0 (a task metric at epoch 9.0)" in later["en"]


def test_a_three_epoch_run_overfitting_after_the_first_is_told_to_train_one() -> None:
    run = _three_epochs([0.2843, 0.2914, 0.2942], 0.22)
    run.info.config.update(dataset_size=6400, per_device_train_batch_size=16)
    f = rule(run, "LL154")
    assert f is not None and f.severity is Severity.INFO
    assert "--max_steps 400" in f.suggestion["en"] and "--num_train_epochs 1" in f.suggestion["en"]


# -- the healthy summary and the loss reading name the same end -----------------------------


def test_a_healthy_summary_ends_where_the_loss_reading_does() -> None:
    from losslens.analysis import analyze

    # a falling loss whose last log is one noisy batch well above the level it ended at
    steps = np.arange(10, 1001, 10)
    loss = 2.0 * np.exp(-steps / 400.0) + 0.5
    loss[-1] = 0.9
    report = analyze(run_of({"train/loss": (steps, loss)}))
    (reading,) = [m for m in report.readings if m.metric == "train/loss"]
    end = reading.summary["en"].split("→ ")[1].split(" ")[0]
    assert report.summary["en"].startswith("The train loss went from")
    assert f"to {end} over" in report.summary["en"] and end != "0.900"


def _grad_reading(loss_end: float) -> str:
    from losslens.analysis import analyze

    steps = np.arange(10, 501, 10)
    loss = loss_end + (0.5 - loss_end) * np.exp(-steps / 50.0)
    grad = np.full(steps.size, 0.002)
    report = analyze(run_of({"train/loss": (steps, loss), "train/grad_norm": (steps, grad)}))
    (reading,) = [m for m in report.readings if m.metric == "train/grad_norm"]
    return reading.summary["en"]


def test_tiny_gradients_at_a_loss_near_zero_are_expected_not_a_stall() -> None:
    assert "as expected with the loss near zero" in _grad_reading(0.0002)
    assert "learning may have stalled" in _grad_reading(0.4)

"""Stop 46.

Memorization (LL153) needs the repeated examples fitted tighter than unseen ones: with no eval
set, the loss at the end of the first pass, on batches the model had not seen, is the held-out
measure, and a run that ended within 1.5x of it fits a low-entropy target, not its examples. A
loss that goes below zero is no likelihood. The epoch count (LL154) is too many on eval harm
only when a third of the run came after the best. A held-out task metric is the eval curve of
a run that logs no eval loss (LL157). A gradient that collapsed inside the first window of a
long log has vanished (LL134). Lightning's ``<name>_step`` copy is the quantity itself.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.analysis.analysis_curves import epoch_run, noisy, one, run_of

from losslens.analysis import analyze
from losslens.analysis.engine import build_context
from losslens.ingest import load_into_memory
from losslens.model import Severity


def _per_epoch(train: list[float]) -> object:
    """One train-loss log per epoch, no eval set."""
    return epoch_run(np.array(train), spe=1, every=1)


def test_a_loss_already_low_after_the_first_pass_is_not_memorization() -> None:
    # 0.095 on unseen batches, 0.080 after five passes: no tighter fit of the repeated ones
    rep = analyze(_per_epoch([0.0952, 0.0866, 0.0835, 0.0815, 0.0799]))
    assert "LL153" not in {f.rule_id for f in rep.findings}


def test_a_loss_far_below_its_first_pass_is_still_memorization() -> None:
    # 0.60 on unseen batches, 0.04 after five passes: the repeated examples are learned
    rep = analyze(_per_epoch([0.60, 0.30, 0.12, 0.06, 0.04]))
    assert one(rep, "LL153").kind == "memorization"


def test_a_loss_that_goes_below_zero_is_not_read_as_near_zero() -> None:
    # a policy-gradient surrogate wanders around zero: it measures no fit to the examples
    loss = noisy(np.full(40, 0.02), 0.01, seed=2) - np.linspace(0.0, 0.05, 40)
    rep = analyze(epoch_run(loss, spe=4, every=1))
    assert "LL153" not in {f.rule_id for f in rep.findings}


# -- LL154: the count is too many when a sizeable share of the run came after the eval best ---


def _late_best_run(best_at: int) -> object:
    """30 epochs logged once each (train 2.0 -> 0.5), an eval loss per epoch that falls to its
    best at epoch ``best_at`` and rises 2% per epoch after it."""
    ep = np.arange(1, 31)
    train = np.linspace(2.0, 0.5, 30)
    evals = np.where(ep <= best_at, 1.6 - 0.02 * ep, 1.6 - 0.02 * best_at) * np.where(
        ep > best_at, 1.0 + 0.02 * (ep - best_at), 1.0
    )
    return epoch_run(train, spe=1, every=1, evals=(ep, evals))


def test_a_few_passes_past_a_late_best_leave_the_count_at_info() -> None:
    # best at epoch 25 of 30: five passes too many, which early stopping fixes (LL151)
    rep = analyze(_late_best_run(25))
    assert one(rep, "LL151").severity.rank >= Severity.WARNING.rank
    assert one(rep, "LL154").severity is Severity.INFO


def test_a_third_of_the_run_past_the_best_makes_the_count_a_warning() -> None:
    # best at epoch 12 of 30: the run was 2.5x as long as it needed
    rep = analyze(_late_best_run(12))
    assert one(rep, "LL154").severity.rank >= Severity.WARNING.rank


# -- LL157: a held-out task metric that stalls while the train loss keeps falling ------------


def _metric_run(acc: list[float], with_eval_loss: bool = False) -> object:
    """20 epochs logged once each, the train loss 2.0 -> 0.55, a validation accuracy per
    epoch and no eval loss (unless asked)."""
    ep = np.arange(1, 21)
    extra: dict[str, tuple[object, object]] = {"eval/accuracy": (ep, np.array(acc))}
    if with_eval_loss:
        extra["eval/loss"] = (ep, np.linspace(1.9, 1.2, 20))
    return epoch_run(np.geomspace(2.0, 0.55, 20), spe=1, every=1, extra=extra)


#: rises to 0.48 by epoch 12, then wobbles within 0.005 of it for eight epochs
_STALLED = [0.28, 0.33, 0.35, 0.38, 0.41, 0.43, 0.45, 0.46, 0.47, 0.475, 0.478, 0.482]
_STALLED += [0.470, 0.476, 0.474, 0.478, 0.479, 0.483, 0.479, 0.480]


def test_a_metric_stalled_while_the_train_loss_falls_is_overfitting() -> None:
    f = one(analyze(_metric_run(_STALLED)), "LL157")
    assert f.kind == "overfitting" and f.severity is Severity.WARNING
    assert f.onset_step == 11  # within one typical eval-to-eval move of the best from here


def test_a_metric_still_improving_is_no_stall() -> None:
    rising = list(np.linspace(0.28, 0.60, 20))
    assert "LL157" not in {f.rule_id for f in analyze(_metric_run(rising)).findings}


def test_with_an_eval_loss_the_metric_is_not_read_as_the_eval_curve() -> None:
    rep = analyze(_metric_run(_STALLED, with_eval_loss=True))
    assert "LL157" not in {f.rule_id for f in rep.findings}


def test_a_metric_at_its_best_at_the_last_eval_is_still_improving() -> None:
    # a coarse metric (16 validation samples) that steps up once more at the end
    late = [*_STALLED[:-1], 0.49]
    assert "LL157" not in {f.rule_id for f in analyze(_metric_run(late)).findings}


# -- LL134: a gradient that collapses inside the first window of a long log ------------------


def test_a_gradient_collapsed_early_in_a_long_log_has_vanished() -> None:
    # 200 logs: the norm falls from ~25 to ~0.002 within the first 10 logs (inside the first
    # 20%, whose median it sets) while the loss stays at ~1.0
    steps = np.arange(50, 10_001, 50)
    grad = np.where(np.arange(200) < 10, 25.0, noisy(np.full(200, 0.002), 0.3, seed=4))
    loss = noisy(np.full(200, 1.0), 0.03, seed=5)
    run = run_of(
        {
            "train/loss": (steps, loss),
            "train/grad_norm": (steps, grad),
            "train/epoch": (steps, steps / 1000),
        }
    )
    f = one(analyze(run), "LL134")
    assert f.kind == "grad_vanishing" and f.evidence.values["grad_early"] == 25.0


# -- Lightning's per-step and per-epoch copies of one logged value ---------------------------


def _lightning_csv(path: Path, *, with_step: bool) -> Path:
    """A ``metrics.csv`` as Lightning's CSVLogger writes it for ``self.log("train_loss", ...,
    on_step=True, on_epoch=True)``: ``train_loss_step`` rows every 10 steps and one
    ``train_loss_epoch`` row per epoch (only the epoch rows without ``with_step``)."""
    cols = ["epoch", "step", "train_loss_step", "train_loss_epoch", "val_loss"]
    rows, step = [",".join(cols)], 0
    for ep in range(8):
        for _ in range(5):
            step += 10
            if with_step:
                rows.append(f"{ep},{step - 1},{2.0 * 0.98 ** (step / 10):.4f},,")
        rows.append(f"{ep},{step - 1},,,{1.8 * 0.95**ep:.4f}")
        rows.append(f"{ep},{step - 1},,{2.0 * 0.98 ** (step / 10 - 2):.4f},")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_lightning_per_step_copy_is_the_train_loss(tmp_path: Path) -> None:
    run = load_into_memory(_lightning_csv(tmp_path / "metrics.csv", with_step=True))[0]
    assert len(run.series["train/loss"]) == 40  # the per-step copy, not the epoch means
    assert "train/loss_epoch" in run.series
    assert build_context(run).loss is run.series["train/loss"]


def test_lightning_epoch_mean_stands_in_when_no_step_copy(tmp_path: Path) -> None:
    run = load_into_memory(_lightning_csv(tmp_path / "metrics.csv", with_step=False))[0]
    ctx = build_context(run)
    assert ctx.loss is not None and len(ctx.loss) == 8 and ctx.eval_loss is not None


def test_a_run_with_no_train_loss_says_so_instead_of_an_all_clear() -> None:
    steps = np.arange(1, 6)
    run = run_of({"train/acc": (steps, np.linspace(0.5, 0.85, 5)), "train/epoch": (steps, steps)})
    assert analyze(run).summary["en"].startswith("No train loss was found")


# -- LL153 on a classifier: the held-out loss must sit well above the train loss -------------


def _classifier_run(eval_after: float) -> object:
    """A classifier over 40 epochs (one log each): train loss 1.6 -> ~0.04, an eval loss best
    0.03 at epoch 25 and ``eval_after`` from epoch 27 on, with an eval accuracy that slips."""
    ep = np.arange(1, 41)
    train = 0.04 + 1.56 * np.exp(-(ep - 1) / 4.0)
    evals = np.where(ep < 25, 0.03 + 1.2 * np.exp(-(ep - 1) / 4.0), eval_after)
    evals[24] = 0.03
    acc = np.where(ep <= 25, 0.5 + 0.018 * ep, 0.94)
    extra = {"eval/accuracy": (ep, acc)}
    return epoch_run(train, spe=1, every=1, evals=(ep, evals), extra=extra)


def test_a_classifier_whose_held_out_loss_follows_the_train_loss_memorised_nothing() -> None:
    # the eval loss after its best (0.06) is 1.5x the train loss: unseen examples are
    # predicted about as well as the training ones
    assert "LL153" not in {f.rule_id for f in analyze(_classifier_run(0.06)).findings}


def test_a_classifier_fitting_its_examples_far_tighter_than_held_out_ones_memorised() -> None:
    # the eval loss after its best (0.30) is 7.5x the train loss
    assert one(analyze(_classifier_run(0.30)), "LL153").kind == "memorization"


def test_a_nan_in_a_component_loss_is_a_nan_in_their_sum() -> None:
    # a GAN logs no single loss: its generator loss turns NaN at step 30 and stays NaN
    steps = np.arange(1, 61)
    gen = np.where(steps < 30, 2.0, np.nan)
    disc = np.where(steps < 31, 0.7, np.nan)
    run = run_of({"train/gen_loss": (steps, gen), "train/disc_loss": (steps, disc)})
    f = one(analyze(run), "LL101")
    assert (
        f.severity is Severity.ERROR
        and f.onset_step == 30
        and f.evidence.metric == "train/gen_loss"
    )


def test_a_huge_first_value_descending_through_zero_is_a_bad_start() -> None:
    # a VAE's negative ELBO: 40,000 at the first log, below zero from the 10th log on and
    # still falling (a log scale would clamp those logs flat)
    steps = np.arange(10, 1001, 10)
    loss = 42_500.0 * np.exp(-steps / 25.0) - 2_500.0 - 0.5 * steps
    rep = analyze(run_of({"train/loss": (steps, loss), "train/epoch": (steps, steps / 100)}))
    assert not {"LL111", "LL161"} & {f.rule_id for f in rep.findings}


def test_a_loss_that_goes_below_zero_is_never_rescaled() -> None:
    # its positive logs alone (1.0, then 2.0 after a stretch below zero) look like a loss
    # multiplied by 2; a loss below zero has no scale that logging could have multiplied
    steps = np.arange(1, 121)
    level = np.repeat([1.0, -0.5, 2.0], 40)
    loss = level * noisy(np.ones(120), 0.01, seed=8)
    rep = analyze(run_of({"train/loss": (steps, loss)}))
    assert "LL161" not in {f.rule_id for f in rep.findings}


def test_a_negative_loss_is_no_objective_solved_in_the_first_pass() -> None:
    # a negative log-likelihood of continuous targets: below zero from the first log
    steps = np.arange(50, 25_001, 50)
    loss = -0.97 - 4.5 * (1 - np.exp(-steps / 5000.0))
    rep = analyze(epoch_run(loss, spe=5000, every=50))  # 5 epochs
    found = {f.rule_id: f for f in rep.findings}
    assert "LL155" not in found and "LL153" not in found
    assert "LL154" not in found or found["LL154"].severity is Severity.INFO


def test_a_regressor_near_zero_is_not_read_as_a_language_model() -> None:
    # a PDE surrogate's MSE: 0.19 -> 0.0045 over 200 epochs, its val_mse still improving
    ep = np.arange(1, 201)
    loss = 0.0045 + 0.19 * np.exp(-ep / 20.0)
    extra = {"eval/mse": (ep[::10], 0.0075 + 0.13 * np.exp(-ep[::10] / 25.0))}
    run = epoch_run(loss, spe=1, every=1, extra=extra)
    assert build_context(run).task == "regression"
    assert "LL153" not in {f.rule_id for f in analyze(run).findings}


# -- LL158: a held-out accuracy that never changes ----------------------------------------


def _accuracy_run(acc: list[float]) -> object:
    ep = np.arange(1, len(acc) + 1)
    loss = np.linspace(2.0, 1.76, len(acc))
    extra = {
        "eval/accuracy": (ep, np.array(acc)),
        "eval/loss": (ep, np.linspace(3.9, 1.7, len(acc))),
    }
    return epoch_run(loss, spe=1, every=1, extra=extra)


def test_an_accuracy_repeated_at_every_eval_means_the_predictions_never_moved() -> None:
    f = one(analyze(_accuracy_run([0.2] * 8)), "LL158")  # one class of a balanced five
    assert f.kind == "loss_not_decreasing" and f.severity is Severity.WARNING


@pytest.mark.parametrize("acc", [[1.0] * 8, [0.0] * 8, [0.2, 0.21, 0.2, 0.22, 0.2, 0.2, 0.2, 0.2]])
def test_a_solved_a_never_reached_or_a_moving_accuracy_is_not_frozen(acc: list[float]) -> None:
    assert "LL158" not in {f.rule_id for f in analyze(_accuracy_run(acc)).findings}

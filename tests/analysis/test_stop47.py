"""Stop 47.

An objective logged only in parts (a detector's ``box_loss``, ``cls_loss`` and ``dfl_loss``)
is read as its sum when every part is also measured on held-out data; opposing objectives (a
GAN's) are never summed. A slow loss on a long run is judged by what its gain per epoch adds
up to over the stretch (LL135). A learning-rate monitor's columns (Lightning's ``lr-AdamW``,
ultralytics' ``lr/pg0``) are the run's learning rate.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tests.analysis.analysis_curves import epoch_run, noisy, one, run_of

from losslens import keys
from losslens.analysis import analyze
from losslens.analysis.engine import build_context
from losslens.ingest import load_into_memory
from losslens.model import Severity

_PARTS = ("box_loss", "cls_loss", "dfl_loss")


def _detector(val_end: float) -> object:
    """40 epochs of a detector: each train part falls by half; each held-out part falls to
    its best at epoch 15, then moves linearly to ``val_end`` times that best by the end."""
    ep = np.arange(1, 41)
    series = {}
    for i, part in enumerate(_PARTS):
        start = 1.5 + 0.5 * i
        series[f"train/{part}"] = (ep, start * (1.0 - 0.5 * (ep - 1) / 39))
        best = 0.8 * start
        held = np.where(
            ep <= 15,
            start - (start - best) * (ep - 1) / 14,
            best * (1 + (val_end - 1) * (ep - 15) / 25),
        )
        series[f"val/{part}"] = (ep, held)
    return run_of(series)


def test_parts_with_held_out_twins_are_summed_into_the_train_and_eval_loss() -> None:
    ctx = build_context(_detector(1.0))  # type: ignore[arg-type]
    assert ctx.loss is not None and ctx.eval_loss is not None
    assert ctx.loss.values[0] == np.float64(1.5 + 2.0 + 2.5)
    assert len(ctx.eval_loss) == 40
    assert "box_loss" in ctx.loss.key and "dfl_loss" in ctx.eval_loss.key


def test_a_held_out_sum_that_rose_far_after_its_best_is_overfitting() -> None:
    rep = analyze(_detector(1.6))  # type: ignore[arg-type]
    assert "overfitting" in {f.kind for f in rep.findings}
    assert "overfitting" not in {f.kind for f in analyze(_detector(1.0)).findings}  # type: ignore[arg-type]


def test_opposing_objectives_with_no_held_out_twins_are_not_summed() -> None:
    st = np.arange(1, 30)
    gan = run_of({"train/gen_loss": (st, 2 + np.sin(st)), "train/disc_loss": (st, 0.7 + 0 * st)})
    assert build_context(gan).loss is None


def test_a_plain_loss_is_taken_before_its_parts() -> None:
    st = np.arange(1, 30)
    run = run_of(
        {
            "train/loss": (st, 3.0 - 0.05 * st),
            "train/box_loss": (st, 1.0 + 0 * st),
            "train/cls_loss": (st, 1.0 + 0 * st),
            "val/box_loss": (st, 1.0 + 0 * st),
            "val/cls_loss": (st, 1.0 + 0 * st),
        }
    )
    ctx = build_context(run)
    assert ctx.loss is not None and ctx.loss.key == "train/loss"
    assert ctx.eval_loss is None


def test_a_learning_rate_monitors_first_group_is_the_learning_rate() -> None:
    assert keys.resolve(["lr/pg2", "lr/pg0", "lr/pg1"], keys.LR) == "lr/pg0"
    assert keys.resolve(["lr-AdamW/pg2", "lr-AdamW/pg1"], keys.LR) == "lr-AdamW/pg1"
    assert keys.resolve(["lr-SGD", "train_loss"], keys.LR) == "lr-SGD"
    assert keys.resolve(["lr-SGD-momentum", "lr_scheduler"], keys.LR) is None


def test_a_detector_results_table_is_read_with_its_loss_and_schedule(tmp_path: Path) -> None:
    # ultralytics pads its header and values with spaces
    cols = ["epoch", *(f"train/{p}" for p in _PARTS), "metrics/mAP50(B)"]
    cols += [*(f"val/{p}" for p in _PARTS), "lr/pg0", "lr/pg1", "lr/pg2"]
    rows = [",".join(f"{c:>20}" for c in cols)]
    for e in range(1, 21):
        vals = [e, *(1.0 + 1.0 / e for _ in _PARTS), 0.03 * e, *(1.1 + 1.0 / e for _ in _PARTS)]
        vals += [0.01 * (1 - e / 21)] * 2 + [0.1 - 0.004 * e]
        rows.append(",".join(f"{v:>20.5g}" for v in vals))
    path = tmp_path / "results.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    ctx = build_context(load_into_memory(path)[0])
    assert ctx.loss is not None and len(ctx.loss) == 20
    assert abs(float(ctx.loss.values[0]) - 6.0) < 1e-9
    assert ctx.eval_loss is not None and ctx.lr is not None
    assert ctx.lr.key.strip() == "lr/pg0"


# -- LL135: a slow gain per epoch over a long run is judged by what it adds up to -------------


def _long_run(tail_gain: float) -> object:
    """60 epochs, 10 logs each, of a loss at 80% of its first value after 10 epochs, then
    gaining ``tail_gain`` per epoch (with a little noise)."""
    ep = np.arange(1, 601) / 10
    loss = np.where(ep <= 10, 2.0 - 0.04 * ep, 1.6 * (1 - tail_gain) ** (ep - 10))
    return epoch_run(noisy(loss, 0.002, seed=3), spe=10, every=1)


def test_a_long_run_still_falling_by_a_tenth_over_its_second_half_is_no_plateau_warning() -> None:
    # 0.4% per epoch over the last 30 epochs: 11% in all, a slow but steady decline
    f = one(analyze(_long_run(0.004)), "LL135")  # type: ignore[arg-type]
    assert f.severity is Severity.INFO


def test_a_long_run_that_gained_a_trifle_over_its_second_half_is_a_plateau() -> None:
    # 0.05% per epoch over the last 30 epochs: 1.5% in all
    f = one(analyze(_long_run(0.0005)), "LL135")  # type: ignore[arg-type]
    assert f.severity is Severity.WARNING


# -- LL159: a held-out metric that is never a number ------------------------------------------


def _dice_run(dice: list[float]) -> object:
    ep = np.arange(1, len(dice) + 1)
    return run_of(
        {
            "train/loss": (ep, 0.66 - 0.03 * ep),
            "train/epoch": (ep, ep.astype(float)),
            "eval/dice": (ep, np.array(dice)),
        }
    )


def test_a_held_out_metric_never_a_number_is_reported() -> None:
    f = one(analyze(_dice_run([float("nan")] * 10)), "LL159")  # type: ignore[arg-type]
    assert f.kind == "nan_or_inf" and f.severity is Severity.WARNING
    assert f.evidence.values["evals"] == 10


def test_a_held_out_metric_with_one_number_is_not_never_finite() -> None:
    dice = [float("nan")] * 9 + [0.4]
    assert "LL159" not in {f.rule_id for f in analyze(_dice_run(dice)).findings}  # type: ignore[arg-type]


# -- LL153: with no eval loss, a held-out task metric that holds its best shows no harm ------


def _no_eval_loss_run(acc: list[float]) -> object:
    """12 epochs of a train loss falling to 0.05 (near zero), no eval loss, and a held-out
    accuracy per epoch."""
    ep = np.arange(1, 13)
    return run_of(
        {
            "train/loss": (ep, np.geomspace(1.0, 0.05, 12)),
            "train/epoch": (ep, ep.astype(float)),
            "eval/bleu": (ep, 30 * np.array(acc)),
        }
    )


def test_near_zero_with_a_held_out_metric_at_its_best_is_no_harm() -> None:
    acc = [0.70, 0.80, 0.85, 0.88, 0.90, 0.91, 0.915, 0.915, 0.92, 0.918, 0.921, 0.92]
    assert one(analyze(_no_eval_loss_run(acc)), "LL153").severity is Severity.INFO  # type: ignore[arg-type]


def test_near_zero_with_a_held_out_metric_that_fell_is_still_graded() -> None:
    acc = [0.70, 0.80, 0.85, 0.88, 0.90, 0.91, 0.89, 0.86, 0.84, 0.82, 0.80, 0.78]
    assert one(analyze(_no_eval_loss_run(acc)), "LL153").severity is not Severity.INFO  # type: ignore[arg-type]


# -- LL124: an eval loss a hundred times its neighbours ---------------------------------------


def _eval_run(evals: list[float]) -> object:
    ep = np.arange(1, len(evals) + 1)
    return run_of(
        {
            "train/loss": (ep, np.linspace(0.5, 0.05, ep.size)),
            "train/epoch": (ep, ep.astype(float)),
            "eval/loss": (ep, np.array(evals)),
        }
    )


def test_an_eval_loss_a_hundredfold_its_neighbours_is_a_spike() -> None:
    evals = [0.30, 0.12, 0.06, 0.0092, 1.18, 0.0061, 0.0073, 0.007, 0.0068, 0.0066]
    f = one(analyze(_eval_run(evals)), "LL124")  # type: ignore[arg-type]
    assert f.kind == "loss_spike" and f.severity is Severity.WARNING and f.onset_step == 5


def test_an_eval_loss_ten_times_its_neighbours_is_not_this_spike() -> None:
    evals = [0.30, 0.12, 0.06, 0.041, 0.41, 0.039, 0.037, 0.036, 0.035, 0.034]
    assert "LL124" not in {f.rule_id for f in analyze(_eval_run(evals)).findings}  # type: ignore[arg-type]


# -- LL152: two evals, the second the better, show an eval loss not getting worse -------------


def test_a_gap_over_two_evals_that_improved_is_info() -> None:
    steps = np.arange(50, 5200, 50)
    train = np.interp(steps, [50, 2600, 5150], [2.2, 0.45, 0.34])
    run = run_of(
        {
            "train/loss": (steps, train),
            "train/epoch": (steps, steps / 2581),
            "eval/loss": ([2581, 5163], [0.973, 0.777]),
        }
    )
    assert one(analyze(run), "LL152").severity is Severity.INFO


# -- LL153: an eval loss below the train loss shows no learning by heart ---------------------


def test_a_near_zero_train_loss_with_the_eval_loss_below_it_is_no_memorization() -> None:
    ep = np.arange(1, 11)
    run = run_of(
        {
            "train/loss": (ep, np.geomspace(1.65, 0.06, 10)),
            "train/epoch": (ep, ep.astype(float)),
            "eval/loss": (ep, np.geomspace(0.11, 0.0007, 10)),
        }
    )
    assert "LL153" not in {f.rule_id for f in analyze(run).findings}


def test_an_averages_qualifier_names_the_quantity_averaged() -> None:
    assert keys.normalize_key("avg_val_loss") == keys.EVAL_LOSS
    assert keys.normalize_key("mean_train_loss") == keys.LOSS
    assert keys.normalize_key("avg_loss") == keys.LOSS
    assert keys.normalize_key("avg_accuracy") == "train/avg_accuracy"  # no split, no loss

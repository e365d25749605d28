"""Training histories saved as JSON: lists per metric, records per log, under ``history``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from losslens import keys
from losslens.errors import ImportError_, UnknownFormatError
from losslens.importers import detect
from losslens.ingest import load_into_memory


def _write(tmp_path: Path, doc: object, name: str = "history.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def test_records_with_a_step_and_a_config_beside_them(tmp_path: Path) -> None:
    history = [
        {"step": s, "train_loss": 5 - s / 1000, "dev_loss": 5.1 - s / 1000, "learning_rate": 1e-3}
        for s in (250, 500, 750)
    ]
    path = _write(tmp_path, {"config": {"lr": 0.001, "epochs": 5}, "history": history})
    assert detect(path).name == "json_history"  # type: ignore[union-attr]
    (run,) = load_into_memory(path)
    assert run.series[keys.LOSS].steps.tolist() == [250, 500, 750]
    assert run.series[keys.EVAL_LOSS].values.tolist() == pytest.approx([4.85, 4.6, 4.35])
    assert run.info.config["epochs"] == 5


def test_lists_of_different_lengths_end_together(tmp_path: Path) -> None:
    # a train loss per step (8) and an eval loss per epoch (2); a short setting list is dropped
    doc = {"loss": [8 - i for i in range(8)], "val_loss": [5.0, 3.0], "phase_starts": [0]}
    (run,) = load_into_memory(_write(tmp_path, doc))
    assert run.series[keys.LOSS].steps.tolist() == list(range(1, 9))
    assert run.series[keys.EVAL_LOSS].steps.tolist() == [4, 8]
    assert "train/phase_starts" not in run.series


def test_split_named_series_are_a_loss_unless_the_name_says_otherwise(tmp_path: Path) -> None:
    doc = {"steps": [0, 100, 200], "train": [5.7, 4.1, 3.4], "val": [5.8, 4.3, 3.6]}
    for name in ("loss_history.json", "history.json", "run3.json"):
        (run,) = load_into_memory(_write(tmp_path, doc, name))
        assert run.series[keys.EVAL_LOSS].steps.tolist() == [0, 100, 200]
    for name in ("metrics.json", "accuracy.json", "f1_scores.json"):
        with pytest.raises(UnknownFormatError):
            load_into_memory(_write(tmp_path, doc, name))


def test_a_json_file_with_no_loss_is_refused_in_one_line(tmp_path: Path) -> None:
    path = _write(tmp_path, {"accuracy": [0.5, 0.6, 0.7]})
    assert detect(path) is None
    with pytest.raises(ImportError_, match="no training history"):
        load_into_memory(path, fmt="json_history")


def test_a_step_that_is_no_integer_is_dropped_with_a_note(tmp_path: Path) -> None:
    # 1e400 is inf to json; it was a traceback (int(inf)) instead of an import note
    path = tmp_path / "history.json"
    path.write_text('{"loss": [1.0, 0.8, 0.6], "steps": [1e400, 2, 3]}')
    (run,) = load_into_memory(path)
    assert run.series[keys.LOSS].steps.tolist() == [2, 3]
    assert "could not be kept" in run.info.summary["import_warnings"][0]


def test_a_json_file_too_large_to_be_a_history_is_not_claimed(tmp_path: Path) -> None:
    big = tmp_path / "data.json"
    big.write_bytes(b"[" + b" " * (65 << 20) + b"]")
    assert detect(big) is None  # was an error out of sniffing ("too large to read whole")


def test_component_losses_in_place_of_one_loss(tmp_path: Path) -> None:
    # a GAN's history: no single loss, a generator's and a discriminator's
    doc = {"G_loss": [42.5, 41.1, 40.4], "D_loss": [0.37, 0.35, 0.34], "epoch_seconds": [60] * 3}
    path = _write(tmp_path, doc, "training_history.json")
    assert detect(path).name == "json_history"  # type: ignore[union-attr]
    (run,) = load_into_memory(path)
    assert run.series["train/G_loss"].values.tolist() == pytest.approx([42.5, 41.1, 40.4])
    assert keys.LOSS not in run.series


def test_lists_named_in_the_plural(tmp_path: Path) -> None:
    # ``train_losses``/``val_losses``: one loss per epoch, as a script names its lists
    doc = {
        "train_losses": [1.28, 0.90, 0.76],
        "val_losses": [0.95, 0.91, 0.91],
        "val_accs": [0.6] * 3,
    }
    (run,) = load_into_memory(_write(tmp_path, doc))
    assert run.series[keys.LOSS].values.tolist() == pytest.approx([1.28, 0.90, 0.76])
    assert run.series[keys.EVAL_LOSS].values.tolist() == pytest.approx([0.95, 0.91, 0.91])
    assert "eval/acc" in run.series
    assert keys.normalize_key("glosses") == "train/glosses"  # a word, not a plural of loss


def test_records_nested_by_split(tmp_path: Path) -> None:
    # one record per epoch, its train and val numbers each under their split
    doc = [
        {"epoch": e, "train": {"loss": 1.0 / e, "f1": 0.5}, "val": {"loss": 1.2 / e, "iou": 0.1}}
        for e in (1, 2, 3)
    ]
    (run,) = load_into_memory(_write(tmp_path, doc))
    assert run.series[keys.LOSS].values.tolist() == pytest.approx([1.0, 0.5, 1 / 3])
    assert run.series[keys.EVAL_LOSS].values.tolist() == pytest.approx([1.2, 0.6, 0.4])
    assert "eval/iou" in run.series


def test_json_lines_of_records_in_a_json_file(tmp_path: Path) -> None:
    lines = [{"epoch": e, "loss": 1.0 / e, "val_loss": 1.2 / e} for e in (1, 2, 3)]
    path = tmp_path / "metrics.json"
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    (run,) = load_into_memory(path)
    assert run.series[keys.EVAL_LOSS].values.tolist() == pytest.approx([1.2, 0.6, 0.4])


def test_one_run_under_its_own_name(tmp_path: Path) -> None:
    doc = {
        "512-256seq_250eps": {"loss": [0.27, 0.11, 0.10, 0.09], "val_loss": [0.3, 0.2, 0.2, 0.2]}
    }
    (run,) = load_into_memory(_write(tmp_path, doc))
    assert run.series[keys.LOSS].values.tolist() == pytest.approx([0.27, 0.11, 0.10, 0.09])


def test_lists_one_level_down_are_named_by_the_object_above_them(tmp_path: Path) -> None:
    # spaCy's training history: component losses under ``losses``, scores under ``scores``
    doc = {
        "epochs": [0, 1, 2, 3, 4],
        "losses": {"ner": [150.0, 100.0, 60.0, 40.0, 30.0]},
        "scores": {"ents_f": [0.0, 0.2, 0.4, 0.5, 0.6]},
    }
    path = tmp_path / "training_history.json"
    path.write_text(json.dumps(doc))
    (run,) = load_into_memory(path)
    assert run.series["train/ner_loss"].values.tolist() == [150.0, 100.0, 60.0, 40.0, 30.0]
    assert run.series["train/scores_ents_f"].values.tolist()[-1] == 0.6


def test_a_json_file_nested_deeper_than_any_history_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "history.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ImportError_, match="no training history"):
        load_into_memory(path, fmt="json_history")


def test_loss_rows_in_a_file_named_for_its_losses(tmp_path: Path) -> None:
    # loss_history.append([it, losses["train"], losses["val"]]); json.dump(loss_history, f)
    rows = [[it, 6.0 - it / 1000, 6.1 - it / 1200] for it in range(200, 2001, 200)]
    path = _write(tmp_path, rows, "loss_history.json")
    assert detect(path).name == "json_history"  # type: ignore[union-attr]
    (run,) = load_into_memory(path)
    assert run.series[keys.LOSS].steps.tolist() == list(range(200, 2001, 200))
    assert run.series[keys.EVAL_LOSS].values.tolist() == pytest.approx([r[2] for r in rows])
    # the same rows under a name that says nothing of losses are not read as losses
    with pytest.raises(ImportError_):
        load_into_memory(_write(tmp_path, rows, "points.json"))


def test_a_flat_list_in_a_loss_file_is_the_train_loss(tmp_path: Path) -> None:
    (run,) = load_into_memory(_write(tmp_path, [2.0, 1.5, 1.2, 1.1, 1.05], "losses.json"))
    assert run.series[keys.LOSS].values.tolist() == [2.0, 1.5, 1.2, 1.1, 1.05]


def test_numbers_in_a_record_s_container_are_its_own(tmp_path: Path) -> None:
    history = [
        {"epoch": e, "path": f"ckpt_{e}.pt", "metrics": {"train_loss": 3 - e / 4, "val_loss": 2.9}}
        for e in range(1, 6)
    ]
    (run,) = load_into_memory(_write(tmp_path, history, "training_history.json"))
    assert run.series[keys.LOSS].values.tolist() == pytest.approx([3 - e / 4 for e in range(1, 6)])
    assert run.series[keys.EVAL_LOSS].steps.tolist() == [1, 2, 3, 4, 5]


def test_a_total_or_nll_loss_is_the_loss_only_where_no_plain_loss_is_logged(
    tmp_path: Path,
) -> None:
    doc = {"epoch": [1, 2, 3, 4], "loss_total": [1.2, 1.0, 0.9, 0.85], "loss_box": [0.5] * 4}
    (run,) = load_into_memory(_write(tmp_path, doc, "train_history.json"))
    assert keys.resolve(run.series, keys.LOSS) == "train/loss_total"
    doc = {"loss": [1.1, 0.9, 0.8, 0.7], "total_loss": [1.2, 1.0, 0.9, 0.85]}
    (run,) = load_into_memory(_write(tmp_path, doc, "train_history.json"))
    assert keys.resolve(run.series, keys.LOSS) == keys.LOSS
    history = [
        {"step": s, "train_nll": 84 - s / 100, "val_nll": 82 - s / 200} for s in (250, 500, 750)
    ]
    (run,) = load_into_memory(_write(tmp_path, {"history": history}, "history.json"))
    assert keys.resolve(run.series, keys.EVAL_LOSS) == "eval/nll"


def test_records_listed_per_split(tmp_path: Path) -> None:
    doc = {
        "train": [{"loss": 1.9 - e / 10, "grad_norm_mean": 5.0} for e in range(5)],
        "val": [{"loss": 1.5 - e / 20, "pearson": 0.1} for e in range(5)],
    }
    (run,) = load_into_memory(_write(tmp_path, doc, "history.json"))
    assert run.series[keys.LOSS].steps.tolist() == [1, 2, 3, 4, 5]
    assert run.series[keys.EVAL_LOSS].values.tolist() == pytest.approx([1.5, 1.45, 1.4, 1.35, 1.3])


def test_a_history_under_a_key_named_for_it(tmp_path: Path) -> None:
    doc = {
        "config": {"lr": 3e-5},
        "metrics_history": {"step": [25, 50, 75], "loss": [4.6, 4.4, 4.3]},
    }
    (run,) = load_into_memory(_write(tmp_path, doc, "training_metrics.json"))
    assert run.series[keys.LOSS].steps.tolist() == [25, 50, 75]
    assert run.info.config["lr"] == 3e-5


def test_a_history_printed_by_python_into_a_text_file(tmp_path: Path) -> None:
    history = {
        "loss": [1.5, 0.22, 0.06, 0.1, 0.07],
        "val_loss": [0.4, 0.2, 0.1, 0.12, float("nan")],
    }
    path = tmp_path / "log_train.txt"
    with open(path, "w") as f:
        print(history, file=f)  # Python's repr: single quotes, a bare nan
    assert detect(path).name == "json_history"  # type: ignore[union-attr]
    (run,) = load_into_memory(path)
    assert run.series[keys.LOSS].values.tolist() == [1.5, 0.22, 0.06, 0.1, 0.07]


def test_json_lines_of_epoch_stats_in_a_log_txt(tmp_path: Path) -> None:
    # DETR / DeiT: log_stats appended as one JSON line per epoch to output_dir/log.txt
    path = tmp_path / "log.txt"
    with open(path, "w") as f:
        for epoch in range(4):
            stats = {
                "train_lr": 1e-4,
                "train_loss": 2.5 - 0.3 * epoch,
                "test_loss": 2.4 - 0.2 * epoch,
            }
            f.write(json.dumps({**stats, "epoch": epoch, "n_parameters": 41_000_000}) + "\n")
    (run,) = load_into_memory(path)
    assert run.series[keys.LOSS].steps.tolist() == [1, 2, 3, 4]
    assert run.series["test/loss"].values.tolist() == pytest.approx([2.4, 2.2, 2.0, 1.8])


def test_the_one_list_of_records_under_any_key_is_the_history(tmp_path: Path) -> None:
    log = [{"step": s, "loss": 8.0 / (1 + s / 100), "lr": 3e-5 * s / 100} for s in (100, 200, 300)]
    doc = {"current_step": 300, "best_loss": 2.0, "training_log": log, "config": {"lr": 3e-4}}
    (run,) = load_into_memory(_write(tmp_path, doc, "training_log.json"))
    assert run.series[keys.LOSS].steps.tolist() == [100, 200, 300]
    assert run.info.config["lr"] == 3e-4


def test_two_lists_of_records_name_no_history(tmp_path: Path) -> None:
    rows = [{"step": s, "loss": 1.0 / s} for s in (1, 2, 3)]
    path = _write(tmp_path, {"model_a": rows, "model_b": rows, "note": "two runs"}, "runs.json")
    with pytest.raises(UnknownFormatError):
        load_into_memory(path)


def test_a_history_pandas_wrote_by_column_or_by_index(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")  # installed with the mlflow extra
    history = {"loss": [0.9, 0.7, 0.6, 0.55], "val_loss": [1.0, 0.8, 0.75, 0.74]}
    for orient in ("columns", "index"):
        path = tmp_path / f"history_{orient}.json"
        pd.DataFrame(history).to_json(path, orient=orient)
        (run,) = load_into_memory(path)
        assert run.series[keys.LOSS].values.tolist() == pytest.approx(history["loss"])
        assert run.series[keys.EVAL_LOSS].values.tolist() == pytest.approx(history["val_loss"])


def test_a_loss_named_by_its_function_or_the_one_qualified_loss_is_the_loss(
    tmp_path: Path,
) -> None:
    # Keras compiled with loss="bce" and metrics=["rmse"]: the first named by a function
    doc = {
        "bce": [0.82, 0.68, 0.67, 0.66],
        "rmse": [0.29, 0.22, 0.21, 0.20],
        "val_bce": [0.96, 0.70, 0.68, 0.66],
        "val_rmse": [0.31, 0.24, 0.22, 0.21],
    }
    (run,) = load_into_memory(_write(tmp_path, doc))
    assert run.series[keys.LOSS].values.tolist() == [0.82, 0.68, 0.67, 0.66]
    assert run.series[keys.EVAL_LOSS].values.tolist() == [0.96, 0.70, 0.68, 0.66]
    # the one loss with a qualifier, beside its held-out twin
    doc = {"loss_x": [0.33, 0.02, 0.008, 0.004], "val_loss_x": [0.02, 0.01, 0.005, 0.003]}
    (run,) = load_into_memory(_write(tmp_path, doc))
    assert run.series[keys.LOSS].values.tolist() == [0.33, 0.02, 0.008, 0.004]
    assert keys.EVAL_LOSS in run.series
    # two qualified losses (a GAN's): neither is the run's loss
    doc = {"loss_g": [3.0, 2.0, 1.5, 1.2], "loss_d": [0.7, 0.6, 0.65, 0.6]}
    with pytest.raises(UnknownFormatError):
        load_into_memory(_write(tmp_path, doc))


def test_a_history_saved_as_the_string_python_prints(tmp_path: Path) -> None:
    # json.dump(str(history.history), f): one JSON string holding the Python literal
    history = {"loss": [0.9, 0.7, 0.6, 0.55], "val_loss": [1.0, 0.8, 0.75, float("nan")]}
    path = _write(tmp_path, str(history))
    assert detect(path).name == "json_history"  # type: ignore[union-attr]
    (run,) = load_into_memory(path)
    assert run.series[keys.LOSS].values.tolist() == [0.9, 0.7, 0.6, 0.55]
    assert math.isnan(run.series[keys.EVAL_LOSS].values[-1])


def test_lists_beside_the_splits_records_are_their_epochs(tmp_path: Path) -> None:
    # per-split records, and the LR and a phase's name per epoch beside them
    doc = {
        "train": [{"loss": 0.9 - e / 10, "accuracy": 0.5 + e / 10} for e in range(4)],
        "val": [{"loss": 1.0 - e / 10} for e in range(4)],
        "lr": [1e-3, 8e-4, 5e-4, 2e-4],
        "phase": ["warmup", "main", "main", "main"],
    }
    (run,) = load_into_memory(_write(tmp_path, doc))
    assert run.series[keys.LOSS].values.tolist() == pytest.approx([0.9, 0.8, 0.7, 0.6])
    assert run.series[keys.EVAL_LOSS].steps.tolist() == [1, 2, 3, 4]
    assert run.series[keys.LR].values.tolist() == [1e-3, 8e-4, 5e-4, 2e-4]


def test_a_list_longer_than_every_loss_is_per_example_not_per_log(tmp_path: Path) -> None:
    # ten epochs of loss and accuracy, then the held-out set's 256 labels and predictions
    doc = {
        "loss": [22.2 - e for e in range(10)],
        "val_accuracy": [44.5 + e for e in range(10)],
        "val_labels": [i % 2 for i in range(256)],
        "val_preds": [(i // 2) % 2 for i in range(256)],
    }
    (run,) = load_into_memory(_write(tmp_path, doc))
    assert run.series[keys.LOSS].steps.tolist() == list(range(1, 11))
    assert not any("preds" in k or "labels" in k for k in run.series)


def test_the_one_list_of_records_beside_a_config_holding_number_lists(tmp_path: Path) -> None:
    # a session file: its config holds a list of numbers (``betas``), which is no history
    epochs = [{"epoch": e, "train_loss": 1.2 - e / 10, "val_loss": 0.7 - e / 20} for e in (1, 2, 3)]
    doc = {"config": {"lr": 0.001, "betas": [0.9, 0.999]}, "best": {"epoch": 3}, "epochs": epochs}
    (run,) = load_into_memory(_write(tmp_path, doc, "training_log.json"))
    assert run.series[keys.LOSS].values.tolist() == pytest.approx([1.1, 1.0, 0.9])
    assert run.series[keys.EVAL_LOSS].values.tolist() == pytest.approx([0.65, 0.6, 0.55])


def test_a_metrics_list_of_epoch_value_points(tmp_path: Path) -> None:
    # each metric a list of {"epoch", "value"} points; the rate every second epoch
    doc = {
        "epoch_loss": [{"epoch": e, "value": 1.4 - e / 10} for e in range(6)],
        "dev_correctness_rate": [{"epoch": e, "value": 0.2 + e / 100} for e in (1, 3, 5)],
    }
    (run,) = load_into_memory(_write(tmp_path, doc, "training_logs.json"))
    assert run.series["train/epoch_loss"].values.tolist() == pytest.approx(
        [1.4, 1.3, 1.2, 1.1, 1.0, 0.9]
    )
    assert len(run.series["eval/correctness_rate"].values) == 3


def test_a_splits_total_of_fractions_is_its_loss_and_a_count_is_not(tmp_path: Path) -> None:
    # per epoch, each split's multi-part objective: its total beside its parts
    doc = {
        str(e): {
            "train": {"total": 0.5 / e, "detection": 0.4 / e, "reconstruction": 0.1 / e},
            "val": {"total": 0.6 / e + 0.01, "detection": 0.5 / e, "reconstruction": 0.1 / e},
        }
        for e in (1, 2, 3)
    }
    (run,) = load_into_memory(_write(tmp_path, doc, "training_log.json"))
    assert run.series[keys.LOSS].values.tolist() == pytest.approx([0.5, 0.25, 0.5 / 3])
    assert keys.EVAL_LOSS in run.series
    # a whole-number total (examples counted) names no loss
    counts = [{"train": {"total": 500, "correct": 400 + e}} for e in range(3)]
    with pytest.raises((ImportError_, UnknownFormatError)):
        load_into_memory(_write(tmp_path, counts, "counts.json"))


def test_a_summary_per_epoch_nesting_the_trainers_metrics_is_no_trainer_state(
    tmp_path: Path,
) -> None:
    metrics = {"loss": 4.57, "grad_norm": 7.8, "learning_rate": 1e-5, "step": 109.2}
    doc = {
        "config": {"num_epochs": 2, "logging_steps": 25},
        "metrics_history": {
            "step": [25, 50, 75, 100],
            "loss": [5.1, 4.8, 4.6, 4.5],
            "lr": [1e-6, 2e-6, 3e-6, 4e-6],
            "epoch": [0.25, 0.5, 0.75, 1.0],
        },
        "epoch_stats": [
            {"epoch": 0, "metrics": {**metrics, "eval_loss": 4.7}},
            {"epoch": 1, "metrics": {**metrics, "eval_loss": 4.6}},
        ],
    }
    path = _write(tmp_path, doc, "training_metrics.json")
    assert detect(path).name == "json_history"  # type: ignore[union-attr]
    (run,) = load_into_memory(path)
    assert run.series[keys.LOSS].values.tolist() == [5.1, 4.8, 4.6, 4.5]
    assert run.series[keys.LOSS].steps.tolist() == [25, 50, 75, 100]


def test_steps_listed_for_more_logs_than_the_losses_give_no_epochs(tmp_path: Path) -> None:
    # the step and epoch lists hold the evals' logs too (at 50 and 100): the losses' own
    # steps are unknown, and a loss's place in its list is no epoch
    doc = {
        "metrics_history": {
            "step": [25, 50, 50, 75, 100, 100],
            "epoch": [0.25, 0.5, 0.5, 0.75, 1.0, 1.0],
            "loss": [5.1, 4.8, 4.6, 4.5],
        }
    }
    (run,) = load_into_memory(_write(tmp_path, doc))
    assert run.series[keys.LOSS].steps.tolist() == [1, 2, 3, 4]
    assert keys.EPOCH not in run.series

"""Keras' logs: the ``CSVLogger`` file (``training.log``, one row per epoch counted from 0)
and the ``fit(verbose=2)`` console output, both written by Keras 3 (``make_keras.py``)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from tests.importers.importer_data import OTHER

from losslens import keys
from losslens.analysis import analyze
from losslens.errors import ImportError_
from losslens.importers import detect
from losslens.ingest import load_into_memory

KERAS = OTHER / "keras"


def _rows() -> list[dict[str, str]]:
    with open(KERAS / "training.log", newline="") as f:
        return list(csv.DictReader(f))


def test_a_csvlogger_file_is_stepped_by_its_epochs() -> None:
    path = KERAS / "training.log"
    assert detect(path).name == "csv"  # type: ignore[union-attr]
    (run,) = load_into_memory(path)
    rows = _rows()
    # the row of epoch 0 is logged when the first epoch is done: step 1, epoch 1
    done = [int(r["epoch"]) + 1 for r in rows]
    assert done == list(range(1, 13))  # the resumed fit appended epochs 8-11
    for key, col in (
        (keys.LOSS, "loss"),
        (keys.EVAL_LOSS, "val_loss"),
        (keys.LR, "learning_rate"),
        ("train/accuracy", "accuracy"),
        ("eval/accuracy", "val_accuracy"),
    ):
        assert run.series[key].steps.tolist() == done, key
        assert run.series[key].values.tolist() == pytest.approx([float(r[col]) for r in rows])
    assert run.series[keys.EPOCH].values.tolist() == done


def test_the_console_and_the_csvlogger_file_tell_the_same_run() -> None:
    csv_run, console_run = (load_into_memory(KERAS / n)[0] for n in ("training.log", "console.txt"))
    for key in (keys.LOSS, keys.EVAL_LOSS):
        a, b = csv_run.series[key], console_run.series[key]
        assert a.steps.tolist() == b.steps.tolist()
        assert b.values.tolist() == pytest.approx(a.values.tolist(), abs=5e-5)  # 4 decimals
    verdicts = [sorted(f.rule_id for f in analyze(r).findings) for r in (csv_run, console_run)]
    assert verdicts[0] == verdicts[1]


def test_an_epoch_column_counted_from_one_keeps_its_count(tmp_path: Path) -> None:
    path = tmp_path / "log.txt"
    path.write_text("epoch\ttrain_loss\tval_loss\n1\t0.9\t0.95\n2\t0.7\t0.8\n3\t0.6\t0.75\n")
    (run,) = load_into_memory(path)
    assert run.series[keys.LOSS].steps.tolist() == [1, 2, 3]
    assert run.series[keys.EPOCH].values.tolist() == [1, 2, 3]


def test_an_epoch_column_without_a_loss_is_no_log(tmp_path: Path) -> None:
    path = tmp_path / "table.csv"
    path.write_text("epoch,score\n0,0.5\n1,0.6\n")
    assert detect(path) is None or detect(path).name != "csv"  # type: ignore[union-attr]
    with pytest.raises(ImportError_, match="no step column"):
        load_into_memory(path, fmt="csv")


def test_a_bare_table_in_a_file_named_for_its_loss(tmp_path: Path) -> None:
    rows = "".join(f"{s},{5 - s / 100:.4f}\n" for s in range(100, 600, 100))
    path = tmp_path / "loss_log.txt"
    path.write_text(rows)
    (run,) = load_into_memory(path)
    assert run.series[keys.LOSS].steps.tolist() == [100, 200, 300, 400, 500]
    assert run.series[keys.LOSS].values.tolist() == pytest.approx([4.0, 3.0, 2.0, 1.0, 0.0])
    # the same rows under another name say nothing of what the value is
    other = tmp_path / "log.txt"
    other.write_text(rows)
    assert detect(other) is None


def test_a_saved_history_reads_as_the_csvlogger_file() -> None:
    # the first fit's ``History`` saved with json.dump and with pandas' to_csv (its index
    # column unnamed): one record per epoch, counted from 0, like CSVLogger's rows 0-7
    logger = load_into_memory(KERAS / "training.log")[0]
    for name, fmt in (("history.json", "json_history"), ("history.csv", "csv")):
        path = KERAS / name
        assert detect(path).name == fmt  # type: ignore[union-attr]
        (run,) = load_into_memory(path)
        for key in (keys.LOSS, keys.EVAL_LOSS, "eval/accuracy", keys.EPOCH):
            assert run.series[key].steps.tolist() == list(range(1, 9)), (name, key)
            want = logger.series[key].values.tolist()[:8]
            assert run.series[key].values.tolist() == pytest.approx(want), (name, key)


def test_a_table_with_no_step_or_epoch_column_steps_by_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text(
        "training_loss, training_acc, val_loss, val_acc\n0.9,0.5,1.0,0.4\n0.7,0.6,0.8,0.5\n"
    )
    (run,) = load_into_memory(path)
    assert run.series[keys.LOSS].steps.tolist() == [1, 2]
    assert run.series[keys.EVAL_LOSS].values.tolist() == [1.0, 0.8]
    assert run.series["train/acc"].values.tolist() == [0.5, 0.6]
    # a first line of values is no header: such a file is not read as a table
    other = tmp_path / "train.txt"
    other.write_text("epoch 1, loss 0.5, acc 0.9\nepoch 2, loss 0.4, acc 0.92\n")
    assert detect(other) is None or detect(other).name != "csv"  # type: ignore[union-attr]


def test_a_header_whose_names_end_in_an_index_is_a_header(tmp_path: Path) -> None:
    # per-class columns named ``Organ 1``, ``Organ 2``: names with an index, not values
    path = tmp_path / "training_metrics.csv"
    rows = "".join(f"{e},{2.0 / e:.6f},{0.1 * e:.4f},0.0,0.5\n" for e in range(1, 6))
    path.write_text("Epoch,TrainLoss,MeanDice,Organ 1,Organ 2\n" + rows)
    (run,) = load_into_memory(path)
    assert run.series[keys.LOSS].values.tolist() == pytest.approx([2.0, 1.0, 2 / 3, 0.5, 0.4])
    assert "train/Organ 1" in run.series

"""Plain-text logs that name their values in words or print their run as a table (stop 55)."""

from __future__ import annotations

from pathlib import Path

import pytest

from losslens import keys
from losslens.importers import detect
from losslens.ingest import load_into_memory


def _read(tmp_path: Path, text: str) -> dict[str, list[float]]:
    path = tmp_path / "training.log"
    path.write_text(text, encoding="utf-8")
    assert detect(path).name == "text_log"  # type: ignore[union-attr]
    (run,) = load_into_memory(path)
    return {k: s.values.tolist() for k, s in run.series.items()}


def test_a_value_named_for_an_epoch_is_that_epochs(tmp_path: Path) -> None:
    text = ""
    for ep in range(1, 6):
        text += f"2024-11-28 15:01:2{ep},773 - INFO - Epoch {ep}/50 started\n"
        text += f"2024-11-28 15:01:2{ep},774 - INFO - Average loss for epoch {ep}: {1 / ep:.4f}\n"
        text += (
            f"2024-11-28 15:01:2{ep},775 - INFO - Test accuracy after epoch {ep}: {80 + ep}.00%\n"
        )
    series = _read(tmp_path, text)
    assert series[keys.LOSS] == pytest.approx([1.0, 0.5, 0.3333, 0.25, 0.2])
    assert series["eval/accuracy"] == [81.0, 82.0, 83.0, 84.0, 85.0]


def test_a_split_before_a_loss_function_is_that_splits_loss(tmp_path: Path) -> None:
    text = "".join(
        f"[Batch {b}000] -> train MSE: 0.0{9 - b} MAE: 0.1{9 - b} | val MSE: 0.0{8 - b}\n"
        for b in range(1, 5)
    )
    series = _read(tmp_path, text)
    assert series[keys.LOSS] == pytest.approx([0.08, 0.07, 0.06, 0.05])
    assert series[keys.EVAL_LOSS] == pytest.approx([0.07, 0.06, 0.05, 0.04])
    assert series["train/mae"] == pytest.approx([0.18, 0.17, 0.16, 0.15])


def test_a_loss_function_beside_the_named_loss_keeps_its_own_name(tmp_path: Path) -> None:
    text = "".join(
        f"Epoch {ep} - Train Loss: {100 - ep}.5, Train MAE: {20 - ep}.25 months\n"
        for ep in range(1, 5)
    )
    series = _read(tmp_path, text)
    assert series[keys.LOSS] == [99.5, 98.5, 97.5, 96.5]
    assert series["train/mae"] == [19.25, 18.25, 17.25, 16.25]


def test_the_one_loss_a_counted_line_names_is_the_train_loss(tmp_path: Path) -> None:
    text = "".join(f"Epoch:{ep}, mask loss is {0.5 - ep / 20:.4f} \n" for ep in range(5))
    series = _read(tmp_path, text)
    assert series[keys.LOSS] == pytest.approx([0.5, 0.45, 0.4, 0.35, 0.3])


def test_a_record_or_a_batch_loss_is_not_the_train_loss(tmp_path: Path) -> None:
    text = ""
    for ep in range(1, 5):
        text += f"Epoch {ep} Step: {ep * 100} Batch Loss: {5 - ep}.5 Lr: 0.0002\n"
        text += f"Epoch {ep}: total training loss {800 - ep}.25\n"
        text += f"Epoch {ep}: best loss {3 - ep / 10:.2f}\n"
    series = _read(tmp_path, text)
    assert series[keys.LOSS] == [799.25, 798.25, 797.25, 796.25]
    assert series["train/batch_loss"] == [4.5, 3.5, 2.5, 1.5]


def test_a_printed_table_of_the_run(tmp_path: Path) -> None:
    text = " Epoch    Train Loss   Val Acc (%)  Test Acc (%)\n" + "-" * 50 + "\n"
    for ep, loss in enumerate((1.0204, 0.4649, 0.3651, 0.3080), start=1):
        text += f"{ep:6d}{loss:14.4f}{90 + ep:14.2f}{80 + ep:14.2f}\n"
    text += "-" * 50 + "\nFinal test accuracy: 84.00%\n"
    series = _read(tmp_path, text)
    assert series[keys.LOSS] == [1.0204, 0.4649, 0.3651, 0.308]
    assert series[keys.EPOCH] == [1.0, 2.0, 3.0, 4.0]


def test_a_printed_row_whose_step_is_no_number_is_skipped(tmp_path: Path) -> None:
    text = " Epoch    Train Loss   Val Acc (%)\n"
    text += "".join(f"{ep}  {1 / ep:.4f}  {80 + ep}\n" for ep in range(1, 5)) + "nan  0.1  90\n"
    series = _read(tmp_path, text)
    assert series[keys.LOSS] == [1.0, 0.5, 0.3333, 0.25]

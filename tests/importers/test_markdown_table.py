"""Markdown tables of a run, as a training script writes them or a README pastes them."""

from __future__ import annotations

from pathlib import Path

import pytest

from losslens import keys
from losslens.errors import ImportError_
from losslens.importers import detect
from losslens.importers.markdown_table import MarkdownTableImporter
from losslens.ingest import load_into_memory


def _write(tmp_path: Path, text: str, name: str = "training_log.md") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_script_written_table_with_spaced_headers_and_percentages(tmp_path: Path) -> None:
    text = "# Training\n\nSome prose first.\n\n"
    text += "| Epoch | Train Loss | Train Acc | Val Loss | Val Acc | Learning Rate |\n"
    text += "|-------|------------|-----------|----------|---------|---------------|\n"
    for epoch in range(4):
        text += f"| {epoch} | {7 - epoch} | {epoch}.5% | {7.5 - epoch} | {epoch}.25% | 0.003 |\n"
    text += "\nDone.\n"
    path = _write(tmp_path, text)
    assert detect(path).name == "markdown_table"  # type: ignore[union-attr]
    (run,) = load_into_memory(path)
    # the epoch counted from 0 is done at 1, one row per epoch; "Val Loss" is the eval loss
    assert run.series[keys.LOSS].steps.tolist() == [1, 2, 3, 4]
    assert run.series[keys.LOSS].values.tolist() == [7, 6, 5, 4]
    assert run.series[keys.EVAL_LOSS].values.tolist() == [7.5, 6.5, 5.5, 4.5]
    assert run.series["eval/acc"].values.tolist() == [0.25, 1.25, 2.25, 3.25]
    assert run.series[keys.LR].values.tolist() == [0.003] * 4


def test_a_step_column_steps_the_rows_and_a_timestamp_is_no_value(tmp_path: Path) -> None:
    text = "| Timestamp | Iteration | Training Loss | Learning Rate |\n|---|---:|---:|---:|\n"
    for it in (0, 10, 20, 30):
        text += f"| 2025-01-18 04:14:{it:02d} | {it} | {4 - it / 10} | 1.5e-06 |\n"
    (run,) = load_into_memory(_write(tmp_path, text))
    assert run.series[keys.LOSS].steps.tolist() == [0, 10, 20, 30]
    assert sorted(run.series) == [keys.LR, keys.LOSS]


def test_a_table_of_prose_cells_is_not_this_readers(tmp_path: Path) -> None:
    # rows of "Step 1,000/50,000 | Loss: 6.18" cells are the text log's lines
    text = "| Step | Loss | Learning Rate |\n|------|------|------|\n"
    text += "".join(f"| Step {s},000/50,000 | Loss: {8 - s:.4f} | LR: 2e-05 |\n" for s in (1, 2, 3))
    path = _write(tmp_path, text, "log.txt")
    assert not MarkdownTableImporter().sniff(path)
    with pytest.raises(ImportError_, match="no Markdown table"):
        list(MarkdownTableImporter().read(path))


def test_a_csv_header_of_spaced_words_names_the_losses(tmp_path: Path) -> None:
    # "Train Loss", "Valid Loss" (a table's header): the train and eval loss, as train_loss is
    text = "Epoch,Train Loss,Valid Loss,Valid Dice\n"
    text += "".join(f"{e},{1 - e / 10},{1.1 - e / 20},{0.5 + e / 50}\n" for e in range(5))
    (run,) = load_into_memory(_write(tmp_path, text, "history.csv"))
    assert run.series[keys.LOSS].values.tolist() == pytest.approx([1, 0.9, 0.8, 0.7, 0.6])
    assert run.series[keys.EVAL_LOSS].values.tolist()[-1] == pytest.approx(0.9)
    assert "eval/dice" in run.series


def test_a_settings_table_before_the_log_is_skipped(tmp_path: Path) -> None:
    text = "| Setting | Value |\n|---|---|\n| Loss | cross-entropy |\n| LR | 3e-4 |\n\n"
    text += "| step | loss |\n|---|---|\n" + "".join(
        f"| {s} | {3 - s / 100} |\n" for s in (10, 20, 30)
    )
    (run,) = load_into_memory(_write(tmp_path, text))
    assert run.series[keys.LOSS].steps.tolist() == [10, 20, 30]


def test_a_table_saved_with_a_byte_order_mark_is_found_as_it_is_read(tmp_path: Path) -> None:
    text = "\ufeff| step | loss |\n|---|---|\n" + "".join(f"| {s} | {1 / s} |\n" for s in (1, 2, 3))
    assert MarkdownTableImporter().sniff(_write(tmp_path, text))

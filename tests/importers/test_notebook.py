"""The Trainer's notebook progress table, copied out of Jupyter or Colab as text."""

from __future__ import annotations

from pathlib import Path

import pytest

from losslens import keys
from losslens.errors import ImportError_
from losslens.importers import detect
from losslens.importers.hf_notebook import read_notebook_table
from losslens.ingest import load_into_memory

STEP_TABLE = (
    " [60/60 00:40, Epoch 2/2]\n"
    "Step\tTraining Loss\tValidation Loss\tAccuracy\n"
    "20\t2.139300\tNo log\tNo log\n"
    "40\t1.266900\t1.301000\t0.700000\n"
    "60\t0.998700\t1.250000\t0.750000\n"
)


def _write(tmp_path: Path, text: str, name: str = "colab.txt") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_a_step_table_with_no_log_cells(tmp_path: Path) -> None:
    p = _write(tmp_path, STEP_TABLE)
    assert detect(p).name == "hf_notebook"
    run = load_into_memory(p)[0]
    assert list(run.series[keys.LOSS].steps) == [20, 40, 60]
    assert list(run.series[keys.EVAL_LOSS].steps) == [40, 60]
    assert list(run.series["eval/accuracy"].values) == [0.7, 0.75]
    assert run.info.config["max_steps"] == 60


def test_an_epoch_table_is_placed_at_epoch_times_steps_per_epoch(tmp_path: Path) -> None:
    text = (
        " [90/90 01:10, Epoch 3/3]\n"
        "Epoch\tTraining Loss\tValidation Loss\tF1\n"
        "1\t0.512300\t0.423400\t0.80\n"
        "2\t0.312300\t0.393400\t0.83\n"
        "3\t0.112300\t0.453400\t0.84\n"
    )
    run = load_into_memory(_write(tmp_path, text))[0]
    assert list(run.series[keys.EVAL_LOSS].steps) == [30, 60, 90]
    assert list(run.series[keys.EPOCH].values) == [1.0, 2.0, 3.0]


def test_a_table_copied_with_single_spaces_keeps_the_two_word_names(tmp_path: Path) -> None:
    text = "Step Training Loss Validation Loss\n5 2.3456 2.4000\n10 2.1234 2.2000\n"
    run = load_into_memory(_write(tmp_path, text))[0]
    assert list(run.series[keys.LOSS].values) == [2.3456, 2.1234]
    assert list(run.series[keys.EVAL_LOSS].values) == [2.4, 2.2]


def test_an_epoch_table_without_its_progress_line_says_how_it_was_placed(tmp_path: Path) -> None:
    text = "Epoch\tTraining Loss\tValidation Loss\n1\t0.5\t0.4\n2\t0.3\t0.35\n"
    imported = read_notebook_table(_write(tmp_path, text))
    assert any("epoch numbers" in w for w in imported.warnings)


def test_a_header_without_rows_is_a_plain_error(tmp_path: Path) -> None:
    with pytest.raises(ImportError_, match="no Trainer notebook table"):
        read_notebook_table(_write(tmp_path, "Step\tTraining Loss\n"))


def test_a_row_whose_first_cell_is_not_a_step_is_dropped_with_a_warning(tmp_path: Path) -> None:
    text = "Epoch\tTraining Loss\n1e400\t0.5\n2\t0.4\n3\t0.3\n"
    imported = read_notebook_table(_write(tmp_path, text))
    run = load_into_memory(_write(tmp_path, text, "again.txt"))[0]
    assert list(run.series[keys.LOSS].steps) == [2, 3]
    assert any("dropped 1 record" in w for w in imported.warnings)


def test_a_step_table_gets_the_epoch_of_each_row_from_the_progress_line(tmp_path: Path) -> None:
    (run,) = load_into_memory(_write(tmp_path, STEP_TABLE))  # [60/60 ..., Epoch 2/2]
    assert list(run.series[keys.EPOCH].steps) == [20, 40, 60]
    assert list(run.series[keys.EPOCH].values) == pytest.approx([2 / 3, 4 / 3, 2.0])
    # saved mid-run: the Trainer writes the epoch with two decimals
    text = STEP_TABLE.replace("[60/60 00:40, Epoch 2/2]", "[40/90 00:40 < 00:50, Epoch 1.33/3]")
    (run,) = load_into_memory(_write(tmp_path, text, "mid.txt"))
    assert run.series[keys.EPOCH].values[-1] == pytest.approx(60 / (40 / 1.33))
    # a run cut short by max_steps ends showing int(epoch): it stopped inside the next epoch
    text = STEP_TABLE.replace("[60/60 00:40, Epoch 2/2]", "[60/60 00:40, Epoch 1/2]")
    (run,) = load_into_memory(_write(tmp_path, text, "cut.txt"))
    assert run.series[keys.EPOCH].values[-1] == pytest.approx(1.5)
    # a run still in its first epoch at the end does not say how long an epoch is
    text = STEP_TABLE.replace("[60/60 00:40, Epoch 2/2]", "[60/60 00:40, Epoch 0/1]")
    (run,) = load_into_memory(_write(tmp_path, text, "short.txt"))
    assert keys.EPOCH not in run.series
    # a damaged epoch in the progress line is no epoch, not a crash
    text = STEP_TABLE.replace("[60/60 00:40, Epoch 2/2]", "[60/60 00:40, Epoch 1.2.3/2]")
    (run,) = load_into_memory(_write(tmp_path, text, "damaged.txt"))
    assert keys.EPOCH not in run.series
    assert list(run.series[keys.LOSS].steps) == [20, 40, 60]


def test_a_table_pasted_into_a_github_issue_is_a_markdown_pipe_table(tmp_path: Path) -> None:
    # GitHub's editor turns a table pasted from a notebook into Markdown: with outer pipes
    # and a |---| rule, or without them and a -- rule, an empty cell where "No log" was
    outer = (
        "My run overfits:\n\n [60/60 00:31, Epoch 3/3]\n"
        "| Step | Training Loss | Validation Loss | Accuracy |\n|---|---|---|---|\n"
        "| 20 | 2.345600 | 2.123400 | 0.51 |\n| 40 | 2.100000 | 2.000000 | 0.55 |\n"
        "| 60 | 1.900000 | 2.050000 | 0.54 |\n\nAny idea?\n"
    )
    bare = (
        "Step | Training Loss | Validation Loss\n-- | -- | --\n"
        "10 | 2.3456 | \n20 | 2.1 | 2.0\n30 | 1.9 | 1.95\n"
    )
    for name, text in (("issue.md", outer), ("paste.txt", bare)):
        p = _write(tmp_path, text, name)
        assert detect(p).name == "hf_notebook"
        run = load_into_memory(p)[0]
        assert list(run.series[keys.LOSS].steps) == (
            [20, 40, 60] if name == "issue.md" else [10, 20, 30]
        )
        assert run.series[keys.EVAL_LOSS].values.size == (3 if name == "issue.md" else 2)
    assert list(load_into_memory(tmp_path / "issue.md")[0].series[keys.EPOCH].values) == [1, 2, 3]


def test_the_training_results_table_of_a_trainer_model_card(tmp_path: Path) -> None:
    # the README.md the Trainer writes has the table with Training Loss first, then Epoch
    # and Step; "No log" where no train loss was logged before the eval
    card = (
        "---\nlicense: apache-2.0\ntags:\n- generated_from_trainer\n---\n\n# my-model\n\n"
        "### Training results\n\n"
        "| Training Loss | Epoch | Step | Validation Loss | Accuracy |\n"
        "|:-------------:|:-----:|:----:|:---------------:|:--------:|\n"
        "| No log        | 1.0   | 63   | 0.6931          | 0.50     |\n"
        "| 0.5219        | 2.0   | 126  | 0.4944          | 0.76     |\n"
        "| 0.3071        | 3.0   | 189  | 0.6225          | 0.75     |\n\n"
        "### Framework versions\n\n- Transformers 4.24.0\n"
    )
    p = _write(tmp_path, card, "README.md")
    assert detect(p).name == "hf_notebook"
    (run,) = load_into_memory(p)
    assert list(run.series[keys.LOSS].steps) == [126, 189]
    assert list(run.series[keys.LOSS].values) == [0.5219, 0.3071]
    assert list(run.series[keys.EVAL_LOSS].steps) == [63, 126, 189]
    assert list(run.series["eval/accuracy"].values) == [0.5, 0.76, 0.75]
    assert list(run.series[keys.EPOCH].values) == [1.0, 2.0, 3.0]

"""A notebook (.ipynb) saved with the Trainer's outputs, as a real Jupyter kernel wrote it.

``other/trainer_run.ipynb`` (``make_notebook.py``) trains the same tiny run twice: cell 2
draws the Trainer's HTML table, cell 3 prints its ``{'loss': ...}`` lines.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from importer_data import OTHER

from losslens import keys
from losslens.errors import ImportError_
from losslens.importers import detect, scan
from losslens.ingest import load_into_memory

NOTEBOOK = OTHER / "trainer_run.ipynb"


def _notebook() -> dict[str, Any]:
    nb: dict[str, Any] = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    return nb


def _write(tmp_path: Path, nb: dict[str, Any], name: str = "colab.ipynb") -> Path:
    p = tmp_path / name
    p.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    return p


def test_the_table_and_the_printed_lines_of_one_run_agree() -> None:
    assert detect(NOTEBOOK).name == "jupyter"
    table, printed = load_into_memory(NOTEBOOK)
    assert (table.info.name, printed.info.name) == ("trainer_run (cell 2)", "trainer_run (cell 3)")
    # with an eval set the notebook table has a row at each evaluation only
    assert list(table.series[keys.LOSS].steps) == [8, 16, 24]
    assert list(table.series[keys.EVAL_LOSS].steps) == [8, 16, 24]
    assert list(printed.series[keys.LOSS].steps) == list(range(1, 25))
    assert list(printed.series[keys.EVAL_LOSS].steps) == [8, 16, 24]
    assert table.info.config["max_steps"] == printed.info.config["max_steps"] == 24
    assert table.info.config["num_train_epochs"] == 4
    at = dict(zip(printed.series[keys.LOSS].steps, printed.series[keys.LOSS].values, strict=True))
    for step, value in zip(
        table.series[keys.LOSS].steps, table.series[keys.LOSS].values, strict=True
    ):
        assert value == pytest.approx(at[step], abs=6e-4)  # printed with 4 significant digits
    for a, b in zip(
        table.series[keys.EVAL_LOSS].values, printed.series[keys.EVAL_LOSS].values, strict=True
    ):
        assert a == pytest.approx(b, abs=6e-4)
    assert keys.LR in printed.series and keys.LR not in table.series
    # the table's rows carry the epoch the progress line implies, as the printed lines say it
    ep, tab = printed.series[keys.EPOCH], table.series[keys.EPOCH]
    epochs = dict(zip(ep.steps, ep.values, strict=True))
    for step, value in zip(tab.steps, tab.values, strict=True):
        assert value == pytest.approx(epochs[step], abs=1e-3)


def test_one_training_cell_is_one_run_named_after_the_notebook(tmp_path: Path) -> None:
    nb = _notebook()
    del nb["cells"][3]
    (run,) = load_into_memory(_write(tmp_path, nb))
    assert run.info.name == "colab"
    assert len(run.series[keys.LOSS].values) == 3


def _history() -> list[dict[str, Any]]:
    """The log history of the printed run, as ``trainer.state.log_history`` holds it."""
    printed = load_into_memory(NOTEBOOK)[1]
    loss, lr, ep = (printed.series[k] for k in (keys.LOSS, keys.LR, keys.EPOCH))
    history: list[dict[str, Any]] = []
    for step, value, rate, epoch in zip(loss.steps, loss.values, lr.values, ep.values, strict=True):
        at = {"epoch": float(epoch), "step": int(step)}
        history.append({"loss": float(value), "learning_rate": float(rate), **at})
        if step % 8 == 0:
            history.append({"eval_loss": 5.0 + int(step) / 100, **at})
    history.append({"train_runtime": 3.5, "train_loss": 2.0, "epoch": 4.0, "step": 24})
    return history


@pytest.mark.parametrize("shown", ["displayed", "printed as JSON"])
def test_a_cell_that_shows_the_log_history_is_the_run(tmp_path: Path, shown: str) -> None:
    import pprint

    history = _history()
    nb = _notebook()
    del nb["cells"][3]
    cell = nb["cells"][2]
    if shown == "displayed":  # the cell's last line is trainer.state.log_history
        out = {"output_type": "execute_result", "execution_count": 9, "metadata": {}}
        out["data"] = {"text/plain": pprint.pformat(history).splitlines(keepends=True)}
    else:  # print(json.dumps(trainer.state.log_history, indent=2))
        text = json.dumps(history, indent=2) + "\n"
        out = {"output_type": "stream", "name": "stdout", "text": text}
    cell["outputs"].append(out)
    p = _write(tmp_path, nb)
    assert detect(p).name == "jupyter"
    (run,) = load_into_memory(p)
    # the history has every log; the cell's table has a row at each evaluation only
    assert list(run.series[keys.LOSS].steps) == list(range(1, 25))
    assert list(run.series[keys.EVAL_LOSS].steps) == [8, 16, 24]
    assert keys.LR in run.series and run.info.summary["train_runtime"] == 3.5
    del cell["outputs"][:-1]  # the history alone
    (alone,) = load_into_memory(_write(tmp_path, nb, "alone.ipynb"))
    assert list(alone.series[keys.LOSS].steps) == list(range(1, 25))


def test_a_notebook_without_outputs_says_what_to_do(tmp_path: Path) -> None:
    nb = _notebook()
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["source"] = "".join(cell["source"]) + "\nprint({'loss': 2.8, 'epoch': 0.1})"
    p = _write(tmp_path, nb)
    assert "print({'loss': 2.8" in p.read_text(encoding="utf-8")
    with pytest.raises(ImportError_, match="no training log in this notebook's saved"):
        load_into_memory(p)
    # in a folder, a notebook with no training output is skipped, never read as a log from
    # the dicts in its code
    assert scan(tmp_path).found == []


def test_a_damaged_notebook_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    p = tmp_path / "cut.ipynb"
    p.write_text(NOTEBOOK.read_text(encoding="utf-8")[:300], encoding="utf-8")
    with pytest.raises(ImportError_, match="not a readable notebook"):
        load_into_memory(p)


def test_the_outputs_of_a_notebook_broken_elsewhere_are_read_with_a_note(tmp_path: Path) -> None:
    """A quote left unescaped in a code cell's source (oc001's source) breaks the JSON of the
    whole file; the training cell's outputs still parse on their own and are read."""
    nb = _notebook()
    del nb["cells"][3]
    (whole,) = load_into_memory(_write(tmp_path, nb, "whole.ipynb"))
    nb["cells"][0]["source"] = ["x = 'SPLIT_HERE'\n"]
    text = json.dumps(nb, indent=1).replace("SPLIT_HERE", 'a": "b')
    broken = tmp_path / "broken.ipynb"
    broken.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError):
        json.loads(text)
    assert detect(broken).name == "jupyter"
    (run,) = load_into_memory(broken)
    assert list(run.series[keys.LOSS].values) == list(whole.series[keys.LOSS].values)
    assert any("JSON is broken" in w for w in run.info.summary["import_warnings"])


def test_a_notebook_exported_to_markdown_keeps_its_html_table() -> None:
    exported = OTHER / "trainer_run_table.md"  # nbconvert --to markdown of cells 1-2
    assert detect(exported).name == "hf_notebook"
    (md,) = load_into_memory(exported)
    table = load_into_memory(NOTEBOOK)[0]
    for key in (keys.LOSS, keys.EVAL_LOSS):
        assert list(md.series[key].steps) == list(table.series[key].steps) == [8, 16, 24]
        assert list(md.series[key].values) == list(table.series[key].values)
    assert md.info.config == {"max_steps": 24, "num_train_epochs": 4}


def _with_dict_cells(tmp_path: Path, column: str, cells: list[str]) -> Path:
    """The fixture notebook with one more column in its Trainer table, each cell holding a
    dict as ``compute_metrics`` returning ``evaluate``'s result under a key shows it."""
    nb = _notebook()
    out = next(o for o in nb["cells"][2]["outputs"] if "text/html" in o.get("data", {}))
    html = "".join(out["data"]["text/html"])
    html = html.replace("<th>Validation Loss</th>", f"<th>Validation Loss</th><th>{column}</th>")
    parts = html.split("</tr>")
    rows = [i for i, part in enumerate(parts) if "<td>" in part]
    for i, cell in zip(rows, cells, strict=True):
        parts[i] += f"<td>{cell}</td>\n"
    out["data"]["text/html"] = "</tr>".join(parts)
    nb["cells"] = nb["cells"][:3]  # the table's cell only
    return _write(tmp_path, nb)


@pytest.mark.parametrize(
    ("column", "cells", "want"),
    [
        (
            "Accuracy",
            ["{'accuracy': 0.862}", "{'accuracy': 0.849}", "{'accuracy': 0.885}"],
            {"eval/accuracy": [0.862, 0.849, 0.885]},
        ),
        (
            "Scores",
            ["{'precision': 0.5, 'recall': 0.25}"] * 3,
            {"eval/precision": [0.5] * 3, "eval/recall": [0.25] * 3},
        ),
    ],
)
def test_metric_cells_that_hold_a_dict_are_read_as_their_numbers(
    tmp_path: Path, column: str, cells: list[str], want: dict[str, list[float]]
) -> None:
    (run,) = load_into_memory(_with_dict_cells(tmp_path, column, cells))
    assert list(run.series[keys.LOSS].steps) == [8, 16, 24]
    assert list(run.series[keys.EVAL_LOSS].steps) == [8, 16, 24]
    for key, values in want.items():
        assert list(run.series[key].values) == values


def test_a_cell_printing_a_custom_loop_s_progress_is_read_as_a_text_log(tmp_path: Path) -> None:
    # a Keras fit printed in a cell: ``Epoch e/E``, then a bar redrawn through the epoch that
    # ends on the epoch's summary (loss, accuracy, val_loss, val_accuracy)
    text = ""
    for ep in range(1, 5):
        text += f"Epoch {ep}/4\n"
        for batch in (1, 50, 100):
            loss = 0.7 - ep / 20 - batch / 10_000
            text += f"\r{batch:3d}/100 [======] - ETA: 0s - loss: {loss:.4f} - accuracy: 0.6"
        text += f" - val_loss: {0.7 - ep / 40:.4f} - val_accuracy: 0.{60 + ep}\n"
    nb = _notebook()
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    for cell in code:
        cell["outputs"] = []
    code[0]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": text}]
    p = _write(tmp_path, nb)
    assert detect(p).name == "jupyter"  # type: ignore[union-attr]
    (run,) = load_into_memory(p)
    assert list(run.series[keys.LOSS].steps) == [1, 2, 3, 4]
    assert list(run.series[keys.LOSS].values) == pytest.approx([0.64, 0.59, 0.54, 0.49])
    assert list(run.series[keys.EVAL_LOSS].values) == pytest.approx([0.675, 0.65, 0.625, 0.6])
    assert list(run.series[keys.EPOCH].values) == [1.0, 2.0, 3.0, 4.0]
    assert run.info.config["max_steps"] == 4

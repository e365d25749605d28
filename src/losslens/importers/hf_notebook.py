"""The Trainer's notebook progress table (Jupyter, Colab), copied out of the notebook as text,
and the same table in the model card (``README.md``) the Trainer writes.

In a notebook the Hugging Face Trainer draws a table instead of printing ``{'loss': ...}``:

    [60/60 00:40, Epoch 1/1]
    Step	Training Loss	Validation Loss	Accuracy
    10	2.139300	No log	...

Copied, each row becomes a line of tab- (or space-) separated cells. The first column is
``Step``, or ``Epoch`` when the Trainer evaluates once per epoch; then ``Training Loss``,
``Validation Loss`` and the eval metrics (the ``compute_metrics`` names without ``eval_``,
title-cased). ``No log`` is a cell with no value. The progress line above the table gives the
planned steps and epochs and the steps per epoch; each row then carries both its step and its
epoch, as a ``trainer_state.json`` entry does: an epoch table is placed at ``epoch × steps per
epoch`` (at the epoch number itself, with a warning, when the line is missing), and a step
table's row gets ``epoch = step / steps per epoch`` (no epoch without the line).
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from losslens.errors import ImportError_
from losslens.importers.base import (
    KeyMap,
    StepGuard,
    check_readable,
    display_path,
    file_hash,
    read_text,
    run_from_rows,
    scalar,
    text_log_head,
)
from losslens.model import ImportedRun
from losslens.numeric import as_step

_HEADER = re.compile(r"^[ \t]*(Step|Epoch)[ \t]+Training Loss\b.*$", re.MULTILINE)
_PROGRESS = re.compile(r"\[\s*(\d+)/(\d+)\b[^\]]*?Epoch\s+([\d.]+)/(\d+)\s*\]")
_TWO_WORD = ("Training Loss", "Validation Loss")
_PIPE_HEADER = re.compile(
    r"^[ \t]*\|?[ \t]*(?:(?:Step|Epoch)[ \t]*\|[ \t]*Training Loss\b"
    r"|Training Loss[ \t]*\|[ \t]*Epoch[ \t]*\|[ \t]*Step\b)",
    re.MULTILINE,
)
#: The model card's order (``Training Loss | Epoch | Step | Validation Loss``), and the
#: notebook's that its rows are read in.
_CARD_ORDER = ("Training Loss", "Epoch", "Step")
_NOTEBOOK_ORDER = ("Step", "Training Loss", "Epoch")
_RULE = re.compile(r":?-+:?")
_NO_LOG = "No log"
#: A cell holding a small dict literal of names and numbers, as a metric that returned a dict
_DICT_CELL = re.compile(r"\{\s*'[\w\-/ .]{1,64}'\s*:[^{}]{1,400}\}")
#: the table's own names, as the rows of a trainer_state.json would have them
_KEYS = {"Training Loss": "loss", "Validation Loss": "eval_loss", "Epoch": "epoch"}


#: The header cell that marks the Trainer's table in a notebook's HTML output.
HTML_TABLE_MARK = "Training Loss</th>"


class _HTMLTable(HTMLParser):
    """The Trainer's HTML progress output as the text a user would copy: the progress
    line, then one tab-separated line per table row."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()) or "No log")
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.lines.append("\t".join(self._row))
            self._row = None
        elif tag == "div":
            line = " ".join("".join(self._text).split())
            if line:
                self.lines.append(line)
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        elif self._row is None:
            self._text.append(data)


def html_table_text(html: str) -> str:
    """The Trainer's HTML progress output (a notebook's saved display, or a notebook exported
    to Markdown or HTML) as the text a user would copy out of it."""
    parser = _HTMLTable()
    parser.feed(html)
    parser.close()
    return "\n".join(parser.lines)


def _columns(header: str) -> list[str]:
    """The header's cells: tab-separated, else separated by 2+ spaces, else by single spaces
    with the two-word loss names kept whole (the metric names of one word each)."""
    line = header.strip()
    if "\t" in line:
        return [c.strip() for c in line.split("\t") if c.strip()]
    if re.search(r" {2,}", line):
        return [c.strip() for c in re.split(r" {2,}", line) if c.strip()]
    for name in _TWO_WORD:
        line = line.replace(name, name.replace(" ", "\0"))
    return [c.replace("\0", " ") for c in line.split()]


def _cells(line: str) -> list[str]:
    """A row's cells: tab-separated when the row has tabs (the HTML table's own cells, which
    may hold spaces: ``{'accuracy': 0.862}``), else whitespace-separated."""
    if "\t" in line:
        return [c.strip() for c in line.strip().split("\t")]
    return line.replace(_NO_LOG, "NoLog").split()


def _cell_values(column: str, cell: str) -> dict[str, float]:
    """The metric values of one cell: a number under its column's key; a dict of numbers
    (``{'accuracy': 0.862}``, a ``compute_metrics`` that returned ``evaluate``'s result
    inside a key) under the column's key when it holds one, else under each of its own keys;
    nothing for ``No log`` or any other text."""
    value = scalar(cell)
    if value is not None:
        return {_key(column): value}
    if not _DICT_CELL.fullmatch(cell):
        return {}
    try:
        found = ast.literal_eval(cell)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return {}
    numbers = {str(k): v for k, v in found.items() if scalar(v) is not None}
    if len(numbers) == 1 and len(found) == 1:
        return {_key(column): float(next(iter(numbers.values())))}
    return {_key(k): float(v) for k, v in numbers.items()}


def _key(column: str) -> str:
    """``Accuracy`` -> ``eval_accuracy``: the table shows eval metrics without the prefix."""
    return _KEYS.get(column) or "eval_" + re.sub(r"\W+", "_", column.strip().lower()).strip("_")


def _table(text: str) -> tuple[list[str], list[list[str]]] | None:
    """The header's columns and the rows of the first table in ``text`` (2 rows at least)."""
    m = _HEADER.search(text)
    if m is None:
        return None
    cols = _columns(m.group(0))
    rows: list[list[str]] = []
    for line in text[m.end() :].splitlines():
        if not line.strip():
            continue
        cells = _cells(line)
        if len(cells) != len(cols) or scalar(cells[0]) is None:
            if rows:
                break
            continue
        rows.append(cells)
    return (cols, rows) if len(rows) >= 2 else None


class HFNotebookImporter:
    name = "hf_notebook"
    description = (
        "Hugging Face Trainer table (Step | Training Loss | Validation Loss) of a notebook "
        "or a model card"
    )

    def sniff(self, path: Path) -> bool:
        head = text_log_head(path, 1 << 16)
        if head is None:
            return False
        text = head.decode("utf-8", "replace")
        return _table(_plain(text)) is not None

    def claims(self, path: Path) -> bool:
        return False  # a .txt is a console paste first; the table is found by its content

    def read(self, path: Path) -> Iterator[ImportedRun]:
        yield read_notebook_table(path)


def _plain(text: str) -> str:
    """``text``, or the table text of the Trainer's HTML table in it (a notebook exported to
    Markdown or HTML keeps the table as HTML), or of a Markdown pipe table."""
    if HTML_TABLE_MARK in text:
        return html_table_text(text)
    return _unpipe(text) if _PIPE_HEADER.search(text) else text


def _unpipe(text: str) -> str:
    """A Markdown pipe table as the tab-separated lines of the copied table: GitHub's editor
    turns a table pasted from a notebook into one (``Step | Training Loss | ...`` with or
    without outer pipes, a ``-- | --`` rule under the header, an empty cell where the
    notebook had none). The model card the Trainer writes (``README.md``, "Training results")
    has the same table with its first columns in another order, ``Training Loss | Epoch |
    Step``: its rows are read as the notebook's, ``Step`` first and the epoch of each row
    kept. Lines that are not table rows stay as they are."""
    header = _PIPE_HEADER.search(text)
    outer = header is not None and header.group(0).strip().startswith("|")
    card = header is not None and header.group(0).strip(" \t|").startswith(_CARD_ORDER[0])
    out: list[str] = []
    for line in text.splitlines():
        s = line.strip()
        if s.count("|") < 2:
            out.append(line)
            continue
        if outer:  # | a | b |: the outer pipes close the row (else a last "|" ends an empty cell)
            s = s.removeprefix("|").removesuffix("|")
        cells = [c.strip() for c in s.split("|")]
        if all(_RULE.fullmatch(c) for c in cells):
            continue  # the rule under the header
        if card and len(cells) >= len(_CARD_ORDER):
            cells = [cells[_CARD_ORDER.index(c)] for c in _NOTEBOOK_ORDER] + cells[
                len(_CARD_ORDER) :
            ]
        out.append("\t".join(c or _NO_LOG for c in cells))
    return "\n".join(out)


def read_notebook_table(path: Path) -> ImportedRun:
    check_readable(path)
    text = read_text(path)
    run = table_run(
        _plain(text),
        name=path.stem,
        source=display_path(path),
        source_id="hf_notebook:" + file_hash(path),
    )
    if run is None:
        raise ImportError_(
            "no Trainer notebook table (Step | Training Loss ...) with 2 rows or more found",
            "copy the whole table from the notebook, its header line included",
            path=str(path),
        )
    return run


def _steps_per_epoch(progress: re.Match[str]) -> float:
    """Optimizer steps per epoch from the progress line ``[n/N ..., Epoch e/E]`` (0 when it
    cannot tell). During training the Trainer writes the epoch with two decimals (an integral
    one as an integer), so ``n / e``; at the end it writes ``int(epoch)``: a run that did all
    ``E`` planned epochs ends at ``e == E`` (``N / E`` exactly), one cut short by ``max_steps``
    ended inside epoch ``e + 1``, taken at its middle (at most half an epoch off). A run still
    in its first epoch at the end (``e`` 0) does not say."""
    n, total, planned = (float(progress.group(i)) for i in (1, 2, 4))  # digits only
    shown = scalar(progress.group(3))  # digits and dots: "1.2.3" is no epoch
    if n <= 0 or shown is None or shown <= 0:
        return 0.0
    if n < total or "." in progress.group(3):
        return n / shown
    return n / shown if shown >= planned else n / (shown + 0.5)


def table_run(
    text: str, *, name: str, source: str, source_id: str, fmt: str = "hf_notebook"
) -> ImportedRun | None:
    """The run of the first Trainer table in ``text`` (its progress line above it gives the
    planned steps and epochs), or None when there is no table of 2 rows or more."""
    found = _table(text)
    if found is None:
        return None
    cols, table = found
    warnings: list[str] = []
    config: dict[str, Any] = {}
    progress = _PROGRESS.search(text)
    spe = 0.0
    if progress and as_step(progress.group(2)) and as_step(progress.group(4)):
        config["max_steps"] = as_step(progress.group(2))
        config["num_train_epochs"] = as_step(progress.group(4))
        spe = _steps_per_epoch(progress)
    per_epoch = cols[0] == "Epoch"
    if per_epoch and not spe:
        warnings.append(
            "an epoch table without its progress line ([N/N ..., Epoch E/E]): "
            "steps are the epoch numbers"
        )
    guard = StepGuard(warnings)
    rows: list[tuple[int, float | None, dict[str, Any]]] = []
    for cells in table:
        first = float(cells[0])  # _table kept only rows whose first cell is a number
        at = first * spe if per_epoch and spe else first
        step = guard(round(at) if math.isfinite(at) else at)
        if step is None:
            continue
        epoch = first if per_epoch else first / spe if spe else None
        train: dict[str, Any] = {} if epoch is None else {"epoch": epoch}
        evals: dict[str, Any] = {}
        for col, cell in zip(cols[1:], cells[1:], strict=True):
            for key, value in _cell_values(col, cell).items():
                if key == "epoch":  # a model card's own Epoch column: both logs' epoch
                    train[key] = evals[key] = value
                else:
                    (train if key == "loss" else evals)[key] = value
        if train.keys() - {"epoch"}:
            rows.append((step, None, train))
            evals.pop("epoch", None)  # one epoch per step
        if evals.keys() - {"epoch"}:
            rows.append((step, None, evals))
    return run_from_rows(
        name=name,
        fmt=fmt,
        source=source,
        source_id=source_id,
        rows=rows,
        keymap=KeyMap(),
        config=config,
        warnings=warnings,
    )

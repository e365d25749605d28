"""Markdown tables of a training run, written by a script or pasted into a README::

    | epoch | lr       | train_loss | train_top1 | val_loss | val_top1 |
    |------:|---------:|-----------:|-----------:|---------:|---------:|
    | 1     | 0.010554 | 4.3163     | 5.04       | 3.6953   | 12.60    |

A table is a header row naming a loss column, a separator row (``|---|:--:|``), then rows of
cells apart by ``|``. Its columns are read by their names, as a CSV table's are: a step column
(``step``, ``iteration``, ``global_step`` ...) steps the rows; with none, an ``epoch`` column
steps one row per epoch (an epoch counted from 0 is done at 1, as in Keras' ``CSVLogger``);
with neither, the rows in order. A cell is a number (``0.11%`` is 0.11); any other cell (a
timestamp, a note) is no value. Only rows whose step and whose first loss column are numbers
count, and a table needs 3 of them: a table of prose (``| Step 1,000/50,000 | Loss: 6.18 |``
rows) is the text log's. The Trainer's own notebook and model-card tables (``Training Loss``
beside ``Step`` or ``Epoch``) are ``hf_notebook``'s, read before this one. The first such table
in the file with 3 such rows is the run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from losslens.errors import ImportError_
from losslens.importers.base import check_readable, file_run, head_lines, read_text, scalar
from losslens.importers.csv_table import EPOCH_COLUMN, STEP_COLUMNS
from losslens.model import ImportedRun

_ROW = re.compile(r"^\s*\|(?P<cells>.*)\|\s*$")
_SEPARATOR = re.compile(r"^\s*\|?(?:\s*:?-{3,}:?\s*\|)+\s*(?::?-{3,}:?\s*)?$")
_GAP = re.compile(r"\s{2,}|\t")
_RULE = re.compile(r"\s*+[-=]{3}[-=\s]*+$")
_MIN_ROWS = 3
_SNIFF_BYTES = 1 << 16


def _cells(line: str) -> list[str] | None:
    m = _ROW.match(line)
    return [c.strip() for c in m.group("cells").split("|")] if m else None


def _number(cell: str) -> float | None:
    """A cell's number as a CSV cell's is read (:func:`scalar`), a code span's backticks and a
    percent sign around it dropped."""
    return scalar(cell.replace("`", "").strip().removesuffix("%"))


def _tables(lines: list[str]) -> Iterator[tuple[list[str], list[list[str]]]]:
    """The header and the rows of each table that names a loss column, in order."""
    for i in range(len(lines) - 1):
        names = _cells(lines[i])
        if names is None or not _SEPARATOR.match(lines[i + 1]):
            continue
        if not any("loss" in n.lower() for n in names):
            continue
        rows = []
        for line in lines[i + 2 :]:
            cells = _cells(line)
            if cells is None:
                break
            rows.append(cells)
        yield names, rows


def _printed(lines: list[str]) -> Iterator[tuple[list[str], list[list[str]]]]:
    """The header and the rows of each printed table that names a loss column: a header whose
    names stand apart by two spaces or a tab (``Epoch    Train Loss   Val Acc (%)``), a rule
    line (``-----``) or none, then rows of numbers apart by spaces, one per name."""
    for i, line in enumerate(lines):
        names = [n for n in _GAP.split(line.strip()) if n]
        if len(names) < 2 or "|" in line or not any("loss" in n.lower() for n in names):
            continue
        if any(_number(n) is not None for n in names):
            continue  # a row of numbers, no header
        start = i + 2 if i + 1 < len(lines) and _RULE.match(lines[i + 1]) else i + 1
        rows = []
        for row in lines[start:]:
            cells = row.split()
            if len(cells) != len(names) or any(_number(c) is None for c in cells):
                break
            rows.append(cells)
        yield names, rows


def printed_rows(lines: list[str]) -> list[tuple[float, dict[str, Any]]]:
    """``(step, row)`` for each row of the first printed loss table with 3 rows or more, read
    as a Markdown table's are; empty when there is none."""
    for names, rows in _printed(lines):
        out = _table_rows(names, rows)
        if len(out) >= _MIN_ROWS:
            return out
    return []


def _rows(lines: list[str]) -> list[tuple[float, dict[str, Any]]]:
    """``(step, row)`` for each row of the first loss table with 3 rows or more whose step
    and first loss column are numbers (a settings table, ``| Loss | cross-entropy |``, is
    none); empty when there is no such table."""
    for names, rows in _tables(lines):
        out = _table_rows(names, rows)
        if len(out) >= _MIN_ROWS:
            return out
    return []


def _table_rows(names: list[str], rows: list[list[str]]) -> list[tuple[float, dict[str, Any]]]:
    low = [n.lower() for n in names]
    step_i = next((low.index(c) for c in STEP_COLUMNS if c in low), None)
    epoch_i = low.index(EPOCH_COLUMN) if EPOCH_COLUMN in low else None
    loss_i = next(i for i, n in enumerate(low) if "loss" in n)
    out: list[tuple[float, dict[str, Any]]] = []
    offset: float | None = None
    for k, cells in enumerate(rows):
        if len(cells) != len(names) or _number(cells[loss_i]) is None:
            continue
        at = step_i if step_i is not None else epoch_i
        step = _number(cells[at]) if at is not None else float(k)
        if step is None:
            continue
        row = {
            n: v for n, c in zip(names, cells, strict=True) if n and (v := _number(c)) is not None
        }
        if step_i is not None:
            row.pop(names[step_i], None)  # the step, not a metric
        else:
            # one row per epoch: an epoch counted from 0 (or the rows in order) is done at 1
            offset = (1.0 if step == 0 else 0.0) if offset is None else offset
            step += offset
            if epoch_i is not None:
                row.pop(names[epoch_i], None)
            row["epoch"] = step
        out.append((step, row))
    return out


class MarkdownTableImporter:
    name = "markdown_table"
    description = "a Markdown table of a run (| epoch | train_loss | val_loss |) in a .md or text"

    def sniff(self, path: Path) -> bool:
        lines = head_lines(path, _SNIFF_BYTES)
        return lines is not None and len(_rows(lines)) >= _MIN_ROWS

    def claims(self, path: Path) -> bool:
        return False

    def read(self, path: Path) -> Iterator[ImportedRun]:
        check_readable(path)
        text = read_text(path)
        rows = _rows(text.splitlines())
        if len(rows) < _MIN_ROWS:
            raise ImportError_(
                f"no Markdown table of a run found ({len(rows)} rows with a step and a loss)",
                "a table needs a header naming a loss column, a |---| separator and 3 rows",
                path=str(path),
            )
        yield file_run(path, self.name, rows)

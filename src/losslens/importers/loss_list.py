"""Files of bare loss values whose name says what they hold (``loss_log.txt``,
``train_loss.txt``, ``val_losses.txt``): what many training scripts append to, one number
per log and nothing else::

    0.014110025579533206          69.331044, 66.763157, 68.878233,      Epoch 1: 2.0572
    0.004276655956260659          68.762839, 68.103141, 63.676852,      Epoch 2: 1.9251

Values are read in order, one log each: one or several per line (apart by commas,
semicolons or spaces; an array printed by numpy, ``[3.167 3.023 ...]``, is its values), or
``Epoch N: value`` (``epochN<TAB>value`` too: the log of the end of epoch N, its step N). A
line ``Epoch N`` alone starts that epoch for the values below it; lines that are all ``step
value`` pairs (apart by a space, comma, ``_`` or ``:``) are a table with no header. The
file's name names the series: a held-out split's name first (``val_loss``, ``test_losses``)
makes it the evaluation loss, anything else the train loss. Only the name can say the
numbers are a loss, so a file whose name has no ``loss`` is never read as one (``step,loss``
rows with no header are the CSV reader's), except a table of numbers under a commented
header naming a loss column (``# epoch train_loss val_loss``, as ``np.savetxt(header=...)``
writes it): its columns are read by their names, whatever the file's name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from losslens.errors import ImportError_
from losslens.importers.base import check_readable, file_run, head_lines, read_text
from losslens.model import ImportedRun

_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf(?:inity)?)"
#: Values apart by commas, semicolons or spaces (a trailing separator allowed).
_VALUES = re.compile(rf"^\s*(?:{_NUM})(?:\s*[,;\s]\s*(?:{_NUM}))*\s*[,;]?\s*$", re.IGNORECASE)
_NUMBER = re.compile(_NUM, re.IGNORECASE)
#: ``Epoch 3: 1.25`` / ``epoch 3 - 1.25`` / ``epoch3<TAB>1.25``: the value at the end of that epoch.
_EPOCH_VALUE = re.compile(
    rf"^\s*epoch\s*#?\s*(?P<epoch>\d+)(?:\s*[:=\-,]\s*|\s+)(?P<value>{_NUM})\s*$", re.IGNORECASE
)
#: ``Epoch 3`` alone: the values below it are that epoch's.
_EPOCH_MARK = re.compile(r"^\s*epoch\s*#?\s*:?\s*(?P<epoch>\d+)\s*:?\s*$", re.IGNORECASE)
#: ``12_0.4835``, ``12: 0.4835``: a step and its value.
_PAIR = re.compile(rf"^\s*(?P<step>\d+)\s*(?:[_:,;]\s*|\s+)(?P<value>{_NUM})\s*$", re.IGNORECASE)
#: ``# epoch train_loss val_loss``: the names of the columns below (``np.savetxt(header=...)``).
_HEADER = re.compile(r"^\s*#\s*(?P<names>[A-Za-z_][\w./\-]*(?:[\s,;]+[A-Za-z_][\w./\-]*)+)\s*$")
_STEP_NAMES = ("step", "steps", "global_step", "iter", "iteration", "it")
_HELD_OUT = ("val", "valid", "validation", "eval", "test", "dev")
#: Bytes looked at when sniffing, and the values needed there.
_SNIFF_BYTES, _MIN_VALUES = 1 << 14, 5


def _names_loss(path: Path) -> bool:
    return "loss" in path.stem.lower()


def _key(path: Path) -> str:
    """``val_loss`` for a held-out split's file (``val_loss.txt``, ``test-losses``), else
    ``loss``."""
    first = re.split(r"[^a-z]+", path.stem.lower().lstrip("_-. "), maxsplit=1)[0]
    return "val_loss" if first in _HELD_OUT else "loss"


def _pairs(lines: list[str]) -> bool:
    """Whether every line of values is a ``step value`` pair (a whole number, then the
    value, apart by a space, comma, ``_`` or ``:``): a table with no header rather than two
    logs per line."""
    found = [line for line in lines if line.strip() and not _EPOCH_MARK.match(line)]
    return bool(found) and all(_PAIR.match(line) for line in found)


def _table(lines: list[str]) -> list[tuple[float, dict[str, Any]]] | None:
    """The rows of a table of numbers under a commented header that names a loss column
    (``# epoch train_loss val_loss``, as ``np.savetxt(header=...)`` writes it), each row a
    log at its step column's value, else its epoch's end (an epoch counted from 0 is done
    at 1), else its place; None when the lines are not such a table."""
    body = [line for line in lines if line.strip()]
    m = _HEADER.match(body[0]) if body else None
    if m is None:
        return None
    names = re.split(r"[\s,;]+", m["names"].strip())
    low = [n.lower() for n in names]
    if not any("loss" in n for n in low):
        return None
    step_i = next((i for i, n in enumerate(low) if n in _STEP_NAMES), None)
    epoch_i = low.index("epoch") if "epoch" in low else None
    rows: list[tuple[float, dict[str, Any]]] = []
    shift = 0.0
    for line in body[1:]:
        if line.lstrip().startswith("#"):
            continue
        nums = _NUMBER.findall(line)
        if not _VALUES.match(line) or len(nums) != len(names):
            return None
        row: dict[str, Any] = {n: float(x) for n, x in zip(names, nums, strict=True)}
        # the step as written: the reader's StepGuard drops one that is no 64-bit integer
        if step_i is not None:
            step = row[names[step_i]]
        elif epoch_i is not None:
            if not rows and row[names[epoch_i]] == 0:
                shift = 1.0
            step = row[names[epoch_i]] + shift
            row[names[epoch_i]] = step
        else:
            step = float(len(rows) + 1)
        rows.append((step, row))
    return rows


def _unbracket(lines: list[str]) -> list[str]:
    """The lines of one array printed by numpy (``print(losses)``: ``[3.167 3.023`` ...
    ``2.471]``, no other bracket) without its two brackets; other lines as they are."""
    text = "\n".join(lines).strip()
    if not (text.startswith("[") and text.endswith("]")) or text.count("[") + text.count("]") > 2:
        return lines
    return text[1:-1].splitlines()


def _parse(lines: list[str]) -> tuple[list[tuple[float, dict[str, Any]]], int]:
    """``(step, row)`` per value, and the number of lines that held none (blank lines
    aside). Values count from step 1; ``Epoch N: value`` lines are logged at step N and
    ``step value`` pairs at their step. One array printed by numpy is its values."""
    lines = _unbracket(lines)
    rows: list[tuple[float, dict[str, Any]]] = []
    other = 0
    epoch: int | None = None
    pairs = _pairs(lines)
    for line in lines:
        if not line.strip():
            continue
        if m := _EPOCH_VALUE.match(line):
            e = int(m.group("epoch"))
            rows.append((e, {"loss": float(m.group("value")), "epoch": e}))
        elif m := _EPOCH_MARK.match(line):
            epoch = int(m.group("epoch"))
        elif pairs and (m := _PAIR.match(line)):
            rows.append((int(m.group("step")), {"loss": float(m.group("value"))}))
        elif _VALUES.match(line):
            for num in _NUMBER.findall(line):
                row: dict[str, Any] = {"loss": float(num)}
                if epoch is not None:
                    row["epoch_index"] = epoch
                rows.append((len(rows) + 1, row))
        else:
            other += 1
    return rows, other


class LossListImporter:
    name = "loss_list"
    description = "bare loss values in a file named for them (loss_log.txt, train_loss.txt)"

    def sniff(self, path: Path) -> bool:
        lines = head_lines(path, _SNIFF_BYTES)
        if lines is None:
            return False
        table = _table(lines)
        if table is not None:
            return len(table) >= _MIN_VALUES
        rows, other = _parse(lines)
        return _names_loss(path) and other == 0 and len(rows) >= _MIN_VALUES

    def claims(self, path: Path) -> bool:
        return False  # a name alone never makes a file a list of losses

    def read(self, path: Path) -> Iterator[ImportedRun]:
        check_readable(path)
        text = read_text(path)
        table = _table(text.splitlines())
        rows: list[tuple[float, dict[str, Any]]]
        rows, other = (table, 0) if table is not None else _parse(text.splitlines())
        if (table is None and not _names_loss(path)) or len(rows) < _MIN_VALUES:
            raise ImportError_(
                f"not a list of loss values (found {len(rows)} values, {other} other lines)",
                "a loss list holds numbers only (one per line, or comma-separated), in a file "
                "whose name says 'loss'",
                path=str(path),
            )
        warnings: list[str] = []
        if other:
            warnings.append(f"skipped {other} line{'s' if other != 1 else ''} holding no value")
        key = "loss" if table is not None else _key(path)  # a table names its own columns
        named = (
            (step, {key if k == "loss" else k: v for k, v in row.items()}) for step, row in rows
        )
        yield file_run(path, self.name, named, warnings=warnings)

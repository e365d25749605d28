"""Files of bare loss values whose name says what they hold (``loss_log.txt``,
``train_loss.txt``, ``val_losses.txt``): what many training scripts append to, one number
per log and nothing else::

    0.014110025579533206          69.331044, 66.763157, 68.878233,      Epoch 1: 2.0572
    0.004276655956260659          68.762839, 68.103141, 63.676852,      Epoch 2: 1.9251

Values are read in order, one log each: one or several per line (apart by commas,
semicolons or spaces), or ``Epoch N: value`` (the log of the end of epoch N, its step N). A
line ``Epoch N`` alone starts that epoch for the values below it; lines that are all ``step
value`` pairs are a table with no header. The file's name names the
series: a held-out split's name first (``val_loss``, ``test_losses``) makes it the
evaluation loss, anything else the train loss. Only the name can say the numbers are a
loss, so a file whose name has no ``loss`` is never read as one; ``step,loss`` rows with no
header are the CSV reader's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from losslens.errors import ImportError_
from losslens.importers.base import (
    KeyMap,
    StepGuard,
    check_readable,
    display_path,
    file_hash,
    read_regular,
    run_from_rows,
    text_log_head,
)
from losslens.model import ImportedRun

_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf(?:inity)?)"
#: Values apart by commas, semicolons or spaces (a trailing separator allowed).
_VALUES = re.compile(rf"^\s*(?:{_NUM})(?:\s*[,;\s]\s*(?:{_NUM}))*\s*[,;]?\s*$", re.IGNORECASE)
_NUMBER = re.compile(_NUM, re.IGNORECASE)
#: ``Epoch 3: 1.25`` / ``epoch 3 - 1.25``: the value at the end of that epoch.
_EPOCH_VALUE = re.compile(
    rf"^\s*epoch\s*#?\s*(?P<epoch>\d+)\s*[:=\-,]\s*(?P<value>{_NUM})\s*$", re.IGNORECASE
)
#: ``Epoch 3`` alone: the values below it are that epoch's.
_EPOCH_MARK = re.compile(r"^\s*epoch\s*#?\s*:?\s*(?P<epoch>\d+)\s*:?\s*$", re.IGNORECASE)
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
    value): a table with no header rather than two logs per line."""
    found = [_NUMBER.findall(line) for line in lines if _VALUES.match(line)]
    return bool(found) and all(len(f) == 2 and f[0].isdigit() for f in found)


def _parse(lines: list[str]) -> tuple[list[tuple[int, dict[str, Any]]], int]:
    """``(step, row)`` per value, and the number of lines that held none (blank lines
    aside). Values count from step 1; ``Epoch N: value`` lines are logged at step N and
    ``step value`` pairs at their step."""
    rows: list[tuple[int, dict[str, Any]]] = []
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
        elif _VALUES.match(line):
            nums = _NUMBER.findall(line)
            if pairs:
                rows.append((int(nums[0]), {"loss": float(nums[1])}))
                continue
            for num in nums:
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
        if not _names_loss(path):
            return False
        head = text_log_head(path, _SNIFF_BYTES)
        if not head:
            return False
        text = head.decode("utf-8", "replace").removeprefix("\ufeff")
        lines = text.splitlines()
        if len(head) == _SNIFF_BYTES and len(lines) > 1:
            lines = lines[:-1]  # the last line may be cut
        rows, other = _parse(lines)
        return other == 0 and len(rows) >= _MIN_VALUES

    def claims(self, path: Path) -> bool:
        return False  # a name alone never makes a file a list of losses

    def read(self, path: Path) -> Iterator[ImportedRun]:
        check_readable(path)
        text = read_regular(path).decode("utf-8", errors="replace").removeprefix("\ufeff")
        rows, other = _parse(text.splitlines())
        if not _names_loss(path) or len(rows) < _MIN_VALUES:
            raise ImportError_(
                f"not a list of loss values (found {len(rows)} values, {other} other lines)",
                "a loss list holds numbers only (one per line, or comma-separated), in a file "
                "whose name says 'loss'",
                path=str(path),
            )
        warnings: list[str] = []
        if other:
            warnings.append(f"skipped {other} line{'s' if other != 1 else ''} holding no value")
        key = _key(path)
        guard = StepGuard(warnings)
        kept = [
            (s, None, {key if k == "loss" else k: v for k, v in row.items()})
            for step, row in rows
            if (s := guard(step)) is not None
        ]
        mtime = path.stat().st_mtime
        yield run_from_rows(
            name=path.stem,
            fmt=self.name,
            source=display_path(path),
            source_id="loss_list:" + file_hash(path),
            rows=kept,
            keymap=KeyMap(),
            start_time=mtime,
            end_time=mtime,
            warnings=warnings,
        )

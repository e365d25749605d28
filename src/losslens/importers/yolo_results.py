"""The ``results.txt`` that YOLOv5 (before v6.0) and ultralytics' YOLOv3 wrote while training::

         0/29     1.86G   0.09854   0.09318         0    0.1917        24       416  ...
         1/29     1.93G   0.09296    0.1009         0    0.1939        37       416  ...

One line per epoch, no header, 15 columns apart by spaces: the epoch (from 0) over the last
epoch, the GPU memory, the mean box, objectness and class losses and their total, the targets of
the last batch, the image size, then the validation's precision, recall, mAP@0.5 and mAP@0.5:0.95
(YOLOv3's older files hold its F1 in that column) and its box, objectness and class losses. The
columns are named as the ``results.csv`` of later versions names them (``train/box_loss``,
``val/box_loss``, ``metrics/mAP_0.5`` ...), so the same run reads the same from either file:
the losses are read as parts of one objective, their sum the train and the eval loss. The line
of epoch ``e`` is logged when that epoch is done, at step ``e + 1``. A file is this format when
every line of its head has those 15 columns.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from losslens.errors import ImportError_
from losslens.importers.base import check_readable, file_run, head_lines, read_text, scalar
from losslens.model import ImportedRun

#: The columns after the epoch and the memory, as ``results.csv`` names them (None: no metric).
_COLUMNS = (
    "train/box_loss",
    "train/obj_loss",
    "train/cls_loss",
    None,  # the total of the three: their sum, as the analysis adds them
    None,  # the targets of the epoch's last batch
    None,  # the image size
    "metrics/precision",
    "metrics/recall",
    "metrics/mAP_0.5",
    "metrics/mAP_0.5:0.95",
    "val/box_loss",
    "val/obj_loss",
    "val/cls_loss",
)
_EPOCH = re.compile(r"^(\d+)/(\d+)$")
_MEMORY = re.compile(r"^\d+(?:\.\d+)?[GM]?$")
_MIN_LINES = 3
_SNIFF_BYTES = 1 << 14


def _line(text: str) -> tuple[int, dict[str, float]] | None:
    """``(epoch, metrics)`` of one line, or None when it is no such line."""
    fields = text.split()
    if len(fields) != 2 + len(_COLUMNS):
        return None
    epoch = _EPOCH.match(fields[0])
    if epoch is None or not _MEMORY.match(fields[1]):
        return None
    values = [scalar(f) for f in fields[2:]]
    if any(v is None for v in values):
        return None
    row = {name: v for name, v in zip(_COLUMNS, values, strict=True) if name and v is not None}
    return int(epoch[1]), row


def _lines(lines: list[str]) -> list[tuple[int, dict[str, float]]] | None:
    """The lines read, or None when a non-empty line is not one."""
    out = []
    for text in lines:
        if text.strip():
            line = _line(text)
            if line is None:
                return None
            out.append(line)
    return out


class YoloResultsImporter:
    name = "yolo_results"
    description = "the results.txt of YOLOv5 (before v6.0) or YOLOv3: one line per epoch"

    def sniff(self, path: Path) -> bool:
        lines = head_lines(path, _SNIFF_BYTES)
        if lines is None:
            return False
        read = _lines(lines)
        return read is not None and len(read) >= _MIN_LINES

    def claims(self, path: Path) -> bool:
        return False

    def read(self, path: Path) -> Iterator[ImportedRun]:
        check_readable(path)
        text = read_text(path)
        read = _lines(text.splitlines())
        if not read or len(read) < _MIN_LINES:
            raise ImportError_(
                "not a YOLO results.txt: every line needs the 15 columns of one epoch",
                "pass the results.txt that YOLOv5's train.py wrote, or its results.csv",
                path=str(path),
            )
        rows: list[tuple[float, dict[str, Any]]] = [
            (epoch + 1, {**row, "epoch": float(epoch + 1)}) for epoch, row in read
        ]
        yield file_run(path, self.name, rows)

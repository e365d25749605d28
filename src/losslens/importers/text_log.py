"""Plain-text logs of custom training loops: one progress line per log, key/value fields.

Many scripts print their own lines instead of the Trainer's dicts::

    step    50/5000 | lr 7.463e-05 | loss 9.8108 | tok/s 3585.9
    | Step 1,000/50,000 | Epoch 0 | Loss: 6.1849 | LR: 1.98e-05 | GPU: 6.1GB | - |
    ep: 0, batch: 20, time: 9.17, ntokens: 485.20/513, loss: 10.984375
    iter 300: loss 2.1044, val loss 2.2031, lr 6.0e-04

A line is a log when it names a loss (train or validation) and a step counter (``step``,
``iter``, ``iteration``, ``global_step``, ``batch``) with a number beside each: ``key value``,
``key: value`` or ``key=value``, the fields apart by ``|``, ``,``, ``;`` or spaces. A counter
written ``n/N`` gives the planned length (``max_steps``); ``1,000`` is a thousand, not two
fields. The other numeric fields keep their names (``tok/s``, ``time``); an epoch printed as a
whole number is an index (``Epoch 0`` for the whole first pass), kept as ``epoch_index``,
not read as the Trainer's fractional progress. A ``batch`` counter
that starts again while the epoch grows counts batches within the epoch: the steps run on
across epochs. Lines of any other kind (samples, checkpoints, banners) are skipped.
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

_NUM = r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+]?\.\d+(?:[eE][-+]?\d+)?"
#: One field: a key of one or two words, then its number (``n/N`` for a counter).
_FIELD = re.compile(
    rf"(?<![\w/.])(?P<key>[A-Za-z][\w/.\-]*(?: [A-Za-z][\w/.\-]*)?)\s*[:=]?\s*"
    rf"(?P<num>{_NUM})(?:\s*/\s*(?P<total>{_NUM}))?(?![\w.])"
)
_STEP_KEYS = ("global_step", "step", "iteration", "iter", "it", "update", "batch")
_EPOCH_KEYS = ("epoch", "ep")
_TRAIN_LOSS = ("loss", "train loss", "train_loss", "training loss", "tr_loss")
_EVAL_LOSS = (
    "val loss",
    "val_loss",
    "valid loss",
    "valid_loss",
    "validation loss",
    "validation_loss",
    "eval loss",
    "eval_loss",
    "dev loss",
    "test loss",
)
#: Names as the Trainer writes them, so the key map gives the canonical series.
_RENAME = {
    **{k: "loss" for k in _TRAIN_LOSS},
    **{k: "eval_loss" for k in _EVAL_LOSS},
    "lr": "learning_rate",
    "learning rate": "learning_rate",
    "grad norm": "grad_norm",
    "gnorm": "grad_norm",
    "grad_norm": "grad_norm",
    "ep": "epoch",
}
#: Lines read when sniffing, and the log lines needed among them.
_SNIFF_LINES, _SNIFF_LOGS = 400, 3


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def _fields(line: str) -> dict[str, tuple[float, float | None]]:
    """The ``key -> (value, total)`` fields of one line, keys lowercased."""
    out: dict[str, tuple[float, float | None]] = {}
    for m in _FIELD.finditer(line):
        key = m.group("key").lower()
        total = m.group("total")
        out.setdefault(key, (_number(m.group("num")), _number(total) if total else None))
    return out


def _log_fields(line: str) -> dict[str, tuple[float, float | None]] | None:
    """The fields of a progress line (a loss and a step counter), else None."""
    if "loss" not in line.lower():
        return None
    f = _fields(line)
    if not any(k in f for k in (*_TRAIN_LOSS, *_EVAL_LOSS)):
        return None
    if not any(k in f for k in _STEP_KEYS):
        return None
    return f


class TextLogImporter:
    name = "text_log"
    description = "progress lines of a custom training loop (step 10 | loss 2.3 | lr 1e-4)"

    def sniff(self, path: Path) -> bool:
        head = text_log_head(path, 1 << 20)
        if head is None:
            return False
        lines = head.decode("utf-8", "replace").splitlines()[:_SNIFF_LINES]
        return sum(_log_fields(line) is not None for line in lines) >= _SNIFF_LOGS

    def claims(self, path: Path) -> bool:
        return False  # a .txt or .log with no progress line is the Trainer console's to refuse

    def read(self, path: Path) -> Iterator[ImportedRun]:
        yield read_text_log(path)


def _rows(text: str, warnings: list[str]) -> tuple[list[tuple[int, dict[str, Any]]], int | None]:
    """``(step, row)`` for every progress line, and the planned step count when a counter
    says it."""
    rows: list[tuple[int, dict[str, Any]]] = []
    planned: int | None = None
    offset, last_count, last_epoch = 0, -1.0, None
    for line in text.splitlines():
        f = _log_fields(line)
        if f is None:
            continue
        key = next(k for k in _STEP_KEYS if k in f)
        count, total = f[key]
        epoch = next((f[k][0] for k in _EPOCH_KEYS if k in f), None)
        # a batch counter that starts again in a later epoch counts within the epoch
        restarted = key == "batch" and count < last_count
        if restarted and epoch is not None and last_epoch is not None and epoch > last_epoch:
            offset += int(last_count)
        last_count, last_epoch = count, epoch
        if total is not None and key != "batch":
            planned = int(total)
        row: dict[str, Any] = {}
        for k, (v, _) in f.items():
            if k in _STEP_KEYS:
                continue
            row[_RENAME.get(k, k.replace(" ", "_"))] = v
        rows.append((offset + int(count), row))
    # whole numbers are an epoch index (``Epoch 0`` for the whole first pass), not the
    # Trainer's fractional progress: kept under their own name, never read as progress
    if all(float(r["epoch"]).is_integer() for _, r in rows if "epoch" in r):
        for _, r in rows:
            if "epoch" in r:
                r["epoch_index"] = r.pop("epoch")
    if rows and all(s == rows[0][0] for s, _ in rows):
        warnings.append("every log line has the same step: steps are the order of the lines")
        rows = [(i, r) for i, (_, r) in enumerate(rows, 1)]
    return rows, planned


def read_text_log(path: Path) -> ImportedRun:
    check_readable(path)
    raw = read_regular(path)
    warnings: list[str] = []
    text = raw.decode("utf-8", errors="replace").removeprefix("\ufeff")
    rows, planned = _rows(text, warnings)
    if not rows:
        raise ImportError_(
            "no progress lines (a loss and a step on one line) found",
            "is this the log of a training loop?",
            path=str(path),
        )
    guard = StepGuard(warnings)
    kept = [(s, None, row) for step, row in rows if (s := guard(step)) is not None]
    config: dict[str, Any] = {"max_steps": planned} if planned else {}
    mtime = path.stat().st_mtime
    return run_from_rows(
        name=path.stem,
        fmt=TextLogImporter.name,
        source=display_path(path),
        source_id="text_log:" + file_hash(path),
        rows=kept,
        keymap=KeyMap(),
        config=config,
        start_time=mtime,
        end_time=mtime,
        warnings=warnings,
    )

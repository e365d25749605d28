"""CSV/TSV and JSONL tables with a step column, or one row per epoch.

Covers hand-written logs, Keras' ``CSVLogger`` file (``training.log``: an ``epoch`` column
counted from 0, ``loss``, ``val_loss`` and the metrics, one row per epoch), ``log_history``
dumped one JSON object per line, W&B's "Export CSV" (``Step`` plus ``<run> - train/loss``
columns, with ``__MIN``/``__MAX`` companions; one run per ``<run>`` prefix) and TensorBoard's
CSV download (``Wall time,Step,Value``).
Rows stream line by line; invalid UTF-8 is reported with its line and byte.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from losslens import keys
from losslens.errors import ImportError_
from losslens.importers.base import (
    KeyMap,
    StepGuard,
    batched,
    check_readable,
    display_path,
    file_hash,
    open_regular,
    read_head,
    read_regular,
    scalar,
)
from losslens.importers.textutil import TQDM_BAR, wide_text
from losslens.model import ImportedRun, MetricPoint, jsonable
from losslens.numeric import as_step

#: Step columns, most specific first (case-insensitive); ``current_steps`` is LLaMA-Factory's
#: ``trainer_log.jsonl``.
STEP_COLUMNS = (
    "train/global_step",
    "trainer/global_step",
    "global_step",
    "step",
    "_step",
    "current_steps",
    "iter",
    "iteration",
)
#: LLaMA-Factory's progress columns beside ``current_steps``: ``total_steps`` is the planned
#: length (config ``max_steps``), the others restate the step or the time.
_PROGRESS = ("total_steps", "percentage", "elapsed_time", "remaining_time")
#: With no step column, a table of one row per epoch (Keras' ``CSVLogger``) is stepped by its
#: epoch column when another column holds a loss.
EPOCH_COLUMN = "epoch"
TIME_COLUMNS = ("_timestamp", "timestamp", "wall_time", "wall time", "walltime")
_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson")
_WANDB_COL = re.compile(r"^(?P<run>.+?) - (?P<key>.+)$")
_TB_NAME = re.compile(r"run[-_](?P<run>.*)[-_]tag[-_](?P<tag>.+)$")


def _step_column(names: list[str]) -> str | None:
    low = {n.strip().lower(): n for n in names}
    for c in STEP_COLUMNS:
        if c in low:
            return low[c]
    return None


#: A name that ends in an index (``Organ 1``, ``class 12``): a header's cell, not a value.
_NAME_INDEX = re.compile(r"[A-Za-z][\w\-./]*(?:\s+[A-Za-z][\w\-./]*)*\s+\d+")


#: A cell that is a field, a name and its number (``loss:2.29``, ``lr=0.001``).
_FIELD_CELL = re.compile(r"[A-Za-z_][\w\-./ ]*\s*[:=]\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def _number_in_cell(cell: str) -> bool:
    """Whether a word of the cell is a number: a data row (``epoch 1, loss 0.5``), not a
    header of names (``metrics/mAP50-95(B)`` is a name, and so is ``Organ 1``, a name that
    ends in an index)."""
    if _NAME_INDEX.fullmatch(cell.strip()):
        return False
    return any(scalar(word) is not None for word in cell.split())


def _epoch_column(names: list[str]) -> str | None:
    """For a table with no step column (its callers look for one first), what steps it as one
    row per epoch when it has a loss column: its ``epoch`` column, else an unnamed first column
    (the index pandas writes with ``DataFrame.to_csv``), else ``""`` (the rows in order); None
    when it is no such table."""
    low = {n.strip().lower(): n for n in names}
    if not any("loss" in n for n in low):
        return None
    if any(map(_number_in_cell, names)) or TQDM_BAR.search(",".join(names)):
        return None  # a data row (``epoch 1, loss 0.5``) or a progress bar, not a header
    if all(_FIELD_CELL.fullmatch(n.strip()) for n in names):
        return None  # a row of fields (``iter:0,loss:2.29``): a log's line, not a header
    if EPOCH_COLUMN in low:
        return low[EPOCH_COLUMN]
    return names[0] if names[0].strip().lower() in ("", "unnamed: 0") else ""


#: A first line of two numbers, a step and a value (no header).
_BARE_ROW = re.compile(r"^\s*\d+\s*[,;\t]\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*$")


def _bare_loss_table(path: Path, line: str) -> bool:
    """Whether ``path`` is a table of ``step,loss`` rows with no header, its name naming the
    loss (``loss_log.txt``, ``losses.csv``): what many training scripts append to."""
    return "loss" in path.stem.lower() and _BARE_ROW.match(line) is not None


def _time_column(names: list[str]) -> str | None:
    low = {n.strip().lower(): n for n in names}
    for c in TIME_COLUMNS:
        if c in low:
            return low[c]
    return None


def _first_line(path: Path) -> str | None:
    head = read_head(path, 16384)
    if not head or b"\0" in head:
        return None
    line = re.split(rb"\r\n|\n|\r", head, maxsplit=1)[0].removeprefix(b"\xef\xbb\xbf")
    try:
        return line.decode("utf-8").strip()
    except UnicodeDecodeError:
        return None


def _dialect(header: str) -> str:
    return max(("\t", ",", ";"), key=header.count)


class CSVImporter:
    name = "csv"
    description = (
        "CSV/TSV or JSONL table with a step column (W&B/TensorBoard CSV exports too), or one "
        "row per epoch (Keras CSVLogger)"
    )

    def sniff(self, path: Path) -> bool:
        if path.is_dir():
            return False
        line = _first_line(path)
        if not line:
            return False
        if line.startswith("{"):
            try:
                row = json.loads(line)
            except ValueError:
                return False
            return isinstance(row, dict) and _step_column(list(row)) is not None
        if _bare_loss_table(path, line):
            return True
        try:
            names = next(csv.reader([line], delimiter=_dialect(line)))
        except csv.Error:
            return False
        return len(names) > 1 and (_step_column(names) or _epoch_column(names)) is not None

    def claims(self, path: Path) -> bool:
        return path.suffix.lower() in _SUFFIXES

    def read(self, path: Path) -> Iterator[ImportedRun]:
        check_readable(path)
        line = _first_line(path)
        if line is None:
            raise ImportError_(
                "not a text table (binary data or invalid UTF-8 in the first line)",
                path=str(path),
                location="line 1",
            )
        if line.startswith("{"):
            yield _jsonl_run(path)
        else:
            yield from _csv_runs(path, line)


#: Longest line read (a longer one is reported as damage, not read into memory).
MAX_LINE_BYTES = 1 << 20


def _raw_lines(f: BinaryIO) -> Iterator[bytes]:
    """Lines ending in ``\n``, ``\r\n`` or a lone ``\r`` (old Mac files), at most
    ``MAX_LINE_BYTES + 1`` bytes each (longer lines come in pieces: the caller refuses)."""
    pending = b""
    while True:
        raw = f.readline(MAX_LINE_BYTES + 1)
        if not raw:
            break
        if b"\r" in raw[:-1] or (raw.endswith(b"\r") and len(raw) <= MAX_LINE_BYTES):
            parts = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
            tail = parts.pop()
            for part in parts:
                yield pending + part + b"\n"
                pending = b""
            pending += tail
            if len(pending) > MAX_LINE_BYTES:
                yield pending
                pending = b""
            continue
        if pending:
            raw, pending = pending + raw, b""
        yield raw
    if pending:
        yield pending


def _lines(path: Path, warnings: list[str] | None = None) -> Iterator[tuple[int, str]]:
    """(line number, text) with strict UTF-8; a bad byte raises with line and offset, a
    line over ``MAX_LINE_BYTES`` too. A last line without a line end (the file was cut
    while being written, perhaps mid-number) is read, with a warning."""
    offset = 0
    with open_regular(path) as f:
        # UTF-16/32 text (Windows PowerShell's ``>``) is read whole, as UTF-8
        src: BinaryIO = io.BytesIO(read_regular(path)) if wide_text(f.read(4)) else f
        f.seek(0)
        for lineno, raw in enumerate(_raw_lines(src), 1):
            if len(raw) > MAX_LINE_BYTES:
                raise ImportError_(
                    f"line longer than {MAX_LINE_BYTES:,} bytes",
                    path=str(path),
                    location=f"line {lineno}, byte {offset}",
                )
            if not raw.endswith(b"\n") and raw.strip() and warnings is not None:
                warnings.append(
                    f"line {lineno} has no line end: the file was cut short, perhaps mid-number; "
                    "its values were read as they are"
                )
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ImportError_(
                    "invalid UTF-8 text",
                    "save the file as UTF-8",
                    path=str(path),
                    location=f"line {lineno}, byte {offset + exc.start}",
                ) from exc
            if lineno == 1:
                text = text.removeprefix("\ufeff")
            offset += len(raw)
            yield lineno, text


def _no_step(path: Path, names: list[str]) -> ImportError_:
    shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
    return ImportError_(
        f"no step column (found: {shown})",
        "add a step column (step, global_step, iter), or a loss column to read one row per epoch",
        path=str(path),
        location="line 1",
    )


def _csv_runs(path: Path, header: str) -> Iterator[ImportedRun]:
    delim = _dialect(header)
    bare = _bare_loss_table(path, header)
    names = ["step", "loss"] if bare else next(csv.reader([header], delimiter=delim))
    step_col = _step_column(names)
    per_epoch = step_col is None and (step_col := _epoch_column(names)) is not None
    if step_col is None:
        raise _no_step(path, names)
    time_col = _time_column(names)
    # no column at all: the rows in order, one per epoch
    step_i = -1 if per_epoch and step_col == "" and names[0] != "" else names.index(step_col)
    time_i = names.index(time_col) if time_col else None
    metric_cols = [(i, n) for i, n in enumerate(names) if i not in (step_i, time_i) and n.strip()]
    # W&B export: "<run> - <key>" columns, one run per prefix; drop __MIN/__MAX companions
    groups: dict[str | None, list[tuple[int, str]]] = {}
    wandb_style = bool(metric_cols) and all(_WANDB_COL.match(n) for _, n in metric_cols)
    for i, n in metric_cols:
        if n.endswith(("__MIN", "__MAX")):
            continue
        if wandb_style:
            m = _WANDB_COL.match(n)
            assert m is not None
            groups.setdefault(m.group("run"), []).append((i, m.group("key")))
        else:
            groups.setdefault(None, []).append((i, n))
    # TensorBoard download: Wall time, Step, Value -> the tag is in the file name
    tb = {n.strip().lower() for n in names} == {"wall time", "step", "value"}
    if tb:
        m = _TB_NAME.search(path.stem)
        tag = m.group("tag") if m else path.stem
        # the download's file name has "/" replaced by "_": train_loss was train/loss
        head, sep, rest = tag.partition("_")
        if sep and head in ("train", "eval", "test") and rest:
            tag = f"{head}/{rest}"
        groups = {None: [(names.index(next(n for n in names if n.lower() == "value")), tag)]}
    digest = file_hash(path)
    tb_match = _TB_NAME.search(path.stem) if tb else None
    for run, cols in groups.items():
        keymap = KeyMap()
        several = run is not None and len(groups) > 1
        name = run or path.stem
        if tb_match and tb_match.group("run").strip("._-"):
            name = tb_match.group("run")
        imported = ImportedRun(
            name=name,
            format="csv",
            source=display_path(path) + (f"#{run}" if several else ""),
            source_id=f"csv:{digest}" + (f":{run}" if several else ""),
            batches=iter(()),
            original_keys=keymap.originals,
        )
        imported.batches = batched(
            _csv_points(path, delim, step_i, time_i, cols, keymap, imported, per_epoch, bare)
        )
        yield imported


def _csv_points(
    path: Path,
    delim: str,
    step_i: int,
    time_i: int | None,
    cols: list[tuple[int, str]],
    keymap: KeyMap,
    imported: ImportedRun,
    per_epoch: bool = False,
    bare: bool = False,
) -> Iterator[MetricPoint]:
    """The points of a table's rows. ``per_epoch``: the step column is an epoch count, each
    row logged at the end of its epoch; counted from 0 (Keras), the row of epoch 0 is step
    1, so the step is the number of epochs done, recorded as ``train/epoch`` too (a table
    with no epoch column counts its rows from 0 the same way, ``step_i`` -1). ``bare``: no
    header line, the first row is data."""
    lines = (text for _, text in _lines(path, imported.warnings))
    offset: int | None = None
    rows = 0  # data rows read: the epoch of a table with no step or epoch column, from 0
    reader = csv.reader(lines, delimiter=delim)
    guard = StepGuard(imported.warnings)
    mapped = [(i, raw, keymap(raw)) for i, raw in cols]
    # the Trainer's end-of-run record (``train_loss``, ``train_runtime`` ...) in a dump of its
    # log history, which has a ``loss`` column; with none, ``train_loss`` is the loss per row
    dumped = any(raw.strip().lower() == "loss" for _, raw in cols)
    summary = {raw for _, raw in cols if raw in keys.SUMMARY_ONLY} if dumped else set()
    while True:
        try:
            row = next(reader, None)
        except csv.Error as exc:
            raise ImportError_(
                f"malformed CSV ({exc})", path=str(path), location=f"line {reader.line_num}"
            ) from exc
        if row is None:
            break
        if (reader.line_num == 1 and not bare) or not any(c.strip() for c in row):
            continue
        if step_i >= 0 and (len(row) <= step_i or not row[step_i].strip()):
            continue
        s = guard(row[step_i] if step_i >= 0 else str(rows))
        rows += 1
        if s is None:
            continue
        wall = scalar(row[time_i]) if time_i is not None and time_i < len(row) else None
        if per_epoch:
            offset = (1 if s == 0 else 0) if offset is None else offset
            s += offset
            yield MetricPoint(keys.EPOCH, s, float(s), wall)
        for i, raw, key in mapped:
            if i >= len(row) or not row[i].strip():
                continue
            v = scalar(row[i])
            if v is None:
                continue
            if raw in summary:
                imported.summary[raw] = jsonable(v)
                continue
            yield MetricPoint(key, s, v, wall)


def _jsonl_run(path: Path) -> ImportedRun:
    keymap = KeyMap()
    imported = ImportedRun(
        name=path.stem,
        format="csv",
        source=display_path(path),
        source_id="jsonl:" + file_hash(path),
        batches=iter(()),
        original_keys=keymap.originals,
    )
    imported.batches = batched(_jsonl_points(path, keymap, imported))
    return imported


def _jsonl_points(path: Path, keymap: KeyMap, imported: ImportedRun) -> Iterator[MetricPoint]:
    guard = StepGuard(imported.warnings)
    for lineno, text in _lines(path, imported.warnings):
        text = text.strip()
        if not text:
            continue
        try:
            row: Any = json.loads(text)
        except RecursionError as exc:
            raise ImportError_(
                "JSON nested too deeply", path=str(path), location=f"line {lineno}"
            ) from exc
        except ValueError as exc:
            raise ImportError_(
                "not a JSON object", path=str(path), location=f"line {lineno}"
            ) from exc
        if not isinstance(row, dict):
            continue
        step_col = _step_column(list(row))
        if step_col is None:
            if lineno == 1:
                raise _no_step(path, list(row))
            continue
        raw_step = row[step_col]
        if raw_step is None or raw_step == "":
            continue
        s = guard(raw_step)
        if s is None:
            continue
        if keys.is_run_summary(row):
            imported.summary.update(
                {k: jsonable(v) for k, v in row.items() if k.lower() not in STEP_COLUMNS}
            )
            continue
        row = {k: v for k, v in row.items() if k not in keys.SUMMARY_ONLY}
        if step_col.lower() == "current_steps":
            planned = as_step(row.get("total_steps"))
            if planned is not None and planned >= 1:
                imported.config.setdefault("max_steps", planned)
            row = {k: v for k, v in row.items() if k not in _PROGRESS}
        time_col = _time_column(list(row))
        wall = scalar(row[time_col]) if time_col else None
        metric = [k for k in row if k not in (step_col, time_col, "epoch")]
        eval_row = bool(metric) and all(keys.is_eval_key(keys.normalize_key(k)) for k in metric)
        for k, v in row.items():
            if k in (step_col, time_col) or k.startswith("_") or (eval_row and k == "epoch"):
                continue
            f = scalar(v)
            if f is not None:
                yield MetricPoint(keymap(k), s, f, wall)

"""Hugging Face Trainer ``trainer_state.json`` (top level or in ``checkpoint-N/``), its
``log_history`` list saved alone, that list kept under a key of its own in a JSON report an
author wrote (with the TrainingArguments of a nested object as the run's config), or that list
as Python prints it (``print(trainer.state.log_history)``, a notebook's or ``pprint``'s
output, pasted into a file or an issue with text around it)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from losslens import keys
from losslens.errors import ImportError_
from losslens.importers.base import (
    KeyMap,
    StepGuard,
    check_readable,
    display_path,
    file_hash,
    read_head,
    read_regular,
    run_from_rows,
    run_name_for,
)
from losslens.importers.textutil import decode_utf8, json_error, python_literal
from losslens.model import ImportedRun, jsonable
from losslens.numeric import as_value

_CHECKPOINT = re.compile(r"checkpoint-(\d+)$")
_GLOBAL_STEP = re.compile(rb'"global_step"\s*:\s*(\d+)')
#: The key every Trainer log entry has, and keys only its entries carry (a dump filtered to
#: a few keys may have dropped any one of them)
_STEP_KEY = b'"step"'
_ENTRY_KEYS = ("epoch", "learning_rate", "grad_norm")
_TRAINER_KEYS = tuple(f'"{k}"'.encode() for k in _ENTRY_KEYS)
#: A list of objects under some key of a JSON object: where a report an author wrote keeps
#: the Trainer's log history under a name of its own ("loss_history", "history" ...)
_KEYED_LIST = re.compile(rb'"[^"\\]{1,64}"\s*:\s*\[\s*\{')
#: Where the log history of a JSON trainer state starts (the file cut short inside it)
_HISTORY_KEY = re.compile(r'"log_history"\s*:\s*\[')
#: Where the log history starts in text that is not one JSON document (a paste with text
#: around it): the ``log_history`` key, else a bare list of entries
_HISTORY_START = re.compile(_HISTORY_KEY.pattern + r'|\[\s*(?=\{\s*")')
#: The log history as Python prints it: single quotes, bare ``nan``/``inf``
_PY_LOG_LIST = re.compile(r"\[\s*\{\s*'")
#: TrainingArguments names; a nested object holding several of them is the run's set-up
_ARGS_KEYS = frozenset(keys.TRAINING_ARGS) | {"optim", "fp16", "bf16"}

#: TrainerState fields that describe the set-up (config) rather than the outcome (summary).
CONFIG_FIELDS = (
    "max_steps",
    "logging_steps",
    "eval_steps",
    "save_steps",
    "train_batch_size",
    "num_train_epochs",
)
SUMMARY_FIELDS = (
    "global_step",
    "epoch",
    "total_flos",
    "num_input_tokens_seen",
    "best_metric",
    "best_global_step",
    "best_model_checkpoint",
)


class HFTrainerStateImporter:
    name = "hf_trainer_state"
    description = "Hugging Face Trainer trainer_state.json (log_history)"

    def sniff(self, path: Path) -> bool:
        if path.is_dir():
            return False
        head = read_head(path, 4096).lstrip(b"\xef\xbb\xbf \t\r\n")
        if head.startswith(b"{"):
            whole = read_head(path)
            if b'"log_history"' in whole:
                return True
            # a report that keeps the log under a key of its own; never a notebook's cells,
            # whose printed output may hold the same keys
            return b'"cell_type"' not in whole and any(
                _looks_like_log(whole[m.end() - 1 : m.end() + 2048])
                for m in _KEYED_LIST.finditer(whole)
            )
        # ``json.dump(trainer.state.log_history, f)``: a list of the Trainer's log entries,
        # maybe filtered to the keys the author wanted (the epoch dropped, say); either
        # pasted with text around it; or the list as Python prints it. Its first object
        # must be a log entry: a list of other objects (chat messages) is not one, whatever
        # keys the text after it names
        text = read_head(path).decode("utf-8", "replace")
        return (
            _log_start(text, _HISTORY_START) is not None
            or _log_start(text, _PY_LOG_LIST) is not None
        )

    def claims(self, path: Path) -> bool:
        return path.name == "trainer_state.json"

    def read(self, path: Path) -> Iterator[ImportedRun]:
        yield read_trainer_state(path)


def _looks_like_log(text: bytes) -> bool:
    """Whether the start of a JSON list (``text`` opens at its first object) holds the
    Trainer's log entries: a step in the first entry itself, which is flat (a summary per epoch
    that nests the Trainer's metrics, ``{"epoch": 0, "metrics": {"step": ...}}``, is none), one
    of the keys only they carry, and a loss."""
    at = text.find(_STEP_KEY)
    return (
        at >= 0
        and b"{" not in text[1:at]
        and any(k in text for k in _TRAINER_KEYS)
        and (b'"loss"' in text or b'"eval_loss"' in text)
    )


def _log_start(text: str, pattern: re.Pattern[str]) -> re.Match[str] | None:
    """The first place ``pattern`` matches in ``text`` where a list of the Trainer's log
    entries starts (its first object is one): other lists of objects before it (a printed
    dataset sample, chat messages) are passed over."""
    for m in pattern.finditer(text):
        brace = text.find("{", m.start())
        close = text.find("}", brace)
        if brace < 0 or close < 0:
            return None
        if _is_log_entry(_object(text[brace : close + 1])):
            return m
    return None


def _object(text: str) -> Any:
    """One flat object as JSON writes it, else as Python prints it; None when it is neither."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return python_literal(text)


def _is_log_entry(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and "step" in entry
        and any(k in entry for k in _ENTRY_KEYS)
        and ("loss" in entry or "eval_loss" in entry)
    )


def _history_key(state: dict[str, Any]) -> str | None:
    """The key of the log history: ``log_history``, or in a report an author wrote, the
    first list whose first entries are Trainer log entries."""
    if isinstance(state.get("log_history"), list):
        return "log_history"
    for key, value in state.items():
        if isinstance(value, list) and any(_is_log_entry(e) for e in value[:5]):
            return str(key)
    return None


def _args_config(state: dict[str, Any]) -> dict[str, Any]:
    """The scalar TrainingArguments of a nested object that holds several of them (a report's
    ``"training": {"learning_rate": ..., "num_train_epochs": ...}``)."""
    for value in state.values():
        if isinstance(value, dict) and len(_ARGS_KEYS.intersection(value)) >= 3:
            return {
                k: jsonable(v)
                for k, v in value.items()
                if k in _ARGS_KEYS and isinstance(v, (int, float, str, bool))
            }
    return {}


def checkpoint_rank(path: Path) -> tuple[int, int]:
    """How recent a trainer_state.json is: (global step, 1 for the top-level copy)."""
    m = _CHECKPOINT.search(path.parent.name)
    if m:
        return int(m.group(1)), 0
    g = _GLOBAL_STEP.search(read_head(path, 4096))
    return (int(g.group(1)) if g else 1 << 62), 1


def run_root(path: Path) -> Path:
    """The output dir a trainer_state.json belongs to (the parent of ``checkpoint-N/``)."""
    return path.parent.parent if _CHECKPOINT.search(path.parent.name) else path.parent


def parse_json_file(path: Path) -> Any:
    """A JSON file read strictly enough to name the byte or line where it goes wrong.

    Python's parser is used on purpose: trainer_state.json files carry bare ``NaN`` and
    ``Infinity`` tokens, which it accepts.
    """
    check_readable(path)
    raw = read_regular(path)
    nul = raw.find(b"\0", 0, 1 << 16)
    if nul >= 0:
        raise ImportError_(
            "binary data, not a JSON log",
            "is this really a trainer_state.json?",
            path=str(path),
            location=f"byte {nul}",
        )
    text = decode_utf8(raw, path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise json_error(exc, path) from exc
    except RecursionError as exc:
        raise ImportError_("JSON nested too deeply", path=str(path)) from exc
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise ImportError_(f"unreadable JSON ({exc})", path=str(path)) from exc


def printed_log_history(text: str) -> list[Any] | None:
    """The log history in ``text`` as Python prints it (``[{'loss': 0.5, ..., 'step': 10},
    ...]``, on one line or pretty-printed over many), or None. Read as a Python literal (never
    run); a bare ``nan``/``inf`` (Python's repr of those floats) is read as that float."""
    m = _log_start(text, _PY_LOG_LIST)
    end = text.rfind("}]")
    if m is None or end < m.start():
        return None
    value = python_literal(text[m.start() : end + 2])
    if not isinstance(value, list) or not any(_is_log_entry(e) for e in value[:5]):
        return None
    return value


def embedded_state(text: str) -> Any:
    """The trainer state or log history pasted in ``text`` with text around it (an issue
    comment, a code fence): the JSON from the ``{`` before ``"log_history"`` (or the ``[``
    of a bare list of entries) to its last ``}`` (or ``]``); None when there is none. A
    paste cut short stays an error: a part of a log is not the run."""
    m = _log_start(text, _HISTORY_START)
    if m is None:
        return None
    keyed = m.group(0).startswith('"')
    start = text.rfind("{", 0, m.start()) if keyed else m.start()
    end = text.rfind("}" if keyed else "]")
    if start < 0 or end <= start:
        return None
    try:
        return json.loads(text[start : end + 1])
    except (ValueError, RecursionError):
        return None


def pasted_history(text: str) -> Any:
    """The log history in ``text`` that is not one JSON document: as Python prints it, else
    as JSON pasted with text around it (:func:`printed_log_history`, :func:`embedded_state`);
    None when there is neither."""
    found = printed_log_history(text)
    return embedded_state(text) if found is None else found


def cut_short_history(text: str) -> tuple[Any, int] | None:
    """The complete log entries of a JSON trainer state (or log-history list) whose JSON
    breaks inside its log history, a file cut short as a copy or a crash leaves it, with the
    fields before the history: (the state, the number of entries read); None when its
    first entries are not Trainer log entries. Entries are decoded one by one from the
    start of the list and the reading stops at the first that does not decode, as
    TensorBoard and W&B readers stop at a damaged record: what comes before it is the run
    as it was logged."""
    m = _HISTORY_KEY.search(text)
    body = text.lstrip("\ufeff \t\r\n")
    if m is None and not body.startswith("["):
        return None
    i = m.end() if m is not None else len(text) - len(body) + 1
    decoder = json.JSONDecoder()
    entries: list[Any] = []
    while True:
        while i < len(text) and text[i] in " \t\r\n,":
            i += 1
        if i >= len(text) or text[i] != "{":
            break
        try:
            entry, i = decoder.raw_decode(text, i)
        except (ValueError, RecursionError):
            break
        entries.append(entry)
    if not any(_is_log_entry(e) for e in entries[:5]):
        return None
    state: dict[str, Any] = {}
    if m is not None:  # the scalar fields written before the history, when they parse
        try:
            head = json.loads(text[: m.start()] + '"log_history": []}')
        except (ValueError, RecursionError):
            head = None
        state = head if isinstance(head, dict) else {}
    state["log_history"] = entries
    return state, len(entries)


def _parse_state(path: Path) -> tuple[Any, str | None]:
    """The JSON of ``path``, or the log history printed in it as a Python literal, or the
    JSON pasted in it with text around it; with a note when a JSON file cut short inside
    its log history was read up to the break."""
    try:
        return parse_json_file(path), None
    except ImportError_ as exc:
        text = read_regular(path).decode("utf-8", "replace")
        pasted = not text.lstrip("\ufeff \t\r\n").startswith(("{", "["))
        cut = None if pasted else cut_short_history(text)
        if cut is not None:
            note = (  # the message names the file and where its JSON breaks
                f"{exc.message}: read the {cut[1]} complete log entries "
                "before it; copy the file again from the run's output folder to read it whole"
            )
            return cut[0], note
        found = pasted_history(text)
        if found is not None:
            return found, None
        printed = _log_start(text, _PY_LOG_LIST) is not None
        if not printed and not (pasted and _log_start(text, _HISTORY_START) is not None):
            raise  # a JSON file (or not a log): its own error says where it breaks
        raise ImportError_(
            "a Trainer log history "
            + ("as Python prints it" if printed else "pasted with text around it")
            + " that is not whole: the paste is cut short or has something else inside it",
            "paste the whole trainer_state.json or log_history, or save it with json.dump",
            path=str(path),
        ) from None


def read_trainer_state(path: Path) -> ImportedRun:
    state, note = _parse_state(path)
    run = state_run(
        state,
        where=str(path),
        name=run_name_for(path) if path.name == "trainer_state.json" else path.stem,
        source=display_path(path),
        source_id="hf_trainer_state:" + file_hash(path),
        mtime=path.stat().st_mtime,
        checkpoint=path.parent.name if _CHECKPOINT.search(path.parent.name) else None,
    )
    if note is not None:
        run.warnings.append(note)
    return run


def state_run(
    state: Any,
    *,
    where: str,
    name: str,
    source: str,
    source_id: str,
    mtime: float,
    checkpoint: str | None = None,
    fmt: str = "hf_trainer_state",
) -> ImportedRun:
    """The run of a parsed trainer state (or of its ``log_history`` list alone), wherever it
    was read from: a file, a paste, a notebook's displayed output."""
    if isinstance(state, list):  # the log_history alone, as people dump it themselves
        state = {"log_history": state}
    key = _history_key(state) if isinstance(state, dict) else None
    if key is None:
        raise ImportError_(
            "not a trainer_state.json: no 'log_history' list",
            "pass the trainer_state.json written by transformers' Trainer",
            path=where,
        )
    history: list[Any] = state[key]
    config = _args_config(state) if key != "log_history" else {}
    config.update({k: jsonable(state[k]) for k in CONFIG_FIELDS if state.get(k) is not None})
    summary = {k: jsonable(state[k]) for k in SUMMARY_FIELDS if state.get(k) is not None}
    rows: list[tuple[int, float | None, dict[str, Any]]] = []
    warnings: list[str] = []
    guard = StepGuard(warnings)
    last_step = 0
    for i, entry in enumerate(history):
        if not isinstance(entry, dict):
            raise ImportError_(
                f"log_history entry {i} is not an object", path=where, location=f"entry {i}"
            )
        raw_step = entry.get("step")
        if raw_step is None or (isinstance(raw_step, float) and raw_step != raw_step):
            step = last_step  # no step (or NaN): the entry belongs with the one before
        else:
            checked = guard(raw_step)
            if checked is None:
                continue
            step = checked
        last_step = step
        # the end-of-training entry; a train log with running counters stays a row without them
        if keys.is_run_summary(entry):
            summary.update({k: jsonable(v) for k, v in entry.items() if k != "step"})
            continue
        row = {k: v for k, v in entry.items() if k != "step" and k not in keys.SUMMARY_ONLY}
        metric_keys = [k for k in row if k != "epoch"]
        if metric_keys and all(keys.is_eval_key(keys.normalize_key(k)) for k in metric_keys):
            row.pop("epoch", None)  # the train rows carry the epoch already
        rows.append((step, None, row))
    runtime = summary.get("train_runtime")
    seconds = as_value(runtime)
    start = mtime - seconds if seconds is not None and 0 <= seconds < 1e9 else mtime
    if checkpoint:
        config.setdefault("checkpoint", checkpoint)
    return run_from_rows(
        name=name,
        fmt=fmt,
        source=source,
        source_id=source_id,
        rows=rows,
        keymap=KeyMap(),
        config=config,
        summary=summary,
        start_time=start,
        end_time=mtime,
        warnings=warnings,
    )

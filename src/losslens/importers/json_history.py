"""Training histories a script saved as JSON.

Three shapes, found by content::

    {"loss": [0.9, 0.7, ...], "val_loss": [1.0, 0.8, ...]}          # Keras' history.history
    [{"epoch": 1, "loss": 0.9, "val_loss": 1.0}, {"epoch": 2, ...}]  # one record per log
    {"loss": {"0": 0.9, "1": 0.7}, ...}       # pandas' DataFrame.to_json(), columns or index
    {"config": {...}, "history": <either of the above>}              # with the run's settings
    {"best_loss": 0.11, "training_log": [{"step": 100, "loss": ...}]}  # the one list of records
    {"<run name>": {"loss": [...], ...}}                             # one run under its name
    {"epochs": [...], "losses": {"ner": [...]}, "scores": {...}}     # lists one level down
    {"train": [{"loss": 1.9, ...}, ...], "val": [{"loss": 1.4, ...}]}  # records per split
    [[250, 2.31, 2.40], [500, 2.05, 2.21], ...]     # loss_history.json: step, train, val

or JSON lines, one record per line, in a ``.json`` file; in a ``.txt`` or ``.log`` file, JSON
lines (DETR's ``log.txt``: one line of stats per epoch) or a history as Python prints it
(``print(history.history)``: single quotes, bare ``nan``).

A record's step is its ``step`` (``global_step``, ``iter``, ``iteration``) when it has one,
else its ``epoch`` (counted from 0, the record of epoch 0 is logged when one epoch is done),
else its place in the list (one record per epoch: Keras writes one per epoch). Lists of
different lengths (a loss per step, an eval per epoch) are spread over the longest one's
steps, each ending with it; a list longer than every loss holds one value per example
(``val_preds``), not per log, and is left out. Keys are named as everywhere else (``val_loss``
is ``eval/loss``); series named only for their split (``train``, ``val``) are that split's loss,
unless the file's name names another quantity (``accuracy.json``, ``metrics.json``): a
history that names nothing but its splits logs one quantity per split, and the one every
training logs is its loss. Where no key names the loss, the one loss with a qualifier
(``loss_x``) or else the first key named by a loss function (``bce``, ``mse``) or else a
split's ``total`` of fractions (a multi-part objective's sum) is it, and its ``val_`` twin the
held-out loss. A metric's list of points (``{"epoch_loss": [{"epoch": 0, "value": 1.42},
...]}``) is the list of its values; a document whose own lists hold no loss (a config's
``betas``) is not itself the history, and its one list of records holding a loss is. A
history needs a train or eval loss to be a run, or component losses in its place (``G_loss``,
``D_loss``). A JSON string holding the history as Python prints it
(``json.dump(str(history.history), f)``) is read as that history.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from losslens import keys
from losslens.errors import ImportError_
from losslens.importers.base import (
    check_readable,
    file_run,
    read_head,
    read_regular,
)
from losslens.importers.textutil import python_literal
from losslens.model import ImportedRun, jsonable

#: Keys a history sits under beside the run's settings.
HISTORY_KEYS = ("history", "training_history", "train_history", "metrics", "logs")
STEP_KEYS = ("step", "steps", "global_step", "iter", "iteration", "iterations")
EPOCH_KEYS = ("epoch", "epochs")
#: A list this many times shorter than the longest is a setting, not a series.
SHORT = 20
#: Series named only for their split are each ``<split>_loss``, named as any other key
#: (``val_loss`` is ``eval/loss``) ...
SPLITS = frozenset({"train", "val", "valid", "validation", "dev", "test"})
#: A record's container of numbers (``{"epoch": 1, "metrics": {...}}``): its own numbers.
CONTAINERS = frozenset({"metrics", "stats", "logs", "results", "values"})
#: ... unless the file's name holds one of these: it names what the lists hold.
OTHER_QUANTITY = ("acc", "f1", "metric", "score", "reward", "bleu", "wer", "lr", "grad", "perp")
#: A history's file names: JSON, or a text file a script printed it to (``log.txt`` of
#: JSON lines, ``print(history.history)`` saved as ``log_train.txt``)
_SUFFIXES = (".json", ".txt", ".log")
#: Largest file read whole (a history is a few numbers per log).
MAX_BYTES = 64 * 1024 * 1024

Record = dict[str, float]


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _history(doc: Any) -> tuple[Any, dict[str, Any]]:
    """The history in ``doc`` and the config beside it; a document whose one key holds a
    history (``{"<run name>": {"loss": [...]}}``) is that history."""
    if isinstance(doc, dict):
        # a listed key, else one named for a history (``metrics_history``, ``loss_history``)
        named = [k for k in doc if isinstance(k, str) and k.lower().endswith("history")]
        for k in (*HISTORY_KEYS, *named):
            if isinstance(doc.get(k), (list, dict)):
                cfg = doc.get("config")
                return doc[k], cfg if isinstance(cfg, dict) else {}
        if len(doc) == 1:
            (only,) = doc.values()
            if isinstance(only, dict) and _records(only):
                return only, {}
        # or the one list of records holding a loss, whatever its key (``training_log``,
        # ``loss_curve``): beside settings and summaries, the log is the list of records
        # (a document whose own lists hold no loss, a config's ``betas: [0.9, 0.999]``, is
        # not itself the history)
        logs = [k for k, v in doc.items() if _record_list(v)]
        if len(logs) == 1 and not _has_loss(_records(doc)):
            cfg = doc.get("config")
            return doc[logs[0]], cfg if isinstance(cfg, dict) else {}
    return doc, {}


def _record_list(v: Any) -> bool:
    """Whether ``v`` is a list of 2 records or more whose numbers hold a loss."""
    return (
        isinstance(v, list)
        and len(v) >= 2
        and all(isinstance(r, dict) for r in v)
        and _has_loss([_flat(r) for r in v])
    )


def _numbers(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(_number(x) or x is None for x in v)


def _nested(hist: dict[str, Any]) -> dict[str, Any]:
    """Lists one level down, named by the object above them: ``{"losses": {"ner": [...]}}``
    (spaCy's history) is ``ner_loss``, ``{"scores": {"ents_f": [...]}}`` is ``scores_ents_f``."""
    out: dict[str, Any] = {}
    for k, v in hist.items():
        if isinstance(v, dict):
            loss = k.lower() in ("losses", "loss")
            out.update(
                {f"{n}_loss" if loss else f"{k}_{n}": x for n, x in v.items() if _numbers(x)}
            )
    return out


def _indexed(v: Any) -> Any:
    """A column pandas wrote by row index (``DataFrame.to_json()``: ``{"0": 0.72, "1": 0.71}``)
    as the list it holds, in the order of the index; anything else as it is."""
    if not isinstance(v, dict) or not v or not all(isinstance(k, str) and k.isdigit() for k in v):
        return v
    return [v[k] for k in sorted(v, key=int)]


#: The keys of one point of a metric's own list, beside its ``value``.
_POINT_KEYS = frozenset({*STEP_KEYS, *EPOCH_KEYS, "time", "wall_time", "timestamp"})


def _points(v: Any) -> Any:
    """A metric's list of points (``[{"epoch": 0, "value": 1.42}, ...]``, as scalar exports
    write them) as the list of its values, in order; anything else as it is."""
    if not isinstance(v, list) or not v or not all(isinstance(r, dict) for r in v):
        return v
    if not all(_number(r.get("value")) and set(r) - {"value"} <= _POINT_KEYS for r in v):
        return v
    return [float(r["value"]) for r in v]


def _columns(hist: dict[str, Any]) -> list[Record]:
    """Records from a dict of number lists (a metric's list of ``{epoch, value}`` points
    read as its values), shorter lists spread to end with the longest."""
    hist = {k: _points(_indexed(v)) for k, v in hist.items()}
    cols = {k: v for k, v in {**_nested(hist), **hist}.items() if _numbers(v)}
    if not cols:
        return []
    top = max((len(v) for k, v in cols.items() if _is_loss(k)), default=None)
    # a list longer than every loss is one value per example (``val_preds``, the held-out
    # labels), not per log
    longer = {k.lower() for k, v in cols.items() if top is not None and len(v) > top}
    cols = {k: v for k, v in cols.items() if top is None or len(v) <= top}
    n = max(len(v) for v in cols.values())
    # a list far shorter than the history (``phase_starts: [0, 15, 40]``) is a setting
    cols = {k: v for k, v in cols.items() if len(v) >= max(2, n / SHORT)}
    out: list[Record] = [{} for _ in range(n)]
    for k, v in cols.items():
        for i, x in enumerate(v):
            if x is not None:
                out[round((i + 1) * n / len(v)) - 1][k] = float(x)
    if longer & {*STEP_KEYS, *EPOCH_KEYS}:
        # steps listed for more logs than the losses' (the evals' among them): the rows are
        # the losses' logs in order, at no known step or epoch (never one epoch each)
        for i, r in enumerate(out):
            r["step"] = float(i + 1)
    return out


def _records(hist: Any) -> list[Record]:
    indexed = _indexed(hist)
    if indexed is not hist and all(isinstance(r, dict) for r in indexed):
        hist = indexed  # records by row index (pandas' ``to_json(orient="index")``)
    if isinstance(hist, dict) and hist and any(_split_list(k, v) for k, v in hist.items()):
        splits = {k: v for k, v in hist.items() if _split_list(k, v)}
        n = max(len(v) for v in splits.values())
        beside = {k: v for k, v in hist.items() if k not in splits}
        if all(isinstance(v, list) and len(v) == n for v in beside.values()):
            # ``{"train": [...], "val": [...], "lr": [...]}``: lists beside the splits' records,
            # one value per epoch as theirs, are that epoch's (a list of labels, ``"phase"``,
            # holds none)
            out = _split_records(splits, keep_empty=True)
            for k, v in beside.items():
                for r, x in zip(out, v, strict=True):
                    if _number(x):
                        r[k] = float(x)
            return [r for r in out if r]
    if isinstance(hist, dict):
        return _columns(hist)
    if isinstance(hist, list) and hist and all(isinstance(r, dict) for r in hist):
        return [_flat(r) for r in hist]
    return []


def _split_list(key: Any, value: Any) -> bool:
    """Whether ``key: value`` is a split's list of records (``"val": [{"loss": ..}, ..]``)."""
    return (
        isinstance(key, str)
        and key.lower() in SPLITS
        and isinstance(value, list)
        and bool(value)
        and all(isinstance(r, dict) for r in value)
    )


def _split_records(hist: dict[str, list[Any]], *, keep_empty: bool = False) -> list[Record]:
    """``{"train": [{...}, ...], "val": [{...}, ...]}``: one list of records per split, the
    i-th record of each from the same epoch; each record's numbers named for its split (an
    epoch with none left out, unless ``keep_empty``)."""
    n = max(len(v) for v in hist.values())
    out: list[Record] = [{} for _ in range(n)]
    for split, rows in hist.items():
        for i, row in enumerate(rows):
            if isinstance(row, dict):
                out[i].update({f"{split}_{k}": float(v) for k, v in row.items() if _number(v)})
    return out if keep_empty else [r for r in out if r]


def _flat(record: dict[str, Any]) -> Record:
    """A record's numbers; one level of nesting by split is flattened into the names keys
    read (``{"train": {"loss": ..}, "val": {"loss": ..}}`` is ``train_loss`` and ``val_loss``),
    and the numbers in a container (``{"epoch": 1, "metrics": {"train_loss": ..}}``) are the
    record's own, its outer numbers kept where a name is in both."""
    out: Record = {}
    inner: Record = {}
    for k, v in record.items():
        if _number(v):
            out[k] = float(v)
        elif isinstance(v, dict) and k.lower() in SPLITS:
            out.update({f"{k}_{n}": float(x) for n, x in v.items() if _number(x)})
        elif isinstance(v, dict) and k.lower() in CONTAINERS:
            inner.update({n: float(x) for n, x in v.items() if _number(x)})
    return {**inner, **out}


def _loss_rows(doc: Any, stem: str) -> list[Record]:
    """A file named for its losses (``loss_history.json``) holding rows of numbers,
    ``[[step, train_loss], ...]`` or ``[[step, train_loss, val_loss], ...]``: the order a
    script appends them in (its step first, a whole number that never goes back). A flat list
    of numbers there is the train loss, one value per log. Empty when the file is neither."""
    if "loss" not in stem or not isinstance(doc, list) or len(doc) < 2:
        return []
    if all(_number(v) for v in doc):
        return [{"loss": float(v)} for v in doc]
    if not all(isinstance(r, list) and r and all(_number(v) for v in r) for r in doc):
        return []
    width = len(doc[0])
    steps = [r[0] for r in doc]
    if width not in (2, 3) or any(len(r) != width for r in doc):
        return []
    if not all(float(x).is_integer() for x in steps) or steps != sorted(steps):
        return []
    names = ("step", "loss", "val_loss")[:width]
    return [{n: float(v) for n, v in zip(names, r, strict=True)} for r in doc]


def _has_loss(records: list[Record]) -> bool:
    """A train or eval loss, or component losses in its place (a GAN's ``G_loss`` and
    ``D_loss``: the analysis reads each for NaNs and says no single train loss was found)."""
    return any(_is_loss(n) for n in {k for r in records[:50] for k in r})


def _is_loss(name: str) -> bool:
    """Whether ``name`` is a train or eval loss (also a total, averaged or NLL loss,
    ``train_nll``) or a component loss (``G_loss``)."""
    if keys.resolve([name], keys.LOSS) or keys.resolve([name], keys.EVAL_LOSS):
        return True
    return keys.normalize_key(name).endswith("_loss")


def _named_loss(records: list[Record]) -> list[Record]:
    """Records where no key names the train loss, with the key that names it otherwise read
    as ``loss`` and its held-out twin as ``val_loss``: the one train-side key that names a loss
    with a qualifier (``loss_x`` beside ``val_loss_x``), else the first named by its function
    (``bce`` beside ``val_bce`` and ``rmse``: Keras lists the compiled loss before the
    metrics), else a split's ``total`` holding fractions (``{"train": {"total": 0.55,
    "keypoint": 0.001, ...}}``: the sum of a multi-part objective, detectron2's
    ``total_loss`` named without its kind; a whole-number ``total`` is a count). The records
    as they are when there is none."""
    names = list(dict.fromkeys(k for r in records[:50] for k in r))
    tails = {n: keys.normalize_key(n).partition("/") for n in names}
    train = [n for n in names if tails[n][0] == "train"]

    def words(n: str) -> set[str]:
        return set(re.split(r"[\W_]+", tails[n][2].lower()))

    qualified = [n for n in train if "loss" in words(n)]
    if len(qualified) > 1:
        return records  # several losses (a GAN's ``loss_g``, ``loss_d``): no one is the run's
    pick = (
        next(iter(qualified), None)
        or next((n for n in train if words(n) & keys.LOSS_FUNCTIONS), None)
        or next((n for n in train if words(n) == {"total"} and _fractional(records, n)), None)
    )
    if pick is None:
        return records
    twin = next((n for n in names if tails[n] == ("eval", "/", tails[pick][2])), None)
    new = {pick: "loss", **({twin: "val_loss"} if twin else {})}
    return [{new.get(k, k): v for k, v in r.items()} for r in records]


def _fractional(records: list[Record], name: str) -> bool:
    """Whether ``name`` holds a fraction somewhere: a measured total, not a count."""
    return any(name in r and not float(r[name]).is_integer() for r in records)


def _stepped(records: list[Record]) -> list[tuple[float, Record]]:
    """``(step, record)``: by the records' step key, else their epoch, else their place; the
    steps as written (:class:`StepGuard` drops those that are no 64-bit integer)."""
    low = {k.lower(): k for r in records for k in r}
    step_key = next((low[k] for k in STEP_KEYS if k in low), None)
    epoch_key = next((low[k] for k in EPOCH_KEYS if k in low), None)
    if step_key is not None:
        return [(r[step_key], r) for r in records if step_key in r]
    if epoch_key is not None:
        first = min(r[epoch_key] for r in records if epoch_key in r)
        shift = 1 if first == 0 else 0
        out = []
        for r in records:
            if epoch_key in r and float(r[epoch_key]).is_integer():
                done = r[epoch_key] + shift  # the record of epoch 0 ends the first epoch
                rest = {k: v for k, v in r.items() if k != epoch_key}
                out.append((done, {**rest, "epoch": done}))
        return out
    return [(i + 1, {**r, "epoch": float(i + 1)}) for i, r in enumerate(records)]


def _json_lines(text: str) -> list[Any] | None:
    """The records of a JSON-lines file (one object per line, ``json.dumps(record)`` appended
    each epoch), or None when a line is not a JSON object."""
    out = []
    for line in text.splitlines():
        if line.strip():
            try:
                row = json.loads(line)
            except (ValueError, RecursionError):
                return None
            if not isinstance(row, dict):
                return None
            out.append(row)
    return out or None


def _parse(path: Path) -> tuple[list[tuple[float, Record]], dict[str, Any]] | None:
    try:
        text = read_regular(path, MAX_BYTES).decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    try:
        doc = json.loads(text)
    except RecursionError:
        return None  # nested deeper than any history: not one
    except ValueError:
        # JSON lines, or the history as Python prints it (``print(history.history)``)
        doc = _json_lines(text)
        if doc is None:
            doc = python_literal(text.strip())
        if doc is None:
            return None
    if isinstance(doc, str):
        # ``json.dump(str(history.history), f)``: the history as Python prints it, quoted
        doc = python_literal(doc.strip())
    hist, cfg = _history(doc)
    stem = path.stem.lower()
    records = _records(hist) or _loss_rows(hist, stem)
    if records and not _has_loss(records) and not any(w in stem for w in OTHER_QUANTITY):
        records = [
            {f"{k}_loss" if k.lower() in SPLITS else k: v for k, v in r.items()} for r in records
        ]
    if records and not _has_loss(records):
        records = _named_loss(records)
    if len(records) < 2 or not _has_loss(records):
        return None
    return _stepped(records), cfg


class JSONHistoryImporter:
    name = "json_history"
    description = "a training history saved as JSON ({'loss': [...], 'val_loss': [...]})"

    def sniff(self, path: Path) -> bool:
        if path.is_dir() or path.suffix.lower() not in _SUFFIXES:
            return False
        head = read_head(path, 64).removeprefix(b"\xef\xbb\xbf").lstrip()
        try:
            return head.startswith((b"{", b"[", b'"')) and _parse(path) is not None
        except ImportError_:
            return False  # too large to be a history: some other JSON, not this format's

    def claims(self, path: Path) -> bool:
        return False

    def read(self, path: Path) -> Iterator[ImportedRun]:
        check_readable(path)
        parsed = _parse(path)
        if parsed is None:
            raise ImportError_(
                "no training history (lists or records holding a loss) in this JSON file",
                "save history.history (Keras) or a list of {'epoch': ..., 'loss': ...} records",
                path=str(path),
            )
        rows, cfg = parsed
        yield file_run(
            path, self.name, rows, by_step=True, config={k: jsonable(v) for k, v in cfg.items()}
        )

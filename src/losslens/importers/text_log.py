"""Plain-text logs of custom training loops: one progress line per log, key/value fields.

Many scripts print their own lines instead of the Trainer's dicts::

    step    50/5000 | lr 7.463e-05 | loss 9.8108 | tok/s 3585.9
    | Step 1,000/50,000 | Epoch 0 | Loss: 6.1849 | LR: 1.98e-05 | GPU: 6.1GB | - |
    ep: 0, batch: 20, time: 9.17, ntokens: 485.20/513, loss: 10.984375
    iter 300: loss 2.1044, val loss 2.2031, lr 6.0e-04
    Epoch [003/30] TrainLoss=1.3743 TrainAcc=57.59% | ValLoss=1.2125 ValAcc=62.21%
    Epoch:[0/19](100/61701) loss:2.683 lr:0.0000100

A line opens a log when it names a step counter (``step``, ``iter``, ``iteration``,
``global_step``, ``batch``) with a number, or, in a log where no line pairs a loss with such a
counter, an epoch counter (``Epoch 3``: a log at the end of that epoch). Fields are ``key
value``, ``key: value`` or ``key=value``, apart by ``|``, ``,``, ``;`` or spaces, a number
possibly in brackets (``Epoch:[0/19](100/61701)``, ``Epoch: [1][100/476]``: then the step within
the epoch, of its length); a loss key with qualifiers or in camel case (``Average Loss``,
``TrainLoss``, ``EPOCH loss``), OpenNMT's ``xent`` and the ``Cost`` of older tutorials are the
train loss, and so is a loss named by its function (``Train MSE Loss``; ``val_mse_loss`` the
held-out one) where no field on its line names the loss itself (``Total Loss`` then wins);
``1,000`` is a thousand, ``n/N`` on a counter gives the planned length (``max_steps``), ``nan``
and ``inf`` are values and a number with a unit (``6.1GB``) is none. A split's name alone before
a fraction (``Train 9.6801 | Val 9.6793``) is that split's loss (before a percentage, ``Val:
92.77%``, a score: none). In a log with no counter on any line (``[ (0 ) Loss: 0.382,
valid_Loss: 0.361]``), each line with a train loss is the next log. Lines with a loss or a
held-out value (``val loss``, ``test accuracy``, named ``eval_...``) and no counter fill the log
above them; a line that opens with a held-out split's name in brackets reports that split
(``[Dev] loss: 2.19``; so does one that opens with that set, ``Test set: Average loss:
0.0479``) unless its fields name their splits, and a counter alone on its line
pairs with the losses on the lines below it (``epoch: 0, iteration: 100`` then ``[Train] loss:
0.68``).
A counter that restarts each epoch (``batch``, ``Epoch Step``, ``Accumulation Step``, or any
counter that goes back, or repeats its count, as the epoch advances: on its line, or on a line
of its own or beside the train loss since its last count, ``Epoch 2 -- train: 0.53``; a note's
``epoch=3`` names none) runs on across epochs; a line that
counts a held-out split's batches (``val step:0 loss: 3.27``) reports one batch of that split
(``eval/batch_loss``), and ``val loss_avg`` is its loss; any other counter that goes back is a
resumed run, whose lines replace the logs
from that step on (a note with other values and no train loss, ``loaded best model (epoch=20,
val_loss=1.05)``, is none). An epoch printed as a whole number beside a step counter is an index
(``Epoch 0`` for the whole first pass), kept as ``epoch_index``, not read as the Trainer's
fractional progress. A tqdm bar is read as the log its description and postfix hold, its ``n/N``
the counter (``Processing Epoch 30: 100%| 3516/3516 [...] loss=2.316``: the epoch's last batch,
counted within the epoch; the finished bars of successive epochs are one log each). Lines of any
other kind (samples, checkpoints, banners) are skipped. A value named for an epoch (``Average
loss for epoch 1: 0.36``) is that epoch's; a split's name before a loss function (``train MSE:
0.063``, ``val MSE``) is that split's loss where no field names it; the one loss a counted line
names with a word before it (``Epoch:0, mask loss is 0.1411``; not ``best loss`` or ``batch
loss``) is the train loss. A text with no progress lines may print its run as a table
(``Epoch    Train Loss   Val Acc (%)`` over rows of numbers), read as a Markdown table's rows.
"""

from __future__ import annotations

import math
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
    read_text,
    run_from_rows,
    text_log_head,
)
from losslens.importers.markdown_table import printed_rows
from losslens.importers.textutil import TQDM_BAR
from losslens.model import ImportedRun

_NUM = (
    r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+]?\.\d+(?:[eE][-+]?\d+)?"
    r"|[-+]?(?:nan|inf(?:inity)?)"
)
#: One field: a key of one or two words, then its number (``n/N`` for a counter); ``is``
#: may join them as ``:`` does (``loss is: 2.50``, ``loss is 2.50``).
_FIELD = re.compile(
    rf"(?<![\w/.])(?P<key>[A-Za-z][\w/.\-]*(?: (?!is\b)[A-Za-z][\w/.\-]*)?)\s*(?:is\b\s*)?[:=]?\s*"
    rf"(?P<open>\[\s*)?"
    rf"(?P<num>{_NUM})(?:\s*/\s*(?P<total>{_NUM}))?(?(open)\s*\])(?![\w.])"
    rf"(?:[(\[] *(?P<inner>\d+) */ *(?P<inner_total>\d+) *[)\]])?",
    re.IGNORECASE,
)
#: Words around ``loss`` that still name the train loss (``Average Loss``, ``TrainLoss``).
_LOSS_WORDS = frozenset(
    {"train", "training", "tr", "avg", "average", "mean", "total", "running", "epoch"}
)
#: A loss named by its function (``Train MSE Loss``, ``val_ctc_loss``) is that split's loss
#: when no field on its line names the loss itself (``Total Loss`` wins over ``MSE Loss``).
_LOSS_FUNCTIONS = keys.LOSS_FUNCTIONS
#: Step counters, the most global first; the last three start again each epoch.
_STEP_KEYS = (
    "global_step",
    "global step",
    "step",
    "iteration",
    "iter",
    "it",
    "update",
    "train step",
    "accumulation step",
    "epoch step",
    "batch",
)
_WITHIN = ("accumulation step", "epoch step", "batch")
#: The source position Python's logging formats print (``%(lineno)d``), never a metric.
_SOURCE_LINE = frozenset({"line", "lineno"})
#: Counters a phase's name may precede (``SFT Step``, ``DPO iter``): the run's step.
_PHASE_COUNTERS = ("step", "iteration", "iter")
#: Counters of a held-out split's batches (``val step:0``, ``test iter 3``): no step of the run.
_BATCHES = (*_PHASE_COUNTERS, "batch")
_EPOCH_KEYS = ("epoch", "ep")
_TRAIN_LOSS = ("loss", "train loss", "train_loss", "training loss", "tr_loss", "xent", "cost")
#: A held-out value: its key starts with one of these (``val loss``, ``test accuracy``).
_EVAL_PREFIX = ("validation", "valid", "val", "eval", "test", "dev")
#: A split's name alone before a fraction (``Train 9.6801 | Val 9.6793``) names that split's
#: loss; before a whole number or ``n/N`` it is a counter (``Train: [10/391]``), no value.
_SPLIT_LOSS = {"train": "loss", "training": "loss", **{s: f"{s} loss" for s in _EVAL_PREFIX}}
#: A line that opens with a held-out split's name in brackets (``[Dev] loss: 2.19``) or as
#: that set (``Test set: Average loss: 0.0479``, PyTorch's MNIST example).
_SPLIT_TAG = re.compile(
    rf"\s*(?:\[(?P<split>{'|'.join(_EVAL_PREFIX)})\]|(?P<set>{'|'.join(_EVAL_PREFIX)}) set\s*:)",
    re.IGNORECASE,
)
#: ``<split> epoch``: the epoch counter of a line that reports one split (``Test Epoch 1``).
_SPLIT_EPOCHS = {(split, "epoch") for split in ("train", "training", *_EVAL_PREFIX)}
_RENAME = {
    **{k: "loss" for k in _TRAIN_LOSS},
    "lr": "learning_rate",
    "learning rate": "learning_rate",
    "grad norm": "grad_norm",
    "gnorm": "grad_norm",
}
#: ``Average loss for epoch 1: 0.36``, ``Test accuracy after epoch 5: 89.70%``: a value named
#: for an epoch, read as ``epoch 1, Average loss: 0.36`` (possessive, so a long line is read
#: in one pass).
_FOR_EPOCH = re.compile(r"(?<!\s)\s++(?:for|after|at|of)\s++epoch\s++(?P<n>\d++)\s*+:", re.I)
#: Words before ``loss`` that name a record, not the loss being trained (``best loss``),
#: and ``batch loss``, one batch's, which a log of the epoch's loss may print beside it.
_NOTE_WORDS = frozenset(
    {"best", "min", "lowest", "final", "last", "prev", "previous", "target", "batch"}
)
#: Bytes read when sniffing, and the logs needed in them.
_SNIFF_BYTES, _SNIFF_LOGS = 1 << 18, 3

Fields = dict[str, tuple[float, float | None]]


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def _fields(line: str) -> tuple[Fields, bool]:
    """The ``key -> (value, total)`` fields of one line, keys lowercased, and whether the
    line is a tqdm bar."""
    out: Fields = {}
    if (at := _FOR_EPOCH.search(line)) is not None:
        line = f"epoch {at['n']}, {line[: at.start()]}:{line[at.end() :]}"
    tag = _SPLIT_TAG.match(line)
    bar = TQDM_BAR.search(line)
    if bar is not None:
        # a tqdm bar: its description and its postfix (after the rate) hold the fields, its
        # ``n/N`` the counter; the percentage, the times and the rate are no metrics
        post = (bar.group(4) or "").split(", ", 2)[2:]
        line = line[: bar.start()] + " " + " ".join(post)
    named = False  # a field names its split (``train 3.44 val 3.43``): a tag adds nothing
    held: str | None = None  # the split of a held-out batch counter on the line ...
    held_at: tuple[float, float | None] = (0.0, None)  # ... and its count
    # the losses named by their function, kept where no field names the loss (else under
    # their own name: ``Train Loss: 17053, Train MAE: 116.49`` keeps ``train mae``)
    fn: dict[str, tuple[str, tuple[float, float | None]]] = {}
    for m in _FIELD.finditer(line):
        key = keys.CAMEL.sub(" ", m.group("key")).lower()  # ``TrainLoss`` is ``train loss``
        if key.partition(" ")[0] in _EVAL_PREFIX and key.rpartition(" ")[2] in _BATCHES:
            if held is None:  # ``val step:0``: a held-out batch's line (see below)
                held, held_at = key.partition(" ")[0], (_number(m.group("num")), None)
            continue
        named = named or key.replace("_", " ").split()[0] in _SPLIT_LOSS
        own, words = key, _words(key)
        # ``Average Loss``, ``avg_loss``; ``Train MSE Loss``, a loss named by its function
        by_fn = not _LOSS_FUNCTIONS.isdisjoint(words)
        if key != "loss" and set(words) - _LOSS_WORDS - _LOSS_FUNCTIONS == {"loss"}:
            key = "loss"  # the train loss
        elif words[0] in _EVAL_PREFIX and set(words[1:]) - _LOSS_WORDS - _LOSS_FUNCTIONS == {
            "loss"
        }:
            key = f"{words[0]} loss"  # ``val loss_avg``, ``val_mse_loss``: the held-out loss
        elif len(words) > 1 and words[0] in _SPLIT_LOSS and _LOSS_FUNCTIONS.issuperset(words[1:]):
            # ``train MSE``, ``val MSE``: the split's loss by its function
            key = _SPLIT_LOSS[words[0]]
        elif key not in _STEP_KEYS and key.rpartition(" ")[2] in _PHASE_COUNTERS:
            key = "step"  # ``SFT Step 0010``: a phase's name before its step counter
        elif key.partition(" ")[::2] in _SPLIT_EPOCHS or (
            bar is not None and key.rpartition(" ")[2] == "epoch"
        ):
            # ``Train Epoch 1``, ``Test Epoch 1``: the epoch a split reports; a bar's
            # ``Processing Epoch 30``: the epoch a phase counts (a banner's ``from epoch 0`` is
            # none)
            key = "epoch"
        if key in _SOURCE_LINE:
            continue  # ``train.py[line:123]``: where a logging call sits, no metric
        total = m.group("total")
        if key in _SPLIT_LOSS:
            if total or not re.search(r"[.eE]", m.group("num")):
                continue  # ``Train: [10/391]``: a counter of the split's batches
            if line[m.end() : m.end() + 1] == "%":
                continue  # ``Validation: 92.77%``: a score, not the split's loss
            key = _SPLIT_LOSS[key]
        value = (_number(m.group("num")), _number(total) if total else None)
        if by_fn and key.endswith("loss"):
            fn.setdefault(key, (own, value))
        else:
            out.setdefault(key, value)
        if m.group("inner") and key in _EPOCH_KEYS:
            # ``Epoch:[0/19](100/61701)``: the step within the epoch, of its steps
            out.setdefault("epoch step", (float(m.group("inner")), float(m.group("inner_total"))))
    for key, (own, value) in fn.items():
        out.setdefault(key if key not in out else own, value)
    lone = [k for k in out if "loss" in _words(k) and not _held_out(k)]
    if (
        len(lone) == 1
        and len(parts := lone[0].split()) == 2
        and parts[1] == "loss"
        and parts[0] not in _NOTE_WORDS
        and (_counter(out) or _epoch(out) is not None)
    ):
        # ``Epoch:0, mask loss is 0.1411``: the one loss a counted line names is the train loss
        out["loss"] = out.pop(lone[0])
    if held is not None and named:
        # ``Val step 500 | train loss 1.93 | val loss 1.93``: the run's step at an eval
        out.setdefault("step", held_at)
    elif held is not None:
        # ``epoch:[1/25] val step:0 loss: 3.27``: one held-out batch, not the split's loss
        out = {k if k in _EPOCH_KEYS else f"{held} batch {k}": v for k, v in out.items()}
    elif tag is not None and not named:
        # ``[Dev] loss: 2.19``: a line tagged with a held-out split reports that split
        out = {
            k
            if _held_out(k) or k in _STEP_KEYS
            else f"{(tag['split'] or tag['set']).lower()} {k}": v
            for k, v in out.items()
        }
    if bar is not None and out:
        within = any(k in out for k in _EPOCH_KEYS)  # ``Epoch 3: 40%|…| 40/100``: its batches
        out.setdefault("epoch step" if within else "step", (float(bar[2]), float(bar[3])))
    return out, bar is not None


def _words(key: str) -> list[str]:
    """The words of a key, apart by spaces or underscores (``val_mse_loss``)."""
    return re.split(r"[\s_]+", key)


def _new_postfixes(lines: list[tuple[Fields, bool]]) -> list[Fields]:
    """The lines, tqdm bars read as the logs their postfixes are: a bar redrawn at the same
    count stands once (its last drawing, after ``set_postfix``; the finished bars of two
    epochs, ``Epoch 3: 100%| 50/50`` then ``Epoch 4: 100%| 50/50``, are two), and a bar
    whose postfix has not changed since the last bar kept shows that log again, held, not a
    new one."""
    out: list[Fields] = []
    last: Fields | None = None  # the postfix of the last bar kept, without its counter
    for i, (f, bar) in enumerate(lines):
        if not bar:
            out.append(f)
            continue
        key = _counter(f)
        nxt = lines[i + 1] if i + 1 < len(lines) else None
        if (
            nxt is not None
            and nxt[1]
            and key is not None
            and nxt[0].get(key) == f[key]
            and nxt[0].get("epoch") == f.get("epoch")
        ):
            continue  # redrawn at the same count (of the same epoch): its last drawing stands
        post = _without(f, key)
        if not any(k not in _EPOCH_KEYS for k in post):
            # a bar with no metric is only a counter: its last drawing before another line
            # stands (``Epoch 1/4: 0/50`` redrawn up to ``50/50``, then the epoch's summary)
            if (
                nxt is None
                or not nxt[1]
                or _counter(nxt[0]) != key
                or _without(nxt[0], key) != post
            ):
                out.append(f)
            continue
        if post != last:
            out.append(f)
            last = post
    return out


def _without(f: Fields, key: str | None) -> Fields:
    return {k: v for k, v in f.items() if k != key}


def _held_out(key: str) -> str | None:
    """``eval_<rest>`` for a held-out value's key (``val loss`` -> ``eval_loss``)."""
    head, _, rest = key.replace("_", " ").partition(" ")
    return f"eval_{rest.replace(' ', '_')}" if head in _EVAL_PREFIX and rest else None


def _name(key: str) -> str:
    """The Trainer's name for a field (``val loss`` -> ``eval_loss``, ``lr`` ->
    ``learning_rate``)."""
    return _RENAME.get(key) or _held_out(key) or key.replace(" ", "_")


def _counter(f: Fields) -> str | None:
    return next((k for k in _STEP_KEYS if k in f), None)


def _epoch(f: Fields) -> float | None:
    return next((f[k][0] for k in _EPOCH_KEYS if k in f), None)


def _loss_below(f: Fields) -> bool:
    """Whether a line holds a loss and no counter: it fills the log of the counter above."""
    return _has_loss(f) and _counter(f) is None


def _has_loss(f: Fields) -> bool:
    return any(k in _TRAIN_LOSS or _held_out(k) == "eval_loss" for k in f)


class TextLogImporter:
    name = "text_log"
    description = "progress lines of a custom training loop (step 10 | loss 2.3 | lr 1e-4)"

    def sniff(self, path: Path) -> bool:
        head = text_log_head(path, _SNIFF_BYTES)
        if head is None:
            return False
        return has_progress(head.decode("utf-8", "replace"))

    def claims(self, path: Path) -> bool:
        return False  # a .txt or .log with no progress line is the Trainer console's to refuse

    def read(self, path: Path) -> Iterator[ImportedRun]:
        yield read_text_log(path)


def _rows(text: str, warnings: list[str]) -> tuple[list[tuple[int, dict[str, Any]]], int | None]:
    """``(step, row)`` for every log, and the planned step count when a counter says it.

    A line with a step counter opens a log at its step (the epoch counter when no line pairs a
    loss with a step counter, each log then at the end of its epoch; with no counter on any
    line, each line with a train loss opens the next log, in order); a line with a loss or a
    held-out value and no counter belongs to the log above it (``epoch 3`` then ``loss: 4.9``
    then ``test accuracy: 27.4%``). A counter that goes back restarts the run (resumed from a
    checkpoint): its later lines replace the logs after that point, as the Trainer's own log
    history does.
    """
    lines = _new_postfixes([got for line in text.splitlines() if (got := _fields(line))[0]])
    # a step counter pairs with a loss on its line, or on the lines just below its own
    # (``epoch: 0, iteration: 100`` then ``[Train] loss: 0.68``)
    by_epoch = not any(
        _counter(f) and (_has_loss(f) or (i + 1 < len(lines) and _loss_below(lines[i + 1])))
        for i, f in enumerate(lines)
    )
    # no counter on any line: each line with a train loss is the next log, in order
    ordinal = not any(_counter(f) is not None or _epoch(f) is not None for f in lines)
    logs: dict[int, dict[str, Any]] = {}
    planned: int | None = None
    offset, last, epoch_ctx, cur = 0, -1.0, None, None
    step = 0
    first_epoch: float | None = None
    last_ep: float | None = None  # the epoch on the last counter line
    # the epoch named on a line of its own or beside the train loss (``Epoch 2 -- train:
    # 0.53``, no note's ``epoch=3``), and its value at the last counter line
    named_ep: float | None = None
    named_at_last: float | None = None
    for f in lines:
        key, ep = _counter(f), _epoch(f)
        if ep is not None:
            epoch_ctx = ep
            if key is None and (len(f) == 1 or any(k in _TRAIN_LOSS for k in f)):
                named_ep = ep if named_ep is None else max(named_ep, ep)
        if ordinal and any(k in _TRAIN_LOSS for k in f):
            step = (cur or 0) + 1
        elif key is not None and not by_epoch:
            count, total = f[key]
            if not math.isfinite(count):
                continue
            # a counter that goes back as the epoch advances (on its line, or named since its
            # last count) counts within the epoch, whatever its name (``epoch:[2/25] train
            # step:0`` after ``step:100``; ``step 20/328`` after ``Epoch 1 -- train: 0.53``)
            advanced = (ep is not None and last_ep is not None and ep > last_ep) or (
                named_ep is not None and (named_at_last is None or named_ep > named_at_last)
            )
            within = key in _WITHIN or (advanced and count <= last)
            if within and (count < last or (count == last and (ep != last_ep or advanced))):
                # a count within the epoch: the steps run on, by the epoch's length when the
                # counter gives it (``(100/61701)``), else past the last count; the same
                # count in the next epoch (``Epoch: [1][300/320]`` after ``[0][300/320]``,
                # a finished bar per epoch, its epoch on its line or on a line of its own
                # above it) is the next epoch's
                offset += int(total) if total else int(last) + (1 if count == 0 else 0)
            last, last_ep, named_at_last = count, ep, named_ep
            step = offset + int(count)
            if total is not None and 0 < total < 1e12 and key not in _WITHIN:
                planned = int(total)
        elif by_epoch and ep is not None and key is None and math.isfinite(ep):
            first_epoch = ep if first_epoch is None else first_epoch
            step = int(ep) + (1 if first_epoch == 0 else 0)  # a log at the end of its epoch
            total = next((f[k][1] for k in _EPOCH_KEYS if k in f), None)
            if total is not None and 0 < total < 1e12:
                planned = int(total)  # ``Epoch 3/10``: one log per epoch, 10 planned
        elif cur is not None and (_has_loss(f) or any(_held_out(k) for k in f)):
            step = cur
        else:
            continue
        if cur is not None and step < cur:
            if len(f) > 1 and not any(k in _TRAIN_LOSS for k in f):
                # a note naming an earlier count (``loaded best model (epoch=20,
                # val_loss=1.05)``) is no restart: a resumed run logs its train loss again,
                # on the line or below a bare ``epoch 2``
                continue
            dropped = [s for s in logs if s >= step]
            for s in dropped:
                del logs[s]
            warnings.append(
                f"the log starts again at step {step} (a resumed run): its lines replace the "
                f"{len(dropped)} logs from that step on"
            )
        cur = step
        row = logs.setdefault(step, {})
        for k, (v, _) in f.items():
            # the counters, and another step number on the line (``saved at step 2000``), are
            # no metric
            if k in _STEP_KEYS or k in _EPOCH_KEYS or k.split()[-1] in ("step", "iter", "batch"):
                continue
            if by_epoch:
                row[_name(k)] = v  # a bar redrawn through the epoch ends on its summary
            else:
                row.setdefault(_name(k), v)  # two lines at one step: the first one's value
        if by_epoch and not ordinal:
            row["epoch"] = float(step)  # a log per epoch; an ordinal log's epoch is unknown
        elif epoch_ctx is not None:
            row.setdefault("epoch", epoch_ctx)
    rows = [(s, r) for s, r in sorted(logs.items()) if "loss" in r or "eval_loss" in r]
    # whole numbers beside a step counter are an epoch index (``Epoch 0`` for the whole first
    # pass), not the Trainer's fractional progress: kept under their own name
    if not by_epoch and all(float(r["epoch"]).is_integer() for _, r in rows if "epoch" in r):
        for _, r in rows:
            if "epoch" in r:
                r["epoch_index"] = r.pop("epoch")
    return rows, planned


def has_progress(text: str) -> bool:
    """Whether ``text`` holds 3 progress logs or more (or a printed table of 3 rows)."""
    return len(_rows(text, [])[0]) >= _SNIFF_LOGS or len(_table(text)) >= _SNIFF_LOGS


def _table(text: str) -> list[tuple[int, dict[str, Any]]]:
    """The rows of a printed table of the run, in a text with no progress lines (a row whose
    step is no finite number is none)."""
    return [(int(st), row) for st, row in printed_rows(text.splitlines()) if math.isfinite(st)]


def text_run(
    text: str, *, name: str, source: str, source_id: str, mtime: float, fmt: str = "text_log"
) -> ImportedRun | None:
    """The run of the progress lines in ``text`` (a file, or a notebook cell's printed
    output), or None when it holds fewer than 3 logs."""
    warnings: list[str] = []
    rows, planned = _rows(text, warnings)
    if len(rows) < _SNIFF_LOGS:
        rows, planned = _table(text), None
        if len(rows) < _SNIFF_LOGS:
            return None
    guard = StepGuard(warnings)
    kept = [(s, None, row) for step, row in rows if (s := guard(step)) is not None]
    return run_from_rows(
        name=name,
        fmt=fmt,
        source=source,
        source_id=source_id,
        rows=kept,
        keymap=KeyMap(),
        config={"max_steps": planned} if planned else {},
        start_time=mtime,
        end_time=mtime,
        warnings=warnings,
    )


def read_text_log(path: Path) -> ImportedRun:
    check_readable(path)
    text = read_text(path)
    run = text_run(
        text,
        name=path.stem,
        source=display_path(path),
        source_id="text_log:" + file_hash(path),
        mtime=path.stat().st_mtime,
    )
    if run is None:
        raise ImportError_(
            "no progress lines (3 logs or more: a loss with a step or epoch counter) found",
            "is this the log of a training loop?",
            path=str(path),
        )
    return run

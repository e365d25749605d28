"""Hugging Face Trainer console output: the ``{'loss': ...}`` lines pasted into a file.

A console paste has no steps, so they are reconstructed, best evidence first:

1. the tqdm training bar (``37/100``) drawn right after (or before) each dict line;
2. epochs snapped to a grid of ``logging_steps`` when steps per epoch are known (printed,
   or max_steps / final epoch for a finished run);
3. ``logging_steps`` x line number, with ``logging_steps`` printed or inferred from
   ``max_steps`` and the number of log lines of a finished run;
4. the line number alone (with a warning).

Everything else in the paste (tqdm bars, warnings, ANSI colours, node prefixes, lines cut
mid-way, W&B's end-of-run summary) is tolerated; the ``***** Running training *****``
banner and printed TrainingArguments become config.
"""

from __future__ import annotations

import itertools
import math
import re
import statistics
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
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
    read_regular,
    run_from_rows,
    scalar,
    text_log_head,
)
from losslens.importers.textutil import TQDM_BAR, strip_ansi
from losslens.model import ImportedRun
from losslens.numeric import as_step

_SNIFF = re.compile(
    rb"(?m)^[^'\"{}\n]{0,300}"
    rb"\{\s*['\"](?:loss|eval_loss|train_runtime|grad_norm|learning_rate|eval_[a-z_]+)['\"]\s*:"
)
_DICT_START = re.compile(r"\{\s*(['\"])([A-Za-z_][\w/.\-]*)\1\s*:")
# Every pattern below runs on arbitrary pasted text, so each stays linear in the length of
# a line: no overlapping quantifiers (possessive ``*+``/``++`` where a run could be retried),
# digit runs bounded and anchored (a 100 KB run of digits is not re-scanned from each digit).
_PAIR = re.compile(
    r"""\s*+(['"])(?P<key>[^'"]++)\1\s*+:\s*+"""
    r"""(?P<val>'(?:[^'\\]|\\.)*+'|"(?:[^"\\]|\\.)*+"|(?:tensor|np\.float(?:16|32|64)|np\.int64)\([^)]*+\)|[^,}'"]++)"""
    r"""(?P<end>[,}]|$)"""
)
_BANNER = {
    "num examples": "num_examples",
    "num epochs": "num_train_epochs",
    "num update steps per epoch": "num_update_steps_per_epoch",
    "instantaneous batch size per device": "per_device_train_batch_size",
    "total train batch size (w. parallel, distributed & accumulation)": "total_train_batch_size",
    "gradient accumulation steps": "gradient_accumulation_steps",
    "total optimization steps": "max_steps",
    "number of trainable parameters": "num_trainable_parameters",
}
_BANNER_RE = re.compile(
    r"(?:^|\s)(" + "|".join(re.escape(k) for k in _BANNER) + r")\s*=\s*([\d,]{1,20})(?![\d,])",
    re.I,
)
_BANNER_START = re.compile(r"\*{3,}\s*Running (training|evaluation|prediction)", re.I)
_ARG_NAMES = keys.TRAINING_ARGS
_ARG_RE = re.compile(
    r"(?<![\w.'\"])(" + "|".join(_ARG_NAMES) + r")\s*[=:]\s*"
    r"(?:<[\w.]+:\s*)?'?([-+]?\d[\d.eE+\-]*|[A-Za-z_][\w.]*)"
)
_WANDB_SUMMARY_ROW = re.compile(r"^wandb:\s+(\S+)\s+(\S+)\s*$")
_WANDB_RUN_NAME = re.compile(
    r"wandb: (?:Syncing run|Tracking run with wandb version \S+|View run) (\S+)"
)
_WANDB_RUN_DIR = re.compile(r"(?:offline-)?run-(\d{8}_\d{6})-[a-z0-9]+")
_INT_ARGS = {
    "logging_steps",
    "max_steps",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "warmup_steps",
    "eval_steps",
    "save_steps",
    "seed",
}


@dataclass
class _Dict:
    kind: str  # "train" | "eval" | "summary"
    row: dict[str, Any]
    line: int
    prefix: str
    cut: bool
    before: list[int] = field(default_factory=list)  # tqdm counters since the last dict
    after: list[int] = field(default_factory=list)  # the first counters after this one
    step: int | None = None


@dataclass
class _Parse:
    dicts: list[_Dict] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    wandb_summary: dict[str, Any] = field(default_factory=dict)
    it_totals: set[int] = field(default_factory=set)
    name: str | None = None
    start_time: float | None = None
    cut_lines: list[int] = field(default_factory=list)


class HFConsoleImporter:
    name = "hf_console"
    description = "Hugging Face Trainer console output ({'loss': ...} lines)"

    def sniff(self, path: Path) -> bool:
        head = text_log_head(path, 1 << 20)
        if head is None:
            return False
        for i, m in enumerate(_SNIFF.finditer(head)):
            line = head[m.start() :].split(b"\n", 1)[0].decode("utf-8", "replace")
            row, _ = parse_dict(line)
            if _is_trainer_row({k: _value(v) for k, v in row.items()}):
                return True
            if i >= 20:
                break
        return False

    def claims(self, path: Path) -> bool:
        return path.suffix.lower() in (".txt", ".log", ".out")

    def read(self, path: Path) -> Iterator[ImportedRun]:
        yield read_console(path)


def parse_dict(text: str) -> tuple[dict[str, Any], bool]:
    """The key/value pairs of a printed dict from its ``{``; ``cut`` when it never closes.

    A pair that runs into the end of a cut line is dropped (its number may be cut too).
    """
    row: dict[str, Any] = {}
    pos = text.index("{") + 1
    while True:
        m = _PAIR.match(text, pos)
        if m is None:
            return row, True
        end = m.group("end")
        if end == "":
            return row, True
        val = m.group("val").strip()
        if val[:1] in "'\"":
            val = val[1:-1]
        elif val.endswith(")"):
            # tensor(0.51, device='cuda:0') or numpy 2's np.float64(0.83)
            val = val[val.index("(") + 1 : -1].split(",")[0]
        row[m.group("key")] = val
        pos = m.end()
        if end == "}":
            return row, False


_TRAINER_KEYS = frozenset({"loss", "learning_rate", "grad_norm", "train_runtime", "eval_loss"})


def _is_trainer_row(row: dict[str, Any]) -> bool:
    """A dict the Trainer logged (not some other dict the script printed)."""
    if not any(isinstance(v, float) for v in row.values()):
        return False
    return any(k in _TRAINER_KEYS or k.startswith("eval_") for k in row)


def _value(v: Any) -> Any:
    f = scalar(v)
    return f if f is not None else v


def _classify(row: dict[str, Any]) -> str:
    if keys.is_run_summary(row):
        return "summary"
    metric = [k for k in row if k != "epoch"]
    if metric and all(keys.is_eval_key(keys.normalize_key(k)) for k in metric):
        return "eval"
    return "train"


def _arg_value(name: str, raw: str) -> Any:
    if name == "lr_scheduler_type":
        return raw.split(".")[-1].lower()
    f = scalar(raw.rstrip(".,"))
    if f is None:
        return None
    return int(f) if name in _INT_ARGS and f == int(f) else f


def _read_bars(seg: str, out: _Parse, since_last: list[int], previous: _Dict | None) -> bool:
    """Record the tqdm counters in ``seg`` (encoded value, total) since the last dict and
    after ``previous`` (None: not after it); whether ``seg`` held a bar."""
    bars = list(TQDM_BAR.finditer(seg))
    for t in bars:
        n, total, rate = int(t.group(2)), int(t.group(3)), t.group(4) or ""
        if "examples" in rate or "ba/s" in rate or total >= 10_000_000:
            continue
        if "it" in rate or not rate:
            out.it_totals.add(total)
        encoded = n * 10_000_000 + total
        since_last.append(encoded)
        if previous is not None and len(previous.after) < 8:
            previous.after.append(encoded)
    return bool(bars)


def _parse(text: str) -> _Parse:
    out = _Parse()
    since_last: list[int] = []  # tqdm counters (encoded value, total) since the last dict
    previous: _Dict | None = None
    in_wandb_summary = False
    banner = "training"  # a paste may start inside the training banner
    lineno = 0
    for physical in text.split("\n"):
        lineno += 1
        for seg in strip_ansi(physical).split("\r"):
            if not seg.strip():
                continue
            m = _DICT_START.search(seg)
            if m is not None:
                # a bar drawn on the same line before the dict (``Train: 10%|█| 10/100 [...]
                # {'loss': ...}``) is the counter at this log, not one after the last
                _read_bars(seg[: m.start()], out, since_last, None)
                row, cut = parse_dict(seg[m.start() :])
                row = {k: _value(v) for k, v in row.items()}
                if not row:
                    if cut and _SNIFF.search(seg[m.start() :].encode()):
                        out.cut_lines.append(lineno)
                    continue
                if not _is_trainer_row(row):
                    continue
                kind = _classify(row)
                if kind != "summary":  # without the running end-of-run counters
                    row = {k: v for k, v in row.items() if k not in keys.SUMMARY_ONLY}
                d = _Dict(kind, row, lineno, seg[: m.start()].strip(), cut)
                d.before = since_last[-20:]
                if cut:
                    out.cut_lines.append(lineno)
                if _duplicate_from_other_node(out.dicts, d):
                    continue
                out.dicts.append(d)
                previous, since_last = d, []
                continue
            if _read_bars(seg, out, since_last, previous):
                continue
            stripped = seg.strip()
            if stripped.startswith("wandb:"):
                if "Run summary:" in stripped:
                    in_wandb_summary = True
                    continue
                if "Run history:" in stripped:
                    in_wandb_summary = False
                    continue
                w = _WANDB_SUMMARY_ROW.match(stripped)
                if in_wandb_summary and w:
                    out.wandb_summary[w.group(1)] = _value(w.group(2))
                elif stripped in ("wandb:", "wandb: "):
                    pass
                else:
                    in_wandb_summary = False
                r = _WANDB_RUN_NAME.search(stripped)
                if r and "Syncing run" in stripped:
                    out.name = r.group(1)
                d_match = _WANDB_RUN_DIR.search(stripped)
                if d_match and out.start_time is None:
                    # W&B names the run folder after the local start time
                    try:
                        when = datetime.strptime(d_match.group(1), "%Y%m%d_%H%M%S")
                        out.start_time = when.timestamp()
                    except (ValueError, OverflowError, OSError):
                        pass  # not a real date (a damaged or made-up folder name)
                continue
            banner_start = _BANNER_START.search(stripped)
            if banner_start is not None:
                banner = banner_start.group(1).lower()
                continue
            b = _BANNER_RE.search(stripped)
            if b is not None:
                if banner == "training":
                    name = _BANNER[b.group(1).lower()]
                    out.config.setdefault(name, int(b.group(2).replace(",", "")))
                continue
            for a in _ARG_RE.finditer(stripped):
                v = _arg_value(a.group(1), a.group(2))
                if v is not None:
                    out.config.setdefault(a.group(1), v)
    return out


def _duplicate_from_other_node(seen: list[_Dict], d: _Dict) -> bool:
    """Multi-node pastes print the same dict once per node, each with its own prefix."""
    if not d.prefix:
        return False
    return any(p.row == d.row and p.prefix != d.prefix for p in reversed(seen[-8:]))


def _counter(codes: list[int], total: int, last: bool) -> int | None:
    """The newest (``last``) or first counter of the bar with ``total`` in ``codes``."""
    for c in reversed(codes) if last else codes:
        if c % 10_000_000 == total:
            return c // 10_000_000
    return None


def _train_total(p: _Parse) -> int | None:
    """The total of the training bar: the one drawn next to train dict lines. A bar with
    fewer steps than there are train logs (a ``1/1`` shard-writing bar) cannot be it."""
    n_train = sum(d.kind == "train" for d in p.dicts)
    votes: dict[int, int] = {}
    for d in p.dicts:
        if d.kind != "train":
            continue
        near = d.after[:1] or d.before[-1:]
        for c in near:
            if c % 10_000_000 >= n_train:
                votes[c % 10_000_000] = votes.get(c % 10_000_000, 0) + 1
    if votes:
        return max(votes, key=lambda t: (votes[t], t))
    return None


def _max_steps(p: _Parse, train_total: int | None) -> int | None:
    """The run's step count: printed, else the end-of-run summary's runtime x steps per
    second, else the training bar; never fewer steps than there are train logs."""
    n_train = sum(d.kind == "train" for d in p.dicts)
    for v in (p.wandb_summary.get("train/global_step"), p.config.get("max_steps"), _ran(p)):
        n = as_step(v) if isinstance(v, int | float) else None
        if n is not None and max(0, n_train - 1) < n < _MAX_RECONSTRUCTED:
            return n
    if train_total:
        return train_total
    totals = [t for t in p.it_totals if t >= n_train]
    return max(totals) if totals else None


def _ran(p: _Parse) -> int | None:
    """Steps run, from the Trainer's end-of-run line (``train_runtime`` x
    ``train_steps_per_second``, both rounded when printed, so to about 1%)."""
    for d in p.dicts:
        rt, sps = d.row.get("train_runtime"), d.row.get("train_steps_per_second")
        if d.kind == "summary" and isinstance(rt, float) and isinstance(sps, float):
            n = rt * sps
            return round(n) if math.isfinite(n) and n >= 1 else None
    return None


#: Largest step a console paste can be given (beyond it a number in the paste is nonsense).
_MAX_RECONSTRUCTED = 1 << 40


def _epoch(d: _Dict) -> float | None:
    """The epoch printed on a line when it is a plausible one (finite, 0..1e6)."""
    e = d.row.get("epoch")
    return e if isinstance(e, float) and 0 <= e < 1e6 else None


def _steps_per_epoch(p: _Parse, max_steps: int | None, finished: bool) -> float | None:
    c = p.config
    if isinstance(c.get("num_update_steps_per_epoch"), int):
        return float(c["num_update_steps_per_epoch"])
    if finished and max_steps:
        last_epoch = None
        for d in reversed(p.dicts):
            e = _epoch(d)
            if e is not None and e > 0:
                last_epoch = e
                break
        if last_epoch:
            spe = max_steps / last_epoch
            return spe if spe < _MAX_RECONSTRUCTED else None
    n, tb = c.get("num_examples"), c.get("total_train_batch_size")
    if isinstance(n, int) and isinstance(tb, int) and tb > 0:
        return float(max(1, -(-n // tb)))
    return None


def _assign_steps(p: _Parse) -> str:
    """Give every dict a step; returns how the steps were found (for the warning)."""
    train = [d for d in p.dicts if d.kind == "train"]
    finished = any(d.kind == "summary" for d in p.dicts) or "train/global_step" in p.wandb_summary
    total = _train_total(p)
    max_steps = _max_steps(p, total)
    if max_steps:
        p.config.setdefault("max_steps", max_steps)

    # 1. tqdm counters next to every train line
    if total is not None and train:
        found = [
            _counter(d.after, total, last=False) or _counter(d.before, total, last=True)
            for d in train
        ]
        counted = [s for s in found if s is not None]
        if len(counted) == len(train) and all(a <= b for a, b in itertools.pairwise(counted)):
            for d, s in zip(train, counted, strict=True):
                d.step = s
            _fill_others(p, max_steps)
            gaps = [b - a for a, b in itertools.pairwise(counted) if b > a]
            if gaps:
                p.config.setdefault("logging_steps", min(gaps))
            return "tqdm"

    logging_steps = p.config.get("logging_steps")
    spe = _steps_per_epoch(p, max_steps, finished)
    epochs = [_epoch(d) for d in train]
    have_epochs = bool(train) and all(e is not None for e in epochs)

    # 2. epochs snapped to the logging grid
    if spe and have_epochs and len(train) > 1:
        est = [float(e) * spe for e in epochs if isinstance(e, float)]
        grid = logging_steps
        if not isinstance(grid, int) or grid < 1:
            diffs = [b - a for a, b in itertools.pairwise(est) if b > a]
            grid = max(1, round(statistics.median(diffs))) if diffs else 1
        # on the grid; a first log under half a grid step, or at step 1 (half a step of a
        # grid of 2), is the Trainer's first-step log (``logging_first_step``), kept at its
        # own step
        steps: list[int] = [
            max(grid, grid * round(x / grid))
            if x >= grid / 2 and not (i == 0 and x < 1.5)
            else max(1, round(x))
            for i, x in enumerate(est)
        ]
        if all(a < b for a, b in itertools.pairwise(steps)):
            for d, s in zip(train, steps, strict=True):
                d.step = s
            p.config.setdefault("logging_steps", grid)
            _fill_others(p, max_steps, spe)
            return "epoch"

    # 3. logging_steps x line number
    if not isinstance(logging_steps, int) or logging_steps < 1:
        logging_steps = None
        if finished and max_steps and train:
            guess = max_steps // len(train)
            if guess >= 1 and max_steps // guess == len(train):
                logging_steps = guess
    if logging_steps:
        for i, d in enumerate(train, 1):
            d.step = logging_steps * i
        p.config.setdefault("logging_steps", logging_steps)
        _fill_others(p, max_steps, spe)
        return "logging_steps"

    # 4. line order
    for i, d in enumerate(train, 1):
        d.step = i
    _fill_others(p, max_steps, spe)
    return "order"


def _fill_others(p: _Parse, max_steps: int | None, spe: float | None = None) -> None:
    """Eval and summary lines take the step of the training around them. An eval line whose
    epoch is behind the training printed before it (evals pasted after all the train lines)
    takes the step of the last train line of its epoch."""
    trained = [
        (e, d.step)
        for d in p.dicts
        if d.kind == "train" and d.step and (e := _epoch(d)) is not None
    ]
    current, current_epoch = 0, None
    for d in p.dicts:
        if d.kind == "train":
            current = d.step or current
            current_epoch = _epoch(d)
            continue
        if d.kind == "summary":
            d.step = max(current, max_steps or 0)
            continue
        e = _epoch(d)
        if spe and e is not None and round(e * spe) >= current:
            d.step = round(e * spe)
        elif e is not None and current_epoch is not None and e < current_epoch:
            d.step = max((s for te, s in trained if te <= e), default=current)
        else:
            d.step = current


def read_console(path: Path) -> ImportedRun:
    check_readable(path)
    raw = read_regular(path)
    warnings: list[str] = []
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = raw.decode("utf-8", errors="replace")
        warnings.append(f"invalid UTF-8 at byte {exc.start} (and maybe after) was replaced")
    text = text.removeprefix("\ufeff")
    run = console_run(
        text,
        name=path.stem,
        source=display_path(path),
        source_id="hf_console:" + file_hash(path),
        mtime=path.stat().st_mtime,
        warnings=warnings,
    )
    if run is None:
        raise ImportError_(
            "no Trainer log lines ({'loss': ...}) found",
            "is this the console output of a transformers Trainer run?",
            path=str(path),
        )
    return run


def console_run(
    text: str,
    *,
    name: str,
    source: str,
    source_id: str,
    mtime: float,
    warnings: list[str],
    fmt: str = "hf_console",
) -> ImportedRun | None:
    """The run of the Trainer log lines in ``text`` (None when there are none); ``mtime`` is
    when the log was written, the run's end unless the log itself says when it started."""
    p = _parse(text)
    if p.cut_lines:
        lines = ", ".join(str(n) for n in p.cut_lines[:5]) + (
            ", ..." if len(p.cut_lines) > 5 else ""
        )
        warnings.append(
            f"{len(p.cut_lines)} log line(s) cut off mid-way (line {lines}): "
            "kept their complete values"
        )
    if not p.dicts:
        return None
    how = _assign_steps(p)
    if how == "order":
        warnings.append(
            "no step numbers in this log (no tqdm bar, logging_steps or max_steps): "
            "steps are the order of the log lines"
        )
    summary: dict[str, Any] = {}
    for k, v in p.wandb_summary.items():
        summary.setdefault(k, v)
    for d in p.dicts:
        if d.kind == "summary":
            summary.update(d.row)
    guard = StepGuard(warnings)
    rows = [
        (
            step,
            None,
            {k: v for k, v in d.row.items() if d.kind == "train" or k != "epoch"},
        )
        for d in p.dicts
        if d.kind != "summary"
        for step in (guard(d.step or 0),)
        if step is not None
    ]
    runtime = summary.get("train_runtime")
    if not (isinstance(runtime, float) and 0 <= runtime < 1e9):
        runtime = None
    start = mtime - runtime if isinstance(runtime, float) else mtime
    end: float | None = mtime
    if p.start_time is not None:  # the real start, from W&B's run folder name
        start = p.start_time
        end = start + runtime if isinstance(runtime, float) else None
    config = dict(p.config)
    return run_from_rows(
        name=p.name or name,
        fmt=fmt,
        source=source,
        source_id=source_id,
        rows=rows,
        keymap=KeyMap(),
        config=config,
        summary=summary,
        start_time=start,
        end_time=end,
        warnings=warnings,
    )

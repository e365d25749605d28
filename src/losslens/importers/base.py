"""What every importer shares: the importer protocol, key mapping, batching, hashing.

An importer is pure: it reads files and yields :class:`~losslens.model.ImportedRun`
objects whose ``batches`` stream points lazily. It never prints and never writes a store
(``losslens.ingest`` does that).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

from losslens import keys
from losslens.errors import ImportError_
from losslens.model import ImportedRun, MetricPoint, as_float

#: Points per batch handed to the store: large enough for fast inserts, small enough that
#: memory does not grow with the size of the log.
BATCH_SIZE = 20_000

#: How much of a file ``sniff`` functions look at.
SNIFF_BYTES = 64 * 1024

#: W&B/HF bookkeeping keys that are never a metric series.
INTERNAL_KEYS = frozenset({"_step", "_runtime", "_timestamp", "_wandb", "step"})


class Importer(Protocol):
    """One log format. ``sniff`` looks at content (and, as a hint, the name); ``claims`` says
    whether the name alone makes the file this format's; ``read`` parses."""

    name: str
    description: str

    def sniff(self, path: Path) -> bool: ...

    def claims(self, path: Path) -> bool: ...

    def read(self, path: Path) -> Iterator[ImportedRun]: ...


class PartialImportError(ImportError_):
    """The log is damaged part-way: the points before the damage were imported.

    ``run_id`` names the run that holds them and ``points`` how many there are.
    """

    def __init__(self, cause: ImportError_, run_id: str, points: int) -> None:
        super().__init__(cause.message, cause.hint)
        # keep the cause's already formatted "path (location): message" text
        self.message = f"{cause.message}; kept the {points:,} points before it as run {run_id}"
        self.path = cause.path
        self.location = cause.location
        self.run_id = run_id
        self.points = points


def read_head(path: Path, n: int = SNIFF_BYTES) -> bytes:
    """The first ``n`` bytes of a file, or ``b""`` when it cannot be read."""
    try:
        with open(path, "rb") as f:
            return f.read(n)
    except OSError:
        return b""


def file_hash(*paths: Path, extra: str = "") -> str:
    """A content hash (BLAKE2b, 128 bits) of one or more files: the ``source_id`` of imports
    that have no run id of their own. Reading is chunked, so memory stays flat."""
    h = hashlib.blake2b(digest_size=16)
    h.update(extra.encode())
    for p in paths:
        h.update(b"\0" + p.name.encode() + b"\0")
        try:
            with open(p, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
        except OSError as exc:
            raise ImportError_(f"cannot read the file: {exc.strerror}", path=str(p)) from exc
    return h.hexdigest()


def open_error(path: Path, exc: OSError) -> ImportError_:
    return ImportError_(f"cannot read the file: {exc.strerror or exc}", path=str(path))


def check_readable(path: Path) -> int:
    """The size of a regular, readable, non-empty file; an :class:`ImportError_` otherwise."""
    try:
        size = path.stat().st_size
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise open_error(path, exc) from exc
    if size == 0:
        raise ImportError_("the file is empty", "nothing to import", path=str(path))
    return size


class KeyMap:
    """Raw metric names -> canonical names, remembering the original of each canonical name.

    Two raw names that normalise to the same canonical name (``loss`` and ``train/loss`` in
    one source) are not merged: the second keeps its raw name.
    """

    def __init__(self, normalize: Callable[[str], str] = keys.normalize_key) -> None:
        self._normalize = normalize
        self._canon: dict[str, str] = {}
        self.originals: dict[str, str] = {}

    def __call__(self, raw: str) -> str:
        c = self._canon.get(raw)
        if c is None:
            c = self._normalize(raw)
            owner = self.originals.get(c)
            if owner is not None and owner != raw:
                c = raw
                owner = self.originals.get(c)
                if owner is not None and owner != raw:  # pragma: no cover - pathological
                    c = f"{raw}#raw"
            self.originals.setdefault(c, raw)
            self._canon[raw] = c
        return c


def is_summary_key(raw: str) -> bool:
    """HF end-of-run keys (``train_runtime``, ``train/train_runtime``): summary, not series."""
    base = raw.split("/", 1)[1] if raw.startswith("train/") else raw
    return base in keys.SUMMARY_ONLY and raw != "train/loss"


def scalar(value: Any) -> float | None:
    """A metric value as float (NaN/Inf kept), or None for strings, dicts, media, bools."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        s = value.strip().lower()
        if s in ("nan", "inf", "-inf", "+inf", "infinity", "-infinity"):
            return float(s.replace("infinity", "inf"))
        return as_float(s)
    return as_float(value)


def batched(points: Iterable[MetricPoint], size: int = BATCH_SIZE) -> Iterator[list[MetricPoint]]:
    """Group a point stream into lists of at most ``size``. When the stream raises
    :class:`ImportError_` (damage found), the points before it are yielded first."""
    batch: list[MetricPoint] = []
    append = batch.append
    try:
        for p in points:
            append(p)
            if len(batch) >= size:
                yield batch
                batch = []
                append = batch.append
    except ImportError_:
        if batch:  # damage found: hand over what came before it, then report
            yield batch
        raise
    if batch:
        yield batch


def rebatched(
    parts: Iterable[list[MetricPoint]], size: int = BATCH_SIZE
) -> Iterator[list[MetricPoint]]:
    """Join the point lists a reader yields (one per record or per slice of a file) into
    batches of about ``size`` (each part must be a new list: it may become a batch). When
    the reader raises :class:`ImportError_` (damage found), the points before it are yielded
    first."""
    batch: list[MetricPoint] = []
    try:
        for part in parts:
            if batch:
                batch += part
            else:
                batch = part  # a fresh list from the reader: no copy
            if len(batch) >= size:
                yield batch
                batch = []
    except ImportError_:
        if batch:  # damage found: hand over what came before it, then report
            yield batch
        raise
    if batch:
        yield batch


def chunked(points: list[MetricPoint], size: int = BATCH_SIZE) -> Iterator[list[MetricPoint]]:
    """A list of points already in memory (system metrics), in batches of ``size``."""
    for i in range(0, len(points), size):
        yield points[i : i + size]


class EpochFilter:
    """HF logs repeat ``epoch`` in eval and end-of-run records at the same step; keep one."""

    def __init__(self) -> None:
        self.last_step: int | None = None

    def duplicate(self, key: str, step: int) -> bool:
        if key != keys.EPOCH:
            return False
        if step == self.last_step:
            return True
        self.last_step = step
        return False


def row_points(
    row: Mapping[str, Any], step: int, keymap: KeyMap, wall_time: float | None = None
) -> list[MetricPoint]:
    """The scalar metrics of one logged row as points (internal keys and non-scalars dropped)."""
    out = []
    for raw, v in row.items():
        if raw in INTERNAL_KEYS or raw.startswith("_"):
            continue
        f = scalar(v)
        if f is None:
            continue
        out.append(MetricPoint(keymap(raw), step, f, wall_time))
    return out


def display_path(path: Path) -> str:
    """The path as the user would type it (relative to the cwd when below it)."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return rel if not rel.startswith("..") else str(path)


def run_name_for(path: Path) -> str:
    """A readable run name from a log's location (``output/checkpoint-500/trainer_state.json``
    -> ``output``)."""
    p = path if path.is_dir() else path.parent
    parts = [x for x in p.resolve().parts if x not in ("/", "")]
    skip = ("checkpoint-", "runs", "logs", "files", "wandb", "mlruns")
    for part in reversed(parts):
        if part.startswith(skip[0]) or part in skip[1:]:
            continue
        return part
    return path.stem or "imported"


def run_from_rows(
    *,
    name: str,
    fmt: str,
    source: str,
    source_id: str,
    rows: Iterable[tuple[int, float | None, Mapping[str, Any]]],
    keymap: KeyMap,
    **meta: Any,
) -> ImportedRun:
    """An :class:`ImportedRun` streaming ``(step, wall_time, row)`` rows."""

    def points() -> Iterator[MetricPoint]:
        for step, wall, row in rows:
            yield from row_points(row, step, keymap, wall)

    imported = ImportedRun(
        name=name,
        format=fmt,
        source=source,
        source_id=source_id,
        batches=batched(points()),
        original_keys=keymap.originals,
        **meta,
    )
    return imported

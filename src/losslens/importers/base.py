"""What every importer shares: the importer protocol, key mapping, batching, hashing.

An importer is pure: it reads files and yields :class:`~losslens.model.ImportedRun`
objects whose ``batches`` stream points lazily. It never prints and never writes a store
(``losslens.ingest`` does that).
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from losslens import keys
from losslens.errors import ImportError_
from losslens.importers.source_code import looks_like_source
from losslens.importers.textutil import as_utf8
from losslens.model import ImportedRun, MetricPoint
from losslens.numeric import as_step, as_value, step_problem

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
        kept = f"{points:,} point{'s' if points != 1 else ''}"
        self.message = f"{cause.message}; kept the {kept} before it as run {run_id}"
        self.path = cause.path
        self.location = cause.location
        self.run_id = run_id
        self.points = points


#: Largest file read whole into memory (``trainer_state.json``, console logs, meta.yaml).
MAX_WHOLE_FILE = 256 * 1024 * 1024

_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISDIR, "a directory"),
)


class NotRegularFile(OSError):
    """A path that is not a regular file (FIFO, device, socket): never opened for reading,
    since reading a FIFO blocks for ever and a device never ends."""

    def __init__(self, path: Path, mode: int) -> None:
        kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
        super().__init__(f"{kind}, not a regular file: refused")
        self.strerror = f"{kind}, not a regular file: refused"
        self.filename = str(path)


def special_kind(path: Path) -> str | None:
    """What ``path`` is when it exists and is not a regular file or directory (None else)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    return NotRegularFile(path, mode).strerror


def open_regular(path: Path) -> BinaryIO:
    """``open(path, "rb")`` for regular files only: a FIFO, device or socket raises
    :class:`NotRegularFile` at once (it is opened non-blocking and checked with ``fstat``,
    so there is no window between the check and the open)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(path, mode)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: Path, limit: int = MAX_WHOLE_FILE) -> bytes:
    """A whole regular file; an :class:`ImportError_` when it is not one or is too large."""
    try:
        with open_regular(path) as f:
            size = os.fstat(f.fileno()).st_size
            if size > limit:
                raise ImportError_(
                    f"the file is too large to read whole ({size:,} bytes, limit {limit:,})",
                    path=str(path),
                )
            return as_utf8(f.read(limit + 1)[:limit])
    except OSError as exc:
        raise open_error(path, exc) from exc


def read_text(path: Path) -> str:
    """A whole regular file as text (:func:`read_regular`), decoded leniently (an invalid byte
    is U+FFFD) and without a BOM."""
    return read_regular(path).decode("utf-8", errors="replace").removeprefix("\ufeff")


def read_head(path: Path, n: int = SNIFF_BYTES) -> bytes:
    """The first ``n`` bytes of a regular file, or ``b""`` when it cannot be read."""
    try:
        with open_regular(path) as f:
            return as_utf8(f.read(n), whole=False)
    except OSError:
        return b""


def text_log_head(path: Path, n: int) -> bytes | None:
    """The first ``n`` bytes of a file that may be a pasted text log, or None for a folder,
    a binary file (a NUL in its first 4 KiB) or program source."""
    if path.is_dir():
        return None
    head = read_head(path, n)
    if b"\0" in head[:4096] or looks_like_source(path, head[:4096]):
        return None
    return head


def head_lines(path: Path, n: int) -> list[str] | None:
    """The lines of the first ``n`` bytes of a file that may be a pasted text log (see
    :func:`text_log_head`; None when it cannot be one), decoded leniently and without a BOM;
    when the head stops at ``n`` bytes its last line, which may be cut, is left out."""
    head = text_log_head(path, n)
    if not head:
        return None
    lines = head.decode("utf-8", "replace").removeprefix("\ufeff").splitlines()
    if len(head) == n and len(lines) > 1:
        lines = lines[:-1]
    return lines


def file_hash(*paths: Path, extra: str = "") -> str:
    """A content hash (BLAKE2b, 128 bits) of one or more files: the ``source_id`` of imports
    that have no run id of their own. Reading is chunked, so memory stays flat."""
    h = hashlib.blake2b(digest_size=16)
    h.update(extra.encode())
    for p in paths:
        h.update(b"\0" + p.name.encode() + b"\0")
        try:
            with open_regular(p) as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
        except OSError as exc:
            raise ImportError_(f"cannot read the file: {exc.strerror}", path=str(p)) from exc
    return h.hexdigest()


def open_error(path: Path, exc: OSError) -> ImportError_:
    return ImportError_(f"cannot read the file: {exc.strerror or exc}", path=str(path))


def check_readable(path: Path) -> int:
    """The size of a regular, readable, non-empty file; an :class:`ImportError_` otherwise
    (a FIFO, device or socket is refused in one line, without blocking)."""
    try:
        with open_regular(path) as f:
            size = os.fstat(f.fileno()).st_size
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
    return as_value(value)


class StepGuard:
    """Every step an importer reads goes through here (:func:`losslens.numeric.as_step`):
    a record whose step is not a 64-bit integer (``1e30``, ``Infinity``, ``2**70``) is
    dropped, and one warning in the run's ``warnings`` says how many were and the first."""

    def __init__(self, warnings: list[str], what: str = "step") -> None:
        self.warnings = warnings
        self.what = what
        self.dropped = 0
        self._first = ""
        self._at = -1

    def __call__(self, raw: Any) -> int | None:
        s = as_step(raw)
        if s is None:
            self.drop(step_problem(raw))
        return s

    def drop(self, why: str) -> None:
        self.dropped += 1
        if self.dropped == 1:
            self._first = why
            self._at = len(self.warnings)
            self.warnings.append("")
        n = self.dropped
        self.warnings[self._at] = (
            f"dropped {n:,} record{'s' if n != 1 else ''} whose {self.what} could not be kept "
            f"(first: {self._first})"
        )


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


def safe_repr(value: Any, limit: int = 24) -> str:
    """A short ``repr`` of a cell for a warning (long ones cut)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


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


def file_run(
    path: Path,
    fmt: str,
    rows: Iterable[tuple[Any, Mapping[str, Any]]],
    *,
    warnings: list[str] | None = None,
    name: str | None = None,
    by_step: bool = False,
    **meta: Any,
) -> ImportedRun:
    """The run of a log file read whole, from ``(step, row)`` pairs: each step as written
    goes through :class:`StepGuard` (one that is no 64-bit integer is dropped, with a warning
    in ``warnings``), in order of step when ``by_step``; the run is named after the file (or
    ``name``), its source id is the format and a hash of the file, its start and end the
    file's modification time."""
    warnings = [] if warnings is None else warnings
    guard = StepGuard(warnings)
    kept = [(s, None, row) for raw, row in rows if (s := guard(raw)) is not None]
    if by_step:
        kept.sort(key=lambda x: x[0])
    mtime = path.stat().st_mtime
    return run_from_rows(
        name=name or path.stem,
        fmt=fmt,
        source=display_path(path),
        source_id=f"{fmt}:{file_hash(path)}",
        rows=kept,
        keymap=KeyMap(),
        start_time=mtime,
        end_time=mtime,
        warnings=warnings,
        **meta,
    )

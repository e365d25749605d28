"""TensorBoard event files (``events.out.tfevents.*``): every scalar, streamed.

The framing is TFRecord: ``uint64 length | uint32 masked_crc32c(length) | data |
uint32 masked_crc32c(data)``, each ``data`` an ``Event`` protobuf (the classes that ship
with the ``tensorboard`` package; TensorFlow is not needed). Records are read in 1 MiB
slices and their CRCs checked a slice at a time (``crc32c.masked_crc32c_many``), so memory
stays flat and the check is cheap. Both old-style ``simple_value`` scalars and new-style
scalar tensors (plugin ``scalars``) are read. A directory is one run (several event files
after restarts are read in name order).
"""

from __future__ import annotations

import math
import os
import re
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from losslens import keys
from losslens.errors import ImportError_, MissingExtraError
from losslens.importers.base import (
    KeyMap,
    check_readable,
    display_path,
    file_hash,
    is_summary_key,
    open_error,
    open_regular,
    read_head,
    rebatched,
    run_name_for,
)
from losslens.importers.crc32c import masked_crc32c, masked_crc32c_many
from losslens.model import ImportedRun, MetricPoint

_NAME = re.compile(r"(^|\.)tfevents\.")
_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")
SLICE = 1 << 20
#: Records longer than this are CRC-checked one by one (rare: graphs, hparams, images).
_VECTOR_MAX = 512
_DT_FLOAT, _DT_DOUBLE, _DT_INT32, _DT_HALF, _DT_INT64 = 1, 2, 3, 19, 9


def is_event_file_name(name: str) -> bool:
    return _NAME.search(name) is not None and not name.endswith((".tmp", ".lock"))


def _event_pb() -> Any:
    try:
        from tensorboard.compat.proto import event_pb2
    except ImportError as exc:
        raise MissingExtraError("tensorboard", "tensorboard") from exc
    return event_pb2


class TensorBoardImporter:
    name = "tensorboard"
    description = "TensorBoard event files (events.out.tfevents.*), one run per directory"

    def sniff(self, path: Path) -> bool:
        if path.is_dir():
            return any(is_event_file_name(p.name) for p in path.iterdir() if p.is_file())
        head = read_head(path, 256)
        return len(head) > 12 and b"brain.Event:" in head[12:64]

    def claims(self, path: Path) -> bool:
        return is_event_file_name(path.name)

    def read(self, path: Path) -> Iterator[ImportedRun]:
        files = (
            sorted(p for p in path.iterdir() if p.is_file() and is_event_file_name(p.name))
            if path.is_dir()
            else [path]
        )
        if not files:
            raise ImportError_("no event files in this folder", path=str(path))
        yield read_event_files(path, files)


def iter_record_slices(path: Path, state: dict[str, Any]) -> Iterator[list[bytes]]:
    """The payloads of the records, a slice at a time, CRC-checked.

    A partly flushed tail ends the stream (``state["truncated"]`` = its offset); a damaged
    record raises :class:`ImportError_` with its byte offset, after the intact records
    before it have been yielded.
    """
    where = str(path)
    try:
        f = open_regular(path)
    except OSError as exc:
        raise open_error(path, exc) from exc
    size = os.fstat(f.fileno()).st_size
    with f:
        buf = b""
        base = 0  # file offset of buf[0]
        eof = False
        while True:
            if not eof:
                more = f.read(SLICE)
                eof = len(more) < SLICE
                buf += more
            starts: list[int] = []
            lens: list[int] = []
            pos = 0
            end = len(buf)
            bad_length: ImportError_ | None = None
            while pos + 12 <= end:
                (n,) = _U64.unpack_from(buf, pos)
                if n > size - base - pos - 16:
                    if masked_crc32c(buf[pos : pos + 8]) != _U32.unpack_from(buf, pos + 8)[0]:
                        bad_length = _damaged(where, base + pos, "corrupted record length")
                    break  # else a real length running past the end: torn tail (or read more)
                if pos + 16 + n > end:
                    break
                starts.append(pos)
                lens.append(n)
                pos += 16 + n
            try:
                yield _checked(buf, starts, lens, base, where)
            except _Damaged as exc:
                yield exc.intact
                raise exc.error from None
            if bad_length is not None:
                raise bad_length
            if eof:
                if pos < end:
                    state["truncated"] = base + pos
                return
            buf = buf[pos:]
            base += pos


def _damaged(where: str, offset: int, what: str) -> ImportError_:
    return ImportError_(
        f"{what} (CRC mismatch)",
        "the event file is damaged; the records before this offset are intact",
        path=where,
        location=f"byte {offset}",
    )


def _checked(buf: bytes, starts: list[int], lens: list[int], base: int, where: str) -> list[bytes]:
    """The payloads of the records at ``starts``, CRC-checked together. A damaged record
    raises, after the intact records before it have been handed to ``_pending``."""
    if not starts:
        return []
    arr = np.frombuffer(buf, dtype=np.uint8)
    s = np.asarray(starts, dtype=np.int64)
    n = np.asarray(lens, dtype=np.int64)
    head_crc = masked_crc32c_many(arr, s, np.full(len(s), 8, dtype=np.int64))
    # stored CRCs, little-endian uint32 at s+8 and s+12+n
    stored_head = _gather_u32(arr, s + 8)
    small = n <= _VECTOR_MAX
    data_crc = np.zeros(len(s), dtype=np.uint32)
    if small.any():
        data_crc[small] = masked_crc32c_many(arr, s[small] + 12, n[small])
    for big in np.nonzero(~small)[0].tolist():
        a = int(s[big]) + 12
        data_crc[big] = masked_crc32c(buf[a : a + int(n[big])])
    stored_data = _gather_u32(arr, s + 12 + n)
    bad = np.nonzero((head_crc != stored_head) | (data_crc != stored_data))[0]
    if len(bad):
        k = int(bad[0])
        what = "corrupted record length" if head_crc[k] != stored_head[k] else "corrupted record"
        raise _Damaged(
            [buf[a + 12 : a + 12 + m] for a, m in zip(starts[:k], lens[:k], strict=True)],
            _damaged(where, base + starts[k], what),
        )
    return [buf[a + 12 : a + 12 + m] for a, m in zip(starts, lens, strict=True)]


class _Damaged(Exception):
    """Internal: the intact payloads before a damaged record, and the error to raise."""

    def __init__(self, intact: list[bytes], error: ImportError_) -> None:
        super().__init__(error.message)
        self.intact = intact
        self.error = error


def _gather_u32(arr: np.ndarray, at: np.ndarray) -> npt.NDArray[np.uint32]:
    """The little-endian uint32 at each offset ``at`` of a uint8 array."""
    b = [arr[at + k].astype(np.uint32) << np.uint32(8 * k) for k in range(4)]
    out: npt.NDArray[np.uint32] = (b[0] | b[1] | b[2] | b[3]).astype(np.uint32)
    return out


def _tensor_scalar(t: Any) -> float | None:
    """The value of a 0-d (or 1-element) scalar tensor, without tensor_util."""
    if t.tensor_content:
        raw = t.tensor_content
        fmt = {_DT_FLOAT: "<f", _DT_DOUBLE: "<d", _DT_INT32: "<i", _DT_INT64: "<q"}.get(t.dtype)
        if fmt is None or len(raw) != struct.calcsize(fmt):
            return None
        return float(struct.unpack(fmt, raw)[0])
    for vals in (t.float_val, t.double_val, t.int_val, t.int64_val):
        if len(vals) == 1:
            return float(vals[0])
    if t.dtype == _DT_HALF and len(t.half_val) == 1:
        return float(np.frombuffer(struct.pack("<H", t.half_val[0]), dtype=np.float16)[0])
    return None


def read_event_files(path: Path, files: list[Path]) -> ImportedRun:
    warnings: list[str] = []
    if len(files) > 1:
        # one empty event file (a writer that never flushed) does not fail the folder
        empty = [f for f in files if _size(f) == 0]
        if empty and len(empty) < len(files):
            files = [f for f in files if f not in empty]
            warnings += [f"{f.name} is empty: skipped" for f in empty]
    for f in files:
        check_readable(f)
    pb = _event_pb()
    keymap = KeyMap()
    start = _first_wall_time(files[0], pb)
    imported = ImportedRun(
        name=run_name_for(path),
        format="tensorboard",
        source=display_path(path),
        source_id="tensorboard:" + file_hash(*files),
        batches=iter(()),
        start_time=start,
        original_keys=keymap.originals,
        warnings=warnings,
    )
    imported.batches = rebatched(_stream(files, pb, imported, keymap))
    return imported


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return -1


def _first_wall_time(path: Path, pb: Any) -> float | None:
    head = read_head(path, 4096)
    if len(head) < 12:
        return None
    (n,) = _U64.unpack_from(head, 0)
    if 12 + n > len(head):
        return None
    try:
        wall = float(pb.Event.FromString(head[12 : 12 + n]).wall_time)
    except Exception:
        return None
    return wall if math.isfinite(wall) and wall > 0 else None


def _stream(
    files: list[Path], pb: Any, imported: ImportedRun, keymap: KeyMap
) -> Iterator[list[MetricPoint]]:
    """The points of ``files``, one list per slice of records."""
    parse = pb.Event.FromString
    plugins: dict[str, str] = {}
    tag_keys: dict[str, str] = {}  # tag -> canonical key ("" for summary-only tags)
    point = MetricPoint
    last_wall: float | None = None
    epoch_step = -1
    for f in files:
        state: dict[str, Any] = {}
        for payloads in iter_record_slices(f, state):
            batch: list[MetricPoint] = []
            append = batch.append
            for payload in payloads:
                try:
                    ev = parse(payload)
                except Exception as exc:  # a CRC-valid record that is not an Event
                    if batch:
                        yield batch  # the records before it are kept
                    raise ImportError_(
                        f"undecodable record ({type(exc).__name__})", path=str(f)
                    ) from exc
                values = ev.summary.value
                if not values:
                    continue
                step = ev.step
                wall = ev.wall_time
                if not math.isfinite(wall):
                    wall = None
                for v in values:
                    tag = v.tag
                    which = v.WhichOneof("value")
                    if which == "simple_value":
                        value: float | None = v.simple_value
                    elif which == "tensor":
                        if v.HasField("metadata") and v.metadata.plugin_data.plugin_name:
                            plugins[tag] = v.metadata.plugin_data.plugin_name
                        if plugins.get(tag) != "scalars":
                            continue
                        value = _tensor_scalar(v.tensor)
                    else:
                        continue
                    if value is None:
                        continue
                    key = tag_keys.get(tag)
                    if key is None:
                        key = tag_keys[tag] = "" if is_summary_key(tag) else keymap(tag)
                    if not key:
                        imported.summary[tag.removeprefix("train/")] = value
                        continue
                    if key == keys.EPOCH:
                        if step == epoch_step:
                            continue  # eval and end-of-run logs repeat the epoch
                        epoch_step = step
                    append(point(key, step, value, wall))
                last_wall = wall
            yield batch
        if state.get("truncated") is not None:
            imported.warnings.append(
                f"{f.name} ends in a partly written record at byte {state['truncated']} "
                "(still being written?): imported everything before it"
            )
    imported.end_time = last_wall

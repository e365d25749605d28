"""W&B run logs: the binary ``run-<id>.wandb`` transaction log of an offline or online run.

Layout: a 7-byte header (``:W&B``, magic 0xBEE1, version 0), then LevelDB log framing in
32 KiB blocks. Each chunk is ``crc32 (uint32) | length (uint16) | type (uint8) | payload``
with an IEEE CRC-32 over type+payload; types FULL/FIRST/MIDDLE/LAST reassemble records,
and each record is a ``wandb_internal_pb2.Record`` protobuf. Only the protobuf classes that
ship inside the ``wandb`` package are used; no W&B process is started.
"""

from __future__ import annotations

import json
import math
import re
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from losslens import keys
from losslens.errors import ImportError_, MissingExtraError
from losslens.importers.base import (
    KeyMap,
    StepGuard,
    check_readable,
    chunked,
    display_path,
    is_summary_key,
    open_error,
    open_regular,
    read_head,
    rebatched,
    scalar,
)
from losslens.model import ImportedRun, MetricPoint, RunStatus, jsonable

HEADER = struct.Struct("<4sHB")
CHUNK = struct.Struct("<IHB")
BLOCK = 32768
MAGIC = (b":W&B", 0xBEE1, 0)
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
_HF_STEP = "train/global_step"
_RUN_ID = re.compile(r"run-([A-Za-z0-9]+)\.wandb$")


def _pb() -> Any:
    try:
        from wandb.proto import wandb_internal_pb2
    except ImportError as exc:
        raise MissingExtraError("wandb", "wandb") from exc
    return wandb_internal_pb2


class WandbImporter:
    name = "wandb"
    description = "W&B run directory or .wandb transaction log (offline or online)"

    def sniff(self, path: Path) -> bool:
        if path.is_dir():
            return any(path.glob("*.wandb"))
        return read_head(path, 7)[:6] == b":W&B\xe1\xbe"

    def claims(self, path: Path) -> bool:
        return path.suffix == ".wandb"

    def read(self, path: Path) -> Iterator[ImportedRun]:
        files = sorted(path.glob("*.wandb")) if path.is_dir() else [path]
        for f in files:
            yield read_wandb(f)


def iter_records(path: Path, state: dict[str, Any]) -> Iterator[bytes]:
    """Reassembled record payloads, read one 32 KiB block at a time.

    A torn tail (the run is still writing, or crashed) ends the stream and sets
    ``state["truncated"]`` to its byte offset; a bad CRC or impossible framing raises
    :class:`ImportError_` naming the offset of the damaged chunk.
    """
    where = str(path)

    def damaged(what: str, at: int) -> ImportError_:
        return ImportError_(
            what,
            "the file is damaged; the records before this offset are intact",
            path=where,
            location=f"byte {at}",
        )

    try:
        f = open_regular(path)
    except OSError as exc:
        raise open_error(path, exc) from exc
    with f:
        block = f.read(BLOCK)
        if len(block) < HEADER.size or HEADER.unpack_from(block) != MAGIC:
            raise ImportError_(
                "not a W&B transaction log (bad header)",
                "expected a run-<id>.wandb file written by wandb",
                path=where,
                location="byte 0",
            )
        base, off = 0, HEADER.size
        pending: list[bytes] = []
        while True:
            if len(block) - off < CHUNK.size:
                if len(block) < BLOCK:  # end of file
                    if pending or block[off:].strip(b"\0"):
                        state["truncated"] = base + off
                    return
                base += BLOCK
                block, off = f.read(BLOCK), 0
                if not block:
                    if pending:
                        state["truncated"] = base
                    return
                continue
            crc, n, typ = CHUNK.unpack_from(block, off)
            if typ == 0 and n == 0:
                # zero-filled space (pre-allocated, or a tail never written): skip the block
                if len(block) < BLOCK and block[off:].strip(b"\0"):
                    raise damaged("corrupted chunk header (zero type)", base + off)
                off = len(block)
                continue
            if typ not in (FULL, FIRST, MIDDLE, LAST):
                raise damaged(f"corrupted chunk header (type {typ})", base + off)
            end = off + CHUNK.size + n
            if end > len(block):
                if len(block) < BLOCK:  # the file ends inside this chunk
                    state["truncated"] = base + off
                    return
                raise damaged(f"corrupted chunk header (length {n})", base + off)
            data = block[off + CHUNK.size : end]
            if zlib.crc32(data, zlib.crc32(bytes((typ,)))) & 0xFFFFFFFF != crc:
                raise damaged("corrupted chunk (CRC mismatch)", base + off)
            off = end
            if typ == FULL:
                yield data
            elif typ == FIRST:
                pending = [data]
            elif typ == MIDDLE:
                pending.append(data)
            else:
                pending.append(data)
                yield b"".join(pending)
                pending = []


_SUMMARY = "\0summary"


def _kind_of(raw: str, keymap: KeyMap) -> str:
    """What a history key is: "" (bookkeeping), ``_SUMMARY`` (HF end-of-run value) or the
    canonical metric name."""
    if raw.startswith("_") or raw == _HF_STEP:
        return ""
    if is_summary_key(raw):
        return _SUMMARY
    return keymap(raw)


def _number(value_json: str | None) -> float | None:
    """A JSON number (or NaN/Infinity token) as float, without the JSON parser."""
    if not value_json:
        return None
    try:
        return float(value_json)
    except ValueError:
        return None


def _json(value_json: str) -> Any:
    try:
        return json.loads(value_json)
    except (ValueError, RecursionError):
        return value_json


def _item_key(item: Any) -> str:
    return item.key or "/".join(item.nested_key)


def _items(items: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for it in items:
        try:
            out[_item_key(it)] = json.loads(it.value_json)
        except (ValueError, RecursionError):
            out[_item_key(it)] = it.value_json
    return out


def _config_values(raw: dict[str, Any]) -> dict[str, Any]:
    """W&B stores config values as ``{"value": x, "desc": ...}`` in config records."""
    out = {}
    for k, v in raw.items():
        if k == "_wandb":
            continue
        if isinstance(v, dict) and "value" in v and set(v) <= {"value", "desc"}:
            v = v["value"]
        out[k] = jsonable(v)
    return out


def _first_run_record(path: Path, pb: Any) -> Any:
    """The RunRecord near the start of the file (None if the log has none)."""
    state: dict[str, Any] = {}
    try:
        for i, payload in enumerate(iter_records(path, state)):
            rec = pb.Record.FromString(payload)
            if rec.WhichOneof("record_type") == "run":
                return rec.run
            if i > 50:
                break
    except ImportError_ as exc:
        if "bad header" in exc.message:
            raise
    return None


def read_wandb(path: Path) -> ImportedRun:
    check_readable(path)
    pb = _pb()
    run = _first_run_record(path, pb)
    m = _RUN_ID.search(path.name)
    run_id = (run.run_id if run is not None and run.run_id else None) or (
        m.group(1) if m else path.stem
    )
    start = None
    config: dict[str, Any] = {}
    name = run_id
    project = None
    if run is not None:
        if run.start_time.seconds:
            start = run.start_time.seconds + run.start_time.nanos / 1e9
        name = run.display_name or run_id
        project = run.project or None
        config = _config_values(_items(run.config.update))
    keymap = KeyMap()
    imported = ImportedRun(
        name=name,
        format="wandb",
        source=display_path(path),
        source_id=f"wandb:{run_id}:{start or path.stat().st_size}",
        batches=iter(()),
        project=project,
        config=config,
        start_time=start,
        status=RunStatus.CRASHED,
        original_keys=keymap.originals,
    )
    system: list[MetricPoint] = []
    imported.batches = rebatched(_stream(path, pb, imported, keymap, system))
    imported.system_batches = chunked(system)
    return imported


def _stream(
    path: Path, pb: Any, imported: ImportedRun, keymap: KeyMap, system: list[MetricPoint]
) -> Iterator[list[MetricPoint]]:
    """The points of the log, one list per history record; system metrics go to ``system``."""
    state: dict[str, Any] = {}
    point = MetricPoint
    kinds: dict[str, str] = {}  # raw key -> canonical key, "" to skip, _SUMMARY
    summary_json: dict[str, str] = {}
    n_stats = 0
    last_time: float | None = None
    exited = False
    epoch_step = -1
    guard = StepGuard(imported.warnings)
    from_record = pb.Record.FromString
    for payload in iter_records(path, state):
        try:
            rec = from_record(payload)
        except Exception as exc:  # a CRC-valid record that is not a Record: damaged writer
            raise ImportError_(
                f"undecodable record ({type(exc).__name__})", path=str(path)
            ) from exc
        kind = rec.WhichOneof("record_type")
        if kind == "history":
            # raw value_json strings first: numbers parse as floats, the rest as JSON
            raw_row = {
                (it.key or "/".join(it.nested_key)): it.value_json for it in rec.history.item
            }
            raw_step: Any = rec.history.step.num
            for step_key in (_HF_STEP, "_step"):
                if _number(raw_row.get(step_key)) is not None:
                    raw_step = raw_row[step_key]
                    break
            checked = guard(raw_step)
            if checked is None:
                continue
            istep = checked
            wall_f = _number(raw_row.get("_timestamp"))
            if wall_f is not None and not math.isfinite(wall_f):
                wall_f = None
            if wall_f is not None:
                last_time = wall_f
            row: list[MetricPoint] = []
            for raw, vj in raw_row.items():
                key = kinds.get(raw)
                if key is None:
                    key = kinds[raw] = _kind_of(raw, keymap)
                if not key:
                    continue
                if key is _SUMMARY:
                    summary_json[raw] = vj
                    continue
                f = _number(vj)
                if f is None:
                    f = scalar(_json(vj))
                    if f is None:
                        continue
                if key == keys.EPOCH:
                    if istep == epoch_step:
                        continue  # eval and end-of-run logs repeat the epoch
                    epoch_step = istep
                row.append(point(key, istep, f, wall_f))
            if row:
                yield row
        elif kind == "summary":
            # W&B writes the summary about twice per step: keep the raw JSON, decode once
            for it in rec.summary.update:
                summary_json[it.key or "/".join(it.nested_key)] = it.value_json
            for it in rec.summary.remove:
                summary_json.pop(_item_key(it), None)
        elif kind == "config":
            imported.config.update(_config_values(_items(rec.config.update)))
            for it in rec.config.remove:
                imported.config.pop(_item_key(it), None)
        elif kind == "stats":
            ts = rec.stats.timestamp.seconds + rec.stats.timestamp.nanos / 1e9
            for k, v in _items(rec.stats.item).items():
                f = scalar(v)
                if f is not None:
                    system.append(MetricPoint(k, n_stats, f, ts or None))
            n_stats += 1
        elif kind == "exit":
            exited = True
            code = rec.exit.exit_code
            imported.status = RunStatus.FINISHED if code == 0 else RunStatus.FAILED
            if rec.exit.runtime and imported.start_time:
                imported.end_time = imported.start_time + rec.exit.runtime
    summary = {k: jsonable(_json(v)) for k, v in summary_json.items()}
    imported.summary.update(
        {k: v for k, v in summary.items() if not k.startswith("_") and k != _HF_STEP}
    )
    if _HF_STEP in summary:
        imported.summary["global_step"] = summary[_HF_STEP]
    if imported.end_time is None:
        imported.end_time = last_time
    if state.get("truncated") is not None:
        imported.warnings.append(
            f"the log ends mid-record at byte {state['truncated']} (run still writing, or "
            "crashed): imported everything before it"
        )
    elif not exited:
        imported.warnings.append("the log has no exit record: the run crashed or is running")

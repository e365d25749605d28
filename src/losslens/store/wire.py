"""The column-wise wire format of a batch of points (``POST /api/v1/runs/{id}/points``).

A sync client sends ``Content-Type: application/x-losslens-points``; any other type is the
JSON body of docs/team.md, which keeps working. The body, every number little-endian:

* ``b"LLP1"``, then ``u32`` keys and ``u32`` points;
* per key: ``u8`` kind (0 metric, 1 system), ``u32`` length and the UTF-8 name, ``u32``
  length and the UTF-8 name it was logged under (length 0: the same as the name);
* the columns, each ``points`` long: ``i4`` key index, ``i8`` step, ``f8`` wall time (NaN:
  unknown), ``f8`` value (NaN, +Inf and -Inf as themselves, bit for bit).

No Python object is made per point on either side: the columns are ``numpy.frombuffer`` of
the body. Decoding checks everything a store write relies on and raises :class:`WireError`
(one line) for a body that is not well formed.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from losslens.errors import LosslensError

#: The media type of the format (parameters after ``;`` are ignored).
CONTENT_TYPE = "application/x-losslens-points"
MAGIC = b"LLP1"
KINDS = ("metric", "system")
#: Longest metric name the server takes (the JSON body's limit too).
MAX_KEY = 512
_HEAD = struct.Struct("<4sII")
_LEN = struct.Struct("<I")
_KIND = struct.Struct("<B")
#: Bytes per point: key index, step, wall time, value.
POINT_BYTES = 4 + 8 + 8 + 8


class WireError(LosslensError, ValueError):
    """A body that is not a well-formed batch (the message is one line)."""


@dataclass
class PointColumns:
    """A batch of points of one run as columns: ``keys[index[i]]`` is point ``i``'s
    ``(name, kind)``; ``originals[j]`` the name key ``j`` was logged under, or None."""

    keys: list[tuple[str, str]]
    originals: list[str | None]
    index: npt.NDArray[np.int32]
    steps: npt.NDArray[np.int64]
    walls: npt.NDArray[np.float64]
    values: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.steps.shape[0])

    def to_json(self) -> dict[str, Any]:
        """The same batch as the JSON body (for a server that does not read this format)."""
        names = [k for k, _ in self.keys]
        kinds = [kind for _, kind in self.keys]
        points = [
            [names[j], kinds[j], s, None if math.isnan(w) else w, _token(v)]
            for j, s, w, v in zip(
                self.index.tolist(),
                self.steps.tolist(),
                self.walls.tolist(),
                self.values.tolist(),
                strict=True,
            )
        ]
        body: dict[str, Any] = {"points": points}
        originals = {
            name: original
            for (name, _), original in zip(self.keys, self.originals, strict=True)
            if original and original != name
        }
        if originals:
            body["originals"] = originals
        return body


def _token(v: float) -> float | str:
    if math.isfinite(v):
        return v
    return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")


def encode(cols: PointColumns) -> bytes:
    """The body of a batch (see the module's docstring)."""
    n = len(cols)
    parts = [_HEAD.pack(MAGIC, len(cols.keys), n)]
    for (name, kind), original in zip(cols.keys, cols.originals, strict=True):
        raw = name.encode("utf-8")
        orig = b"" if not original or original == name else original.encode("utf-8")
        parts += [
            _KIND.pack(KINDS.index(kind)),
            _LEN.pack(len(raw)),
            raw,
            _LEN.pack(len(orig)),
            orig,
        ]
    parts += [
        np.ascontiguousarray(cols.index, dtype="<i4").tobytes(),
        np.ascontiguousarray(cols.steps, dtype="<i8").tobytes(),
        np.ascontiguousarray(cols.walls, dtype="<f8").tobytes(),
        np.ascontiguousarray(cols.values, dtype="<f8").tobytes(),
    ]
    return b"".join(parts)


def is_columns(content_type: str | None) -> bool:
    """Whether a ``Content-Type`` header names this format."""
    return (content_type or "").split(";", 1)[0].strip().lower() == CONTENT_TYPE


def count(body: bytes) -> int:
    """The number of points a body says it holds (before decoding it)."""
    if len(body) < _HEAD.size or body[:4] != MAGIC:
        raise WireError(f"the body is not a batch in {CONTENT_TYPE} (no {MAGIC.decode()} header)")
    return int(_HEAD.unpack_from(body)[2])


def decode(body: bytes) -> PointColumns:
    """The batch in ``body``; :class:`WireError` for anything not well formed."""
    count(body)  # the header is there
    view = memoryview(body)
    _, n_keys, n = _HEAD.unpack_from(view)
    at = _HEAD.size
    keys: list[tuple[str, str]] = []
    originals: list[str | None] = []
    seen: set[tuple[str, str]] = set()
    for j in range(n_keys):
        if len(body) < at + _KIND.size + _LEN.size:
            raise WireError(f"the body ends inside key {j} of {n_keys}")
        kind_no = body[at]
        if kind_no >= len(KINDS):
            raise WireError(f"key {j}: kind {kind_no} is not 0 (metric) or 1 (system)")
        name, at = _text(view, at + 1, f"key {j}", MAX_KEY)
        if not name:
            raise WireError(f"key {j}: the name is empty")
        original, at = _text(view, at, f"key {j}'s original name", 4 * MAX_KEY)
        pair = (name, KINDS[kind_no])
        if pair in seen:
            raise WireError(f"key {j}: {name!r} ({pair[1]}) is listed twice")
        seen.add(pair)
        keys.append(pair)
        originals.append(original or None)
    if len(body) - at != n * POINT_BYTES:
        raise WireError(
            f"the body holds {len(body) - at} bytes of columns, {n} points need {n * POINT_BYTES}"
        )
    index = np.frombuffer(body, "<i4", n, at).astype(np.int32)
    steps = np.frombuffer(body, "<i8", n, at + 4 * n).astype(np.int64)
    walls = np.frombuffer(body, "<f8", n, at + 12 * n).astype(np.float64)
    values = np.frombuffer(body, "<f8", n, at + 20 * n).astype(np.float64)
    if n and (int(index.min()) < 0 or int(index.max()) >= n_keys):
        raise WireError(f"a key index is outside 0..{n_keys - 1}")
    if bool(np.isinf(walls).any()):
        raise WireError("a wall time is infinite (send NaN for an unknown time)")
    return PointColumns(keys, originals, index, steps, walls, values)


def _text(view: memoryview, at: int, what: str, limit: int) -> tuple[str, int]:
    if len(view) < at + _LEN.size:
        raise WireError(f"the body ends inside {what}")
    (size,) = _LEN.unpack_from(view, at)
    at += _LEN.size
    if size > 4 * limit or len(view) < at + size:
        raise WireError(f"{what}: length {size} runs past the body or the limit")
    try:
        text = bytes(view[at : at + size]).decode("utf-8")
    except UnicodeDecodeError:
        raise WireError(f"{what} is not UTF-8") from None
    if len(text) > limit or "\x00" in text:
        raise WireError(f"{what} must be at most {limit} characters, without NUL")
    return text, at + size


__all__ = [
    "CONTENT_TYPE",
    "MAX_KEY",
    "PointColumns",
    "WireError",
    "count",
    "decode",
    "encode",
    "is_columns",
]

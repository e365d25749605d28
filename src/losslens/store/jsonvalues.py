"""How the store writes config and summary JSON: strict JSON (so that SQLite's
``json_extract`` reads every row) that any Python value can become.

NaN and ±Inf are written as the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``
(:mod:`losslens.numeric`'s tokens) and come back as floats through :func:`loads`; numpy
scalars become numbers, other unknown objects ``str``; a container that holds itself, or
nesting deeper than :data:`MAX_JSON_DEPTH`, is cut with a marker string.
"""

from __future__ import annotations

import json
import os
from typing import Any

from losslens.numeric import decode_nonfinite, encode_nonfinite


def _json_default(obj: object) -> object:
    item = getattr(obj, "item", None)
    if callable(item):
        try:
            return item()
        except Exception:
            pass
    if isinstance(obj, set | tuple):
        return list(obj)
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return str(obj)


def dumps(obj: object) -> str:
    """Strict JSON as the store writes it: NaN/±Inf as "NaN"/"Infinity"/"-Infinity",
    numpy scalars as numbers, other unknown objects as ``str``. A container that holds
    itself is written with ``"<cycle>"`` in its place, and nesting deeper than
    ``MAX_JSON_DEPTH`` as ``"<too deep>"``: a config can always be stored."""
    try:
        return json.dumps(obj, default=_json_default, ensure_ascii=False, allow_nan=False)
    except (ValueError, RecursionError):
        plain = _acyclic(obj, 0, set())
        return json.dumps(encode_nonfinite(plain), ensure_ascii=False, allow_nan=False)


#: Deepest nesting of config/summary JSON kept as it is.
MAX_JSON_DEPTH = 64


def _acyclic(obj: object, depth: int, seen: set[int]) -> object:
    """``obj`` as plain JSON data with cycles and excessive depth cut (see :func:`dumps`)."""
    if obj is None or isinstance(obj, str | bool | int | float):
        return obj
    if depth >= MAX_JSON_DEPTH:
        return "<too deep>"
    if id(obj) in seen:
        return "<cycle>"
    if isinstance(obj, dict):
        seen.add(id(obj))
        out: object = {str(k): _acyclic(v, depth + 1, seen) for k, v in obj.items()}
    elif isinstance(obj, list | tuple | set):
        seen.add(id(obj))
        out = [_acyclic(v, depth + 1, seen) for v in obj]
    else:
        conv = _json_default(obj)
        return conv if isinstance(conv, str) else _acyclic(conv, depth + 1, seen)
    seen.discard(id(obj))
    return out


def loads(text: str | None) -> Any:
    """The inverse of :func:`dumps` ("NaN"/"Infinity"/"-Infinity" strings become floats)."""
    if not text:
        return {}
    obj = json.loads(text)
    if "NaN" in text or "Infinity" in text:
        obj = decode_nonfinite(obj)
    return obj

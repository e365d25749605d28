"""The one place where a step or a metric value from outside is turned into a number.

Every importer, the recorder (``Run.log``) and the HF callback go through these helpers, so
that a hostile or damaged input (``1e400``, ``"Infinity"`` as a step, ``2**70``, a string
that is almost a number) is handled the same way everywhere and never reaches the store
as something that cannot be read back:

* a **step** is an integer that fits SQLite's 64-bit integers (:data:`STEP_MIN` ..
  :data:`STEP_MAX`). :func:`as_step` returns ``None`` for anything else (non-finite, out of
  range, not a number); integers above 2**53 stay exact (a CSV step ``9007199254740993``
  is not rounded through a float).
* a **value** is a float; NaN and ±Inf are kept (they are what the NaN rules look for), an
  integer too large for a float becomes ±Inf. :func:`as_value` returns ``None`` for what
  is not a scalar.
* NaN and ±Inf have ONE spelling wherever losslens writes JSON (the store's config/summary
  columns, ``--json`` reports, the dashboard API): the strings ``"NaN"``, ``"Infinity"``,
  ``"-Infinity"`` (what JavaScript's ``String(x)`` gives and ``Number(s)`` reads back).
  :func:`nonfinite_token` spells one float, :func:`encode_nonfinite` a whole structure,
  :func:`from_token` / :func:`decode_nonfinite` read them back.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

#: Smallest and largest step the store keeps (SQLite INTEGER, two's complement 64 bits).
STEP_MIN = -(2**63)
STEP_MAX = 2**63 - 1

#: Step strings longer than this are not parsed (a 100 KB run of digits is not a step).
_MAX_STEP_CHARS = 40

#: JSON spellings of the non-finite floats: the one encoding (store, reports, dashboard API).
NONFINITE_TOKENS: dict[str, float] = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_WORDS = {
    "nan": math.nan,
    "+nan": math.nan,
    "-nan": math.nan,
    "inf": math.inf,
    "+inf": math.inf,
    "infinity": math.inf,
    "+infinity": math.inf,
    "-inf": -math.inf,
    "-infinity": -math.inf,
}


def as_step(value: Any) -> int | None:
    """``value`` as a step the store can hold, or None.

    Integers (python, numpy) in range are returned as they are; finite floats are truncated
    towards zero (``12.0`` -> 12); strings are read as integers first (exact beyond 2**53),
    then as floats. Bools, NaN, ±Inf and anything outside the 64-bit range give None.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Integral):
        n = int(value)
    elif isinstance(value, float | numbers.Real):
        try:
            f = float(value)
        except (TypeError, ValueError, OverflowError):
            return None
        if not math.isfinite(f) or not float(STEP_MIN) <= f < float(STEP_MAX):
            return None
        n = int(f)
    elif isinstance(value, str | bytes):
        s = value.strip()
        if not s or len(s) > _MAX_STEP_CHARS:
            return None
        try:
            n = int(s)
        except ValueError:
            try:
                f = float(s)
            except ValueError:
                return None
            return as_step(f)
    else:
        return None
    return n if STEP_MIN <= n <= STEP_MAX else None


def step_problem(value: Any) -> str:
    """Why ``value`` is not a step, for a warning (``as_step(value)`` is None)."""
    text = repr(value) if not isinstance(value, str) else value.strip()
    if len(text) > 24:
        text = text[:21] + "..."
    return f"step {text} is not an integer between -2**63 and 2**63-1"


def as_value(value: Any, *, bools: bool = False) -> float | None:
    """``value`` as a float metric value (NaN/±Inf kept), or None when it is not a scalar.

    Accepts python and numpy numbers, 0-d arrays/tensors (``.item()``) and numeric strings
    (``"0.5"``, ``"nan"``, ``"Infinity"``). Bools count as 0/1 only with ``bools=True``.
    """
    if isinstance(value, bool):
        return float(value) if bools else None
    if isinstance(value, float):
        return value
    if isinstance(value, int):
        return _int_to_float(value)
    if isinstance(value, numbers.Real):
        try:
            return float(value)
        except (TypeError, ValueError, OverflowError):
            return None
    if isinstance(value, str):
        s = value.strip()
        word = _WORDS.get(s.lower())
        if word is not None:
            return word
        if not s or len(s) > 400:
            return None
        try:
            return float(s)
        except ValueError:
            return None
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", 1) == 0 and not isinstance(value, bytes):
        try:
            out = item()
        except Exception:
            return None
        if isinstance(out, int | float | numbers.Real) and not isinstance(out, complex):
            return as_value(out, bools=bools)
    return None


def is_number(value: Any) -> bool:
    """True for real scalars stored as a metric point: python/numpy numbers, bool excluded."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _int_to_float(n: int) -> float:
    try:
        return float(n)
    except OverflowError:
        return math.inf if n > 0 else -math.inf


def nonfinite_token(x: float) -> str:
    """``"NaN"``, ``"Infinity"`` or ``"-Infinity"`` for a non-finite float."""
    if x != x:
        return "NaN"
    return "Infinity" if x > 0 else "-Infinity"


def from_token(obj: Any) -> Any:
    """The float a :data:`NONFINITE_TOKENS` string stands for; anything else unchanged."""
    if isinstance(obj, str):
        return NONFINITE_TOKENS.get(obj, obj)
    return obj


def encode_nonfinite(obj: Any) -> Any:
    """``obj`` with every non-finite float (in dicts, lists, tuples) as its token."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return nonfinite_token(obj)
    if isinstance(obj, dict):
        return {k: encode_nonfinite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [encode_nonfinite(v) for v in obj]
    return obj


def decode_nonfinite(obj: Any) -> Any:
    """The inverse of :func:`encode_nonfinite`: token strings (in dicts, lists) become floats."""
    if isinstance(obj, str):
        return NONFINITE_TOKENS.get(obj, obj)
    if isinstance(obj, dict):
        return {k: decode_nonfinite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [decode_nonfinite(v) for v in obj]
    return obj


__all__ = [
    "NONFINITE_TOKENS",
    "STEP_MAX",
    "STEP_MIN",
    "as_step",
    "as_value",
    "decode_nonfinite",
    "encode_nonfinite",
    "from_token",
    "is_number",
    "nonfinite_token",
    "step_problem",
]

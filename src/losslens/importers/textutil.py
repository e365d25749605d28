"""Text helpers for the text formats: strict UTF-8 with byte offsets, JSON error locations."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

from losslens.errors import ImportError_

#: A tqdm progress bar, ``35%|███▌  | 10/375 [02:09<1:13:19, 12.05s/it, loss 6.05]``: groups
#: (1) the percentage, (2) the count done, (3) the total, (4) what the brackets hold (elapsed<
#: remaining, rate, postfix). Linear in the line on any text: possessive runs, bounded digits.
TQDM_BAR = re.compile(
    r"(?<!\d)(\d{1,3})%\|[^|\n]*+\|\s*+(\d{1,15})/(\d{1,15})(?!\d)\s*+(?:\[([^\]\n]*+)\]?)?"
)
#: ANSI colour/cursor sequences (CSI and OSC) that terminals leave in pasted logs.
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][A-Za-z0-9]")


#: Byte-order marks of the wide Unicode encodings, longest first (UTF-32's little-endian mark
#: starts with UTF-16's). PowerShell 5's ``>`` and ``Out-File`` write UTF-16 with a BOM.
_WIDE_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


def wide_text(head: bytes) -> bool:
    """Whether a file starting with ``head`` is UTF-16 or UTF-32 text with a byte-order
    mark (read it whole through :func:`as_utf8`)."""
    return any(head.startswith(bom) for bom, _ in _WIDE_BOMS)


def as_utf8(raw: bytes, *, whole: bool = True) -> bytes:
    """``raw`` as UTF-8 when it is UTF-16 or UTF-32 text with a byte-order mark (a console
    log saved by Windows PowerShell), so that every text importer reads it like any other
    file; other bytes unchanged. ``whole=False`` for the head of a file: a character cut at
    its end is dropped. Bytes behind a mark that do not decode to text (an error, or a NUL
    character, which no text log holds) are left as they are: binary data stays binary."""
    for bom, codec in _WIDE_BOMS:
        if raw.startswith(bom):
            try:
                text = raw[len(bom) :].decode(codec, "strict" if whole else "ignore")
            except UnicodeDecodeError:
                return raw
            return raw if "\0" in text[:4096] else text.encode("utf-8")
    return raw


def decode_utf8(raw: bytes, path: Path) -> str:
    """Bytes as UTF-8 text (a BOM is dropped); invalid bytes raise with their offset."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        binary = b"\0" in raw[:4096]
        raise ImportError_(
            "binary data, not a text log" if binary else "invalid UTF-8 text",
            None if binary else "save the file as UTF-8",
            path=str(path),
            location=f"byte {exc.start}",
        ) from exc
    return text.removeprefix("\ufeff")


def json_error(exc: json.JSONDecodeError, path: Path) -> ImportError_:
    what = "the file ends in the middle of the JSON" if exc.pos >= len(exc.doc) - 1 else exc.msg
    return ImportError_(
        f"not valid JSON: {what}",
        "the file may be truncated or not a JSON log",
        path=str(path),
        location=f"line {exc.lineno}, column {exc.colno}",
    )


def strip_ansi(text: str) -> str:
    return ANSI.sub("", text) if "\x1b" in text else text


_NAN = "<nan>"  # a bare nan, read as a string first (a literal has no NaN)
_PY_NONFINITE = re.compile(r"(?<![\w'\".])(nan|inf)(?![\w'\"])")


def python_literal(text: str) -> Any:
    """``text`` read as a Python literal (never run), a bare ``nan``/``inf`` (Python's repr
    of those floats) read as that float; None when it is not one."""
    src = _PY_NONFINITE.sub(lambda x: f"'{_NAN}'" if x.group(1) == "nan" else "1e999", text)
    try:
        value = ast.literal_eval(src)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return _with_nan(value)


def _with_nan(value: Any) -> Any:
    """``value`` with the placeholder of a bare ``nan`` turned back into the float."""
    if value == _NAN:
        return float("nan")
    if isinstance(value, dict):
        return {k: _with_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_nan(v) for v in value]
    return value

"""Make text from users and files safe to print on a terminal.

A run name, metric key, file name or config value can hold escape sequences
(``\\x1b]0;title\\x07`` sets the window title, ``\\x1b[2J`` clears the screen, OSC 8 makes
hyperlinks) or bidi overrides that reorder what is shown. :func:`safe` turns every such
character into a visible escape (``\\x1b``, ``\\n``, ``\\u202e``) and leaves everything
else, Korean and emoji included, as it is. The terminal renderer, the CLI and the error
messages all go through it.
"""

from __future__ import annotations

import re
from typing import Any

#: C0 and C1 controls, DEL, and the Unicode bidi embedding/override/isolate characters
#: and line/paragraph separators.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(m: re.Match[str]) -> str:
    ch = m.group(0)
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def safe(text: Any) -> str:
    """``str(text)`` with every control, escape and bidi character shown as an escape."""
    s = text if isinstance(text, str) else str(text)
    if _UNSAFE.search(s) is None:
        return s
    return _UNSAFE.sub(_escape, s)


def is_safe(text: str) -> bool:
    """Whether ``text`` prints as it is (nothing :func:`safe` would escape)."""
    return _UNSAFE.search(text) is None


def safe_data(obj: Any) -> Any:
    """``obj`` (nested dicts/lists of strings) with every string, key included, made safe."""
    if isinstance(obj, str):
        return safe(obj)
    if isinstance(obj, dict):
        return {safe_data(k): safe_data(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [safe_data(v) for v in obj]
    return obj


__all__ = ["is_safe", "safe", "safe_data"]

"""Tell program source from a training log before any importer reads it.

A training script (``train_peft.py``), a fixture generator or a notebook can hold a dict
that looks exactly like a logged record (``{'loss': 2.8, 'learning_rate': 2e-4}``), and a
log-sniffer that reads only such lines would import the script as a run. Source files are
recognised by their suffix, a shebang, or Python statements at the top of the file.
"""

from __future__ import annotations

import re
from pathlib import Path

#: Suffixes of program source and notebooks: never a training log.
SOURCE_SUFFIXES = frozenset(
    {
        ".py", ".pyw", ".pyi", ".ipynb", ".sh", ".bash", ".zsh", ".ps1", ".bat",
        ".js", ".mjs", ".ts", ".c", ".h", ".cc", ".cpp", ".hpp", ".cu", ".rs", ".go",
        ".java", ".kt", ".rb", ".pl", ".lua", ".r", ".jl", ".swift", ".scala",
    }
)  # fmt: skip

#: A line of Python (or shell) that no training log starts with.
_STATEMENT = re.compile(
    rb"^(?:import\s+[\w.]+|from\s+[\w.]+\s+import\s|def\s+\w+\s*\(|class\s+\w+[(:]"
    rb"|if\s+__name__\s*==|@\w+|#!)"
)


def looks_like_source(path: Path, head: bytes | None = None) -> bool:
    """Whether ``path`` is program source: by suffix, else by its first code lines."""
    if path.suffix.lower() in SOURCE_SUFFIXES:
        return True
    if head is None:
        try:
            with path.open("rb") as f:
                head = f.read(4096)
        except OSError:
            return False
    statements = 0
    for raw in head.splitlines()[:40]:
        line = raw.strip()
        if not line:
            continue
        if line.startswith(b"#!"):
            return True
        if line.startswith((b"#", b'"""', b"'''")):
            continue
        if _STATEMENT.match(line):
            statements += 1
            if statements >= 2:
                return True
        else:
            return False  # the first real line is not code: judge by the importers
    return False


__all__ = ["SOURCE_SUFFIXES", "looks_like_source"]

"""Read-only access to other tools' SQLite files (MLflow, trackio)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from losslens.errors import ImportError_
from losslens.importers.base import read_head, special_kind

SQLITE_MAGIC = b"SQLite format 3\0"


def is_sqlite(path: Path) -> bool:
    return read_head(path, 16) == SQLITE_MAGIC


def connect_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection that never creates or changes the file (nor its -wal).

    Text cells that are not valid UTF-8 (a damaged page) are decoded with replacement
    characters instead of raising ``UnicodeDecodeError``; only regular files are opened."""
    kind = special_kind(path)
    if kind is not None:
        raise ImportError_(f"cannot read the file: {kind}", path=str(path))
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        conn.text_factory = _text
        conn.execute("PRAGMA query_only = ON")
    except sqlite3.Error as exc:
        raise ImportError_(f"cannot open the database: {exc}", path=str(path)) from exc
    return conn


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def quick_check(conn: sqlite3.Connection) -> str | None:
    """SQLite's ``PRAGMA quick_check`` of a source database: None when it is sound, else
    its first complaint (one line). Run before reading, so that damage is reported instead
    of rows going silently missing behind a broken index."""
    try:
        rows = [str(r[0]) for r in conn.execute("PRAGMA quick_check(5)")]
    except sqlite3.DatabaseError as exc:
        return str(exc)
    if rows == ["ok"]:
        return None
    return rows[0] if rows else "no answer"


def damage_warning(problem: str, table: str, scanned: int, indexed: int | None) -> str:
    """The warning of a damaged source: what the check said and what was read."""
    counted = f", its index lists {indexed:,}" if indexed is not None and indexed != scanned else ""
    return (
        f"the database is damaged (quick_check: {problem}); {scanned:,} rows of '{table}' "
        f"read by scanning the table{counted}; rows in damaged pages are lost"
    )


def count_rows(conn: sqlite3.Connection, sql: str, args: tuple[object, ...] = ()) -> int | None:
    try:
        return int(conn.execute(sql, args).fetchone()[0])
    except (sqlite3.DatabaseError, TypeError, ValueError):
        return None


def table_names(path: Path) -> set[str]:
    try:
        conn = connect_readonly(path)
    except ImportError_:
        return set()
    try:
        return {
            str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
    except (sqlite3.Error, ValueError):
        return set()
    finally:
        conn.close()


def columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}

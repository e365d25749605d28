"""Read-only access to other tools' SQLite files (MLflow, trackio)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from losslens.errors import ImportError_
from losslens.importers.base import read_head

SQLITE_MAGIC = b"SQLite format 3\0"


def is_sqlite(path: Path) -> bool:
    return read_head(path, 16) == SQLITE_MAGIC


def connect_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection that never creates or changes the file (nor its -wal)."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        conn.execute("PRAGMA query_only = ON")
    except sqlite3.Error as exc:
        raise ImportError_(f"cannot open the database: {exc}", path=str(path)) from exc
    return conn


def table_names(path: Path) -> set[str]:
    try:
        conn = connect_readonly(path)
    except ImportError_:
        return set()
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.Error:
        return set()
    finally:
        conn.close()


def columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}

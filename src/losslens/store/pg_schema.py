"""The PostgreSQL store's schema: plain SQL files in ``pg_migrations/`` (``NNNN_name.sql``),
applied in order, each in its own transaction, and recorded in ``schema_migrations``
(``losslens db upgrade``). Never edit a shipped file: add the next one."""

from __future__ import annotations

import re
import urllib.parse
from importlib import resources
from typing import Any

import psycopg

from losslens.errors import StoreError

#: A key of the advisory lock that serialises ``losslens db upgrade`` runs ("LLSN").
_MIGRATION_LOCK = 0x4C4C534E
_MIGRATION_FILE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    user = f"{parts.username}:***@" if parts.username else ":***@"
    port = f":{parts.port}" if parts.port else ""
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}{host}{port}"))


# -- migrations -----------------------------------------------------------------------------


def migrations() -> list[tuple[int, str, str]]:
    """``(version, file name, SQL)`` of every shipped migration, in order."""
    out = []
    for entry in resources.files("losslens.store").joinpath("pg_migrations").iterdir():
        m = _MIGRATION_FILE.match(entry.name)
        if m:
            out.append((int(m.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    out.sort()
    for i, (version, name, _) in enumerate(out, start=1):
        if version != i:
            raise StoreError(f"migration {name} is out of sequence (expected {i:04d}_…)")
    return out


def schema_version(conn: psycopg.Connection[Any]) -> int:
    """The highest applied migration (0 for a database without losslens tables)."""
    row = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not row or not row[0]:
        return 0
    got = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
    return int(got[0]) if got else 0


def upgrade(url: str) -> list[str]:
    """Apply the pending migrations, each in its own transaction; returns their file names
    (empty when the schema is current). Concurrent runs wait for each other."""
    applied: list[str] = []
    with connect(url) as conn:
        for version, name, text in migrations():
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
                    "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
                )
                if schema_version(conn) >= version:
                    continue
                conn.execute(text.encode("utf-8"))
                conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                    (version, name),
                )
                applied.append(name)
    return applied


def connect(url: str) -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StoreError(
            f"cannot connect to PostgreSQL at {redact(url)}: {first}",
            "check that the server runs and the URL (user, host, port, database) is right",
        ) from exc


__all__ = ["connect", "migrations", "redact", "schema_version", "upgrade"]

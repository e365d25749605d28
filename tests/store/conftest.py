"""Both engines: the engine-neutral store tests take ``spec`` (or ``store``) and run once on
a fresh SQLite file and once on a fresh PostgreSQL database of the shared throwaway cluster
(tests/conftest.py). Tests of what only SQLite has (the file, its PRAGMAs, rollups, a
read-only mount) open ``Store`` themselves and say so."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from extras import needs
from losslens.store import StoreProtocol
from losslens.store.open import is_url, open_store


@pytest.fixture(params=["sqlite", "postgresql"])
def spec(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a fresh, empty store of the engine lives: a file path, or the ``postgresql://``
    URL of a new database with the schema applied."""
    if request.param == "sqlite":
        return str(tmp_path / "store.db")
    needs("psycopg", "team")
    return str(request.getfixturevalue("pg_store_url"))


@pytest.fixture
def engine(spec: str) -> str:
    return "postgresql" if is_url(spec) else "sqlite"


@pytest.fixture
def store(spec: str) -> Iterator[StoreProtocol]:
    with open_store(spec) as st:
        yield st


@pytest.fixture
def sql(spec: str) -> Callable[..., list[tuple[Any, ...]]]:
    """Plain SQL on the store, through a connection of its own (what another client sees):
    ``sql("SELECT … WHERE x = ?", value)`` -> rows, with ``?`` placeholders on both engines."""

    def run(query: str, *args: Any) -> list[tuple[Any, ...]]:
        if is_url(spec):
            import psycopg

            with psycopg.connect(spec, autocommit=True) as conn:
                cur = conn.execute(query.replace("?", "%s").encode(), args)
                return cur.fetchall() if cur.description is not None else []
        with contextlib.closing(sqlite3.connect(spec)) as conn, conn:
            return conn.execute(query, args).fetchall()

    return run

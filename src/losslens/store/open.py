"""One entry point for both engines: a path opens the SQLite store, a ``postgresql://`` URL
the PostgreSQL one (which needs the ``team`` extra)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from losslens.errors import MissingExtraError
from losslens.store.protocol import StoreProtocol
from losslens.store.store import Store

if TYPE_CHECKING:
    from losslens.store.pg import PgStore

_URL_PREFIXES = ("postgresql://", "postgres://")


def is_url(spec: object) -> bool:
    """Whether a ``--store`` value names a PostgreSQL database rather than a file."""
    return isinstance(spec, str) and spec.startswith(_URL_PREFIXES)


def store_spec(arg: str | None) -> str | None:
    """What a read command opens: ``--store`` when given, else ``$LOSSLENS_STORE`` when it is
    a PostgreSQL URL (a path there stays the logging API's alone, as before), else None
    (the default SQLite store)."""
    if arg is not None:
        return arg
    env = os.environ.get("LOSSLENS_STORE")
    return env if is_url(env) else None


def open_pg(url: str, *, create: bool = True) -> PgStore:
    """The PostgreSQL store at ``url``; a one-line error when the extra is missing."""
    try:
        from losslens.store.pg import PgStore
    except ImportError as exc:
        name = getattr(exc, "name", None) or "psycopg"
        raise MissingExtraError(name.split(".")[0], "team") from exc
    return PgStore(url, create=create)


def open_store(spec: str | os.PathLike[str] | None, *, create: bool = True) -> StoreProtocol:
    """A store for a path (or None: the default SQLite store) or a ``postgresql://`` URL."""
    if is_url(spec):
        return open_pg(str(spec), create=create)
    return Store(spec, create=create)


__all__ = ["is_url", "open_pg", "open_store", "store_spec"]

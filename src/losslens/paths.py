"""Where losslens keeps its data. Always call these; never cache the result at import time."""

from __future__ import annotations

import os
from pathlib import Path

STORE_FILENAME = "losslens.db"


def data_dir() -> Path:
    """``$LOSSLENS_HOME`` if set, else the platform's user data directory."""
    env = os.environ.get("LOSSLENS_HOME")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("losslens", appauthor=False))


def default_store_path() -> Path:
    """The store used when neither ``--store`` nor ``dir=`` is given."""
    return data_dir() / STORE_FILENAME


def resolve_store_path(path: str | os.PathLike[str] | None) -> Path:
    """A store path from the user: a file, a directory (the store file inside it) or None."""
    if path is None:
        return default_store_path()
    p = Path(path).expanduser()
    if p.is_dir() or (not p.suffix and not p.exists()):
        return p / STORE_FILENAME
    return p

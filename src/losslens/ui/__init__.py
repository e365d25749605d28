"""The local web dashboard (``losslens ui``); needs the ``ui`` extra (starlette, uvicorn)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def create_app(store_path: str | Path, token: str | None = None, **options: Any) -> Any:
    """The dashboard as an ASGI app (see :func:`losslens.ui.app.create_app`)."""
    from losslens.ui.app import create_app as _create_app

    return _create_app(store_path, token, **options)


__all__ = ["create_app"]

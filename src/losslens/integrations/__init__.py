"""Integrations with training frameworks (imported lazily: transformers loads only when used).

``from losslens.integrations import LosslensCallback`` is the same class as
``losslens.integrations.hf.LosslensCallback``.
"""

from __future__ import annotations

from typing import Any

_LAZY = {
    "LosslensCallback": "losslens.integrations.hf",
    "GuardCallback": "losslens.integrations.hf",
}

__all__ = ["GuardCallback", "LosslensCallback"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'losslens.integrations' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)

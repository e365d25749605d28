"""A run's config as flat dotted keys, and value equality that treats NaN as equal to NaN:
what the config table, the compare verdict and the config summaries all compare."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"lora": {"r": 8}}`` -> ``{"lora.r": 8}``; an empty mapping stays a value."""
    out: dict[str, Any] = {}
    for k, v in config.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, Mapping) and v:
            out.update(flatten(v, key))
        else:
            out[key] = v
    return out


def same_value(a: Any, b: Any) -> bool:
    """Equal values of the same type (``1`` and ``1.0`` differ in a config); NaN equals NaN."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b) and type(a) is type(b)

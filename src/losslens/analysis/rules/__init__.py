"""Built-in rules, one module per family; importing this package registers them all."""

from __future__ import annotations

from losslens.analysis.rules import (  # noqa: F401  (registration side effect)
    artifacts,
    divergence,
    generalization,
    memorization,
    numerics,
    progress,
    schedule,
    spikes,
    system,
)
from losslens.analysis.rules.base import KINDS, RULES, Rule, rule

_ordered = dict(sorted(RULES.items()))
RULES.clear()
RULES.update(_ordered)

FAMILIES = (
    "numerics",
    "divergence",
    "spikes",
    "progress",
    "schedule",
    "generalization",
    "memorization",
    "artifacts",
    "system",
)

__all__ = ["FAMILIES", "KINDS", "RULES", "Rule", "rule"]

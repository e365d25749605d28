"""Built-in rules, one module per family; importing this package registers them all."""

from __future__ import annotations

from losslens.analysis.rules import (  # noqa: F401  (registration side effect)
    artifacts,
    divergence,
    epochs,
    eval_gap,
    eval_held,
    eval_spike,
    evalset,
    frozen_metric,
    generalization,
    grad_explosion,
    gradients,
    memorization,
    metric_stall,
    numerics,
    plateau,
    preference,
    progress,
    rl,
    schedule,
    spikes,
    system,
    underlearning,
)
from losslens.analysis.rules.base import KINDS, RULES, Rule, rule, run_order

_ordered = dict(sorted(RULES.items()))
RULES.clear()
RULES.update(_ordered)

#: The rules in the order they run: each after the rules it ``requires`` (checked here, once
#: every rule is registered).
ORDER: list[Rule] = run_order(RULES)
_order_key: tuple[Rule, ...] = tuple(RULES.values())


def ordered_rules() -> list[Rule]:
    """:data:`ORDER`, recomputed when :data:`RULES` was changed (plugins, tests)."""
    global ORDER, _order_key
    key = tuple(RULES.values())
    if key != _order_key:
        ORDER, _order_key = run_order(RULES), key
    return ORDER


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

__all__ = ["FAMILIES", "KINDS", "ORDER", "RULES", "Rule", "ordered_rules", "rule", "run_order"]

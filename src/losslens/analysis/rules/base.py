"""The rule protocol and registry.

A rule is a function ``check(rule, ctx) -> Iterable[Finding]`` registered with :func:`rule`, which
gives it a stable id (``LL1xx``), a ``kind`` from the corpus vocabulary, a default severity and
a family. Its docstring has four sections (What it detects / Why it matters / Evidence /
What to try) from which ``docs/rules.md`` is generated.

A rule that reads other rules' findings declares them with ``requires=`` (e.g. "LR too high"
requires "divergence"); the rules run in an order where every rule comes after those it
requires (checked once all are registered: unknown ids and cycles are errors), and while a
rule runs ``ctx.found`` holds only the findings of the rules it requires, so an undeclared
dependency reads nothing rather than depending on the order by accident.

Every threshold a rule uses lives in one frozen dataclass of parameters (``params=``), each
field documented with :func:`param`; ``docs/rules.md`` renders them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

from losslens.analysis.context import RunContext
from losslens.analysis.messages import Text
from losslens.model import Evidence, Finding, Severity

#: The finding kinds of the corpus vocabulary.
KINDS = (
    "overfitting",
    "memorization",
    "divergence",
    "nan_or_inf",
    "loss_spike",
    "loss_plateau",
    "loss_not_decreasing",
    "lr_too_high",
    "lr_too_low",
    "grad_explosion",
    "grad_vanishing",
    "grad_spike",
    "warmup_issue",
    "too_many_epochs",
    "clipping_saturated",
    "eval_gap",
    "other",
)

SECTIONS = ("What it detects", "Why it matters", "Evidence", "What to try")

CheckFn = Callable[["Rule", RunContext], Iterable[Finding]]


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    kind: str
    severity: Severity
    family: str
    check: CheckFn
    phase: int = 1
    #: Ids of the rules whose findings this rule reads.
    requires: tuple[str, ...] = ()
    #: The rule's thresholds: a frozen dataclass whose fields are documented with ``param``.
    params: Any = None

    @property
    def doc(self) -> str:
        return self.check.__doc__ or ""

    @property
    def summary(self) -> str:
        return self.doc.strip().splitlines()[0] if self.doc.strip() else self.name

    def run(self, ctx: RunContext) -> list[Finding]:
        """The rule's findings; ``ctx.found`` shows it only the findings it requires."""
        saved = ctx.found
        ctx.found = [f for f in saved if f.rule_id in self.requires]
        try:
            return list(self.check(self, ctx))
        finally:
            ctx.found = saved

    def finding(
        self,
        *,
        title: Text,
        explanation: Text,
        suggestion: Text,
        metric: str,
        step_start: int | None,
        step_end: int | None,
        evidence: Text,
        values: Mapping[str, float | int | str] | None = None,
        onset_step: int | None = None,
        severity: Severity | None = None,
    ) -> Finding:
        return Finding(
            rule_id=self.id,
            kind=self.kind,
            severity=severity or self.severity,
            title=dict(title),
            explanation=dict(explanation),
            suggestion=dict(suggestion),
            evidence=Evidence(
                metric=metric,
                step_start=step_start,
                step_end=step_end,
                values={k: _clean(v) for k, v in (values or {}).items()},
                text=dict(evidence),
            ),
            onset_step=onset_step,
        )


def _clean(v: float | int | str) -> float | int | str:
    if isinstance(v, float):
        return float(f"{v:.6g}")
    return v


def param(default: Any, doc: str) -> Any:
    """A documented threshold in a rule's parameter dataclass."""
    return field(default=default, metadata={"doc": doc})


def param_docs(params: Any) -> list[tuple[str, Any, str]]:
    """``(name, value, doc)`` of every field of a parameter dataclass."""
    if params is None or not is_dataclass(params):
        return []
    return [
        (f.name, getattr(params, f.name), str(f.metadata.get("doc", ""))) for f in fields(params)
    ]


#: Every rule, by id, in id order once :mod:`losslens.analysis.rules` is imported.
RULES: dict[str, Rule] = {}


def rule(
    id: str,
    name: str,
    *,
    kind: str,
    severity: Severity,
    family: str,
    phase: int = 1,
    requires: Iterable[str] = (),
    params: Any = None,
) -> Callable[[CheckFn], Rule]:
    """Register ``check`` as a rule; the decorated name becomes the :class:`Rule`."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    req = tuple(requires)
    if id in req:
        raise ValueError(f"rule {id} requires itself")
    if params is not None and not is_dataclass(params):
        raise ValueError(f"rule {id}: params must be a dataclass instance")

    def deco(fn: CheckFn) -> Rule:
        if id in RULES:
            raise ValueError(f"duplicate rule id {id}")
        r = Rule(id, name, kind, severity, family, fn, phase, req, params)
        RULES[id] = r
        return r

    return deco


def run_order(rules: Mapping[str, Rule]) -> list[Rule]:
    """The rules in an order where each comes after every rule it requires.

    Ties are broken by ``(phase, id)``. Raises ``ValueError`` for a required id that is not
    registered and for a cycle.
    """
    for r in rules.values():
        missing = [x for x in r.requires if x not in rules]
        if missing:
            raise ValueError(f"rule {r.id} requires unknown rule(s) {', '.join(missing)}")
    done: dict[str, Rule] = {}
    pending = sorted(rules.values(), key=lambda r: (r.phase, r.id))
    while pending:
        ready = [r for r in pending if all(x in done for x in r.requires)]
        if not ready:
            ids = ", ".join(r.id for r in pending)
            raise ValueError(f"rules {ids} require each other in a cycle")
        first = ready[0]
        done[first.id] = first
        pending.remove(first)
    return list(done.values())

"""The rule protocol and registry.

A rule is a function ``check(rule, ctx) -> Iterable[Finding]`` registered with :func:`rule`, which
gives it a stable id (``LL1xx``), a ``kind`` from the corpus vocabulary, a default severity and
a family. Its docstring has four sections (What it detects / Why it matters / Evidence /
What to try) from which ``docs/rules.md`` is generated.

Rules run in id order; rules of ``phase=2`` run after all others and may read the findings
of phase 1 (``ctx.found``), e.g. "LR too high" uses "divergence".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

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

    @property
    def doc(self) -> str:
        return self.check.__doc__ or ""

    @property
    def summary(self) -> str:
        return self.doc.strip().splitlines()[0] if self.doc.strip() else self.name

    def run(self, ctx: RunContext) -> list[Finding]:
        return list(self.check(self, ctx))

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


#: Every rule, by id, in id order once :mod:`losslens.analysis.rules` is imported.
RULES: dict[str, Rule] = {}


def rule(
    id: str, name: str, *, kind: str, severity: Severity, family: str, phase: int = 1
) -> Callable[[CheckFn], Rule]:
    """Register ``check`` as a rule; the decorated name becomes the :class:`Rule`."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")

    def deco(fn: CheckFn) -> Rule:
        if id in RULES:
            raise ValueError(f"duplicate rule id {id}")
        r = Rule(id, name, kind, severity, family, fn, phase)
        RULES[id] = r
        return r

    return deco

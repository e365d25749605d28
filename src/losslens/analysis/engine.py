"""Runs the rules over a run and assembles the report; also the incremental analyzer.

A rule that crashes does not crash the analysis: it becomes an info finding (kind "other")
naming the rule, so a bug in one heuristic never hides the others.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import replace

import numpy as np

from losslens.analysis import signals
from losslens.analysis.context import RunContext, build_context
from losslens.analysis.messages import LANGS, num, tr
from losslens.analysis.readings import readings
from losslens.analysis.rules import RULES, Rule, ordered_rules
from losslens.analysis.rules.artifacts import rescale_loss
from losslens.errors import ConfigError
from losslens.keys import normalize_key
from losslens.model import (
    Evidence,
    Finding,
    MetricPoint,
    Report,
    RunData,
    RunInfo,
    RunStatus,
    Series,
    Severity,
    Verdict,
)

SCHEMA_VERSION = 1

#: Kinds whose error findings mean the run itself is broken (verdict "failed").
BROKEN_KINDS = frozenset(
    {"nan_or_inf", "divergence", "grad_explosion", "grad_vanishing", "loss_not_decreasing", "other"}
)


def resolve_rules(names: Sequence[str] | None) -> list[str]:
    """Rule ids from ids, names or kinds (``LL101``, ``nan-inf``, ``divergence``)."""
    if not names:
        return []
    out: list[str] = []
    for raw in names:
        for name in (p.strip() for p in raw.split(",")):
            if not name:
                continue
            hits = [
                r.id
                for r in RULES.values()
                if name.upper() == r.id or name.lower() in (r.name, r.kind, r.family)
            ]
            if not hits:
                known = ", ".join(sorted(RULES))
                raise ConfigError(
                    f"unknown rule {name!r}",
                    f"use a rule id ({known}), a rule name, a kind or a family; see docs/rules.md",
                )
            out.extend(h for h in hits if h not in out)
    return out


def _crash_finding(rule: Rule, exc: Exception) -> Finding:
    return Finding(
        rule_id=rule.id,
        kind="other",
        severity=Severity.INFO,
        title=tr("Rule {r} could not run", "규칙 {r}을 실행하지 못했습니다", r=rule.id),
        explanation=tr(
            "An internal error stopped this check ({e}); the other checks are unaffected.",
            "내부 오류로 이 검사가 멈췄습니다({e}). 다른 검사에는 영향이 없습니다.",
            e=f"{type(exc).__name__}: {exc}",
        ),
        suggestion=tr(
            "Please report it with the log file at the losslens issue tracker.",
            "로그 파일과 함께 losslens 이슈 트래커에 알려 주세요.",
        ),
        evidence=Evidence(metric="", step_start=None, step_end=None),
    )


def run_rules(ctx: RunContext) -> list[Finding]:
    """Every registered rule, each after those it requires; findings accumulate in ctx."""
    ordered = ordered_rules()  # each rule after the rules it requires
    for rule in ordered:
        try:
            found = rule.run(ctx)
        except Exception as exc:  # a broken heuristic must not take the report down
            found = [_crash_finding(rule, exc)]
        ctx.found.extend(found)
    return list(ctx.found)


def _sort(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (-f.severity.rank, f.rule_id))


def verdict_of(findings: Sequence[Finding]) -> Verdict:
    if any(f.severity is Severity.ERROR and f.kind in BROKEN_KINDS for f in findings):
        return Verdict.FAILED
    if any(f.severity.rank >= Severity.WARNING.rank for f in findings):
        return Verdict.NEEDS_ATTENTION
    return Verdict.HEALTHY


def summarize(ctx: RunContext, verdict: Verdict, findings: Sequence[Finding]) -> dict[str, str]:
    """One sentence per language: the serious findings' titles, or what healthy looks like.

    The verdict word is not part of it: renderers show the verdict next to the sentence.
    """
    serious = [f for f in findings if f.severity is not Severity.INFO]
    if not serious:
        if ctx.loss is not None and len(ctx.loss.finite) >= 2:
            v = ctx.loss.finite
            body = tr(
                "The train loss went from {a} to {b} over {n} steps and no problem was found",
                "{n} 스텝 동안 학습 손실이 {a}에서 {b}까지 변했고 문제는 발견되지 않았습니다",
                a=num(float(v.values[0])),
                b=num(signals.end_median(v.values)),
                n=int(v.steps[-1] - v.steps[0]),
            )
        elif ctx.loss is None:
            # no train loss under any name losslens knows: say so rather than an all-clear
            body = tr(
                "No train loss was found among the logged series, so the training curve was "
                "not read; nothing else showed a problem",
                "기록된 시리즈에서 학습 손실을 찾지 못해 학습 곡선을 읽지 못했습니다. 다른 "
                "곳에서는 문제가 보이지 않았습니다",
            )
        else:
            body = tr("No problem was found", "문제가 발견되지 않았습니다")
        return {lang: body[lang] + "." for lang in LANGS}
    shown = serious[:3]
    out = {}
    for lang in LANGS:
        titles = [f.text("title", lang) for f in shown]
        text = titles[0] + "".join(
            "; " + _lower_first(t) if lang == "en" else "; " + t for t in titles[1:]
        )
        if len(serious) > len(shown):
            more = len(serious) - len(shown)
            text += f" (and {more} more)" if lang == "en" else f" (외 {more}건)"
        out[lang] = text + "."
    return out


def _lower_first(s: str) -> str:
    if len(s) >= 2 and s[0].isupper() and s[1].islower():
        return s[0].lower() + s[1:]
    return s


def analyze(
    run: RunData,
    *,
    rules: Sequence[str] | None = None,
    ignore: Sequence[str] | None = None,
) -> Report:
    """Diagnose one run. ``rules`` keeps only those rules; ``ignore`` drops some.

    Both accept rule ids (``LL101``), names (``nan-inf``), kinds or families, comma-separated
    or as several items. Every text of the report is filled in English and Korean.
    """
    keep = set(resolve_rules(rules))
    drop = set(resolve_rules(ignore))
    # values near the float limit (an LR of 1e308) are read as values: arithmetic on them
    # that overflows gives inf, which the rules compare as such, not a warning for the user
    with np.errstate(over="ignore"):
        ctx = build_context(run)
        rescale_loss(ctx)  # undo a logging artifact before any rule reads the loss
        found = run_rules(ctx)
        selected = [f for f in found if (not keep or f.rule_id in keep) and f.rule_id not in drop]
        findings = _sort(selected)
        verdict = verdict_of(findings)
        summary = summarize(ctx, verdict, findings)
        read = readings(ctx, findings)
    return Report(
        run=run.info,
        verdict=verdict,
        summary=summary,
        findings=findings,
        readings=read,
        schema_version=SCHEMA_VERSION,
    )


class _Columns:
    """One key's points as they arrive: growing numpy buffers (amortised O(1) per point)."""

    __slots__ = ("n", "sorted", "steps", "values", "walls")

    def __init__(self) -> None:
        self.n = 0
        self.sorted = True
        self.steps = np.empty(256, np.int64)
        self.values = np.empty(256, np.float64)
        self.walls = np.empty(256, np.float64)

    def extend(self, steps: Sequence[int], values: Sequence[float], walls: Sequence[float]) -> None:
        m = len(steps)
        if not m:
            return
        end = self.n + m
        if end > len(self.steps):
            cap = max(end, 2 * len(self.steps))
            self.steps = np.resize(self.steps, cap)
            self.values = np.resize(self.values, cap)
            self.walls = np.resize(self.walls, cap)
        new = np.asarray(steps, dtype=np.int64)
        if self.sorted and (
            (self.n and new[0] < self.steps[self.n - 1]) or bool(np.any(np.diff(new) < 0))
        ):
            self.sorted = False
        self.steps[self.n : end] = new
        self.values[self.n : end] = np.asarray(values, dtype=np.float64)
        self.walls[self.n : end] = np.asarray(walls, dtype=np.float64)
        self.n = end

    def series(self, key: str) -> Series:
        s, v, w = self.steps[: self.n], self.values[: self.n], self.walls[: self.n]
        if self.sorted:
            return Series(key, s.copy(), v.copy(), w.copy())
        order = np.argsort(s, kind="stable")
        return Series(key, s[order], v[order], w[order])


class Analyzer:
    """Incremental analysis of a run in progress.

    Feed points as they are logged (``feed``) and call ``check()`` every few seconds: it
    re-analyses the accumulated series and returns only the findings not returned before
    (a finding is the same one when rule and metric match; it is returned again when its
    severity rises). The cost is one full analysis, a few milliseconds on 10k points.

    ``refresh()`` is the same with a cost that follows the new points: it analyses again
    only when the run has grown by ``GROWTH`` of its length since the last analysis, or a
    non-finite value arrived (NaN and Inf are reported at once); so over a run the
    analyses cost O(1) per point, however long the run gets.
    """

    #: ``refresh()`` analyses again once the run grew by this fraction (or 64 points).
    GROWTH = 1 / 32

    def __init__(
        self,
        info: RunInfo | None = None,
        *,
        rules: Sequence[str] | None = None,
        ignore: Sequence[str] | None = None,
        config: dict[str, object] | None = None,
    ) -> None:
        self.info = info or RunInfo(
            id="live",
            project="live",
            name="live",
            status=RunStatus.RUNNING,
            start_time=time.time(),
            config=dict(config or {}),
        )
        if config and info is not None:
            self.info = replace(info, config={**info.config, **config})
        self.rules = list(rules) if rules else None
        self.ignore = list(ignore) if ignore else None
        resolve_rules(self.rules)
        resolve_rules(self.ignore)
        self._data: dict[str, _Columns] = {}
        self._system: dict[str, _Columns] = {}
        self._seen: dict[tuple[str, str], int] = {}
        self.report: Report | None = None
        #: Points fed so far, and at the last analysis; a non-finite value fed since then.
        self.points = 0
        self._analysed_at = -1
        self._urgent = False

    def feed(self, points: Iterable[MetricPoint], *, system: bool = False) -> None:
        batch: dict[str, tuple[list[int], list[float], list[float]]] = {}
        for p in points:
            key = p.key if system or "/" in p.key else normalize_key(p.key)
            steps, values, walls = batch.setdefault(key, ([], [], []))
            steps.append(int(p.step))
            values.append(float(p.value))
            walls.append(float("nan") if p.wall_time is None else float(p.wall_time))
        for key, (steps, values, walls) in batch.items():
            self.feed_arrays(key, steps, values, walls, system=system)

    def feed_arrays(
        self,
        key: str,
        steps: Sequence[int] | np.ndarray,
        values: Sequence[float] | np.ndarray,
        walls: Sequence[float] | np.ndarray | None = None,
        *,
        system: bool = False,
    ) -> None:
        """Points of one key (canonical name) as arrays, in logging order."""
        target = self._system if system else self._data
        n = len(steps)
        w = np.full(n, np.nan) if walls is None else walls
        target.setdefault(key, _Columns()).extend(steps, values, w)  # type: ignore[arg-type]
        self.points += n
        if not system and n and not bool(np.isfinite(np.asarray(values, np.float64)).all()):
            self._urgent = True

    def log(self, metrics: dict[str, float], step: int, wall_time: float | None = None) -> None:
        """Shorthand for ``feed`` with one logged dict (HF-style keys are normalised)."""
        self.feed(MetricPoint(k, step, float(v), wall_time) for k, v in metrics.items())

    def run_data(self) -> RunData:
        return RunData(
            info=self.info,
            series={k: c.series(k) for k, c in self._data.items()},
            system={k: c.series(k) for k, c in self._system.items()},
        )

    def update(self, run: RunData) -> list[Finding]:
        """Analyse a whole run as it stands now (e.g. reloaded from the store)."""
        return self._new(analyze(run, rules=self.rules, ignore=self.ignore))

    def check(self) -> list[Finding]:
        """Findings that are new (or more severe) since the last call."""
        self._analysed_at, self._urgent = self.points, False
        return self._new(analyze(self.run_data(), rules=self.rules, ignore=self.ignore))

    @property
    def due(self) -> bool:
        """Whether ``refresh()`` would analyse now."""
        if self._analysed_at < 0 or self._urgent:
            return self.points > self._analysed_at or self._analysed_at < 0
        grown = self.points - self._analysed_at
        return grown > 0 and grown >= max(64.0, self.GROWTH * self._analysed_at)

    def refresh(self) -> list[Finding]:
        """``check()`` when it is due (see the class), else nothing new."""
        return self.check() if self.due else []

    def _new(self, report: Report) -> list[Finding]:
        self.report = report
        out = []
        for f in report.findings:
            ident = (f.rule_id, f.evidence.metric)
            rank = f.severity.rank
            if self._seen.get(ident, -1) < rank:
                self._seen[ident] = rank
                out.append(f)
        return out

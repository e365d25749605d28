"""Typed objects that flow between the store, importers, analysis and renderers."""

from __future__ import annotations

import enum
import math
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from losslens import numeric

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: How long a running run may go without a heartbeat before it is shown as crashed.
HEARTBEAT_TIMEOUT_S = 60.0


class RunStatus(enum.StrEnum):
    RUNNING = "running"
    FINISHED = "finished"
    CRASHED = "crashed"
    KILLED = "killed"
    FAILED = "failed"


class Severity(enum.StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return {"info": 0, "warning": 1, "error": 2}[self.value]


class Verdict(enum.StrEnum):
    HEALTHY = "healthy"
    NEEDS_ATTENTION = "needs_attention"
    FAILED = "failed"


class MetricPoint(NamedTuple):
    """One logged scalar. ``value`` may be NaN or ±Inf; ``wall_time`` is Unix seconds."""

    key: str
    step: int
    value: float
    wall_time: float | None = None


@dataclass
class Series:
    """Every point of one metric of one run, ordered by step (ties keep logging order)."""

    key: str
    steps: IntArray
    values: FloatArray
    wall_times: FloatArray  # NaN where unknown

    @classmethod
    def from_lists(
        cls,
        key: str,
        steps: Iterable[int],
        values: Iterable[float],
        wall_times: Iterable[float | None] | None = None,
    ) -> Series:
        s = np.asarray(list(steps), dtype=np.int64)
        v = np.asarray(list(values), dtype=np.float64)
        if wall_times is None:
            w = np.full(len(s), np.nan)
        else:
            w = np.asarray([np.nan if t is None else t for t in wall_times], dtype=np.float64)
        return cls(key, s, v, w)

    def __len__(self) -> int:
        return int(self.steps.shape[0])

    @property
    def finite(self) -> Series:
        mask = np.isfinite(self.values)
        if mask.all():  # the usual case: no copy of a series that may hold millions of points
            return self
        return Series(self.key, self.steps[mask], self.values[mask], self.wall_times[mask])

    def last(self) -> float | None:
        return float(self.values[-1]) if len(self) else None


@dataclass
class RunInfo:
    """A run's metadata as kept in the store (no metric points)."""

    id: str
    project: str
    name: str
    status: RunStatus
    start_time: float
    end_time: float | None = None
    heartbeat: float | None = None
    host: str | None = None
    pid: int | None = None
    command: str | None = None
    git_commit: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    source: str | None = None
    source_id: str | None = None
    output_dir: str | None = None
    exit_code: int | None = None
    verdict: str | None = None

    @property
    def duration(self) -> float | None:
        end = self.end_time or self.heartbeat
        return None if end is None else max(0.0, end - self.start_time)


@dataclass
class RunData:
    """A run with all of its series, as analysis and renderers consume it."""

    info: RunInfo
    series: dict[str, Series]
    system: dict[str, Series] = field(default_factory=dict)
    original_keys: dict[str, str] = field(default_factory=dict)


@dataclass
class ImportedRun:
    """What an importer yields: metadata plus a stream of point batches.

    ``batches`` is an iterator so that a 1 GB log never has to be in memory at once;
    it can be consumed only once. ``warnings`` may grow while it is consumed (e.g. a
    truncated file found at the end).
    """

    name: str
    format: str
    source: str
    source_id: str
    batches: Iterator[list[MetricPoint]]
    project: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    start_time: float | None = None
    end_time: float | None = None
    status: RunStatus = RunStatus.FINISHED
    original_keys: dict[str, str] = field(default_factory=dict)
    system_batches: Iterator[list[MetricPoint]] | None = None
    warnings: list[str] = field(default_factory=list)

    def points(self) -> Iterator[MetricPoint]:
        for batch in self.batches:
            yield from batch


@dataclass(frozen=True)
class Evidence:
    """The numbers behind a finding: which series, which steps, what was seen."""

    metric: str
    step_start: int | None
    step_end: int | None
    values: Mapping[str, float | int | str] = field(default_factory=dict)
    text: dict[str, str] = field(default_factory=dict)  # lang -> sentence


@dataclass(frozen=True)
class Finding:
    """One diagnosis. Texts are keyed by language code ("en", "ko")."""

    rule_id: str
    kind: str
    severity: Severity
    title: dict[str, str]
    explanation: dict[str, str]
    suggestion: dict[str, str]
    evidence: Evidence
    onset_step: int | None = None

    def text(self, part: str, lang: str = "en") -> str:
        d: dict[str, str] = getattr(self, part)
        return d.get(lang) or d.get("en", "")


@dataclass(frozen=True)
class MetricReading:
    """The per-metric reading shown in a report (bands made context-aware)."""

    metric: str
    status: str  # "ok" | "attention" | "problem" | "info"
    summary: dict[str, str]
    values: Mapping[str, float | int | str] = field(default_factory=dict)


@dataclass
class Report:
    """The result of analysing one run."""

    run: RunInfo
    verdict: Verdict
    summary: dict[str, str]
    findings: list[Finding]
    readings: list[MetricReading] = field(default_factory=list)
    schema_version: int = 1
    created_at: float = field(default_factory=time.time)


def is_number(value: object) -> bool:
    """True for real scalars we store as a metric point (bool excluded)."""
    return numeric.is_number(value)


def as_float(value: Any) -> float | None:
    """A float for anything scalar-like (python/numpy numbers, bools as 0/1, 0-d tensors,
    numeric strings), else None: :func:`losslens.numeric.as_value`."""
    return numeric.as_value(value, bools=True)


def jsonable(obj: Any) -> Any:
    """``obj`` as plain JSON data: NaN/±Inf floats become :mod:`losslens.numeric`'s tokens
    (``"NaN"``, ``"Infinity"``, ``"-Infinity"``), keys strings, tuples lists, anything else
    that is not JSON ``str(obj)``."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else numeric.nonfinite_token(obj)
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if obj is None or isinstance(obj, str | int | bool):
        return obj
    return str(obj)


def finding_to_dict(f: Finding) -> dict[str, Any]:
    """A finding as plain JSON-able data (the shape used by the JSON report and the store)."""
    return {
        "rule_id": f.rule_id,
        "kind": f.kind,
        "severity": str(f.severity),
        "onset_step": f.onset_step,
        "title": dict(f.title),
        "explanation": dict(f.explanation),
        "suggestion": dict(f.suggestion),
        "evidence": {
            "metric": f.evidence.metric,
            "step_start": f.evidence.step_start,
            "step_end": f.evidence.step_end,
            "values": dict(f.evidence.values),
            "text": dict(f.evidence.text),
        },
    }


def finding_from_dict(d: Mapping[str, Any]) -> Finding:
    ev = d.get("evidence") or {}
    return Finding(
        rule_id=str(d["rule_id"]),
        kind=str(d["kind"]),
        severity=Severity(d["severity"]),
        title=dict(d.get("title") or {}),
        explanation=dict(d.get("explanation") or {}),
        suggestion=dict(d.get("suggestion") or {}),
        evidence=Evidence(
            metric=str(ev.get("metric", "")),
            step_start=ev.get("step_start"),
            step_end=ev.get("step_end"),
            values=dict(ev.get("values") or {}),
            text=dict(ev.get("text") or {}),
        ),
        onset_step=d.get("onset_step"),
    )

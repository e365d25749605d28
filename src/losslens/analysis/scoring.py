"""Scoring diagnoses against labelled runs, exactly as the corpus README describes.

- A label of severity ``error`` or ``warning`` is a positive; ``info`` labels are neutral;
  kind ``other`` is left out of per-kind scores.
- A reported finding of kind K (any severity) in a run with no label of kind K is a false
  positive; a positive label not reported is a miss. Precision, recall and F1 per kind;
  macro-F1 over kinds with at least one positive. The same per family of kinds.
- Run level: a problematic run is detected when a warning/error finding is reported; a
  healthy run has a false alarm when one is reported (an error false alarm for an error).
  ``unclear`` runs are left out of run-level scores.
- Onset error: ``|predicted - labelled|`` steps for hits where both onsets are known.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FAMILIES: dict[str, tuple[str, ...]] = {
    "divergence+lr_too_high": ("divergence", "lr_too_high"),
    "memorization+too_many_epochs": ("memorization", "too_many_epochs"),
    "plateau+not_decreasing+lr_too_low": ("loss_plateau", "loss_not_decreasing", "lr_too_low"),
    "grad_explosion+grad_spike": ("grad_explosion", "grad_spike"),
    "overfitting+eval_gap": ("overfitting", "eval_gap"),
}


def family_of(kind: str) -> str:
    for name, kinds in FAMILIES.items():
        if kind in kinds:
            return name
    return kind


@dataclass(frozen=True)
class Pred:
    kind: str
    severity: str
    onset_step: int | None = None


@dataclass
class Case:
    """One labelled run and what a tool reported for it."""

    id: str
    verdict: str  # healthy | problematic | unclear
    labels: Sequence[Mapping[str, Any]]
    preds: Sequence[Pred]


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    onset_errors: list[int] = field(default_factory=list)

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def f1(self) -> float | None:
        if self.tp + self.fn == 0:
            return None
        p, r = self.precision or 0.0, self.recall or 0.0
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class Scores:
    kinds: dict[str, Counts]
    families: dict[str, Counts]
    detected: int
    problematic: int
    false_alarms: int
    error_false_alarms: int
    healthy: int
    misses: list[str] = field(default_factory=list)
    false_positives: list[str] = field(default_factory=list)

    @property
    def macro_f1(self) -> float:
        f = [c.f1 for c in self.kinds.values() if c.f1 is not None]
        return sum(f) / len(f) if f else 0.0

    @property
    def family_macro_f1(self) -> float:
        f = [c.f1 for c in self.families.values() if c.f1 is not None]
        return sum(f) / len(f) if f else 0.0

    @property
    def detection_rate(self) -> float:
        return self.detected / self.problematic if self.problematic else 0.0

    @property
    def false_alarm_rate(self) -> float:
        return self.false_alarms / self.healthy if self.healthy else 0.0

    @property
    def onset_errors(self) -> list[int]:
        return [e for c in self.kinds.values() for e in c.onset_errors]


def _score_groups(
    cases: Iterable[Case], group: Any, out: dict[str, Counts], log: Scores | None
) -> None:
    for c in cases:
        label_groups: dict[str, list[Mapping[str, Any]]] = {}
        for lab in c.labels:
            if lab["kind"] == "other":
                continue
            label_groups.setdefault(group(lab["kind"]), []).append(lab)
        pred_groups: dict[str, list[Pred]] = {}
        for p in c.preds:
            if p.kind == "other":
                continue
            pred_groups.setdefault(group(p.kind), []).append(p)
        for g in set(label_groups) | set(pred_groups):
            labs = label_groups.get(g, [])
            positive = [lab for lab in labs if lab["severity"] in ("error", "warning")]
            reported = pred_groups.get(g, [])
            counts = out.setdefault(g, Counts())
            if positive and reported:
                counts.tp += 1
                onsets = [p.onset_step for p in reported if p.onset_step is not None]
                truth = [lab["onset_step"] for lab in positive if lab.get("onset_step") is not None]
                if onsets and truth:
                    counts.onset_errors.append(abs(min(onsets) - int(truth[0])))
            elif positive:
                counts.fn += 1
                if log is not None:
                    log.misses.append(f"{c.id}:{g}")
            elif reported and not labs:
                counts.fp += 1
                if log is not None:
                    log.false_positives.append(f"{c.id}:{g}")


SEVERITY_RANK = {"info": 0, "warning": 1, "error": 2}


def at_least(preds: Iterable[Pred], min_severity: str) -> list[Pred]:
    """The predictions at ``min_severity`` or above (``info`` keeps them all)."""
    floor = SEVERITY_RANK[min_severity]
    return [p for p in preds if SEVERITY_RANK.get(p.severity, 0) >= floor]


def score(cases: Sequence[Case], min_severity: str = "info") -> Scores:
    """Scores of ``cases``; with ``min_severity="warning"`` info findings are not counted."""
    if min_severity != "info":
        cases = [Case(c.id, c.verdict, c.labels, at_least(c.preds, min_severity)) for c in cases]
    s = Scores({}, {}, 0, 0, 0, 0, 0)
    _score_groups(cases, lambda k: k, s.kinds, s)
    _score_groups(cases, family_of, s.families, None)
    for c in cases:
        serious = [p for p in c.preds if p.severity in ("warning", "error")]
        if c.verdict == "problematic":
            s.problematic += 1
            s.detected += bool(serious)
        elif c.verdict == "healthy":
            s.healthy += 1
            s.false_alarms += bool(serious)
            s.error_false_alarms += any(p.severity == "error" for p in c.preds)
    return s


def confusion(cases: Sequence[Case], min_severity: str = "warning") -> dict[str, dict[str, int]]:
    """Labelled family -> reported family counts (findings at ``min_severity`` or above).

    Per run: a labelled positive family that was reported counts on the diagonal; one that
    was not counts against each family reported instead (wrongly named), or ``(none)`` when
    nothing was reported. A reported family with no label in a run with no positive label
    counts in the ``(none)`` row. Info labels are neutral, as in :func:`score`.
    """
    out: dict[str, dict[str, int]] = {}

    def add(row: str, col: str) -> None:
        out.setdefault(row, {}).setdefault(col, 0)
        out[row][col] += 1

    for c in cases:
        labelled = {
            family_of(lab["kind"])
            for lab in c.labels
            if lab["kind"] != "other" and lab["severity"] in ("error", "warning")
        }
        neutral = {family_of(lab["kind"]) for lab in c.labels if lab["kind"] != "other"}
        reported = {family_of(p.kind) for p in at_least(c.preds, min_severity) if p.kind != "other"}
        extra = reported - neutral
        for fam in sorted(labelled):
            if fam in reported:
                add(fam, fam)
            elif extra:
                for r in sorted(extra):
                    add(fam, r)
            else:
                add(fam, "(none)")
        if not labelled:
            for r in sorted(extra):
                add("(none)", r)
    return out


@dataclass(frozen=True)
class LabelledLog:
    id: str
    path: Path
    labels: Mapping[str, Any]
    config: Mapping[str, Any]
    #: ``dev`` or ``test`` (the sealed split); the shared corpus and fault runs are dev.
    split: str = "dev"
    #: Where the run comes from (source repository, or generator), for leave-one-out scores.
    source: str = ""
    #: The set the run belongs to (``shared``, ``faults``, ``real``, ``generated``).
    group: str = ""
    #: The same run written in other formats (e.g. the console output of a generated run).
    alternates: tuple[Path, ...] = ()


def corpus_logs(root: Path) -> list[LabelledLog]:
    """The labelled runs of a corpus folder: the 23-example run and ``real/index.jsonl``."""
    out = []
    motivating = root / "qwen2_lora_23ex_labels.json"
    if motivating.exists():
        d = json.loads(motivating.read_text(encoding="utf-8"))
        out.append(LabelledLog("23ex", root / d["file"], d["labels"], {}, "dev", "23ex", "shared"))
    index = root / "real" / "index.jsonl"
    if index.exists():
        for line in index.read_text(encoding="utf-8").splitlines():
            if line.strip():
                d = json.loads(line)
                out.append(
                    LabelledLog(
                        d["id"],
                        root / "real" / d["file"],
                        d["labels"],
                        {},
                        "dev",
                        str(d.get("source_repo") or d["id"]),
                        "shared",
                    )
                )
    return out


def fault_logs(root: Path) -> list[LabelledLog]:
    """Fault runs made by ``bench/make_fault_runs.py``: ``<name>/trainer_state.json`` +
    ``labels.json`` (labels plus the config the run was trained with)."""
    out = []
    for labels in sorted(root.glob("*/labels.json")):
        d = json.loads(labels.read_text(encoding="utf-8"))
        out.append(
            LabelledLog(
                labels.parent.name,
                labels.parent / "trainer_state.json",
                d["labels"],
                d.get("config", {}),
                "dev",
                "bench/make_fault_runs.py",
                "faults",
            )
        )
    return out


def index_logs(root: Path, splits: Iterable[str] = ("dev",)) -> list[LabelledLog]:
    """The labelled runs listed by every ``index*.jsonl`` under ``root/real`` and
    ``root/generated``, keeping only the given splits.

    Lines follow the shared corpus index schema plus ``split`` (``dev`` / ``test``, fixed by
    a hash of the source repository) and optionally ``config``; ``file`` is relative to the
    index's folder. Runs of other splits are skipped before their file is touched, so a
    tuning session never opens the sealed test files. Lines without a verdict or a usable
    split are skipped.
    """
    keep = set(splits)
    out: list[LabelledLog] = []
    for group in ("real", "generated"):
        folder = root / group
        if not folder.is_dir():
            continue
        for index in sorted(folder.glob("index*.jsonl")):
            for line in index.read_text(encoding="utf-8").splitlines():
                if not line.strip():
                    continue
                try:
                    d = json.loads(line)
                except json.JSONDecodeError:
                    continue
                split = d.get("split")
                labels = d.get("labels")
                if split not in keep or not isinstance(labels, Mapping) or not d.get("file"):
                    continue
                if labels.get("verdict") not in ("healthy", "problematic", "unclear"):
                    continue
                # a generated run's own source (task/fault/model) rather than the generator's
                source = d.get("source") or d.get("source_repo") or group
                config = d.get("config")
                others = d.get("other_files") or []
                alternates = tuple(
                    folder / o["file"] for o in others if isinstance(o, Mapping) and o.get("file")
                )
                out.append(
                    LabelledLog(
                        f"{group}:{d.get('id', d['file'])}",
                        folder / d["file"],
                        labels,
                        config if isinstance(config, Mapping) else {},
                        str(split),
                        str(source),
                        group,
                        alternates,
                    )
                )
    return out

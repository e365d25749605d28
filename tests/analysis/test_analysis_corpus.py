"""The engine scored over the labelled corpus as its README describes, and over the fault runs
made by bench/make_fault_runs.py: the targets the benchmark reports must hold."""

from __future__ import annotations

from pathlib import Path

import pytest

from losslens.analysis import analyze
from losslens.analysis.scoring import (
    Case,
    LabelledLog,
    Pred,
    Scores,
    corpus_logs,
    fault_logs,
    score,
)
from losslens.ingest import load_into_memory

FAULTS = Path(__file__).resolve().parent.parent / "data" / "faults"


def run_cases(logs: list[LabelledLog]) -> tuple[Scores, list[Case]]:
    cases = []
    for log in logs:
        (run,) = load_into_memory(log.path)
        run.info.config = {**run.info.config, **log.config}
        rep = analyze(run)
        preds = [Pred(f.kind, str(f.severity), f.onset_step) for f in rep.findings]
        cases.append(Case(log.id, log.labels["verdict"], log.labels["findings"], preds))
    return score(cases), cases


def test_corpus_targets(corpus: Path) -> None:
    logs = corpus_logs(corpus)
    assert len(logs) == 23
    s, _cases = run_cases(logs)
    assert s.macro_f1 >= 0.9, (s.misses, s.false_positives)
    assert s.family_macro_f1 >= 0.9
    assert s.error_false_alarms == 0  # no error finding on any healthy run
    assert s.false_alarm_rate <= 0.05
    # all but 047, whose only finding, "task too easy" (LL155: loss ~0 within 0.03 epoch, eval
    # following it), its reader graded error; readers of later runs grade that pattern info
    # (no harm shown), as the conventions do, so LL155 is info
    assert s.detection_rate >= 7 / 8


def test_fault_runs_targets() -> None:
    logs = fault_logs(FAULTS)
    if not logs:
        pytest.skip("no fault runs: run bench/make_fault_runs.py")
    s, _cases = run_cases(logs)
    assert s.macro_f1 >= 0.9, (s.misses, s.false_positives)
    assert s.error_false_alarms == 0 and s.false_alarms == 0
    assert s.detection_rate == 1.0


def test_scoring_counts_like_the_readme() -> None:
    labels = [
        {"kind": "divergence", "severity": "error", "onset_step": 10},
        {"kind": "loss_spike", "severity": "info", "onset_step": None},
        {"kind": "other", "severity": "warning", "onset_step": None},
    ]
    cases = [
        Case(
            "a",
            "problematic",
            labels,
            [Pred("lr_too_high", "warning", 12), Pred("loss_spike", "info")],
        ),
        Case("b", "healthy", [], [Pred("grad_spike", "info")]),
        Case("c", "healthy", [], [Pred("other", "warning")]),
        Case(
            "d",
            "unclear",
            [{"kind": "eval_gap", "severity": "warning", "onset_step": 5}],
            [Pred("eval_gap", "error", 8)],
        ),
    ]
    s = score(cases)
    assert (s.kinds["divergence"].fn, s.kinds["lr_too_high"].fp) == (1, 1)
    assert "loss_spike" not in s.kinds or s.kinds["loss_spike"].fp == 0  # info label: neutral
    assert s.kinds["grad_spike"].fp == 1  # an info prediction still counts per kind
    assert s.kinds["eval_gap"].tp == 1 and s.kinds["eval_gap"].onset_errors == [3]
    fam = s.families["divergence+lr_too_high"]
    assert (fam.tp, fam.fp, fam.fn) == (1, 0, 0)  # neighbouring kinds are one problem
    assert (s.detected, s.problematic) == (1, 1)
    assert (s.false_alarms, s.healthy) == (1, 2)  # "other" warning on c; unclear d left out

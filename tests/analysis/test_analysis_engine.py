"""The registry, the generated docs, the incremental analyzer."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from analysis_curves import healthy_run

from losslens.analysis import KINDS, RULES, Analyzer, analyze
from losslens.analysis.docs import rule_sections, rules_markdown
from losslens.analysis.rules.base import SECTIONS
from losslens.model import MetricPoint, Severity

ROOT = Path(__file__).resolve().parents[2]


def test_rules_have_ids_kinds_and_documented_sections() -> None:
    assert len(RULES) >= 20
    assert list(RULES) == sorted(RULES)
    for rid, r in RULES.items():
        assert re.fullmatch(r"LL1\d\d", rid) and r.id == rid
        assert r.kind in KINDS
        summary, sections = rule_sections(r)
        assert summary.endswith(".")
        assert set(sections) == set(SECTIONS), rid
        assert all(len(sections[s]) > 20 for s in SECTIONS), rid


def test_docs_rules_md_is_current() -> None:
    assert (ROOT / "docs" / "rules.md").read_text(encoding="utf-8") == rules_markdown()


def test_a_crashing_rule_becomes_an_info_finding(monkeypatch: object) -> None:
    import dataclasses

    from losslens.analysis.rules import base

    broken = dataclasses.replace(RULES["LL121"], check=lambda r, ctx: 1 / 0)  # type: ignore[arg-type,return-value]
    old = RULES["LL121"]
    RULES["LL121"] = broken
    try:
        rep = analyze(healthy_run())
    finally:
        RULES["LL121"] = old
    (f,) = rep.findings
    assert (
        f.rule_id == "LL121"
        and f.severity is Severity.INFO
        and "ZeroDivisionError" in f.explanation["en"]
    )
    assert base.RULES is RULES


def test_analyzer_reports_each_finding_once_as_points_arrive() -> None:
    an = Analyzer(config={"lora_r": 16})
    rng = np.random.default_rng(0)
    new_ids: list[list[str]] = []
    for chunk in range(10):
        pts = []
        for step in range(chunk * 1000 + 1, chunk * 1000 + 1001):
            loss = 1.2 + 0.8 * np.exp(-step / 2500) * (1 + 0.02 * rng.standard_normal())
            if step > 7000:
                loss = float("nan")
            pts += [
                MetricPoint("loss", step, loss),
                MetricPoint("grad_norm", step, 0.5 + 0.05 * rng.standard_normal()),
            ]
            pts.append(MetricPoint("learning_rate", step, 2e-4))
        an.feed(pts)
        new_ids.append([f.rule_id for f in an.check()])
    assert new_ids[:7] == [[]] * 7  # healthy while healthy
    assert "LL101" in new_ids[7]  # the NaN, as soon as it is there
    assert all("LL101" not in ids for ids in new_ids[8:])  # and only once
    assert an.report is not None and an.report.verdict == "failed"
    assert len(an.run_data().series["train/loss"]) == 10_000

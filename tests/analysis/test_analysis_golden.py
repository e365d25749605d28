"""Golden files of the motivating run's report: terminal (width 100, no colour), Markdown and
JSON, in English and Korean. Regenerate with LOSSLENS_UPDATE_GOLDEN=1."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from losslens.analysis import analyze
from losslens.model import Report, RunData
from losslens.render.json_report import render_json
from losslens.render.markdown import render_markdown
from losslens.render.terminal import render_text

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("LOSSLENS_UPDATE_GOLDEN") == "1"


def motivating(corpus: Path) -> tuple[RunData, Report]:
    from losslens.ingest import load_into_memory

    (run,) = load_into_memory(corpus / "qwen2_lora_23ex_console.txt")
    run.info.id = "golden01"  # volatile bits fixed
    run.info.start_time, run.info.end_time = 0.0, None
    run.info.source = "hf_console:qwen2_lora_23ex_console.txt"  # no machine paths
    report = analyze(run)
    report.created_at = 0.0
    return run, report


def check(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE or not path.exists():
        missing = not path.exists()
        path.write_text(text, encoding="utf-8")
        if missing and not UPDATE:  # a golden file nobody reviewed proves nothing
            pytest.fail(f"{name} was missing: written now; review it and run again")
    assert text == path.read_text(encoding="utf-8"), (
        f"{name} changed; LOSSLENS_UPDATE_GOLDEN=1 to accept"
    )


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_golden_reports(corpus: Path, lang: str) -> None:
    run, report = motivating(corpus)
    check(f"23ex.{lang}.txt", render_text(report, lang=lang, width=100, run=run))
    check(f"23ex.{lang}.md", render_markdown(run, report, lang=lang))
    check(f"23ex.{lang}.json", render_json(report, lang))


def test_motivating_run_says_what_it_must(corpus: Path) -> None:
    run, report = motivating(corpus)
    text = render_text(report, lang="en", width=100, run=run)
    kinds = {f.kind: f for f in report.findings}
    # memorised its 23 examples over ~35 epochs, loss 2.80 -> 0.06
    assert "memorised its 23 training examples (loss 2.80 → 0.06)" in text
    assert "23 examples over ~35 epochs" in kinds["memorization"].explanation["en"]
    assert "100 steps × effective batch 8 / 23 examples = 34.8 epochs" in text
    # no eval set, and how to add one
    assert (
        kinds["other"].rule_id == "LL156" and "--eval_ratio 0.1" in kinds["other"].suggestion["en"]
    )
    # grad_norm and the cosine schedule read as normal
    readings = {r.metric: r for r in report.readings}
    assert readings["train/grad_norm"].status == "ok"
    assert readings["train/learning_rate"].status == "ok"
    assert "cosine" in readings["train/learning_rate"].summary["en"]
    assert "normal for LoRA" in readings["train/learning_rate"].summary["en"]
    # nothing alarming that is not there
    assert set(kinds) == {"memorization", "too_many_epochs", "other"}
    assert not {"nan_or_inf", "divergence", "grad_explosion", "grad_spike", "loss_spike"} & set(
        kinds
    )
    doc = json.loads(render_json(report))
    assert doc["schema_version"] == 1 and doc["verdict"] == "needs_attention"

"""The real corpus's index (corpus/real/index-*.jsonl): every label in the schema the scorer
reads, so a hand-written label cannot stop a benchmark halfway (an onset written as text)."""

from __future__ import annotations

import json
from pathlib import Path

from losslens.analysis.rules import KINDS as RULE_KINDS

ROOT = Path(__file__).resolve().parents[2]
REAL = ROOT / "corpus" / "real"
KINDS = set(RULE_KINDS) | {"other"}


def _lines() -> list[dict[str, object]]:
    return [
        json.loads(line)
        for index in sorted(REAL.glob("index-*.jsonl"))
        for line in index.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def test_every_label_follows_the_schema() -> None:
    bad = []
    for d in _lines():
        labels = d["labels"]
        assert isinstance(labels, dict)
        if labels.get("verdict") not in ("healthy", "problematic", "unclear"):
            bad.append((d["id"], "verdict"))
        for f in labels.get("findings", []):
            onset = f.get("onset_step")
            if f.get("kind") not in KINDS:
                bad.append((d["id"], f"kind {f.get('kind')!r}"))
            if f.get("severity") not in ("error", "warning", "info"):
                bad.append((d["id"], f"severity {f.get('severity')!r}"))
            if onset is not None and (not isinstance(onset, int) or isinstance(onset, bool)):
                bad.append((d["id"], f"onset_step {onset!r}"))
    assert not bad, bad[:20]


def test_every_listed_file_exists_and_every_id_is_unique() -> None:
    lines = _lines()
    ids = [d["id"] for d in lines]
    assert len(ids) == len(set(ids))
    assert [d["id"] for d in lines if not (REAL / str(d["file"])).is_file()] == []

"""Stop 55: a loss that goes below zero (the negative log-likelihood of a continuous density,
a negative bound) has no floor at zero, so the memorization readings that rest on a near-zero
train loss or on its ratio to the eval loss do not apply to it, a classifier's reading and
that of a loss of no known unit included."""

from __future__ import annotations

from pathlib import Path

from losslens.analysis import analyze
from losslens.ingest import load_into_memory
from losslens.model import Severity

ROOT = Path(__file__).resolve().parents[2]


def test_a_loss_below_zero_is_never_read_as_learned_by_heart() -> None:
    # a real script's per-epoch history (corpus run qz031, healthy): a negative objective
    # falls from -5.6 to -27.3 (train) and -10.1 to -26.5 (val) over 50 epochs
    (run,) = load_into_memory(ROOT / "corpus" / "real" / "files" / "qz031.csv")
    got = {f.rule_id: f.severity for f in analyze(run).findings}
    assert "LL153" not in got  # was an error: -27 read as near zero, the val loss 3x above it
    assert got.get("LL154") is Severity.INFO  # 50 epochs, nothing shown learned by heart

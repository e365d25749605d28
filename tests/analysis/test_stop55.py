"""Stop 55: a loss that goes below zero (the negative log-likelihood of a continuous density,
a negative bound) has no floor at zero, so the memorization readings that rest on a near-zero
train loss or on its ratio to the eval loss do not apply to it, a classifier's reading and
that of a loss of no known unit included. Of the learning rates a monitor logs per parameter
group, the run's schedule is the first that another group shares (Ultralytics logs its biases
first, warmed down from a rate of their own)."""

from __future__ import annotations

from pathlib import Path

from losslens.analysis import analyze
from losslens.analysis.context import build_context
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


def _lr_of(tmp_path: Path, groups: dict[str, list[float]]) -> str:
    epochs = range(1, len(next(iter(groups.values()))) + 1)
    rows = ["epoch,train/box_loss,val/box_loss," + ",".join(groups)]
    for i, e in enumerate(epochs):
        lrs = ",".join(f"{v[i]:.6g}" for v in groups.values())
        rows.append(f"{e},{1.5 - 0.05 * e:.4f},{1.6 - 0.04 * e:.4f},{lrs}")
    path = tmp_path / "results.csv"
    path.write_text("\n".join(rows) + "\n")
    (run,) = load_into_memory(path)
    lr = build_context(run).lr
    assert lr is not None
    return lr.key


def test_the_schedule_two_parameter_groups_share_is_the_runs(tmp_path: Path) -> None:
    # Ultralytics: the biases' group first, warmed down from 0.1 to the weights' rate, beside
    # two groups of weights that warm up to 1e-3 and decay
    weights = [1e-4, 4e-4, 7e-4, 1e-3, 8e-4, 6e-4, 4e-4, 2e-4]
    bias = [0.1, 0.07, 0.04, 1e-3, 8e-4, 6e-4, 4e-4, 2e-4]
    groups = {"lr/pg0": bias, "lr/pg1": weights, "lr/pg2": weights}
    assert _lr_of(tmp_path, groups) == "lr/pg1"
    # every group on one schedule, or none shared: the first group's
    assert _lr_of(tmp_path, {"lr/pg0": weights, "lr/pg1": weights, "lr/pg2": weights}) == "lr/pg0"
    # a learning rate logged by its own name stands
    named = {"learning_rate": [x * 0.9 for x in weights], **groups}
    assert _lr_of(tmp_path, named) == "train/learning_rate"
    half = [x / 2 for x in weights]
    assert _lr_of(tmp_path, {"lr/pg0": bias, "lr/pg1": weights, "lr/pg2": half}) == "lr/pg0"

"""Stop 44: the task read from the config's model class, PEFT task type or task name; a
reading graded info no longer hides one that is a warning at any gain; a classifier with no
eval set is read for memorization like any other task."""

from __future__ import annotations

import math

import pytest

from losslens.analysis import Analyzer
from losslens.model import Finding

CLASSIFIER_CONFIGS = [
    {"architecture": "LlamaForSequenceClassification"},
    {"peft": {"task_type": "SEQ_CLS", "r": 8}},
    {"task": "cls"},
    {"task": "text-classification"},
]


def _findings(config: dict[str, object], rows: list[tuple[int, dict[str, float]]]) -> list[Finding]:
    an = Analyzer(config=config)
    for step, row in rows:
        an.log(row, step)
    an.check()
    assert an.report is not None
    return an.report.findings


def _near_chance() -> list[tuple[int, dict[str, float]]]:
    """A binary classifier that does not learn: its loss starts at ln 2 and hardly leaves it in
    3 epochs (100 steps each), while the eval loss creeps down a little at every eval."""
    rows = []
    for step in range(10, 301, 10):
        wiggle = 0.012 * math.sin(step * 1.7)
        loss = 0.71 - 0.06 * step / 300 + wiggle
        rows.append((step, {"train/loss": loss, "train/epoch": step / 100, "train/lr": 2e-5}))
        if step % 50 == 0:
            rows.append((step, {"eval/loss": 0.70 - 0.004 * step / 50, "train/epoch": step / 100}))
    return rows


@pytest.mark.parametrize("config", CLASSIFIER_CONFIGS)
def test_a_classifier_kept_at_chance_is_a_plateau_warning(config: dict[str, object]) -> None:
    (f,) = [f for f in _findings(config, _near_chance()) if f.rule_id == "LL135"]
    assert str(f.severity) == "warning"
    assert "chance level ln 2" in f.evidence.text["en"]


def test_the_same_curve_of_a_language_model_is_not_read_at_chance() -> None:
    # a token loss of 0.7 is no chance level: the still-improving eval keeps it info
    found = [f for f in _findings({}, _near_chance()) if f.rule_id == "LL135"]
    assert [str(f.severity) for f in found] == ["info"]
    assert "chance" not in found[0].evidence.text["en"]


def _no_eval_to_zero() -> list[tuple[int, dict[str, float]]]:
    """A classifier trained 10 epochs (20 steps each) with no eval set, its loss near zero
    from epoch 4 on."""
    rows = []
    for step in range(5, 201, 5):
        loss = max(0.69 * math.exp(-step / 15), 0.0004)
        rows.append((step, {"train/loss": loss, "train/epoch": step / 20, "train/lr": 2e-5}))
    return rows


def test_a_classifier_with_no_eval_set_is_read_for_memorization() -> None:
    found = _findings({"task": "text-classification"}, _no_eval_to_zero())
    (f,) = [f for f in found if f.rule_id == "LL153"]
    assert str(f.severity) == "error"

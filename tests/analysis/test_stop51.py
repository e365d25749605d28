"""Stop 51: a steady decline too small to matter is a plateau when nothing is held out."""

from __future__ import annotations

import numpy as np
from tests.analysis.analysis_curves import run_of

from losslens.analysis import analyze
from losslens.model import RunData, Severity

#: one epoch mean per log, 2,086 steps apart, no eval set: a drop in the first epoch, then
#: 10.11 -> 10.07 over 13 epochs, smooth enough that its direction is sure (Mann-Kendall)
#: and small enough that it bought nothing (-0.2% over the run by its fitted line)
_CREEP = [10.804, 10.149, 10.109, 10.094, 10.085, 10.081, 10.078, 10.077, 10.076, 10.075]
_CREEP += [10.074, 10.073, 10.072, 10.070, 10.070]


def _run(eval_loss: list[float] | None = None) -> RunData:
    steps = np.arange(1, len(_CREEP) + 1) * 2086
    series = {"train/loss": (steps, _CREEP)}
    if eval_loss is not None:
        series["eval/loss"] = (steps[: len(eval_loss)], eval_loss)
    return run_of(series)


def test_a_sure_but_tiny_decline_with_nothing_held_out_is_a_plateau() -> None:
    found = [f for f in analyze(_run()).findings if f.rule_id == "LL132"]
    assert [f.severity for f in found] == [Severity.WARNING]
    assert "trend over it -0.2%" in found[0].evidence.text["en"]


def test_with_an_eval_loss_the_size_reading_is_left_to_ll135() -> None:
    # an eval loss still falling at every eval: the stretch is not flat by size alone here
    ev = list(np.linspace(10.5, 9.0, len(_CREEP)))
    assert not [f for f in analyze(_run(ev)).findings if f.rule_id == "LL132"]

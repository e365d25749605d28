"""The epoch at a step outside the train log grows with the step on both sides.

An eval before the first train log (a coarse log whose first line comes late) or after the last
one is dated by the steps it lies away from that log, not by the log's own epoch: the rules that
ask whether an eval is a full pass after another read these dates.
"""

from __future__ import annotations

import numpy as np
import pytest
from analysis_curves import epoch_run

from losslens.analysis.context import RunContext, build_context


def _ctx() -> RunContext:
    # 100 steps per epoch, the train loss logged every 40 steps: first log at step 40
    return build_context(epoch_run(np.linspace(1.0, 0.4, 6), spe=100, every=40))


def test_a_step_before_the_first_train_log_is_an_earlier_epoch() -> None:
    ctx = _ctx()
    assert ctx.epoch_at(20) == pytest.approx(0.2)
    assert ctx.epoch_at(0) == pytest.approx(0.0)


def test_a_step_after_the_last_train_log_is_a_later_epoch() -> None:
    assert _ctx().epoch_at(300) == pytest.approx(3.0)


def test_a_step_inside_the_train_log_is_interpolated() -> None:
    assert _ctx().epoch_at(100) == pytest.approx(1.0)

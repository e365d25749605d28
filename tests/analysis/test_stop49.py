"""Stop 49: a flat end of a loss whose unit nothing names is the end of a converged curve."""

from __future__ import annotations

import numpy as np
from tests.analysis.analysis_curves import one, run_of

from losslens.analysis import analyze
from losslens.model import Severity


def _flat_end(source: str) -> object:
    """A per-epoch log: the train loss falls from 2.0 to 1.2 over 4 epochs, then holds near
    1.2 (gaining 0.2% per epoch) for 8 more, no eval."""
    ep = np.arange(1, 13)
    loss = np.where(ep <= 4, 2.0 - 0.8 * (ep - 1) / 3, 1.2 * 0.998 ** (ep - 4))
    loss = loss * (1 + 0.003 * np.sin(ep * 1.3))
    run = run_of({"train/loss": (ep, loss), "train/epoch": (ep, ep)})
    run.info.source = source  # type: ignore[attr-defined]
    return run


def test_a_flat_end_of_a_script_loss_of_no_known_unit_is_info() -> None:
    f = one(analyze(_flat_end("csv:history.csv")), "LL135")  # type: ignore[arg-type]
    assert f.severity is Severity.INFO


def test_the_same_flat_end_in_a_trainer_log_is_a_plateau() -> None:
    f = one(analyze(_flat_end("hf_trainer_state:abc")), "LL135")  # type: ignore[arg-type]
    assert f.severity is Severity.WARNING

"""Stop 53: a late minimum of a noisy eval curve, the evals after it level within the
settled curve's own rebounds, is a low draw, not overfitting (LL151 info); a climb out of
the same minimum stays a warning. A progress log whose time left falls to 0 is a finished run,
so an LR still rising at its end is a warmup longer than the run (LL142). Values near the float
limit are stored and analysed without numpy warnings."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from tests.analysis.analysis_curves import run_of

from losslens.analysis import analyze
from losslens.ingest import load_into_memory
from losslens.model import RunData, Severity

#: one eval and one train log per epoch, 30 epochs: the eval loss flattens near 0.35 from
#: epoch 13 and scatters (rebounds of 7-14% from one epoch to the next); its minimum comes at
#: epoch 23, and the seven evals after it sit within those rebounds
_EVAL = [
    0.5858, 0.5107, 0.5176, 0.4160, 0.3985, 0.3958, 0.3745, 0.3685, 0.3684, 0.3831,
    0.3710, 0.3636, 0.3632, 0.3537, 0.3584, 0.3679, 0.3664, 0.3704, 0.3435, 0.3851,
    0.3371, 0.3448, 0.3183, 0.3431, 0.3453, 0.3550, 0.3517, 0.3531, 0.3272, 0.3421,
]  # fmt: skip
_TRAIN = [
    0.6470, 0.5832, 0.5176, 0.5043, 0.4552, 0.4330, 0.4000, 0.3875, 0.3804, 0.3719,
    0.3608, 0.3685, 0.3467, 0.3344, 0.3458, 0.3261, 0.3634, 0.3420, 0.3375, 0.3119,
    0.3128, 0.3361, 0.3128, 0.3066, 0.3001, 0.3202, 0.3215, 0.3017, 0.3011, 0.2835,
]  # fmt: skip


def _run(evals: list[float]) -> RunData:
    ep = np.arange(1, 31)
    return run_of({"train/loss": (ep, _TRAIN), "eval/loss": (ep, evals), "train/epoch": (ep, ep)})


def _overfit(run: RunData) -> list[Severity]:
    return [f.severity for f in analyze(run).findings if f.rule_id == "LL151"]


def test_a_late_minimum_of_a_noisy_eval_curve_is_a_low_draw() -> None:
    assert _overfit(_run(_EVAL)) == [Severity.INFO]


def test_a_climb_out_of_the_same_minimum_is_still_overfitting() -> None:
    # the same curve, but after epoch 23 the eval loss climbs 2% at every eval
    climb = _EVAL[:23] + [round(0.3183 * 1.02**i, 4) for i in range(1, 8)]
    assert _overfit(_run(climb)) == [Severity.WARNING]


def _detectron(eta_end: float) -> RunData:
    # a detectron2 metrics.json: every 20 iterations, the LR rising linearly at every log, the
    # time left (eta_seconds) falling to ``eta_end`` at the last
    it = np.arange(19, 500, 20)
    return run_of(
        {
            "train/loss": (it, 1.3 * np.exp(-it / 150) + 0.1),
            "train/learning_rate": (it, 2.5e-6 * (it + 1)),
            "train/eta_seconds": (it, np.linspace(1020, eta_end, it.size)),
        }
    )


def _warmup(run: RunData) -> list[Severity]:
    return [f.severity for f in analyze(run).findings if f.rule_id == "LL142"]


def test_no_time_left_at_the_last_log_is_a_finished_run_still_in_warmup() -> None:
    assert _warmup(_detectron(0.0)) == [Severity.WARNING]
    # the same run logged through losslens.log, its names kept as the script gave them
    run = _detectron(0.0)
    renamed = {
        "train/loss": "loss",
        "train/learning_rate": "lr",
        "train/eta_seconds": "eta_seconds",
    }
    kept = run_of({renamed[k]: (s.steps, s.values) for k, s in run.series.items()})
    assert _warmup(kept) == [Severity.WARNING]


def test_time_still_left_is_a_log_cut_short_not_a_warmup_longer_than_the_run() -> None:
    assert _warmup(_detectron(42.8)) == []


def test_values_near_the_float_limit_raise_no_numpy_warning(tmp_path: Path) -> None:
    # an LR of 1e308 (a log gone wrong): stored and analysed as a value, its sums overflow to
    # inf quietly instead of printing numpy's RuntimeWarning under the report
    path = tmp_path / "lr.csv"
    path.write_text("step,loss,learning_rate\n1,1.0,1e308\n2,0.9,1e308\n3,0.8,1e308\n4,0.7,1e308\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        (run,) = load_into_memory(path)
        analyze(run)

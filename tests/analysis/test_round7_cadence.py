"""Logging-cadence invariance: the same run logged half as often reaches the same verdict.

Each principle with a synthetic run and its copy keeping every 2nd train log (the first and
the last kept, as a Trainer logging less often still logs them), and a case beside it that
must not be flagged:

- LL131: the first and last levels are medians of logs weighted by the steps each stands
  for (a logged loss averages the steps since the log before it), so the first log of a
  coarser log, kept at its own step, counts for the steps it covers and not as one log in
  five of the head;
- LL135: a staircase that LL153 grades info (the small drop on re-seeing the examples that
  any second pass shows) does not stop the judgement of a loss that learned too little: it
  is read at one cadence and not at another;
- LL112 (the loss responds to the warmup ramp): the running median that keeps one noisy log
  from making the ramp's minimum spans 3 logs only where they cover at most a quarter of
  the ramp in steps (on a coarser log one log already stands for that share), and the
  ramp's noise is read around a local linear trend (second differences), which does not
  grow when the run logs less often.
"""

from __future__ import annotations

import numpy as np
from analysis_curves import noisy, run_of

from losslens.analysis import analyze, signals, transforms
from losslens.model import RunData, Severity


def _verdict(run: RunData) -> tuple[str, frozenset[str]]:
    """The worst severity (an info counting as ok) and the rules at warning or above."""
    found = [f for f in analyze(run).findings if f.severity is not Severity.INFO]
    worst = max((f.severity for f in found), key=lambda s: s.rank, default=None)
    return ("ok" if worst is None else str(worst)), frozenset(f.rule_id for f in found)


def _coarser(run: RunData) -> RunData:
    out = transforms.coarser(run, 2)
    assert out is not None
    return out


# -- LL131: the head and the tail weighted by the steps each log stands for --------------------


def _fast_start_then_flat() -> RunData:
    """180 logs every 10 steps: the loss drops from 18.8 to 7.5 in the first 50 steps (the
    first 3% of the run), then holds at 7.42 for the rest of it."""
    steps = np.arange(10, 1801, 10)
    loss = noisy(np.full(steps.size, 7.42), 0.0006, seed=5)
    loss[:6] = [18.8, 15.0, 9.1, 7.86, 7.55, 7.47]
    return run_of(
        {"train/loss": (steps, loss), "train/epoch": (steps, steps / 1800)},
        config={"logging_steps": 10, "num_train_epochs": 1},
    )


def _steady_fall() -> RunData:
    steps = np.arange(10, 1801, 10)
    loss = noisy(7.5 * np.exp(-steps / 1500), 0.003, seed=5)
    return run_of(
        {"train/loss": (steps, loss), "train/epoch": (steps, steps / 1800)},
        config={"logging_steps": 10, "num_train_epochs": 1},
    )


def test_a_log_weighs_the_steps_it_stands_for() -> None:
    # equal weights: the plain median, an exact half the mean of the two middle values
    y = np.array([3.0, 1.0, 4.0, 1.5])
    assert signals.weighted_median(y, np.ones(4)) == float(np.median(y))
    assert signals.weighted_median(y[:3], np.full(3, 7.0)) == float(np.median(y[:3]))
    # the first log of a coarser copy stands for its own step, the others for two intervals
    assert list(signals.log_weights(np.array([10.0, 20.0, 40.0, 60.0]))) == [10, 10, 20, 20]
    # the head level of the coarser copy stays near the full log's, not pulled to the start
    run = _fast_start_then_flat()
    full, half = run.series["train/loss"], _coarser(run).series["train/loss"]
    a = signals.step_level(np.asarray(full.steps), np.asarray(full.values), 0.05, 1, first=True)
    b = signals.step_level(np.asarray(half.steps), np.asarray(half.values), 0.05, 1, first=True)
    assert abs(b / a - 1) < 0.03
    assert float(np.median(np.asarray(half.values)[:5])) / a - 1 > 0.04  # unweighted: not


def test_a_loss_flat_after_a_fast_start_is_not_decreasing_at_either_cadence() -> None:
    run = _fast_start_then_flat()
    for r in (run, _coarser(run)):
        assert _verdict(r) == ("error", frozenset({"LL131"}))


def test_a_steadily_falling_loss_is_not_flagged_at_either_cadence() -> None:
    run = _steady_fall()
    assert _verdict(run) == _verdict(_coarser(run)) == ("ok", frozenset())


# -- LL135: an info staircase does not stop the under-learning judgement -----------------------


def _slow_with_small_stairs(drop: float) -> RunData:
    """5 epochs of 400 steps logged every 20 steps, at a token cross-entropy of ~4.2: the
    loss gains under 1% per epoch plus ``drop`` (log) at each epoch boundary."""
    steps = np.arange(20, 2001, 20)
    ep = steps / 400
    base = 4.3 * np.exp(-0.008 * ep) * np.exp(-drop * np.floor(ep))
    base[0] = 5.3
    return run_of(
        {
            "train/loss": (steps, noisy(base, 0.004, seed=7)),
            "train/epoch": (steps, ep),
            "train/learning_rate": (steps, 1e-4 * (1 - steps / 2001)),
        },
        config={"learning_rate": 1e-4, "num_train_epochs": 5, "logging_steps": 20},
    )


def test_a_small_staircase_graded_info_leaves_under_learning_judged() -> None:
    run = _slow_with_small_stairs(0.025)
    stairs = [f for f in analyze(run).findings if f.rule_id == "LL153"]
    assert stairs and stairs[0].severity is Severity.INFO  # the staircase is read here ...
    # ... and the loss still at 80% of its first value after 5 epochs is under-learning,
    # logged every 20 steps or every 40
    for r in (run, _coarser(run)):
        assert _verdict(r) == ("warning", frozenset({"LL135"}))


def test_a_loss_that_fell_most_of_the_way_is_not_under_learning_at_either_cadence() -> None:
    steps = np.arange(20, 2001, 20)
    ep = steps / 400
    loss = noisy(0.8 + 3.5 * np.exp(-ep), 0.004, seed=7)
    run = run_of(
        {
            "train/loss": (steps, loss),
            "train/epoch": (steps, ep),
            "train/learning_rate": (steps, 1e-4 * (1 - steps / 2001)),
        },
        config={"learning_rate": 1e-4, "num_train_epochs": 5, "logging_steps": 20},
    )
    assert _verdict(run) == _verdict(_coarser(run))
    assert "LL135" not in _verdict(run)[1]


# -- LL112: a loss that rises with the warmup ramp -----------------------------------------------

# every 5 steps, the LR ramping to 0.5 at step 80 and decaying to 0 at step 200: the loss
# falls to 3.56 at the small early rates, rises ~8% with the ramp and comes back down as the
# LR decays
_RAMP = [5.40, 4.09, 4.09, 3.91, 3.75, 3.58, 3.56, 3.69, 3.71, 3.86, 3.82, 3.81, 3.83, 3.87]
_RAMP += [3.87, 3.88, 3.86, 3.93, 4.06, 4.08, 3.98, 3.94, 3.90, 3.83, 3.85, 3.86, 3.79, 3.70]
_RAMP += [3.71, 3.66, 3.66, 3.70, 3.67, 3.66, 3.60, 3.60, 3.57, 3.51, 3.54, 3.55]


def _ramp_run(loss: list[float]) -> RunData:
    steps = np.arange(5, 201, 5)
    lr = np.where(steps <= 80, 0.5 * steps / 80, 0.5 * (200 - steps) / 120)
    return run_of(
        {
            "train/loss": (steps, np.asarray(loss)),
            "train/learning_rate": (steps, lr),
            "train/epoch": (steps, steps / 50),
        },
        config={"learning_rate": 0.5, "logging_steps": 5, "num_train_epochs": 4, "max_steps": 200},
    )


def test_a_loss_rising_with_the_warmup_ramp_is_read_at_either_cadence() -> None:
    run = _ramp_run(_RAMP)
    for r in (run, _coarser(run)):
        assert _verdict(r) == ("warning", frozenset({"LL112"}))


def test_a_loss_falling_through_the_ramp_is_not_flagged_at_either_cadence() -> None:
    run = _ramp_run(_RAMP[:7] + list(np.geomspace(3.5, 1.5, 33)))
    assert _verdict(run) == _verdict(_coarser(run)) == ("ok", frozenset())

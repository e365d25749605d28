"""The same run logged half as often gets the same verdict: no warning that sparse logging makes.

Small synthetic series, one principle each, with the case beside it that must still be
found: a gradient jump is graded a warning against a level read from enough logs (not the
few nearest of a sparse log); a skipped optimizer step next to the warmup peak is read at
the rate of the side the logged LR moved with; an eval loss read in place of a sparse train
log that fell to a best and rose from it is overfitting, not a plateau; a stalled eval loss
needs a train-loss fall beyond the noise of its two levels; a clean epoch staircase stays a
warning when logged half as often.
"""

from __future__ import annotations

import numpy as np
from analysis_curves import noisy, one, run_of

from losslens.analysis import analyze, transforms
from losslens.analysis.context import build_context
from losslens.analysis.staircase import staircase
from losslens.model import Severity


def _by_rule(rep: object, rule_id: str) -> list[object]:
    return [f for f in rep.findings if f.rule_id == rule_id]  # type: ignore[attr-defined]


# -- a gradient jump graded against a level from enough logs -----------------------------------

# a sparse log (every 10 steps) of a gradient norm scattered over two decades, with a jump at
# step 110: 200x the median of its six nearest logs, about 40x the level over the wider window
_GRAD = [0.40, 1.47, 3.51, 5.06, 6.87, 4.39, 0.47, 5.09, 0.19, 17.6, 1.33, 51.2, 0.15, 0.26]
_GRAD += [0.23, 0.29]


def _grad_run(peak: float) -> object:
    steps = np.r_[5, np.arange(10, 160, 10)]
    grad = np.array(_GRAD)
    grad[11] = peak
    loss = noisy(np.full(steps.size, 0.33), 0.05, seed=3)
    return run_of({"train/loss": (steps, loss), "train/grad_norm": (steps, grad)})


def test_a_jump_100x_only_its_few_scattered_neighbours_is_info() -> None:
    f = one(analyze(_grad_run(51.2)), "LL122")  # type: ignore[arg-type]
    assert f.evidence.values["max_ratio"] >= 100  # over the six nearest logs
    assert f.severity is Severity.INFO


def test_a_jump_100x_the_wider_level_too_is_a_warning() -> None:
    f = one(analyze(_grad_run(800.0)), "LL122")  # type: ignore[arg-type]
    assert f.severity is Severity.WARNING


# -- a skipped step next to the warmup peak, logged every 2 steps ------------------------------


def _skip_run(held: bool) -> object:
    steps = np.r_[1, np.arange(2, 121, 2)]
    peak, warm, total = 2e-4, 4, 120

    def sched(s: float) -> float:
        return peak * s / warm if s <= warm else peak * (total - s) / (total - warm)

    # a skipped step at 6: the scheduler did not step, the LR is one step behind
    lr = np.array([sched(s - 1 if held and s == 6 else s) for s in steps.tolist()])
    grad = noisy(np.full(steps.size, 1.0), 0.1, seed=2)
    grad[[0, 1, 3]] = np.nan  # steps 1, 2 (the scaler calibrating) and 6
    loss = noisy(0.8 + 1.5 * np.exp(-steps / 30), 0.01, seed=2)
    return run_of(
        {
            "train/loss": (steps, loss),
            "train/grad_norm": (steps, grad),
            "train/learning_rate": (steps, lr),
        },
        config={"max_steps": total},
    )


def test_a_skip_after_the_logged_warmup_peak_is_read_as_a_scaler_skip() -> None:
    f = one(analyze(_skip_run(held=True)), "LL101")  # type: ignore[arg-type]
    assert f.severity is Severity.INFO


def test_an_overflow_where_the_lr_moved_on_schedule_is_a_warning() -> None:
    f = one(analyze(_skip_run(held=False)), "LL101")  # type: ignore[arg-type]
    assert f.severity is Severity.WARNING


# -- the eval loss read in place of a sparse train log ------------------------------------------


def _sparse_run(eval_loss: list[float]) -> object:
    steps = np.arange(100, 700, 100)
    train = np.array([1.98, 1.40, 1.13, 0.95, 0.78, 0.68])
    epoch = steps / 80
    return run_of(
        {
            "train/loss": (steps[[0, 1, 3, 5]], train[[0, 1, 3, 5]]),
            "train/epoch": (steps[[0, 1, 3, 5]], epoch[[0, 1, 3, 5]]),
            "eval/loss": (steps, np.array(eval_loss)),
        },
        config={"learning_rate": 2e-4, "max_steps": 600},
    )


def test_an_eval_loss_that_fell_and_rose_is_no_plateau() -> None:
    rep = analyze(_sparse_run([1.64, 1.29, 1.20, 1.28, 1.34, 1.36]))  # type: ignore[arg-type]
    assert not _by_rule(rep, "LL135")


def test_the_sparse_eval_reading_still_sees_a_flat_high_eval_loss() -> None:
    # the same train logs, an eval loss that barely moves from its start: still judged
    rep = analyze(_sparse_run([1.64, 1.63, 1.62, 1.62, 1.61, 1.61]))  # type: ignore[arg-type]
    assert _by_rule(rep, "LL135")


# -- a stalled eval loss and a train fall on the edge -------------------------------------------


def _stall_run(fall: float, noise: float, seed: int = 7) -> object:
    steps = np.arange(1, 61)
    train = noisy(0.75 * np.exp(-fall * steps / 60), noise, seed=seed)
    est = np.arange(5, 61, 5)
    ev = np.r_[1.20, 1.10, 1.05, 1.03, 1.02, 1.016, 1.015, 1.0146, 1.0177, 1.0189, 1.0185, 1.0181]
    return run_of(
        {
            "train/loss": (steps, train),
            "train/epoch": (steps, steps / 10),
            "eval/loss": (est, ev),
        }
    )


def _stall(run: object) -> list[object]:
    # any severity: a stall that holds its minimum is reported at info (round 25)
    return list(_by_rule(analyze(run), "LL151"))  # type: ignore[arg-type]


def test_a_noisy_train_fall_on_the_edge_of_the_bar_does_not_make_a_stall() -> None:
    # over the last 2 epochs the train loss falls 6-8% under 4% noise per log: logged every
    # step or every 2nd, that is no clear 10% fall (the bar alone flipped with the cadence)
    for fall in (0.2, 0.25):
        for seed in range(8):
            run = _stall_run(fall, 0.04, seed)
            assert not _stall(run)
            assert not _stall(transforms.coarser(run, 2))  # type: ignore[arg-type]


def test_a_clear_train_fall_under_a_stalled_eval_loss_is_still_read() -> None:
    for every in (1, 2):
        run = _stall_run(0.9, 0.01)
        run = run if every == 1 else transforms.coarser(run, 2)  # type: ignore[arg-type]
        assert _stall(run)


# -- a clean staircase logged half as often ------------------------------------------------------


def _stairs_run(every: int) -> object:
    spe, epochs = 100, 6
    steps = np.arange(every, spe * epochs + 1, every)
    ep = (steps - 1) // spe
    loss = noisy(1.2 * np.exp(-0.35 * ep) * (1 - 0.0005 * (steps - ep * spe)), 0.01, seed=5)
    return run_of(
        {"train/loss": (steps, loss), "train/epoch": (steps, steps / spe)},
        config={"max_steps": spe * epochs},
    )


def test_a_clean_staircase_stays_resolved_and_a_warning_when_logged_half_as_often() -> None:
    for every in (10, 20):  # 10 and 5 logs per epoch: a window of 2 logs, then of 1
        run = _stairs_run(every)
        stairs = staircase(build_context(run))  # type: ignore[arg-type]
        assert stairs is not None and stairs.resolved
        f = one(analyze(run), "LL153")  # type: ignore[arg-type]
        assert f.severity.rank >= Severity.WARNING.rank


def _one_log_dips_run() -> object:
    # 5 logs per epoch (a window of one log): the first log of each new epoch is 20% low and
    # the next is back at the level, a drop no median of two logs each side shows
    spe, every = 100, 20
    steps = np.arange(every, spe * 6 + 1, every)
    loss = noisy(np.exp(-steps / 2000), 0.04, seed=1)
    loss[(steps % spe == every) & (steps > spe)] *= 0.8
    return run_of(
        {"train/loss": (steps, loss), "train/epoch": (steps, steps / spe)},
        config={"max_steps": spe * 6},
    )


def test_one_log_dips_at_the_boundaries_with_no_eval_set_are_info() -> None:
    run = _one_log_dips_run()
    stairs = staircase(build_context(run))  # type: ignore[arg-type]
    assert stairs is not None and not stairs.resolved
    f = one(analyze(run), "LL153")  # type: ignore[arg-type]
    assert f.severity is Severity.INFO

"""The vectorised rule helpers give the numbers and findings of the per-point versions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from analysis_curves import ids, noisy, one, run_of

from losslens.analysis import analyze, signals
from losslens.analysis.context import build_context
from losslens.analysis.rules.numerics import hidden_nan_steps


def _series(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.log(1.0 + rng.random(n)) + 0.3 * rng.standard_normal(n)
    x[rng.integers(0, n, max(1, n // 50))] = np.nan  # gaps: the nanmedian path too
    return x


@pytest.mark.parametrize(("n", "half"), [(2, 3), (4, 3), (7, 3), (40, 5), (40_000, 25)])
def test_neighbour_z_median_chunks_equal_the_full_versions(n: int, half: int) -> None:
    x = _series(n, n)
    z = np.full(n, -1.0)
    med = np.full(n, -1.0)
    for a, zc, mc in signals.neighbour_z_median(x, half, mad_floor=0.05):
        z[a : a + zc.size] = zc
        med[a : a + mc.size] = mc
    np.testing.assert_array_equal(z, signals.neighbour_z(x, half, mad_floor=0.05))
    np.testing.assert_array_equal(med, signals.neighbour_median(x, half))


def test_neighbour_median_at_equals_neighbour_median() -> None:
    x = _series(1_000, 3)
    idx = np.array([0, 1, 2, 500, 997, 998, 999], dtype=np.intp)
    full = signals.neighbour_median(x, 25)
    np.testing.assert_array_equal(signals.neighbour_median_at(x, 25, idx), full[idx])


def _hidden_reference(
    loss_steps: list[int], loss: list[float], gs: list[int], gv: list[float]
) -> list[int]:
    last = dict(zip(gs, gv, strict=True))  # the last value logged at each step
    return [
        s
        for s, v in zip(loss_steps, loss, strict=True)
        if v == 0.0 and s in last and not math.isfinite(last[s])
    ]


def test_hidden_nan_steps_match_a_per_point_reading() -> None:
    nan = float("nan")
    # unsorted grad steps, a step logged twice (NaN then finite: the last one counts),
    # a loss logged twice at one step, steps with no grad norm at all
    loss_steps = [1, 2, 3, 3, 4, 5, 6, 7]
    loss = [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, nan]
    gs = [2, 1, 3, 5, 5, 6, 6, 7]
    gv = [nan, math.inf, nan, nan, 1.0, 1.0, nan, nan]
    run = run_of({"train/loss": (loss_steps, loss), "train/grad_norm": (gs, gv)})
    ctx = build_context(run)
    assert ctx.loss is not None and ctx.grad_norm is not None
    want = _hidden_reference(
        ctx.loss.steps.tolist(),
        ctx.loss.values.tolist(),
        ctx.grad_norm.steps.tolist(),
        ctx.grad_norm.values.tolist(),
    )
    assert want  # the case is not empty
    assert hidden_nan_steps(ctx) == want


STEPS = np.arange(10, 310, 10)


@pytest.mark.parametrize(
    ("grad", "frozen"),
    [
        (np.full(STEPS.size, 1.7320508), True),
        # equal to six significant digits, not bit for bit: still one rounded value
        (1.7320508 + np.linspace(0, 4e-7, STEPS.size), True),
        (np.concatenate([np.full(STEPS.size - 1, 1.7320508), [1.73206]]), False),
        (np.concatenate([[1.73204], np.full(STEPS.size - 1, 1.7320508)]), False),
    ],
)
def test_frozen_grad_norm_reads_six_significant_digits(grad: np.ndarray, frozen: bool) -> None:
    rep = analyze(
        run_of(
            {
                "train/loss": (STEPS, noisy(2 - STEPS / 300, 0.01)),
                "train/grad_norm": (STEPS, grad),
            }
        )
    )
    rounded = {float(f"{x:.6g}") for x in grad.tolist()}
    assert (len(rounded) == 1) is frozen
    assert ("LL104" in ids(rep)) is frozen
    if frozen:
        assert one(rep, "LL104").evidence.values["points"] == STEPS.size


def test_throughput_drop_with_some_wall_times_missing() -> None:
    steps = np.arange(1, 201)
    walls = np.concatenate([steps[:150] * 1.0, 150 + (steps[150:] - 150) * 3.0])
    walls[[10, 60, 170]] = np.nan  # not known at a few logs: the copy path
    rep = analyze(
        run_of(
            {"train/loss": (steps, noisy(2 - steps / 300, 0.01))},
            wall_times={"train/loss": walls.tolist()},
        )
    )
    f = one(rep, "LL171")
    assert f.evidence.values["ratio"] == pytest.approx(3.0)

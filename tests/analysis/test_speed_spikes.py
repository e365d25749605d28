"""The fast spike search and schedule fit give the findings of the straightforward versions.

``find_spikes`` computes the exact neighbour statistics only at points that can pass the
ratio test, and the schedule fit skips candidates that cannot win; each is checked here
against a plain computation written out in the test (every point, every candidate).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from analysis_curves import run_of

from losslens.analysis import analyze, signals
from losslens.analysis.context import _fit_decay, _schedule
from losslens.analysis.rules import spikes
from losslens.analysis.rules.spikes import Spike, find_spikes
from losslens.model import Series

# -- references: every point, every pass --------------------------------------------------


def _reference_spikes(
    st: np.ndarray, v: np.ndarray, *, z_min: float, ratio_min: float, skip_before: float = 0.0
) -> list[Spike]:
    n = v.size
    if n < 5:
        return []
    half = signals.window(n, 0.05, 3, 25)
    y = signals.safe_log(v, 1e-8)
    cand = np.zeros(n, dtype=bool)
    ym = y.copy()
    for _ in range(3):
        z = signals.neighbour_z(ym, half, mad_floor=0.05)
        base = signals.neighbour_median(ym, half)
        with np.errstate(invalid="ignore"):
            new = (z > z_min) & (y - base > math.log(ratio_min)) & (v >= 0.05) & (base > -13.8)
        new[0] = False
        new &= (st > skip_before) & ~cand
        if not new.any():
            break
        cand |= new
        ym[new] = np.nan
    base = signals.neighbour_median(ym, half)
    out = []
    for a, b in signals.runs_of(cand):
        i = a + int(np.argmax(y[a:b]))
        bl = float(np.exp(base[i]))
        nxt = y[b : b + max(2, round(0.02 * n))]
        rec = bool(np.any(nxt <= base[i] + math.log(1.25))) if nxt.size else None
        out.append(Spike(i, b - 1, int(st[i]), float(v[i]), bl, float(v[i] / bl), rec, int(st[a])))
    return out


def _reference_fit(
    steps: np.ndarray, lr: np.ndarray, planned: int | None, peak_step: float
) -> tuple[str, float] | None:
    last = float(steps[-1])
    ends = (
        [float(planned)] if planned and planned >= last else list(np.linspace(last, 4 * last, 40))
    )
    best: tuple[float, str | None, float] = (float("inf"), None, 0.0)
    for s0 in np.linspace(0.0, peak_step, 8):
        for total in ends:
            span = total - s0
            if span <= 0:
                continue
            t = np.clip((steps - s0) / span, 0, 1)
            for name, shape in (("linear", 1 - t), ("cosine", 0.5 * (1 + np.cos(math.pi * t)))):
                denom = float(np.dot(shape, shape))
                if denom <= 0:
                    continue
                scale = float(np.dot(lr, shape)) / denom
                if scale <= 0:
                    continue
                err = float(np.max(np.abs(scale * shape - lr))) / scale
                if err < best[0]:
                    best = (err, name, scale)
    return (best[1], best[2]) if best[1] is not None and best[0] < 0.04 else None


# -- synthetic series -----------------------------------------------------------------------


def _spiky(n: int, seed: int, noise: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """A decaying loss with isolated spikes, spike pairs, a cluster, a spike that stays
    up, zeros (hidden NaN) and a step gap."""
    rng = np.random.default_rng(seed)
    st = np.arange(1, n + 1, dtype=np.int64)
    st[n // 2 :] += 7  # a gap in the steps
    v = 2.5 * np.exp(-np.arange(n) / (n / 5)) + 0.8 + noise * rng.standard_normal(n)
    for i in rng.integers(5, n - 5, max(3, n // 5000)):
        v[i] *= rng.uniform(2.5, 40)
    k = n // 3
    v[k : k + 2] *= 6.0  # two adjacent logs: one event
    v[k + 40 : k + 46 : 2] *= 9.0  # spikes among spikes (needs a second pass)
    v[-3] *= 12.0  # at the very end: recovery unknown
    v[n // 4 : n // 4 + 30] = 0.0  # neighbours at 0 (a hidden NaN, never a level)
    v[2 * n // 3 : 2 * n // 3 + 200] *= 3.0  # a level shift
    return st, np.abs(v)


SIZES = [(60, 1, 0.05), (400, 2, 0.3), (5_000, 3, 0.05), (20_000, 5, 1.0)]
PARAMS = [(8.0, 2.0, 0.0), (6.0, 3.0, 0.0), (6.0, 5.0, 0.02)]  # LL121, LL121's grad, LL122
CASES = [(*size, *p) for size in SIZES for p in PARAMS] + [
    (200_000, 4, 0.05, *p) for p in (PARAMS[0], PARAMS[2])
]


@pytest.mark.parametrize(("n", "seed", "noise", "z", "ratio", "skip"), CASES)
def test_find_spikes_equals_the_every_point_version(
    n: int, seed: int, noise: float, z: float, ratio: float, skip: float
) -> None:
    st, v = _spiky(n, seed, noise)
    got = find_spikes(st, v, z_min=z, ratio_min=ratio, skip_before=skip * n)
    want = _reference_spikes(st, v, z_min=z, ratio_min=ratio, skip_before=skip * n)
    assert got == want
    if n >= 5_000 and noise < 0.5:
        assert len(got) >= 3  # the case is not empty


def test_find_spikes_on_a_long_quiet_run_finds_nothing() -> None:
    rng = np.random.default_rng(9)
    v = 0.8 + 0.1 * rng.standard_normal(300_000)
    st = np.arange(v.size, dtype=np.int64)
    assert find_spikes(st, np.abs(v), z_min=6.0, ratio_min=5.0) == []


def test_window_minimum_and_neighbour_floor_match_brute_force() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal(300)
    x[rng.integers(0, 300, 40)] = np.nan
    x[100:140] = np.nan  # a window with no value at all
    for k in (1, 2, 3, 5, 8, 25):
        want = np.array([np.fmin.reduce(x[j : j + k]) for j in range(x.size - k + 1)])
        np.testing.assert_array_equal(spikes._window_min(x, k), want)
    half = 7
    pad = np.concatenate([np.full(half, np.nan), x, np.full(half, np.nan)])
    for a, b in ((0, 300), (0, 10), (290, 300), (50, 123)):
        want = np.array(
            [np.fmin.reduce(np.delete(pad[i : i + 2 * half + 1], half)) for i in range(a, b)]
        )
        np.testing.assert_array_equal(spikes._neighbour_floor(x, half, a, b), want)


@pytest.mark.parametrize("n", [5, 6, 50, 3_000])
def test_statistics_at_points_equal_the_full_length_ones(n: int) -> None:
    rng = np.random.default_rng(n)
    x = np.log(1 + rng.random(n)) + 0.3 * rng.standard_normal(n)
    x[rng.integers(0, n, max(1, n // 7))] = np.nan
    half = signals.window(n, 0.05, 3, 25)
    idx = np.unique(np.concatenate([[0, n - 1], rng.integers(0, n, min(n, 200))])).astype(np.intp)
    z, med = spikes._z_median_at(x, half, idx, mad_floor=0.05)
    np.testing.assert_array_equal(z, signals.neighbour_z(x, half, mad_floor=0.05)[idx])
    np.testing.assert_array_equal(med, signals.neighbour_median(x, half)[idx])


def test_loss_spikes_at_nan_gradient_steps_are_still_found() -> None:
    n = 4_000
    rng = np.random.default_rng(1)
    st = np.arange(1, n + 1, dtype=np.int64)
    v = np.exp(0.2 * rng.standard_normal(n))  # noisy: a 2.5x jump is under the usual z
    gv = 0.8 + 0.01 * rng.standard_normal(n)
    for i in (700, 1_900, 3_100):
        v[i] = 2.5 * np.median(v[i - 25 : i + 26])  # found because the grad norm is NaN
        gv[i] = np.nan
    gv[2_500] = np.inf  # a NaN grad norm without a loss jump: nothing
    assert find_spikes(st, v, z_min=8.0, ratio_min=2.0) == []
    run = run_of({"train/loss": (st, v), "train/grad_norm": (st, gv)})
    f = next(f for f in analyze(run).findings if f.rule_id == "LL121")
    assert f.evidence.values["steps"] == "701,1901,3101"


# -- the schedule fit -------------------------------------------------------------------------


def _lr_curves() -> list[tuple[np.ndarray, np.ndarray, int | None]]:
    out = []
    rng = np.random.default_rng(5)
    for n, total, warm, shape in (
        (300, 300, 30, "cosine"),
        (300, 300, 0, "linear"),
        (1_000, 1_200, 50, "cosine"),  # stopped early
        (2_000, 2_000, 100, "linear"),
        (500, 500, 20, "step"),
        (8_000, 8_000, 80, "cosine"),
    ):
        s = np.arange(1, n + 1, dtype=float)
        t = np.clip((s - warm) / (total - warm), 0, 1)
        lr = 1 - t if shape == "linear" else 0.5 * (1 + np.cos(math.pi * t))
        if shape == "step":
            lr = np.where(t < 0.5, 1.0, 0.1)
        lr = np.where(s < warm, s / max(warm, 1), lr) * 2e-4
        for planned in (total, None):
            out.append((s, lr, planned))
            out.append((s, lr * (1 + 0.01 * rng.standard_normal(n)), planned))
    return out


@pytest.mark.parametrize("case", range(24))
def test_schedule_fit_keeps_the_plain_scans_winner(case: int) -> None:
    s, lr, planned = _lr_curves()[case]
    peak_i = int(np.argmax(lr))
    got = _fit_decay(s[peak_i:], lr[peak_i:], planned, float(s[peak_i]))
    want = _reference_fit(s[peak_i:], lr[peak_i:], planned, float(s[peak_i]))
    assert got == want  # bit for bit: up to 8,192 points the dot products are np.dot's


def test_schedule_of_a_long_run_fits_within_rounding() -> None:
    n = 12_000  # past 8,192 points: the dot products are summed by chunks
    s = np.arange(1, n + 1, dtype=np.int64)
    warm = n // 100
    t = np.clip((s - warm) / (n - warm), 0, 1)
    lr = np.where(s < warm, 2e-4 * s / warm, 2e-4 * 0.5 * (1 + np.cos(math.pi * t)))
    series = Series("train/learning_rate", s, lr, np.full(n, np.nan))
    for planned in (n, None):
        got = _schedule(series, planned)
        assert got is not None and got.kind == "cosine"
        want = _reference_fit(s[warm - 1 :].astype(float), lr[warm - 1 :], planned, float(warm))
        assert want is not None and want[0] == "cosine"
        assert got.top == pytest.approx(want[1], rel=1e-12)


# -- LL123: the cheap tests first, the same decision -----------------------------------------


def _explodes(g: np.ndarray, loss: np.ndarray) -> bool:
    """LL123's condition written as one test over every log (before its reordering)."""
    y = signals.safe_log(g, 1e-12)
    grew = float(np.median(signals.head(y, 0.25))) - float(np.median(signals.tail(y, 0.2)))
    trend = signals.mann_kendall_z(y)
    loss_early = float(np.median(signals.head(loss, 0.25)))
    loss_late = float(np.median(signals.tail(loss, 0.2)))
    return not (-grew < math.log(10.0) or trend < 2.5 or loss_late < loss_early)


def _grads(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    noise = np.exp(0.1 * rng.standard_normal(n))
    if kind == "up":  # grows 100x, steadily
        return np.exp(np.linspace(0, math.log(100.0), n)) * noise
    if kind == "small":  # grows 5x
        return np.exp(np.linspace(0, math.log(5.0), n)) * noise
    # low at first, high at the end, falling in between: grew, but no rising trend
    q, t = n // 4, n // 5
    return np.concatenate([np.ones(q), np.geomspace(1e3, 10, n - q - t), np.full(t, 100.0)]) * noise


@pytest.mark.parametrize(
    ("kind", "loss_slope", "fires"),
    [("up", 0.3, True), ("up", -0.5, False), ("zigzag", 0.3, False), ("small", 0.3, False)],
)
def test_grad_explosion_decides_as_before(kind: str, loss_slope: float, fires: bool) -> None:
    n = 400
    rng = np.random.default_rng(7)
    st = np.arange(1, n + 1)
    g = _grads(kind, n, rng)
    loss = 2.0 + loss_slope * np.linspace(0, 1, n) + 0.05 * rng.standard_normal(n)
    run = run_of({"train/loss": (st, loss), "train/grad_norm": (st, g)})
    found = {f.rule_id for f in analyze(run).findings}
    assert _explodes(g, loss) is fires  # the case is what it says
    assert ("LL123" in found) is fires

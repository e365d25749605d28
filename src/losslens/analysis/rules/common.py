"""Small helpers shared by rule modules (series access, step alignment)."""

from __future__ import annotations

import numpy as np

from losslens.analysis import signals
from losslens.analysis.context import RunContext
from losslens.model import FloatArray, IntArray, Series


def finite(s: Series | None) -> tuple[FloatArray, FloatArray]:
    """Steps (as floats) and values of the finite points of ``s`` (empty when absent)."""
    if s is None:
        return np.empty(0), np.empty(0)
    f = s.finite
    return f.steps.astype(np.float64), f.values


def finite_raw(s: Series | None) -> tuple[IntArray, FloatArray]:
    """:func:`finite` with the steps as stored: no float copy of a long run's steps."""
    if s is None:
        return np.empty(0, dtype=np.int64), np.empty(0)
    f = s.finite
    return f.steps, f.values


def by_step(s: Series | None) -> dict[int, float]:
    """The last value logged at each step."""
    if s is None:
        return {}
    return {int(k): float(v) for k, v in zip(s.steps.tolist(), s.values.tolist(), strict=True)}


def lr_at(ctx: RunContext, step: float) -> float | None:
    st, v = finite(ctx.lr)
    if st.size == 0:
        return None
    return float(np.interp(step, st, v))


def train_loss_near(ctx: RunContext, step: float) -> float | None:
    """The train loss logged at ``step``, or the median of the logs within one interval."""
    st, v = finite(ctx.loss)
    if st.size == 0:
        return None
    tol = max(ctx.log_interval, 1.0)
    sel = np.abs(st - step) <= tol
    if sel.any():
        exact = st == step
        if exact.any():
            return float(v[exact][-1])
        return float(np.median(v[sel]))
    idx = int(np.searchsorted(st, step, side="right")) - 1
    if idx < 0:
        return None
    if step - st[idx] > 3 * tol:
        return None
    return float(v[idx])


def _nearest(st: FloatArray, step: float, count: int) -> slice:
    idx = int(np.argmin(np.abs(st - step)))
    a = max(0, min(idx - count // 2, st.size - count))
    return slice(a, a + count)


def train_level_near(ctx: RunContext, step: float) -> float | None:
    """The train-loss level at ``step``, robust to noise and to the trend.

    One train log is one noisy batch (or a short average) when logging often; comparing an
    eval loss with it makes a gap appear or vanish by chance. The level is the median of the
    nearest 10% of the logs (at least 5), each moved to ``step`` along the Theil-Sen slope
    of the nearest 20%: a plain median would be pulled up or down by the trend at the ends
    of the run, where the window is one-sided. None when no train log is near (same
    tolerance as :func:`train_loss_near`).
    """
    if train_loss_near(ctx, step) is None:
        return None
    st, v = finite(ctx.loss)
    if st.size <= 2:
        return train_loss_near(ctx, step)
    wide = _nearest(st, step, max(5, round(0.2 * st.size)))
    slope, _ = signals.theil_sen(st[wide], v[wide], max_points=40)
    near = _nearest(st, step, max(5, round(0.1 * st.size)))
    level = float(np.median(v[near] - slope * (st[near] - step)))
    return level if level > 0 else train_loss_near(ctx, step)


def near_zero_onset(v: np.ndarray, level: float) -> int:
    """The first log below ``level`` from which most of the next tenth of the logs (at least
    3) are below it: near zero is a level, read at the onset as at the end, so one lucky
    batch in the first pass does not date it (else the first log below it)."""
    below = (v < level).astype(np.int64)
    w = min(v.size, max(3, round(0.1 * v.size)))
    cs = np.concatenate(([0], np.cumsum(below)))
    hit = np.flatnonzero(2 * (cs[w:] - cs[:-w]) > w)  # windows of w mostly below
    start = int(hit[0]) if hit.size else 0
    return start + int(np.argmax(below[start:]))


def first_pass_ratio(
    ctx: RunContext, st: np.ndarray, v: np.ndarray, i: int, end: float
) -> float | None:
    """How many times the end level sits below the first pass's lowest log.

    Every batch of the first pass is one the model has not seen yet, so the loss logged
    there is a held-out measure. Its stretch from the near-zero onset ``i`` (from the start
    when the loss got near zero only after the pass) to the end of the pass is read at its
    lowest log: the most favourable reading of how well unseen examples were predicted,
    which a spike there cannot raise. The log at the pass's last step (epoch 1.0) belongs to
    it: a logged loss is the mean over the interval that ends at its step, all of it
    first-pass batches. The pass must be resolved, 3 logs or more in it, so that the onset
    is dated inside it; the stretch from a late onset may hold a single log (a coarse log is
    the mean over more batches, a steadier reading of the level than the lowest of several
    finer ones). None when the pass is not resolved."""
    eps = np.array([ctx.epoch_at(float(s)) or 0.0 for s in st])
    k = i if eps[i] < 1.0 else 0
    held_out = v[k:][eps[k:] <= 1.0]
    if np.count_nonzero(eps <= 1.0) < 3 or not held_out.size or end <= 0:
        return None
    return float(held_out.min()) / end


def is_likelihood(v: np.ndarray) -> bool:
    """Whether a loss can be a likelihood (a negative log-probability): never below zero.
    One that goes below zero (a policy-gradient surrogate, a negative ELBO) has no near zero
    to read: its low values say nothing certain about the training examples."""
    return not v.size or float(v.min()) >= 0


def first_pass_level(ctx: RunContext, st: np.ndarray, v: np.ndarray) -> float | None:
    """The loss at the end of the first pass: the median of the logs from epoch 0.75 to 1.0.

    Every batch of the first pass is one the model has not seen yet, so its loss is a
    held-out measure, read where most of the pass's learning is done. A log at epoch 1.0 is
    the mean over the interval that ends there (a per-epoch log: the whole pass, its early
    batches too), which can only read it higher. None when no log falls in that stretch."""
    eps = np.array([np.nan if (e := ctx.epoch_at(float(s))) is None else e for s in st])
    held_out = v[(eps >= 0.75) & (eps <= 1.0)]
    return float(np.median(held_out)) if held_out.size else None


def reward_accuracies(ctx: RunContext) -> FloatArray | None:
    """The finite train reward accuracies of a preference run (``rewards/accuracies``: the
    share of pairs whose chosen answer the policy prefers), None when not logged."""
    for key, s in ctx.run.series.items():
        name = key.lower()
        if name.endswith("rewards/accuracies") and not name.startswith(("eval", "test", "val")):
            _, a = finite(s)
            if a.size:
                return a
    return None

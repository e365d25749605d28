"""Per-pixel downsampling keeps every spike; strides and reservoirs do not."""

from __future__ import annotations

import numpy as np
import pytest

from losslens.model import Series
from losslens.render.downsample import (
    bucket_means,
    m4_indices,
    reservoir_indices,
    stride_indices,
)
from losslens.render.groups import chart_groups, group_of_metric, round_sig, series_payload


def spiky(
    n: int = 200_000, spikes: int = 20, seed: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.arange(n, dtype=np.float64)
    y = 2.0 * np.exp(-x / n * 4) + rng.normal(0, 0.02, n)
    at = np.sort(rng.choice(np.arange(1, n - 1, 2), spikes, replace=False))
    y[at] += 5.0
    return x, y, at


@pytest.mark.parametrize("fast", [True, False])
def test_every_spike_survives(fast: bool) -> None:
    x, y, at = spiky()
    idx = m4_indices(x, y, 1000, use_fast=fast)
    assert len(idx) <= 4 * 1000
    assert set(at.tolist()) <= set(idx.tolist())
    assert idx[0] == 0 and idx[-1] == len(x) - 1


def test_numpy_and_rust_paths_keep_the_same_extremes() -> None:
    x, y, _ = spiky(50_000)
    a = m4_indices(x, y, 500, use_fast=True)
    b = m4_indices(x, y, 500, use_fast=False)
    # Same per-column min and max values (ties may pick other indices).
    assert np.isclose(np.sort(y[a]).max(), np.sort(y[b]).max())
    assert np.isclose(y[a].min(), y[b].min())
    assert abs(len(a) - len(b)) <= 50


def test_stride_and_reservoir_lose_spikes_that_m4_keeps() -> None:
    x, _, at = spiky()
    kept_stride = np.isin(at, stride_indices(len(x), 3000)).sum()
    kept_res = np.isin(at, reservoir_indices(len(x), 1000)).sum()
    assert kept_stride < len(at)
    assert kept_res < len(at)


def test_short_series_is_returned_whole() -> None:
    x = np.arange(100.0)
    assert m4_indices(x, x * 2, 1000).tolist() == list(range(100))


def test_nan_and_inf_are_kept_once_per_column() -> None:
    x = np.arange(10_000, dtype=np.float64)
    y = np.ones(10_000)
    y[5000:5010] = np.nan
    y[7000] = np.inf
    idx = m4_indices(x, y, 100)
    assert 5000 in idx and 7000 in idx
    assert int(np.isnan(y[idx]).sum()) == 1


def test_bucket_means_weigh_every_point() -> None:
    x = np.arange(1000, dtype=np.float64)
    y = np.where(x < 500, 1.0, 3.0)
    bm = bucket_means(x, y, 2)
    assert bm.n.sum() == 1000
    assert np.allclose(bm.mean, [1.0, 3.0])


def test_payload_marks_non_finite_and_rounds() -> None:
    s = Series.from_lists("train/loss", range(5), [1.0, float("nan"), 0.123456789, float("inf"), 2])
    p = series_payload(s, kind="metric", label="loss", width=100)
    assert p["y"] == [1.0, None, 0.1234568, None, 2.0]
    assert p["nonfinite"] == [[1, "nan"], [3, "inf"]]
    assert p["n_total"] == 5 and "mean" not in p
    assert round_sig(np.array([123456789.0]))[0] == 123456800.0


def test_payload_zoom_range_keeps_neighbours() -> None:
    s = Series.from_lists("train/loss", range(0, 1000), [float(i) for i in range(1000)])
    p = series_payload(s, kind="metric", label="l", width=100, x_min=100, x_max=199)
    assert p["x"][0] == 99 and p["x"][-1] == 200
    assert p["n_total"] == 102


def test_groups_put_related_metrics_together() -> None:
    groups = chart_groups(
        [
            "loss",
            "eval_loss",
            "learning_rate",
            "grad_norm",
            "epoch",
            "train_samples_per_second",
            "eval/accuracy",
        ],
        ["system/cpu_percent", "system/gpu.0.memory_used_mb", "system/gpu.0.power_w"],
    )
    ids = [g.id for g in groups]
    assert ids[:5] == ["loss", "lr", "grad", "epoch", "throughput"]
    loss = next(g for g in groups if g.id == "loss")
    assert [k for _, k in loss.series] == ["loss", "eval_loss"]
    assert "other:eval/accuracy" in ids and "sys-util" in ids and "sys-mem" in ids
    assert group_of_metric(groups, "eval/loss") == "loss"
    assert group_of_metric(groups, "train/grad_norm") == "grad"
    assert group_of_metric(groups, "something/else") == "loss"

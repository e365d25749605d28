"""Per-pixel downsampling keeps every spike; strides and reservoirs do not."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from baselines import reservoir_indices, stride_indices  # bench/: what other trackers keep
from losslens.model import Series
from losslens.render.downsample import (
    _bins,
    _m4_fast,
    bucket_means,
    m4_indices,
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


HAS_TSD = importlib.util.find_spec("tsdownsample") is not None
NO_TSD = "tsdownsample (the ui extra) is not installed: the Rust path cannot be compared"


@pytest.mark.parametrize(
    "fast", [pytest.param(True, marks=pytest.mark.skipif(not HAS_TSD, reason=NO_TSD)), False]
)
def test_every_spike_survives(fast: bool) -> None:
    x, y, at = spiky()
    idx = m4_indices(x, y, 1000, use_fast=fast)
    assert len(idx) <= 4 * 1000
    assert set(at.tolist()) <= set(idx.tolist())
    assert idx[0] == 0 and idx[-1] == len(x) - 1


@pytest.mark.skipif(not HAS_TSD, reason=NO_TSD)
def test_numpy_and_rust_paths_keep_the_same_extremes() -> None:
    x, y, _ = spiky(50_000)
    assert _m4_fast(x, y, 500) is not None  # the Rust path really ran
    a = m4_indices(x, y, 500, use_fast=True)
    b = m4_indices(x, y, 500, use_fast=False)
    # Per pixel column, the same smallest and largest value (ties may pick other indices).
    for idx in (a, b):
        assert len(idx) <= 4 * 500
    cols_a, cols_b = _bins(x, 500)[a], _bins(x, 500)[b]
    assert np.array_equal(np.unique(cols_a), np.unique(cols_b))
    for agg in (np.minimum, np.maximum):
        ra = np.array([agg.reduce(y[a][cols_a == c]) for c in range(500)])
        rb = np.array([agg.reduce(y[b][cols_b == c]) for c in range(500)])
        assert np.array_equal(ra, rb)


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
    assert p["nonfinite"] == [[1, "NaN"], [3, "Infinity"]]
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


def test_smoothing_only_for_noisy_series() -> None:
    from losslens.render.groups import smoothable

    rng = np.random.default_rng(0)
    noisy = 1.0 + rng.normal(0, 0.1, 300)
    assert smoothable("train/loss", noisy, 300)
    assert not smoothable("train/loss", noisy[:10], 10)  # a few dozen points at least
    assert not smoothable("train/learning_rate", noisy, 300)
    assert not smoothable("lr", noisy, 300)
    assert not smoothable("train/epoch", noisy, 300)
    assert not smoothable("train/global_step", noisy, 300)
    assert not smoothable("train/num_tokens", noisy, 300)
    assert not smoothable("train/loss", np.linspace(2, 1, 300), 300)  # monotone: no noise


def test_png_names_are_unique_for_non_ascii_keys() -> None:
    from losslens.render.charts import unique_names

    names = unique_names(["loss", "other:정확도", "other:보상", "other:Acc", "other:acc"])
    assert names["loss"] == "loss.png"
    assert len(set(names.values())) == 5
    assert all(n.isascii() and n.endswith(".png") for n in names.values())


def test_markdown_escapes_user_text() -> None:
    from losslens.render.markdown import md_code, md_text

    assert md_text("<img src=x onerror=alert(1)>") == "&lt;img src=x onerror=alert(1)&gt;"
    assert md_text("[x](javascript:alert(1))") == "\\[x\\](javascript:alert(1))"
    assert md_text("a|b\nc") == "a\\|b c"
    assert md_code("a`b") == "``a`b``" and md_code("`x`") == "`` `x` ``"


def test_findings_on_pages_name_no_rule_ids() -> None:
    from losslens.model import Evidence, Finding, Severity
    from losslens.render.groups import findings_payload

    f = Finding(
        rule_id="LL156",
        kind="other",
        severity=Severity.WARNING,
        title={"en": "No eval set", "ko": "평가 세트 없음"},
        explanation={"en": "It changes nothing (see LL103 for why).", "ko": "(원인은 LL103 참고)"},
        suggestion={"en": "Add one."},
        evidence=Evidence("train/loss", None, None, {}, {"en": "LL153 suggests overfitting",
                                                        "ko": "LL153 결과가 과적합을 시사"}),
    )  # fmt: skip
    en = findings_payload([f], [], "en")[0]
    ko = findings_payload([f], [], "ko")[0]
    assert en["evidence"] == "memorisation suggests overfitting"
    assert en["explanation"] == "It changes nothing."
    assert ko["evidence"] == "암기 결과가 과적합을 시사"
    assert en["rule_id"] == "LL156"  # kept for tools, in the JSON only

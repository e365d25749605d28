"""Comparing long runs reads a bounded sample of their points and ranks them as all would."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from extras import needs

needs("starlette", "ui")

from starlette.testclient import TestClient  # noqa: E402
from ui_helpers import make_lr_pair  # noqa: E402

from losslens.analysis.compare import Comparison, compare  # noqa: E402
from losslens.model import MetricPoint, RunInfo, RunStatus  # noqa: E402
from losslens.store import Store  # noqa: E402
from losslens.ui import create_app  # noqa: E402
from losslens.ui.bounded import WHOLE  # noqa: E402
from losslens.ui.data import DataSource  # noqa: E402

LONG = 100_000  # each long run: more points than a comparison reads whole


def _long_run(
    st: Store,
    name: str,
    n: int,
    *,
    base: float,
    seed: int,
    lr: float,
    eval_every: int = 0,
    nan_from: int | None = None,
    epochs_per_step: float | None = None,
) -> RunInfo:
    rng = np.random.default_rng(seed)
    info = st.create_run("cmp", name, status=RunStatus.FINISHED, config={"learning_rate": lr})
    steps = np.arange(1, n + 1)
    loss = base + 2.0 * np.exp(-steps / (n / 5)) + 0.05 * rng.standard_normal(n)
    loss[n // 3] = base - 0.4  # one low point deep inside: only the rollups' minima keep it
    if nan_from is not None:
        loss[nan_from:] = math.nan
    pts = [MetricPoint("train/loss", int(s), float(v)) for s, v in zip(steps, loss, strict=True)]
    if eval_every:
        for s in range(eval_every, n + 1, eval_every):
            pts.append(MetricPoint("eval/loss", s, base + 0.3 + 1.0 / math.sqrt(s)))
    if epochs_per_step is not None:
        pts += [MetricPoint("train/epoch", int(s), float(s) * epochs_per_step) for s in steps]
    st.write_points(info.id, pts)
    return info


def _same(b: Comparison, f: Comparison) -> None:
    """The bounded comparison ``b`` says what the comparison of every point ``f`` says."""
    assert (b.metric, b.aggregate, b.basis, b.equal) == (f.metric, f.aggregate, f.basis, f.equal)
    assert b.horizon == pytest.approx(f.horizon)
    assert (b.better, b.runner_up) == (f.better, f.runner_up)
    for sb, sf in zip(b.sides, f.sides, strict=True):
        assert (sb.value, sb.at, sb.last, sb.diverged) == (sf.value, sf.at, sf.last, sf.diverged)
    assert b.summary == f.summary


@pytest.mark.parametrize(
    "case",
    ["final-unequal-lengths", "best-eval", "diverged", "epochs"],
)
def test_compare_of_long_runs_reads_a_bounded_sample_and_ranks_as_all_points(
    store_path: Path, case: str
) -> None:
    with Store(store_path) as st:
        if case == "final-unequal-lengths":  # the horizon falls inside the longer run
            a = _long_run(st, "a", LONG, base=0.8, seed=1, lr=2e-4)
            b = _long_run(st, "b", 70_000, base=0.7, seed=2, lr=1e-3)
        elif case == "best-eval":
            a = _long_run(st, "a", LONG, base=0.8, seed=1, lr=2e-4, eval_every=50)
            b = _long_run(st, "b", LONG, base=0.9, seed=2, lr=1e-3, eval_every=50)
        elif case == "diverged":
            a = _long_run(st, "a", LONG, base=0.8, seed=1, lr=2e-4)
            b = _long_run(st, "b", LONG, base=0.7, seed=2, lr=5e-3, nan_from=90_000)
        else:  # steps per epoch differ: compared at equal epochs
            a = _long_run(st, "a", LONG, base=0.8, seed=1, lr=2e-4, epochs_per_step=1 / 20_000)
            b = _long_run(st, "b", 80_000, base=0.7, seed=2, lr=1e-3, epochs_per_step=1 / 8_000)
        full = compare([st.load(a.id), st.load(b.id)], [None, None])
    assert LONG > WHOLE  # neither run is read whole
    ds = DataSource(store_path)
    runs = ds.compare_data([ds.run(a.id), ds.run(b.id)])
    _same(compare(runs, [None, None]), full)
    # every point of the compared metric is more than 150,000; a few thousand are read
    assert 0 < ds.compare_points_read < 10_000, ds.compare_points_read
    if case == "epochs":
        assert full.basis == "epoch"


def test_the_compare_page_of_two_long_runs_reads_a_bounded_number_of_points(
    store_path: Path,
) -> None:
    with Store(store_path) as st:
        a = _long_run(st, "slow-lr", LONG, base=0.8, seed=1, lr=2e-4)
        b = _long_run(st, "fast-lr", LONG, base=0.6, seed=2, lr=1e-3)
    app = create_app(store_path)
    ds: DataSource = app.app.state.data
    c = TestClient(app, base_url="http://127.0.0.1")
    page = c.get(f"/compare?runs={a.id},{b.id}")
    assert page.status_code == 200
    assert "fast-lr is better" in page.text
    # first view: no run was analysed, so no analysis ran; the verdicts are left to the script
    assert page.text.count('data-pending="1"') == 2
    assert 0 < ds.compare_points_read < 10_000
    assert ds.points_read == 0
    # the script's request analyses each run once and fills the verdicts in
    data = c.get(f"/api/compare?runs={a.id},{b.id}").json()
    assert [r["verdict"] for r in data["runs"]] != [None, None]
    assert data["comparison"]["runs"][data["comparison"]["better"]]["name"] == "fast-lr"
    again = c.get(f"/compare?runs={a.id},{b.id}")
    assert 'data-pending="1"' not in again.text  # now read from the store
    assert ds.compare_points_read < 20_000


def test_short_runs_are_read_whole_and_compare_as_before(store_path: Path) -> None:
    with Store(store_path) as st:
        a = _long_run(st, "a", 3000, base=0.8, seed=1, lr=2e-4, eval_every=50)
        b = _long_run(st, "b", 2000, base=0.7, seed=2, lr=1e-3, eval_every=50)
        full = compare([st.load(a.id), st.load(b.id)], [None, None])
    ds = DataSource(store_path)
    runs = ds.compare_data([ds.run(a.id), ds.run(b.id)])
    assert len(runs[0].series["eval/loss"]) == 60  # whole
    _same(compare(runs, [None, None]), full)


def test_the_compare_page_fills_in_verdicts_of_runs_never_analysed(
    store_path: Path, serve: Callable[..., str], page: Any
) -> None:
    with Store(store_path) as st:
        good, bad = make_lr_pair(st)
    base = serve(store_path)
    response = page.goto(f"{base}/compare?runs={bad.id},{good.id}")
    # the page as served (its script may fill the verdicts in before the DOM is read)
    assert response is not None and response.text().count('data-pending="1"') == 2
    page.wait_for_selector("#ll-root[data-filled]", timeout=30_000)
    assert page.locator(".ll-compare-run[data-pending]").count() == 0
    cards = page.locator(".ll-compare-run .ll-verdict")
    assert all((cards.nth(i).text_content() or "") != "…" for i in range(2))
    summary = page.locator(".ll-compare-summary").text_content() or ""
    assert "lr-2e-4 is better" in summary and "Only lr-5e-3" in summary
    assert page.errors == []


def test_a_resumed_run_with_repeated_steps_compares_as_all_points(store_path: Path) -> None:
    rng = np.random.default_rng(3)
    with Store(store_path) as st:
        infos = []
        for name, segments, base in (
            ("resumed", [(1, 80_000), (60_000, 100_000)], 0.8),  # steps 60k-80k logged twice
            ("plain", [(1, 90_000)], 0.82),
        ):
            info = st.create_run("x", name, status=RunStatus.FINISHED, config={"lr": len(name)})
            for lo, hi in segments:
                s = np.arange(lo, hi + 1)
                v = base + 2 * np.exp(-s / 20_000) + 0.05 * rng.standard_normal(len(s))
                pts = [
                    MetricPoint("train/loss", int(a), float(b)) for a, b in zip(s, v, strict=True)
                ]
                st.write_points(info.id, pts)
            infos.append(info)
        full = compare([st.load(i.id) for i in infos], [None, None])
    ds = DataSource(store_path)
    _same(compare(ds.compare_data([ds.run(i.id) for i in infos]), [None, None]), full)
    assert full.horizon == 90_000 and 0 < ds.compare_points_read < 10_000

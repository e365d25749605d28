"""The dashboard reads the findings kept in the store, and a live run costs its new points."""

from __future__ import annotations

import json
import math
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from losslens.model import MetricPoint, RunInfo, RunStatus
from losslens.store import Store
from losslens.store.findings import read_analyses
from losslens.ui.data import DataSource


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=60) as resp:
        return json.loads(resp.read())


def _points(a: int, b: int, *, nan_from: int | None = None) -> list[MetricPoint]:
    out = []
    for s in range(a, b):
        loss = 0.5 + 2.0 * math.exp(-s / 300) + 0.01 * math.sin(s)
        if nan_from is not None and s >= nan_from:
            loss = math.nan
        out += [
            MetricPoint("train/loss", s, loss, 1000.0 + s),
            MetricPoint("train/grad_norm", s, 0.8 + 0.01 * math.cos(s), 1000.0 + s),
        ]
    return out


def _run(
    st: Store, name: str, n: int, *, status: RunStatus, nan_from: int | None = None
) -> RunInfo:
    info = st.create_run("p", name, status=status, pid=None, host=None)
    st.write_points(info.id, _points(1, n + 1, nan_from=nan_from))
    return info


def test_the_verdict_filter_works_on_a_fresh_server(
    store_path: Path, serve: Callable[..., str]
) -> None:
    with Store(store_path) as st:  # never analysed: nothing stored yet
        good = _run(st, "good", 600, status=RunStatus.FINISHED)
        bad = _run(st, "bad", 600, status=RunStatus.FINISHED, nan_from=400)
        assert read_analyses(st.conn) == {}
    base = serve(store_path)
    failed = _get(f"{base}/api/runs?verdict=failed")
    assert [r["id"] for r in failed] == [bad.id]
    assert [r["id"] for r in _get(f"{base}/api/runs?verdict=healthy")] == [good.id]
    with Store(store_path) as st:  # kept: a second server reads them instead of analysing
        kept = read_analyses(st.conn)
    assert {k: v.verdict for k, v in kept.items()} == {good.id: "healthy", bad.id: "failed"}
    again = serve(store_path)
    rows = {r["id"]: r for r in _get(f"{again}/api/runs")}
    assert rows[bad.id]["verdict"] == "failed" and rows[bad.id]["n_findings"] >= 1
    assert rows[good.id]["final_loss"] is not None
    with Store(store_path) as st:
        assert {k: v.created_at for k, v in read_analyses(st.conn).items()} == {
            k: v.created_at for k, v in kept.items()
        }
    report = _get(f"{again}/api/runs/{bad.id}/report")
    assert report["verdict"] == "failed" and report["findings"]


def test_runs_table_loss_columns_match_the_points(store_path: Path) -> None:
    with Store(store_path) as st:
        info = _run(st, "stats", 700, status=RunStatus.FINISHED)
        st.write_points(info.id, [MetricPoint("train/loss", 701, math.nan)])
        s = st.series(info.id, "train/loss").finite
    ds = DataSource(store_path)
    stats = ds.loss_stats(ds.run(info.id))
    assert stats["final_loss"] == float(s.values[-1])
    assert stats["best_loss"] == float(s.values.min())
    assert stats["best_eval"] is None


def _live_poll_cost(store_path: Path, n: int) -> tuple[int, int, dict[str, Any]]:
    """Points read by a poll after ``k`` new points, on a live run of ``n`` steps."""
    with Store(store_path) as st:
        info = st.create_run("p", f"live-{n}", status=RunStatus.RUNNING)
        st.update_run(info.id, heartbeat=time.time())
        st.write_points(info.id, _points(1, n + 1))
    ds = DataSource(store_path)
    first = ds.live_poll(ds.run(info.id), n)  # the page has every point up to n
    assert first["points"] == {} and first["report"] is not None
    polls = []
    for a in range(n + 1, n + 201, 20):  # 20 new steps (40 points) between polls
        with Store(store_path) as st:
            st.write_points(info.id, _points(a, a + 20))
            st.update_run(info.id, heartbeat=time.time())
        before = ds.points_read
        got = ds.live_poll(ds.run(info.id), a - 1)
        polls.append(ds.points_read - before)
        assert got["last_step"] == a + 19
        assert got["points"]["train/loss"]["x"] == list(range(a, a + 20))
    before = ds.points_read
    idle = ds.live_poll(ds.run(info.id), n + 200)  # nothing new: nothing read
    assert ds.points_read == before and idle["points"] == {}
    return max(polls), min(polls), idle


def test_a_live_poll_reads_only_the_new_points(tmp_path: Path) -> None:
    short = _live_poll_cost(tmp_path / "a.db", 500)
    long = _live_poll_cost(tmp_path / "b.db", 20_000)
    # 40 new points, read once for the page and once for the incremental analyzer
    assert short[:2] == long[:2] == (80, 80)


def test_a_live_run_reports_a_nan_at_the_next_poll(store_path: Path) -> None:
    with Store(store_path) as st:
        info = st.create_run("p", "live-nan", status=RunStatus.RUNNING)
        st.update_run(info.id, heartbeat=time.time())
        st.write_points(info.id, _points(1, 3001))
    ds = DataSource(store_path)
    assert ds.live_poll(ds.run(info.id), 3000)["report"].verdict != "failed"
    with Store(store_path) as st:
        st.write_points(info.id, _points(3001, 3003, nan_from=3001))
        st.update_run(info.id, heartbeat=time.time())
    got = ds.live_poll(ds.run(info.id), 3000)
    assert got["report"].verdict == "failed"
    assert any(f.rule_id == "LL101" for f in got["report"].findings)


def test_the_poll_api_sends_new_points_at_once_and_findings_when_ready(
    store_path: Path, serve: Callable[..., str]
) -> None:
    with Store(store_path) as st:
        info = st.create_run("p", "live-api", status=RunStatus.RUNNING)
        st.update_run(info.id, heartbeat=time.time())
        st.write_points(info.id, _points(1, 2001))
    base = serve(store_path)
    first = _get(f"{base}/api/runs/{info.id}/poll?after=1990")
    assert first["status"] == "running" and first["last_step"] == 2000
    assert first["points"]["train/loss"]["x"] == list(range(1991, 2001))
    with Store(store_path) as st:
        st.write_points(info.id, _points(2001, 2003, nan_from=2001))
        st.update_run(info.id, heartbeat=time.time())
    deadline = time.monotonic() + 60
    while True:
        got = _get(f"{base}/api/runs/{info.id}/poll?after=2000")
        assert got["points"]["train/loss"]["x"] == [2001, 2002]
        assert got["points"]["train/loss"]["y"] == [None, None]  # NaN
        if got["verdict"] == "failed":
            break
        assert time.monotonic() < deadline, got
        time.sleep(0.2)
    assert any(f["rule_id"] == "LL101" for f in got["findings"])

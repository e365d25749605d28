"""The runs table of runs from several machines, and the live page's held polls."""

from __future__ import annotations

import json
import math
import re
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from extras import needs

needs("starlette", "ui")

from starlette.testclient import TestClient  # noqa: E402

from losslens.model import MetricPoint, RunStatus  # noqa: E402
from losslens.present.style import sparkline_points, sparklines_points  # noqa: E402
from losslens.store import Store  # noqa: E402
from losslens.ui import create_app  # noqa: E402
from losslens.ui.pages import spark_lines  # noqa: E402


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=60) as resp:
        return json.loads(resp.read())


def _loss(st: Store, run_id: str, a: int, b: int) -> None:
    st.write_points(run_id, [MetricPoint("train/loss", s, 2.0 / (1 + s)) for s in range(a, b)])


def test_the_runs_table_shows_the_host_of_each_run(store_path: Path) -> None:
    with Store(store_path) as st:
        box = st.create_run("team", "on-the-gpu-box", status=RunStatus.FINISHED, host="gpu-box-7")
        lap = st.create_run("team", "on-a-laptop", status=RunStatus.FINISHED, host="<laptop>")
        none = st.create_run("team", "imported", status=RunStatus.FINISHED)
        for info in (box, lap, none):
            _loss(st, info.id, 1, 50)
    c = TestClient(create_app(store_path), base_url="http://127.0.0.1")
    rows = {r["id"]: r for r in c.get("/api/runs").json()}
    assert rows[box.id]["host"] == "gpu-box-7" and rows[lap.id]["host"] == "<laptop>"
    assert rows[none.id]["host"] is None
    html = c.get("/").text
    assert '<th data-sort="host" class="ll-c-host">host</th>' in html
    cells = dict(
        re.findall(r'<tr data-id="([^"]+)".*?<td class="ll-c-host[^"]*">([^<]*)</td>', html, re.S)
    )
    assert cells == {box.id: "gpu-box-7", lap.id: "&lt;laptop&gt;", none.id: "-"}
    assert 'data-host="gpu-box-7"' in html and "<laptop>" not in html  # escaped, sortable
    ko = c.get("/?lang=ko").text
    assert '<th data-sort="host" class="ll-c-host">호스트</th>' in ko


def test_sparklines_of_many_runs_at_once_are_those_of_each_run() -> None:
    curves = [
        ([1.0, 2.0, 3.0, 4.0] * 30, [3.0, 2.0, math.nan, 1.0] * 30),
        ([float(i) for i in range(500)], [1.0 / (1 + i) for i in range(500)]),
        ([1.0, 1.0], [2.0, 2.0]),
        ([5.0], [1.0]),
        ([], []),
    ]
    curves = [(sorted(x), y) for x, y in curves]
    from losslens.render.downsample import bucket_means

    one = []
    for x, y in curves:
        bm = bucket_means(x, y, 48) if x else None
        one.append(sparkline_points(bm.mean.tolist()) if bm is not None else "")
    assert spark_lines(curves) == one
    values = [[1.0, math.inf, 0.5, 0.25], [2.0], [3.0, 3.0, 3.0]]
    assert sparklines_points(values) == [sparkline_points(v) for v in values]


def test_a_held_poll_answers_when_the_next_point_is_committed(
    store_path: Path, serve: Callable[..., str]
) -> None:
    with Store(store_path) as st:
        info = st.create_run("p", "live", status=RunStatus.RUNNING)
        _loss(st, info.id, 1, 101)
    base = serve(store_path)
    got: dict[str, Any] = {}

    def held() -> None:  # sent while nothing past step 100 exists
        got.update(_get(f"{base}/api/runs/{info.id}/poll?after=100&wait=30"))

    t = threading.Thread(target=held)
    t.start()
    time.sleep(0.5)
    assert t.is_alive()  # held open: nothing new yet
    with Store(store_path) as st:
        _loss(st, info.id, 101, 103)
    t.join(60)
    assert not t.is_alive()
    assert got["points"]["train/loss"]["x"] == [101, 102] and got["last_step"] == 102


def test_a_held_poll_ends_empty_and_a_finished_run_is_never_held(
    store_path: Path, serve: Callable[..., str]
) -> None:
    with Store(store_path) as st:
        live = st.create_run("p", "live", status=RunStatus.RUNNING)
        done = st.create_run("p", "done", status=RunStatus.FINISHED)
        for info in (live, done):
            _loss(st, info.id, 1, 11)
    base = serve(store_path)
    empty = _get(f"{base}/api/runs/{live.id}/poll?after=10&wait=1")
    assert empty["status"] == "running" and empty["points"] == {} and empty["last_step"] == 10
    finished = _get(f"{base}/api/runs/{done.id}/poll?after=10&wait=30")
    assert finished["status"] == "finished" and finished["points"] == {}
    # and a run that finishes while a poll is held ends it
    out: dict[str, Any] = {}
    t = threading.Thread(
        target=lambda: out.update(_get(f"{base}/api/runs/{live.id}/poll?after=10&wait=30"))
    )
    t.start()
    time.sleep(0.3)
    with Store(store_path) as st:
        st.update_run(live.id, status=RunStatus.FINISHED, end_time=time.time())
    t.join(60)
    assert not t.is_alive() and out["status"] == "finished"


@pytest.mark.parametrize("wait", ["-1", "31", "x"])
def test_a_wait_out_of_range_is_refused(store_path: Path, wait: str) -> None:
    with Store(store_path) as st:
        info = st.create_run("p", "r", status=RunStatus.RUNNING)
    c = TestClient(create_app(store_path), base_url="http://127.0.0.1")
    r = c.get(f"/api/runs/{info.id}/poll?after=0&wait={wait}")
    assert r.status_code == 400 and "wait" in r.json()["error"]

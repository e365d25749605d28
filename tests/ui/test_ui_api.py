"""Every API route and page, in process, on a real SQLite store."""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path

import pytest

from extras import needs

needs("starlette", "ui")

from starlette.testclient import TestClient  # noqa: E402
from ui_helpers import make_run  # noqa: E402

from losslens.model import MetricPoint, RunStatus  # noqa: E402
from losslens.store import Store  # noqa: E402
from losslens.ui import create_app  # noqa: E402

XSS = "<img src=x onerror=alert(1)>"


def client(path: Path, **options: object) -> TestClient:
    return TestClient(create_app(path, **options), base_url="http://127.0.0.1")


def write_token(c: TestClient, url: str = "/") -> str:
    m = re.search(r'name="ll-token" content="([^"]+)"', c.get(url).text)
    assert m
    return m.group(1)


def test_runs_list_and_filters(store: Store, store_path: Path) -> None:
    a = make_run(store, "alpha", project="p1")
    make_run(store, "beta", project="p2", seed=2)
    c = client(store_path)
    rows = c.get("/api/runs").json()
    assert {r["name"] for r in rows} == {"alpha", "beta"}
    row = next(r for r in rows if r["id"] == a.id)
    assert row["status"] == "finished"
    assert row["final_loss"] == pytest.approx(store.series(a.id, "train/loss").values[-1], rel=1e-9)
    assert row["best_loss"] <= row["final_loss"]
    assert dict(row["key_config"])["learning_rate"] == 2e-4
    assert [r["name"] for r in c.get("/api/runs?project=p2").json()] == ["beta"]
    assert [r["name"] for r in c.get("/api/runs?q=alp").json()] == ["alpha"]
    assert c.get("/api/runs?status=running").json() == []
    projects = c.get("/api/projects").json()
    assert projects == [{"name": "p1", "runs": 1}, {"name": "p2", "runs": 1}]


def test_run_detail_and_data(store: Store, store_path: Path) -> None:
    info = make_run(store, steps=300)
    c = client(store_path)
    d = c.get(f"/api/runs/{info.id}").json()
    assert [g["id"] for g in d["groups"]][:4] == ["loss", "lr", "grad", "epoch"]
    assert {"kind": "system", "key": "system/cpu_percent"} in d["keys"]
    data = c.get(f"/api/runs/{info.id}/data?width=600").json()
    groups = {g["id"]: g for g in data["groups"]}
    loss = {s["key"]: s for s in groups["loss"]["series"]}
    assert loss["train/loss"]["n_total"] == 300 == len(loss["train/loss"]["x"])
    assert loss["eval/loss"]["n_total"] == 10
    sysu = groups["sys-util"]
    assert sysu["x"] == "time" and sysu["series"][0]["x"][:2] == [0.0, 5.0]
    # A narrow chart gets at most 4 points per pixel column, extremes included.
    small = c.get(f"/api/runs/{info.id}/data?width=50&group=loss").json()["groups"][0]
    tl = small["series"][0]
    assert tl["n_shown"] <= 200 and "mean" in tl and sum(tl["mean"]["n"]) == 300
    assert max(v for v in tl["y"] if v is not None) == pytest.approx(
        float(store.series(info.id, "train/loss").values.max()), rel=1e-6
    )
    # Zoom: only the step range (plus one neighbour each side), at full resolution.
    z = c.get(f"/api/runs/{info.id}/data?group=loss&step_min=100&step_max=150&width=800").json()
    assert z["groups"][0]["series"][0]["x"] == list(range(99, 152))
    keys = c.get(f"/api/runs/{info.id}/data?keys=train/grad_norm").json()["groups"]
    assert [g["id"] for g in keys] == ["grad"]
    assert c.get(f"/api/runs/{info.id}/data?group=nope").status_code == 400
    assert c.get(f"/api/runs/{info.id}/data?width=abc").status_code == 400


def test_nan_points_are_null_and_listed(store: Store, store_path: Path) -> None:
    info = store.create_run("p", "nan-run")
    store.write_points(
        info.id, [MetricPoint("loss", s, math.nan if s == 3 else 1.0 / s) for s in range(1, 6)]
    )
    body = client(store_path).get(f"/api/runs/{info.id}/data").text
    assert "NaN" not in body.replace('"NaN"', "")  # strict JSON: no bare NaN token
    s = client(store_path).get(f"/api/runs/{info.id}/data").json()["groups"][0]["series"][0]
    assert s["y"][2] is None and s["nonfinite"] == [[3, "NaN"]]


def test_report_uses_the_real_analysis(store: Store, store_path: Path) -> None:
    analysis = pytest.importorskip("losslens.analysis")
    if not hasattr(analysis, "analyze"):
        pytest.skip("losslens.analysis.analyze is not there yet")
    info = make_run(store, steps=300, spike_at=150)
    c = client(store_path)
    r = c.get(f"/api/runs/{info.id}/report").json()
    assert r["verdict"] in ("healthy", "needs_attention", "failed")
    assert r["summary"]
    for f in r["findings"]:
        assert f["title"] and f["severity"] in ("info", "warning", "error")
        assert f["group"] is not None
    ko = c.get(f"/api/runs/{info.id}/report?lang=ko").json()
    assert ko["verdict"] == r["verdict"]
    # Now cached: the runs table shows the verdict.
    row = next(x for x in c.get("/api/runs").json() if x["id"] == info.id)
    assert row["verdict"] == r["verdict"]


def test_poll_version_changes_with_new_points(store: Store, store_path: Path) -> None:
    info = store.create_run("p", "live")
    store.write_points(info.id, [MetricPoint("loss", s, 1.0) for s in range(10)])
    c = client(store_path)
    v1 = c.get(f"/api/runs/{info.id}/poll").json()
    assert v1["status"] == "running"
    first = c.get(f"/api/runs/{info.id}/data").json()["groups"][0]["series"][0]
    assert first["n_total"] == 10
    store.write_points(
        info.id, [MetricPoint("loss", s, 0.5) for s in range(10, 25)], heartbeat=True
    )
    # A point logged late, at an earlier step, lands in order too.
    store.write_points(info.id, [MetricPoint("loss", 5, 9.0)], heartbeat=True)
    v2 = c.get(f"/api/runs/{info.id}/poll").json()
    assert v2["version"] != v1["version"]
    s = c.get(f"/api/runs/{info.id}/data").json()["groups"][0]["series"][0]
    assert s["n_total"] == 26
    assert s["x"] == sorted(s["x"]) and s["y"][s["x"].index(5) + 1] == 9.0
    assert s["y"] == [float(v) for v in store.series(info.id, "loss").values]


def test_compare_diff_and_overlay(store: Store, store_path: Path) -> None:
    a = make_run(store, "a", config={"lr": 1e-4, "r": 8, "same": "x", "nested": {"k": 1}})
    b = make_run(store, "b", seed=3, config={"lr": 2e-4, "r": 8, "same": "x", "nested": {"k": 2}})
    c = client(store_path)
    cmp = c.get(f"/api/compare?runs={a.id},{b.id}").json()
    assert cmp["config_diff"] == [
        {"key": "lr", "values": [1e-4, 2e-4]},
        {"key": "nested.k", "values": [1, 2]},
    ]
    assert [r["name"] for r in cmp["runs"]] == ["a", "b"]
    data = c.get(f"/api/compare/data?runs={a.id},{b.id}&width=800").json()
    loss = next(g for g in data["groups"] if g["id"] == "loss")
    # Short legends (run, then train/eval); the run index gives each run one colour.
    labels = [s["label"] for s in loss["series"]]
    assert labels == ["a · train", "a · eval", "b · train", "b · eval"]
    assert [s["run"] for s in loss["series"]] == [0, 0, 1, 1]
    lr = next(g for g in data["groups"] if g["id"] == "lr")
    assert [s["label"] for s in lr["series"]] == ["a", "b"]
    page = c.get(f"/compare?runs={a.id},{b.id}")
    assert page.status_code == 200 and "nested.k" in page.text
    assert c.get("/api/compare/data").status_code == 400
    assert c.get("/compare").status_code == 400


def test_pages_escape_user_text(store: Store, store_path: Path) -> None:
    info = make_run(store, XSS, config={XSS: XSS})
    store.write_points(info.id, [MetricPoint(XSS, 1, 1.0)])
    c = client(store_path)
    for url in ("/", f"/runs/{info.id}", f"/compare?runs={info.id},{info.id}"):
        html = c.get(url).text
        assert XSS not in html, url
        assert "&lt;img src=x onerror=alert(1)&gt;" in html, url
    api = c.get(f"/api/runs/{info.id}/data")
    assert api.headers["content-type"] == "application/json"
    assert api.headers["x-content-type-options"] == "nosniff"
    other = next(g for g in api.json()["groups"] if g["id"] == "other:" + XSS)
    assert other["title"] == XSS  # data stays data: the page writes it with textContent
    run_page = c.get(f"/runs/{info.id}")
    assert "script-src 'self'" in run_page.headers["content-security-policy"]
    assert run_page.headers["x-frame-options"] == "DENY"


def test_pages_and_static(store: Store, store_path: Path) -> None:
    info = make_run(store)
    c = client(store_path)
    assert c.get("/").status_code == 200
    assert "qwen-lora" in c.get("/?project=demo").text
    assert c.get("/?project=nothing").text.count("ll-run-link") == 0
    assert "<h2>발견 사항</h2>" in c.get(f"/runs/{info.id}?lang=ko").text
    r = c.get("/static/uPlot-1.6.32.iife.min.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/javascript")
    for bad in ("/static/app.py", "/static/..%2fapp.py", "/static/%2e%2e/templates/base.html"):
        assert c.get(bad).status_code == 404
    missing = c.get("/runs/zzzzzz")
    assert missing.status_code == 404 and "no run" in missing.text
    assert c.get("/api/runs/zzzzzz").json()["error"].startswith("no run")


def test_rename_and_delete_need_the_token(store: Store, store_path: Path) -> None:
    info = make_run(store)
    c = client(store_path)
    url = f"/api/runs/{info.id}"
    assert c.post(url + "/rename", json={"name": "new"}).status_code == 403
    assert c.delete(url).status_code == 403
    token = write_token(c)
    h = {"X-Losslens-Token": token}
    assert c.post(url + "/rename", json={"name": "  "}, headers=h).status_code == 400
    assert c.post(url + "/rename", json={"name": "renamed"}, headers=h).json()["name"] == "renamed"
    assert store.get_run(info.id).name == "renamed"
    # A cookie is not enough for writes (no cross-site requests).
    c.cookies.set("losslens_token", token)
    assert c.delete(url).status_code == 403
    c.cookies.clear()
    assert c.delete(url, headers=h).json() == {"id": info.id, "deleted": True}
    assert c.get(url).status_code == 404


def test_loopback_mode_refuses_other_hosts(store: Store, store_path: Path) -> None:
    make_run(store)
    c = client(store_path)
    assert c.get("/api/runs", headers={"host": "attacker.example"}).status_code == 421
    assert c.get("/api/runs", headers={"host": "localhost:8765"}).status_code == 200
    assert c.get("/api/runs", headers={"host": "[::1]:8765"}).status_code == 200


def test_token_mode_needs_the_token_everywhere(store: Store, store_path: Path) -> None:
    info = make_run(store)
    c = TestClient(create_app(store_path, token="s3cret"), base_url="http://10.0.0.5")
    for url in ("/", f"/runs/{info.id}", "/api/runs", "/static/losslens.js"):
        assert c.get(url).status_code == 401, url
    assert c.get("/api/runs", headers={"X-Losslens-Token": "wrong"}).status_code == 401
    assert c.get("/api/runs", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    first = c.get("/?token=s3cret")
    assert first.status_code == 200
    assert (
        "HttpOnly" in first.headers["set-cookie"]
        and "SameSite=Strict" in first.headers["set-cookie"]
    )
    # The cookie set by ?token= carries the next requests.
    assert c.get("/api/runs").status_code == 200
    assert c.post(f"/api/runs/{info.id}/rename", json={"name": "x"}).status_code == 403
    ok = c.post(
        f"/api/runs/{info.id}/rename", json={"name": "x"}, headers={"X-Losslens-Token": "s3cret"}
    )
    assert ok.status_code == 200


def test_missing_store_is_one_clear_error(tmp_path: Path) -> None:
    from losslens.errors import StoreError

    with pytest.raises(StoreError, match="no store"):
        create_app(tmp_path / "nothing.db")


def test_live_status_shows_running_then_finished(store: Store, store_path: Path) -> None:
    info = store.create_run("p", "r")
    c = client(store_path)
    assert c.get(f"/api/runs/{info.id}/poll").json()["status"] == "running"
    store.update_run(info.id, status=RunStatus.FINISHED)
    assert c.get(f"/api/runs/{info.id}/poll").json()["status"] == "finished"


@pytest.mark.parametrize("steps", [120, 5000])
def test_runs_page_sparkline_follows_the_loss(store: Store, store_path: Path, steps: int) -> None:
    """Short runs are drawn from their points, long ones from the rollup sub-blocks (the page
    never reads a long series): either way the line falls from the top left to the bottom right."""
    info = store.create_run("spark", f"falling-{steps}", status=RunStatus.FINISHED)
    store.write_points(
        info.id,
        [MetricPoint("train/loss", s, 3.0 - 2.0 * s / steps) for s in range(steps)],
    )
    html = client(store_path).get("/?project=spark").text
    pts = re.search(r'<polyline points="([^"]+)"', html)
    assert pts is not None
    ys = [float(p.split(",")[1]) for p in pts.group(1).split()]
    assert len(ys) >= 40
    assert ys[0] == pytest.approx(2.0, abs=0.5) and ys[-1] == pytest.approx(22.0, abs=0.5)
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(ys))

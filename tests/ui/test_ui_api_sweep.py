"""Every parameter of every API route, sent hostile values: a JSON 400 (or 200/404), never 500."""

from __future__ import annotations

import gzip
from pathlib import Path
from urllib.parse import quote

import pytest

from extras import needs

needs("starlette", "ui")

from starlette.testclient import TestClient  # noqa: E402
from ui_helpers import make_run  # noqa: E402

from losslens.store import Store  # noqa: E402
from losslens.ui import create_app  # noqa: E402

HOSTILE = ["inf", "-inf", "Infinity", "NaN", "1e400", "-1e400", str(2**70), str(-(2**70)), "-5",
           "", "abc", "1.5", "0x10", "\x00", "%", " ", "9" * 400]  # fmt: skip

#: route -> the query parameters it reads (``{ref}``, ``{runs}`` filled in per test).
ROUTES = {
    "/api/projects": [],
    "/api/runs": ["project", "status", "verdict", "q"],
    "/api/runs/{ref}": ["lang"],
    "/api/runs/{ref}/data": ["width", "group", "keys", "step_min", "step_max", "lang"],
    "/api/runs/{ref}/report": ["lang"],
    "/api/runs/{ref}/poll": [],
    "/api/compare": ["runs", "lang"],
    "/api/compare/data": ["runs", "width", "group", "step_min", "step_max", "lang"],
}
NUMERIC = {"width", "step_min", "step_max"}


def fresh(store_path: Path) -> TestClient:
    return TestClient(create_app(store_path), base_url="http://127.0.0.1")


def check(c: TestClient, url: str) -> int:
    r = c.get(url)
    assert r.status_code != 500, (url, r.text[:200])
    assert r.headers["content-type"].startswith("application/json"), url
    if r.status_code >= 400:
        body = r.json()
        assert isinstance(body.get("error"), str) and body["error"], url
    return r.status_code


@pytest.fixture
def runs(store: Store) -> tuple[str, str]:
    a = make_run(store, "a", steps=120, system=False)
    b = make_run(store, "b", steps=80, seed=3, system=False)
    return a.id, b.id


def test_every_parameter_of_every_route(store_path: Path, runs: tuple[str, str]) -> None:
    ref, other = runs
    c = fresh(store_path)
    for route, params in ROUTES.items():
        base = route.format(ref=ref)
        defaults = {"runs": f"{ref},{other}"} if route.startswith("/api/compare") else {}
        for name in params:
            for value in HOSTILE:
                q = {**defaults, name: value}
                url = base + "?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in q.items())
                code = check(c, url)
                if name in NUMERIC and not (name.startswith("step") and value == "-5"):
                    assert code == 400, url  # nothing malformed or out of range is accepted
        # the path parameter too
        if "{ref}" in route:
            for value in HOSTILE:
                if value.strip():
                    check(c, route.format(ref=quote(value, safe="")))


def test_step_bounds_beyond_int64_on_a_fresh_server(
    store_path: Path, runs: tuple[str, str]
) -> None:
    ref, other = runs
    for q in (f"step_min={2**63}", f"step_max={-(2**63) - 1}", "step_min=1e300", "width=inf"):
        assert fresh(store_path).get(f"/api/runs/{ref}/data?{q}").status_code == 400
        url = f"/api/compare/data?runs={ref},{other}&{q}"
        assert fresh(store_path).get(url).status_code == 400
    # the largest int64 bounds are fine: an empty or whole range
    ok = fresh(store_path).get(f"/api/runs/{ref}/data?step_min={-(2**63)}&step_max={2**63 - 1}")
    assert ok.status_code == 200


def test_good_values_still_work(store_path: Path, runs: tuple[str, str]) -> None:
    ref, other = runs
    c = fresh(store_path)
    assert c.get(f"/api/runs/{ref}/data?width=50&step_min=10&step_max=20").status_code == 200
    assert c.get(f"/api/runs/{ref}/data?width=1e3").status_code == 200  # a whole number
    assert c.get(f"/api/runs/{ref}/data?step_min=30&step_max=20").status_code == 400
    assert c.get(f"/api/compare/data?runs={ref},{other}&group=nope").status_code == 400
    assert c.get(f"/api/compare/data?runs={ref},{other}&group=loss").status_code == 200
    # The step -> seconds map for the time axes: step s was logged s seconds after the start.
    clock = c.get(f"/api/runs/{ref}/data").json()["clock"]
    assert clock["x"] == sorted(clock["x"]) and len(clock["x"]) >= 100
    assert clock["t"] == [float(x) for x in clock["x"]]
    clocks = c.get(f"/api/compare/data?runs={ref},{other}").json()["clocks"]
    assert len(clocks) == 2 and all(k["x"] for k in clocks)
    too_many = ",".join([ref] * 21)
    r = c.get(f"/api/compare?runs={too_many}")
    assert r.status_code == 400 and "at most 20" in r.json()["error"]


def test_rename_refuses_control_characters(store_path: Path, runs: tuple[str, str]) -> None:
    ref, _ = runs
    c = fresh(store_path)
    token = c.get("/").text.split('name="ll-token" content="', 1)[1].split('"', 1)[0]
    h = {"X-Losslens-Token": token}
    for bad in ("a\x00b", "line\nbreak", "\x1b[2J", ""):
        r = c.post(f"/api/runs/{ref}/rename", json={"name": bad}, headers=h)
        assert r.status_code == 400 and r.json()["error"], bad
    for body in ("not json", "[1]", '{"name": 5}', "\x00"):
        r = c.post(f"/api/runs/{ref}/rename", content=body, headers=h)
        assert r.status_code == 400, body
    assert c.post(f"/api/runs/{ref}/rename", json={"name": "ok"}, headers=h).status_code == 200


def test_chart_data_is_compressed(store_path: Path, runs: tuple[str, str]) -> None:
    ref, _ = runs
    c = fresh(store_path)
    r = c.get(f"/api/runs/{ref}/data", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers.get("content-encoding") == "gzip"
    raw = c.get(f"/api/runs/{ref}/data", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in raw.headers
    assert len(gzip.compress(raw.content)) < len(raw.content) / 2

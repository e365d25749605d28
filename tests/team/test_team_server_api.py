"""The ingest API of ``losslens server`` (starlette's TestClient, a real PostgreSQL store):
tokens and scopes, malformed bodies, idempotent batches, non-finite values."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import pytest

from extras import needs

needs("psycopg", "team")
needs("starlette", "team")
needs("httpx", "dev")

from starlette.testclient import TestClient  # noqa: E402

from losslens.server.app import MAX_POINTS, create_app  # noqa: E402
from losslens.server.tokens import create_token, revoke_token  # noqa: E402
from losslens.store.pg import PgStore  # noqa: E402

API = "/api/v1"


@pytest.fixture
def store(pg_store_url: str) -> Iterator[PgStore]:
    with PgStore(pg_store_url) as s:
        yield s


@pytest.fixture
def client(store: PgStore) -> Iterator[TestClient]:
    with TestClient(create_app(store), raise_server_exceptions=False) as c:
        yield c


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def tokens(store: PgStore) -> dict[str, dict[str, str]]:
    """Write and read tokens of project 'alpha', a write token of 'beta', a revoked one."""
    revoked_info, revoked = create_token(store, "alpha")
    revoke_token(store, revoked_info.id)
    return {
        "write": bearer(create_token(store, "alpha", name="box-1")[1]),
        "read": bearer(create_token(store, "alpha", scope="read")[1]),
        "beta": bearer(create_token(store, "beta")[1]),
        "revoked": bearer(revoked),
    }


def make_run(client: TestClient, headers: dict[str, str], run_id: str, **extra: Any) -> Any:
    got = client.post(f"{API}/runs", headers=headers, json={"id": run_id, **extra})
    assert got.status_code in (200, 201), got.text
    return got.json()


def batch(n: int, start: int = 0, key: str = "train/loss") -> list[list[Any]]:
    return [[key, "metric", s, 1000.0 + s, 1.0 / (s + 1)] for s in range(start, start + n)]


def test_runs_points_heartbeat_patch_and_list(
    client: TestClient, store: PgStore, tokens: dict[str, dict[str, str]]
) -> None:
    w = tokens["write"]
    created = make_run(
        client, w, "r1", name="sft", host="gpu-07", pid=4242, config={"lr": 2e-5}, start_time=5.0
    )
    assert created["created"] is True and created["project"] == "alpha"
    again = make_run(client, w, "r1", name="sft-renamed")  # create-or-update by client id
    assert again["created"] is False and again["name"] == "sft-renamed"
    assert again["host"] == "gpu-07" and again["start_time"] == 5.0

    points = [
        *batch(3),
        ["train/grad_norm", "metric", 0, None, "NaN"],
        ["train/grad_norm", "metric", 1, None, "Infinity"],
        ["train/grad_norm", "metric", 2, None, "-Infinity"],
        ["gpu/util", "system", 0, 1000.0, 97],
    ]
    got = client.post(f"{API}/runs/r1/points", headers=w, json={"points": points})
    assert got.status_code == 200 and got.json() == {"accepted": 7}
    grad = store.series("r1", "train/grad_norm")
    assert math.isnan(grad.values[0]) and list(grad.values[1:]) == [math.inf, -math.inf]
    assert math.isnan(grad.wall_times[0])
    assert store.series("r1", "gpu/util", kind="system").values.tolist() == [97.0]
    assert store.series("r1", "train/loss").wall_times.tolist() == [1000.0, 1001.0, 1002.0]

    assert client.post(f"{API}/runs/r1/heartbeat", headers=w).status_code == 200
    patched = client.patch(
        f"{API}/runs/r1",
        headers=w,
        json={"status": "finished", "end_time": 99.0, "summary": {"best": "NaN", "n": 3}},
    )
    assert patched.status_code == 200, patched.text
    info = store.get_run("r1")
    assert info.status == "finished" and info.end_time == 99.0
    assert info.summary["n"] == 3 and info.heartbeat is not None

    listed = client.get(f"{API}/runs", headers=tokens["read"])
    assert listed.status_code == 200
    body = listed.json()
    assert body["project"] == "alpha"
    assert [(r["id"], r["host"], r["status"]) for r in body["runs"]] == [
        ("r1", "gpu-07", "finished")
    ]
    one = client.get(f"{API}/runs/r1", headers=tokens["read"])
    assert one.status_code == 200 and one.json()["last_step"] == 2
    # the other project sees none of it
    assert client.get(f"{API}/runs", headers=tokens["beta"]).json()["runs"] == []


def test_a_retried_batch_stores_nothing_twice(
    client: TestClient, store: PgStore, tokens: dict[str, dict[str, str]]
) -> None:
    w = tokens["write"]
    make_run(client, w, "r2")
    first = batch(1000)
    for _ in range(3):
        got = client.post(f"{API}/runs/r2/points", headers=w, json={"points": first})
        assert got.json() == {"accepted": 1000}
    overlapping = batch(1000, start=500)
    overlapping[0][4] = 123.0  # a different value for a stored step: the first one stays
    client.post(f"{API}/runs/r2/points", headers=w, json={"points": overlapping})
    series = store.series("r2", "train/loss")
    assert series.steps.tolist() == list(range(1500))
    assert series.values[500] == pytest.approx(1 / 501)
    assert store.count_points("r2") == 1500


def test_tokens_are_checked(client: TestClient, tokens: dict[str, dict[str, str]]) -> None:
    make_run(client, tokens["write"], "mine")
    make_run(client, tokens["beta"], "theirs")
    points = {"points": batch(2)}
    cases: list[tuple[str, str, dict[str, str], Any, int]] = [
        ("GET", f"{API}/runs", {}, None, 401),
        ("GET", f"{API}/runs", {"Authorization": "Basic abc"}, None, 401),
        ("GET", f"{API}/runs", bearer("ll_not-a-token"), None, 401),
        ("GET", f"{API}/runs", bearer("x" * 10_000), None, 401),
        ("POST", f"{API}/runs/mine/points", tokens["revoked"], points, 401),
        ("GET", f"{API}/runs", tokens["revoked"], None, 401),
        ("POST", f"{API}/runs", tokens["read"], {"id": "new"}, 403),
        ("POST", f"{API}/runs/mine/points", tokens["read"], points, 403),
        ("POST", f"{API}/runs/mine/heartbeat", tokens["read"], None, 403),
        ("PATCH", f"{API}/runs/mine", tokens["read"], {"status": "finished"}, 403),
        ("POST", f"{API}/runs/theirs/points", tokens["write"], points, 403),
        ("PATCH", f"{API}/runs/theirs", tokens["write"], {"status": "killed"}, 403),
        ("GET", f"{API}/runs/theirs", tokens["read"], None, 403),
        ("POST", f"{API}/runs", tokens["write"], {"id": "theirs"}, 403),
        ("POST", f"{API}/runs", tokens["write"], {"id": "x", "project": "beta"}, 403),
        ("POST", f"{API}/runs/nope/points", tokens["write"], points, 404),
    ]
    for method, url, headers, body, status in cases:
        got = client.request(method, url, headers=headers, json=body)
        assert got.status_code == status, (method, url, got.text)
        assert isinstance(got.json()["error"], str)
    assert client.get(f"{API}/runs/theirs", headers=tokens["beta"]).status_code == 200
    assert client.get(f"{API}/health").json()["ok"] is True  # no token needed


BAD_POINTS: list[Any] = [
    None,
    "points",
    {"a": 1},
    [["k", "metric", 0, None]],
    [["k", "metric", 0, None, 1.0, 2.0]],
    [["", "metric", 0, None, 1.0]],
    [[7, "metric", 0, None, 1.0]],
    [["k\x00", "metric", 0, None, 1.0]],
    [["k" * 600, "metric", 0, None, 1.0]],
    [["k", "eval", 0, None, 1.0]],
    [["k", "metric", 1.5, None, 1.0]],
    [["k", "metric", "3", None, 1.0]],
    [["k", "metric", True, None, 1.0]],
    [["k", "metric", 2**63, None, 1.0]],
    [["k", "metric", 0, "yesterday", 1.0]],
    [["k", "metric", 0, None, "1.0"]],
    [["k", "metric", 0, None, "nan"]],
    [["k", "metric", 0, None, None]],
    [["k", "metric", 0, None, True]],
    [["k", "metric", 0, None, [1]]],
    [*batch(3), "oops"],
]


@pytest.mark.parametrize("points", BAD_POINTS, ids=range(len(BAD_POINTS)))
def test_malformed_points_are_400_and_store_nothing(
    client: TestClient, store: PgStore, tokens: dict[str, dict[str, str]], points: Any
) -> None:
    make_run(client, tokens["write"], "r3")
    got = client.post(f"{API}/runs/r3/points", headers=tokens["write"], json={"points": points})
    assert got.status_code == 400, got.text
    assert got.json()["error"]
    assert store.count_points("r3") == 0


def test_malformed_bodies_are_400_never_500(
    client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    w = tokens["write"]
    make_run(client, w, "r4")
    raw = [b"", b"{", b"[]", b"null", b'"x"', b"\xff\xfe", b"[" * 100_000 + b"]" * 100_000]
    for url in (f"{API}/runs", f"{API}/runs/r4/points"):
        for content in raw:
            got = client.post(url, headers=w, content=content)
            assert got.status_code == 400, (url, content[:20], got.text)
    bodies: list[Any] = [
        {},
        {"id": ""},
        {"id": "a/b"},
        {"id": "x" * 65},
        {"id": 5},
        {"id": "ok", "status": "paused"},
        {"id": "ok", "config": [1]},
        {"id": "ok", "pid": "12"},
        {"id": "ok", "pid": 1.5},
        {"id": "ok", "start_time": "now"},
        {"id": "ok", "name": {"a": 1}},
        {"id": "ok", "host": "h" * 300},
    ]
    for body in bodies:
        got = client.post(f"{API}/runs", headers=w, json=body)
        assert got.status_code == 400, (body, got.text)
    for patch in [{"status": None}, {"status": "paused"}, {"end_time": "x"}, {"summary": 3},
                  {"exit_code": 1.5}, {"exit_code": 2**40}, {"name": "renamed"}]:  # fmt: skip
        got = client.patch(f"{API}/runs/r4", headers=w, json=patch)
        assert got.status_code == 400, (patch, got.text)
    got = client.get(f"{API}/runs/bad%20id", headers=tokens["read"])
    assert got.status_code == 400


def test_a_batch_over_the_limit_is_413(
    client: TestClient, store: PgStore, tokens: dict[str, dict[str, str]]
) -> None:
    make_run(client, tokens["write"], "r5")
    small = [["k", "metric", s, None, 0] for s in range(MAX_POINTS + 1)]
    got = client.post(f"{API}/runs/r5/points", headers=tokens["write"], json={"points": small})
    assert got.status_code == 413 and "50000" in got.json()["error"]
    assert store.count_points("r5") == 0
    huge = json.dumps({"points": [], "pad": "x" * (17 * 1024 * 1024)})
    got = client.post(f"{API}/runs/r5/points", headers=tokens["write"], content=huge)
    assert got.status_code == 413


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("localhost", True), ("::1", True), ("127.0.0.2", True),
     ("0.0.0.0", False), ("::", False), ("10.1.2.3", False), ("gpu-box.lan", False)],
)  # fmt: skip
def test_only_loopback_hosts_go_without_the_tls_warning(host: str, loopback: bool) -> None:
    from losslens.cli.server import is_loopback

    assert is_loopback(host) is loopback


# -- findings sent by a client --------------------------------------------------------------


def findings_of(store: PgStore, run_id: str, n_points: int | None = None) -> dict[str, Any]:
    """What a client sends: the report of the run (analysed here from the same points)."""
    from losslens.analysis import analyze
    from losslens.server.findings import body_of
    from losslens.stored_analysis import analysis_version

    report = analyze(store.load(run_id))
    count = store.count_points(run_id) if n_points is None else n_points
    return body_of(report, analysis_version(), count)


def sent_run(client: TestClient, w: dict[str, str], run_id: str) -> None:
    make_run(client, w, run_id, config={"gradient_accumulation_steps": 1})
    points = batch(300)
    for p in points[200:]:
        p[4] = "NaN"  # the loss goes NaN at step 200: a fatal finding
    got = client.post(f"{API}/runs/{run_id}/points", headers=w, json={"points": points})
    assert got.status_code == 200
    assert client.patch(f"{API}/runs/{run_id}", headers=w, json={"status": "failed"}).is_success


def test_findings_sent_by_a_client_are_the_runs_current_analysis(
    client: TestClient, store: PgStore, tokens: dict[str, dict[str, str]]
) -> None:
    from losslens.model import finding_to_dict
    from losslens.stored_analysis import current_report

    w = tokens["write"]
    sent_run(client, w, "r6")
    body = findings_of(store, "r6")
    assert body["findings"] and body["verdict"] == "failed"
    got = client.put(f"{API}/runs/r6/findings", headers=w, json=body)
    assert got.status_code == 200, got.text
    assert got.json() == {
        "verdict": "failed",
        "n_findings": len(body["findings"]),
        "created_at": pytest.approx(got.json()["created_at"]),
        "current": True,
    }
    kept = current_report(store, store.get_run("r6"))  # current: no reader analyses again
    assert kept is not None and str(kept.verdict) == "failed"
    assert [finding_to_dict(f)["rule_id"] for f in kept.findings] == [
        f["rule_id"] for f in body["findings"]
    ]
    assert client.get(f"{API}/runs/r6", headers=tokens["read"]).json()["analysis"]["current"]
    # sent again: the same; a new point makes the stored findings stale
    assert client.put(f"{API}/runs/r6/findings", headers=w, json=body).status_code == 200
    client.post(f"{API}/runs/r6/points", headers=w, json={"points": batch(1, start=300)})
    assert not client.get(f"{API}/runs/r6", headers=tokens["read"]).json()["analysis"]["current"]
    assert current_report(store, store.get_run("r6")) is None


def test_findings_are_refused_unless_the_server_holds_their_points(
    client: TestClient, store: PgStore, tokens: dict[str, dict[str, str]]
) -> None:
    w = tokens["write"]
    sent_run(client, w, "r7")
    url = f"{API}/runs/r7/findings"
    more = findings_of(store, "r7", n_points=store.count_points("r7") + 10)
    got = client.put(url, headers=w, json=more)
    assert got.status_code == 409 and "send the points first" in got.json()["error"]
    good = findings_of(store, "r7")
    assert client.put(url, headers=tokens["read"], json=good).status_code == 403
    assert client.put(url, headers=tokens["beta"], json=good).status_code == 403
    assert client.put(f"{API}/runs/nope/findings", headers=w, json=good).status_code == 404
    bad: list[dict[str, Any]] = [
        {**good, "verdict": "great"},
        {**good, "findings": "none"},
        {**good, "findings": [{"kind": "x"}]},
        {**good, "findings": [{**good["findings"][0], "severity": "meh"}]},
        {**good, "findings": [{**good["findings"][0], "onset_step": "12"}]},
        {**good, "findings": [{**good["findings"][0], "title": {"en": 5}}]},
        {**good, "readings": [{"metric": 1}]},
        {**good, "analysis_version": "../x"},
        {**good, "n_points": -1},
        {**good, "n_points": True},
        {**good, "summary": [1]},
    ]
    for body in bad:
        got = client.put(url, headers=w, json=body)
        assert got.status_code == 400, (body, got.text)
    assert client.get(f"{API}/runs/r7", headers=tokens["read"]).json()["analysis"] is None

"""The column-wise wire format of point batches (``application/x-losslens-points``): it round
trips exactly (NaN, ±Inf, -0.0, 64-bit steps, unknown wall times, many keys, both kinds)
through the codec, the server and PostgreSQL; a JSON body keeps working beside it; a retried
binary batch stores nothing twice; a malformed body is one 400 line, never a 500; a server
that does not read the format gets JSON from the client."""

from __future__ import annotations

import http.server
import json
import math
import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from extras import needs

needs("psycopg", "team")
needs("starlette", "team")
needs("httpx", "dev")

from starlette.testclient import TestClient  # noqa: E402

from losslens.model import MetricPoint  # noqa: E402
from losslens.server.app import MAX_POINTS, create_app  # noqa: E402
from losslens.server.tokens import create_token  # noqa: E402
from losslens.store import Store, wire  # noqa: E402
from losslens.store.pg import PgStore  # noqa: E402
from losslens.tracking.sync import Client, push_run  # noqa: E402

API = "/api/v1"
BIG = 2**63 - 1
SMALL = -(2**63)
ODD_VALUES = [math.nan, math.inf, -math.inf, -0.0, 0.0, 5e-324, 1.7976931348623157e308, 1 / 3]


def columns(
    keys: list[tuple[str, str]],
    rows: list[tuple[int, int, float, float]],
    originals: list[str | None] | None = None,
) -> wire.PointColumns:
    """A batch from ``(key index, step, wall time, value)`` rows."""
    return wire.PointColumns(
        keys=keys,
        originals=originals or [None] * len(keys),
        index=np.array([r[0] for r in rows], dtype=np.int32),
        steps=np.array([r[1] for r in rows], dtype=np.int64),
        walls=np.array([r[2] for r in rows], dtype=np.float64),
        values=np.array([r[3] for r in rows], dtype=np.float64),
    )


def odd_batch() -> wire.PointColumns:
    keys = [("train/loss", "metric"), ("gpu/util", "system"), ("train/loss", "system")]
    rows = [(0, s, 1000.0 + s, v) for s, v in enumerate(ODD_VALUES)]
    rows += [(0, BIG, math.nan, 1.5), (0, SMALL, 1e9, -2.5), (0, 2**53 + 1, 1.0, 7.0)]
    rows += [(1, 3, 2000.25, 55.0), (2, 3, math.nan, math.nan)]
    return columns(keys, rows, ["Train Loss", None, None])


def same_bits(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> bool:
    """Equal float64 columns, NaN equal to NaN and -0.0 told from 0.0."""
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    return bool(
        (nan_a == nan_b).all() and (a[~nan_a].view(np.int64) == b[~nan_b].view(np.int64)).all()
    )


# -- the codec ---------------------------------------------------------------------------------


def test_a_batch_round_trips_bit_for_bit() -> None:
    sent = odd_batch()
    got = wire.decode(wire.encode(sent))
    assert got.keys == sent.keys
    assert got.originals == sent.originals
    assert got.index.tolist() == sent.index.tolist()
    assert got.steps.tolist() == sent.steps.tolist()  # 2**63-1, -2**63, 2**53+1 exact
    assert same_bits(got.walls, sent.walls) and same_bits(got.values, sent.values)
    assert math.copysign(1.0, float(got.values[3])) == -1.0  # -0.0 stays negative


def test_many_keys_and_an_empty_batch_round_trip() -> None:
    keys = [(f"layer.{i}/grad_norm ü", "metric") for i in range(3000)]
    rows = [(i % 3000, i // 3000, 1.0, float(i)) for i in range(9000)]
    got = wire.decode(wire.encode(columns(keys, rows)))
    assert got.keys == keys and len(got) == 9000
    assert got.index.tolist() == [r[0] for r in rows]
    empty = wire.decode(wire.encode(columns([], [])))
    assert len(empty) == 0 and empty.keys == []


def test_the_json_form_of_a_batch_is_the_documented_body() -> None:
    body = odd_batch().to_json()
    assert body["originals"] == {"train/loss": "Train Loss"}
    assert body["points"][0] == ["train/loss", "metric", 0, 1000.0, "NaN"]
    assert body["points"][1][4] == "Infinity" and body["points"][2][4] == "-Infinity"
    assert body["points"][8] == ["train/loss", "metric", BIG, None, 1.5]
    assert body["points"][-1] == ["train/loss", "system", 3, None, "NaN"]
    json.dumps(body, allow_nan=False)  # plain JSON


def test_the_content_type_is_recognised_with_parameters_and_case() -> None:
    assert wire.is_columns("application/x-losslens-points")
    assert wire.is_columns("Application/X-Losslens-Points; v=1")
    assert not wire.is_columns("application/json")
    assert not wire.is_columns(None)


def _malformed() -> dict[str, bytes]:
    good = wire.encode(columns([("a", "metric")], [(0, 1, 1.0, 2.0)]))
    head = struct.pack("<4sII", b"LLP1", 1, 1)
    key = b"\x00" + struct.pack("<I", 1) + b"a" + struct.pack("<I", 0)
    cols = good[len(head) + len(key) :]
    return {
        "empty": b"",
        "json sent as binary": b'{"points": []}',
        "truncated columns": good[:-3],
        "extra bytes": good + b"\x00",
        "truncated key": head + key[:3],
        "kind 7": head + b"\x07" + key[1:] + cols,
        "empty name": head + b"\x00" + struct.pack("<II", 0, 0) + cols,
        "name not UTF-8": head + b"\x00" + struct.pack("<I", 1) + b"\xff" + key[-4:] + cols,
        "NUL in name": head + b"\x00" + struct.pack("<I", 1) + b"\x00" + key[-4:] + cols,
        "name length past the end": head + b"\x00" + struct.pack("<I", 2**31) + b"a",
        "key index out of range": head + key + struct.pack("<i", 1) + cols[4:],
        "negative key index": head + key + struct.pack("<i", -1) + cols[4:],
        "infinite wall time": head + key + cols[:12] + struct.pack("<d", math.inf) + cols[20:],
        "key listed twice": struct.pack("<4sII", b"LLP1", 2, 1) + key + key + cols,
        "more points than bytes": struct.pack("<4sII", b"LLP1", 1, 40_000) + key + cols,
    }


@pytest.mark.parametrize("case", list(_malformed()))
def test_a_malformed_body_is_a_one_line_wire_error(case: str) -> None:
    with pytest.raises(wire.WireError) as err:
        wire.decode(_malformed()[case])
    assert "\n" not in str(err.value) and str(err.value)


# -- through the server into PostgreSQL ----------------------------------------------------------


@pytest.fixture
def store(pg_store_url: str) -> Iterator[PgStore]:
    with PgStore(pg_store_url) as s:
        yield s


@pytest.fixture
def api(store: PgStore) -> Iterator[tuple[TestClient, dict[str, str]]]:
    headers = {"Authorization": f"Bearer {create_token(store, 'alpha')[1]}"}
    with TestClient(create_app(store), raise_server_exceptions=False) as c:
        for run_id in ("r1", "r2"):
            got = c.post(f"{API}/runs", headers=headers, json={"id": run_id})
            assert got.status_code == 201, got.text
        yield c, headers


def post(c: TestClient, headers: dict[str, str], run_id: str, body: bytes) -> Any:
    return c.post(
        f"{API}/runs/{run_id}/points",
        headers={**headers, "Content-Type": wire.CONTENT_TYPE},
        content=body,
    )


def stored(store: PgStore, run_id: str) -> list[tuple[str, str, int, Any, Any]]:
    with store.transaction() as conn:
        rows = conn.execute(
            "SELECT k.key, k.kind, p.step, p.wall_time, p.value FROM points p "
            "JOIN metric_keys k ON k.id = p.key_id WHERE p.run_id = %s "
            "ORDER BY k.kind, k.key, p.step",
            (run_id,),
        ).fetchall()
    return [tuple(r) for r in rows]


def counts(store: PgStore, run_id: str) -> list[tuple[str, str, int, int, Any]]:
    with store.transaction() as conn:
        rows = conn.execute(
            "SELECT key, kind, n_points, step_max, original FROM metric_keys "
            "WHERE run_id = %s ORDER BY kind, key",
            (run_id,),
        ).fetchall()
    return [tuple(r) for r in rows]


def test_a_binary_batch_is_stored_exactly_and_equals_the_json_one(
    api: tuple[TestClient, dict[str, str]], store: PgStore
) -> None:
    c, headers = api
    batch = odd_batch()
    got = post(c, headers, "r1", wire.encode(batch))
    assert got.status_code == 200, got.text
    assert got.json() == {"accepted": len(batch)}
    as_json = c.post(f"{API}/runs/r2/points", headers=headers, json=batch.to_json())
    assert as_json.status_code == 200, as_json.text

    rows = stored(store, "r1")
    assert len(rows) == len(batch)
    by = {(k, kind, s): (w, v) for k, kind, s, w, v in rows}
    assert by[("train/loss", "metric", BIG)] == (None, 1.5)  # unknown wall time: NULL
    assert by[("train/loss", "metric", SMALL)] == (1e9, -2.5)
    assert by[("train/loss", "metric", 2**53 + 1)] == (1.0, 7.0)
    assert by[("gpu/util", "system", 3)] == (2000.25, 55.0)
    values = np.array([by[("train/loss", "metric", s)][1] for s in range(len(ODD_VALUES))])
    assert same_bits(values, np.array(ODD_VALUES))
    assert math.isnan(by[("train/loss", "system", 3)][1])

    def bits(rs: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        return [(*r[:3], repr(r[3]), struct.pack("<d", r[4])) for r in rs]

    assert bits(stored(store, "r2")) == bits(rows)  # the JSON body stores the same points
    # the same counts (JSON's originals name keys of either kind, the format's one key)
    assert [c[:4] for c in counts(store, "r1")] == [c[:4] for c in counts(store, "r2")]
    assert counts(store, "r1") == [
        ("train/loss", "metric", 11, BIG, "Train Loss"),
        ("gpu/util", "system", 1, 3, None),
        ("train/loss", "system", 1, 3, None),
    ]


def test_a_retried_or_overlapping_binary_batch_stores_nothing_twice(
    api: tuple[TestClient, dict[str, str]], store: PgStore
) -> None:
    c, headers = api
    keys = [("a", "metric"), ("b", "metric")]
    first = columns(keys, [(s % 2, s // 2, 1.0, float(s)) for s in range(2000)])
    for _ in range(3):  # the same batch again: a retry whose answer was lost
        got = post(c, headers, "r1", wire.encode(first))
        assert got.status_code == 200, got.text
    overlap = columns(keys, [(s % 2, s // 2, 2.0, -1.0) for s in range(1000, 3000)])
    assert post(c, headers, "r1", wire.encode(overlap)).status_code == 200
    rows = stored(store, "r1")
    assert len(rows) == len({r[:3] for r in rows}) == 3000
    assert [r[4] for r in rows if r[0] == "a" and r[2] in (0, 600)] == [0.0, 1200.0]  # first wins
    assert counts(store, "r1") == [
        ("a", "metric", 1500, 1499, None),
        ("b", "metric", 1500, 1499, None),
    ]


@pytest.mark.parametrize("case", list(_malformed()))
def test_a_malformed_binary_body_is_400_in_one_line_and_stores_nothing(
    api: tuple[TestClient, dict[str, str]], store: PgStore, case: str
) -> None:
    c, headers = api
    got = post(c, headers, "r1", _malformed()[case])
    assert got.status_code == 400, got.text
    message = got.json()["error"]
    assert message.startswith(f"bad {wire.CONTENT_TYPE} body: ") and "\n" not in message
    assert "Traceback" not in got.text
    assert stored(store, "r1") == [] and counts(store, "r1") == []


def test_a_binary_batch_over_the_limit_is_413(api: tuple[TestClient, dict[str, str]]) -> None:
    c, headers = api
    n = MAX_POINTS + 1
    big = columns([("a", "metric")], [(0, s, 1.0, 1.0) for s in range(n)])
    got = post(c, headers, "r1", wire.encode(big))
    assert got.status_code == 413 and str(MAX_POINTS) in got.json()["error"]


def test_a_binary_batch_needs_a_write_token_and_an_existing_run(
    api: tuple[TestClient, dict[str, str]], store: PgStore
) -> None:
    c, headers = api
    body = wire.encode(columns([("a", "metric")], [(0, 1, 1.0, 1.0)]))
    read = {"Authorization": f"Bearer {create_token(store, 'alpha', scope='read')[1]}"}
    assert post(c, read, "r1", body).status_code == 403
    assert post(c, {}, "r1", body).status_code == 401
    assert post(c, headers, "nope", body).status_code == 404


# -- the client ----------------------------------------------------------------------------------


class _OldServer(http.server.BaseHTTPRequestHandler):
    """An ingest endpoint that reads JSON only, as servers before the format did."""

    bodies: ClassVar[list[Any]] = []

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        try:
            body = json.loads(raw)
            status, answer = 200, {"accepted": len(body["points"])}
            self.bodies.append(body)
        except ValueError:
            status, answer = 400, {"error": "the body is not JSON: Expecting value"}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


def test_a_server_that_reads_only_json_gets_json_from_the_client() -> None:
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _OldServer)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        client = Client(f"http://127.0.0.1:{srv.server_address[1]}", "ll_x")
        batch = odd_batch()
        assert client.post_points("r1", batch) == 200
        assert client.columns is False  # from then on, JSON straight away
        assert client.post_points("r1", batch) == 200
    finally:
        srv.shutdown()
        srv.server_close()
    assert _OldServer.bodies == [batch.to_json(), batch.to_json()]


def test_losslens_sync_sends_odd_values_exactly_through_a_real_server(
    tmp_path: Path, pg_store_url: str, server: Any
) -> None:
    """The whole path: the local SQLite store (NaN kept as NULL there), the client's column
    read, the wire, the server and PostgreSQL."""
    db = tmp_path / "local.db"
    points = [MetricPoint("train/loss", s, v, 1000.0 + s) for s, v in enumerate(ODD_VALUES)]
    points += [MetricPoint("train/loss", BIG, 1.5, None), MetricPoint("train/loss", SMALL, 2.0)]
    points += [MetricPoint("train/loss", 2**53 + 1, 3.0, 5.0)]
    with Store(db) as local:
        run = local.create_run("alpha", run_id="odd-1")
        local.write_points(run.id, points, originals={"train/loss": "Train Loss"})
        local.write_points(run.id, [MetricPoint("gpu/util", 7, 50.0, 9.0)], kind="system")
    with PgStore(pg_store_url) as st:
        tok = create_token(st, "alpha")[1]
    got = push_run(db, "odd-1", Client(server.base.removesuffix("/api/v1"), tok))
    assert got["sent"] == len(points) + 1
    with PgStore(pg_store_url) as st:
        rows = stored(st, "odd-1")
        assert counts(st, "odd-1")[0] == ("train/loss", "metric", len(points), BIG, "Train Loss")
    by = {(k, s): (w, v) for k, _, s, w, v in rows}
    assert by[("gpu/util", 7)] == (9.0, 50.0)
    assert by[("train/loss", BIG)] == (None, 1.5)
    assert by[("train/loss", SMALL)] == (None, 2.0)
    assert by[("train/loss", 2**53 + 1)] == (5.0, 3.0)
    values = np.array([by[("train/loss", s)][1] for s in range(len(ODD_VALUES))])
    assert same_bits(values, np.array(ODD_VALUES))
    assert [by[("train/loss", s)][0] for s in range(3)] == [1000.0, 1001.0, 1002.0]


def test_unknown_wall_times_are_null_on_the_append_and_the_merge_path(store: PgStore) -> None:
    store.create_run("alpha", run_id="w1")
    keys = [("a", "metric")]
    store.add_columns("w1", columns(keys, [(0, s, math.nan, 1.0) for s in range(10)]))  # append
    store.add_columns("w1", columns(keys, [(0, s, math.nan, 2.0) for s in range(5, 20)]))  # merge
    rows = stored(store, "w1")
    assert [r[2] for r in rows] == list(range(20))
    assert {r[3] for r in rows} == {None}
    assert [r[4] for r in rows] == [1.0] * 10 + [2.0] * 10
    assert counts(store, "w1") == [("a", "metric", 20, 19, None)]


def test_columns_for_a_run_that_is_not_there_are_run_not_found(store: PgStore) -> None:
    from losslens.errors import RunNotFoundError

    with pytest.raises(RunNotFoundError):
        store.add_columns("ghost", columns([("a", "metric")], [(0, 1, 1.0, 1.0)]))
    assert stored(store, "ghost") == []

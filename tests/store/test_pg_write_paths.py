"""PostgreSQL only: a batch that only appends takes the plain insert, anything else the merge,
and either way each (run, key, step) is stored once, first value kept, with exact counts; two
writers racing with the same batch both succeed (the loser falls back to the merge)."""

from __future__ import annotations

import threading
from typing import Any

from extras import needs

needs("psycopg", "team")

from losslens.model import MetricPoint  # noqa: E402
from losslens.store.open import open_pg  # noqa: E402


def _points(lo: int, hi: int, value: float) -> list[MetricPoint]:
    return [MetricPoint(k, s, value + s * 1e-3) for s in range(lo, hi) for k in ("a", "b")]


def _state(url: str, run_id: str) -> dict[str, Any]:
    with open_pg(url, create=False) as st, st.transaction() as conn:
        keys = conn.execute(
            "SELECT key, n_points, step_max FROM metric_keys WHERE run_id = %s ORDER BY key",
            (run_id,),
        ).fetchall()
        rows = conn.execute(
            "SELECT count(*), count(DISTINCT (key_id, step)) FROM points WHERE run_id = %s",
            (run_id,),
        ).fetchone()
        first = conn.execute(
            "SELECT p.value FROM points p JOIN metric_keys k ON k.id = p.key_id "
            "WHERE p.run_id = %s AND k.key = 'a' AND p.step = 700",
            (run_id,),
        ).fetchone()
    return {"keys": [tuple(k) for k in keys], "rows": tuple(rows or ()), "a700": first}


def test_appends_and_overlaps_store_each_point_once(pg_store_url: str) -> None:
    with open_pg(pg_store_url) as st:
        run = st.create_run("p", "r")
        st.write_points(run.id, _points(0, 1000, 1.0))  # appends: the plain insert
        st.write_points(run.id, _points(500, 1500, 5.0))  # overlaps: merged, first value kept
        st.write_points(run.id, _points(1500, 1600, 1.0) + _points(1599, 1600, 9.0))  # a twin
    got = _state(pg_store_url, run.id)
    assert got["keys"] == [("a", 1600, 1599), ("b", 1600, 1599)]
    assert got["rows"] == (3200, 3200)
    assert got["a700"] == (1.0 + 700 * 1e-3,)  # the first write's value


def test_two_writers_racing_with_the_same_batch_both_succeed(pg_store_url: str) -> None:
    with open_pg(pg_store_url) as st:
        run = st.create_run("p", "r")
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def write() -> None:
        try:
            with open_pg(pg_store_url, create=False) as st:
                start.wait()
                st.write_points(run.id, _points(0, 20_000, 1.0))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    got = _state(pg_store_url, run.id)
    assert got["keys"] == [("a", 20_000, 19_999), ("b", 20_000, 19_999)]
    assert got["rows"] == (40_000, 40_000)

"""The PostgreSQL store against a real throwaway cluster (tests/conftest.py): what only it
has (partitions, idempotent points, ``db upgrade``). What both engines share is tested on
both by tests/store."""

from __future__ import annotations

import math

import numpy as np
import pytest

from extras import needs

needs("psycopg", "team")

from losslens.errors import RunNotFoundError, StoreError  # noqa: E402
from losslens.model import MetricPoint, RunStatus  # noqa: E402
from losslens.store.pg import PgStore  # noqa: E402
from losslens.store.pg_schema import connect, migrations, upgrade  # noqa: E402

BIG = 2**62 + 7  # a step far beyond 2**53: float64 could not hold it


def test_round_trip_of_a_run(pg_store_url: str) -> None:
    with PgStore(pg_store_url) as store:
        info = store.create_run(
            "프로젝트", "ünïcode-run", config={"lr": 2e-4, "bad": math.nan}, host="h1"
        )
        n = store.write_points(
            info.id,
            [
                MetricPoint("train/loss", 0, 2.5, 1000.0),
                MetricPoint("train/loss", 1, math.nan, 1001.0),
                MetricPoint("train/loss", 2, math.inf, None),
                MetricPoint("train/loss", 3, -math.inf, 1003.0),
                MetricPoint("train/loss", BIG, -0.0, 1004.0),
                MetricPoint("손실/평가 λ", 5, 1.25, 1005.0),
            ],
            originals={"train/loss": "loss"},
        )
        assert n == 6
        store.write_points(info.id, [MetricPoint("system/cpu", 0, 50.0)], kind="system")
        store.update_run(info.id, status=RunStatus.FINISHED, end_time=2000.0, summary={"x": 1})
        run = store.load(info.id[:4])
        got = run.series["train/loss"]
        assert got.steps.tolist() == [0, 1, 2, 3, BIG]
        assert got.steps.dtype == np.int64
        v = got.values
        assert v[0] == 2.5 and math.isnan(v[1]) and v[2] == math.inf and v[3] == -math.inf
        assert v[4] == 0.0 and math.copysign(1.0, v[4]) == -1.0  # -0.0 kept
        assert math.isnan(got.wall_times[2]) and got.wall_times[4] == 1004.0
        assert run.series["손실/평가 λ"].values.tolist() == [1.25]
        assert run.original_keys == {"train/loss": "loss", "손실/평가 λ": "손실/평가 λ"}
        assert list(run.system) == ["system/cpu"]
        assert run.info.project == "프로젝트" and run.info.name == "ünïcode-run"
        assert run.info.status is RunStatus.FINISHED and run.info.summary == {"x": 1}
        assert math.isnan(run.info.config["bad"]) and run.info.config["lr"] == 2e-4
        assert store.get_run("ünïcode-run").id == info.id
        assert [r.id for r in store.list_runs("프로젝트")] == [info.id]
        assert store.series(info.id, "train/loss", step_min=2, step_max=3).steps.tolist() == [2, 3]
        assert store.last_step(info.id) == BIG
        assert store.count_points(info.id) == 6
        with connect(pg_store_url) as conn:  # as plain SQL sees them
            row = conn.execute(
                "SELECT bool_and(wall_time IS NULL) FILTER (WHERE step = 2), "
                "bool_and(value = 'NaN'::float8) FILTER (WHERE step = 1), "
                "max(value) FILTER (WHERE step = 2), min(value) FILTER (WHERE step = 3) "
                "FROM points"
            ).fetchone()
        assert row is not None and row[:2] == (True, True)
        assert row[2] == math.inf and row[3] == -math.inf
        with pytest.raises(RunNotFoundError):
            store.get_run("nosuchrun")
        store.delete_run(info.id)
        assert store.list_runs() == []
    with connect(pg_store_url) as conn:
        left = conn.execute("SELECT count(*) FROM points").fetchone()
    assert left == (0,)  # a deleted run's points go with it


def test_writing_the_same_points_again_stores_them_once(pg_store_url: str) -> None:
    points = [MetricPoint("train/loss", i, 1.0 / (i + 1), 100.0 + i) for i in range(5000)]
    with PgStore(pg_store_url) as store:
        info = store.create_run("p", "r")
        store.write_points(info.id, points)
        store.write_points(info.id, points[1000:3000])  # a retried batch
        store.write_points(info.id, [*points[4990:], MetricPoint("train/loss", 5000, 0.5)])
        assert store.count_points(info.id) == 5001
        s = store.load(info.id).series["train/loss"]
        assert s.steps.tolist() == list(range(5001))
        with connect(pg_store_url) as conn:
            row = conn.execute("SELECT count(*), count(DISTINCT step) FROM points").fetchone()
        assert row == (5001, 5001)


def test_the_points_table_is_partitioned_by_run(pg_store_url: str) -> None:
    with connect(pg_store_url) as conn:
        key = conn.execute("SELECT pg_get_partkeydef('points'::regclass)").fetchone()
        parts = conn.execute(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'points'::regclass"
        ).fetchone()
    assert key == ("HASH (run_id)",)
    assert parts == (16,)


def test_a_database_without_the_schema_asks_for_db_upgrade(pg_url: str) -> None:
    with pytest.raises(StoreError, match="losslens db upgrade --store"):
        PgStore(pg_url)
    assert upgrade(pg_url) == [name for _, name, _ in migrations()]
    assert upgrade(pg_url) == []
    with PgStore(pg_url) as store:
        assert store.schema_version == len(migrations())


def test_an_unreachable_server_is_one_clear_error() -> None:
    url = "postgresql://nobody:secret@/nodb?host=/nonexistent-losslens&port=1"
    with pytest.raises(StoreError, match="cannot connect to PostgreSQL") as err:
        PgStore(url)
    assert "secret" not in str(err.value)


def test_a_stored_analysis_is_current_until_a_new_point(pg_store_url: str) -> None:
    from losslens.store import StoreProtocol
    from losslens.stored_analysis import current_report, stamp, verdicts

    with PgStore(pg_store_url) as pg:
        store: StoreProtocol = pg  # the commands hand a PgStore to the same functions
        info = pg.create_run("p", "r", status=RunStatus.FINISHED)
        pg.write_points(
            info.id, [MetricPoint("train/loss", i, math.nan if i > 40 else 2.0) for i in range(60)]
        )
        info = pg.get_run(info.id)
        first = verdicts(store, [info])[info.id]
        assert first is not None and first.verdict == "failed"
        report = current_report(store, info)
        assert report is not None and report.verdict.value == "failed"
        assert {f.rule_id for f in report.findings} == {
            f["rule_id"] for f in pg.load_findings(info.id)
        }
        before = stamp(store, info)
        pg.write_points(info.id, [MetricPoint("train/loss", 59, 1.0)])  # already there: no change
        assert stamp(store, info) == before
        pg.write_points(info.id, [MetricPoint("train/loss", 60, 1.0)])
        assert stamp(store, info) != before
        assert current_report(store, info) is None  # stale until analysed again
        kept = verdicts(store, [info], analyse=False)[info.id]
        assert kept is not None and (kept.stamp, kept.verdict) == (first.stamp, first.verdict)

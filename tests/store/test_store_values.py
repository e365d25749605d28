"""Every value kind goes into a real SQLite store file and comes back unchanged."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from losslens.model import MetricPoint, RunStatus
from losslens.store import Store
from losslens.store.points import INSERT_ROWS

VALUES = [
    math.nan,
    math.inf,
    -math.inf,
    1e308,
    -1e308,
    5e-324,
    2.2250738585072014e-308,
    -0.0,
    0.0,
    0.1,
    1 / 3,
    -123.456,
]


def _raw(path: Path, run_id: str, key: str) -> list[tuple[int, object]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(
            "SELECT step, value FROM metrics WHERE run_id = ? AND key = ? ORDER BY step",
            (run_id, key),
        ).fetchall()


def test_float_values_round_trip_bit_for_bit(store_path: Path) -> None:
    with Store(store_path) as store:
        run = store.create_run("values")
        n = store.write_points(
            run.id, [MetricPoint("x", i, v, 1000.0 + i) for i, v in enumerate(VALUES)]
        )
        assert n == len(VALUES)
    # A new handle on the file: nothing comes from a cache.
    with Store(store_path, create=False) as store:
        s = store.series(run.id, "x")
    assert s.steps.tolist() == list(range(len(VALUES)))
    for got, want in zip(s.values.tolist(), VALUES, strict=True):
        if math.isnan(want):
            assert math.isnan(got)
        else:
            assert got == want
            assert math.copysign(1.0, got) == math.copysign(1.0, want)  # -0.0 stays -0.0
    assert s.wall_times.tolist() == [1000.0 + i for i in range(len(VALUES))]
    raw = _raw(store_path, run.id, "x")
    assert raw[0][1] is None  # NaN is stored as NULL (documented in docs/storage.md)
    assert math.copysign(1.0, float(raw[7][1])) == -1.0  # type: ignore[arg-type]


def test_big_integers_are_exact_in_sql_and_steps_are_int64(store_path: Path) -> None:
    big = 2**53 + 1  # not representable as a float64
    with Store(store_path) as store:
        run = store.create_run("ints")
        store.write_points(
            run.id,
            [
                MetricPoint("tokens", 2**62, big),
                MetricPoint("tokens", 2**62 + 1, 2**63 - 1),
                MetricPoint("tokens", 2**62 + 2, -(2**63)),
                MetricPoint("tokens", 2**62 + 3, 2**80),  # beyond int64: nearest float
            ],
        )
        s = store.series(run.id, "tokens")
    assert s.steps.tolist() == [2**62, 2**62 + 1, 2**62 + 2, 2**62 + 3]
    assert s.steps.dtype == np.int64
    raw = _raw(store_path, run.id, "tokens")
    assert [v for _, v in raw[:3]] == [big, 2**63 - 1, -(2**63)]
    assert raw[3][1] == float(2**80)
    assert s.values[0] == float(big)  # the float64 view of the same point


def test_unicode_keys_names_projects_and_config(store_path: Path) -> None:
    config = {"모델": "qwen", "lr": 2e-4, "nested": {"ß": [1, 2.5, None]}, "emoji": "🔥"}
    with Store(store_path) as store:
        run = store.create_run("프로젝트 ✓", "학습-1 🚀", config=config)
        store.write_points(run.id, [MetricPoint("손실/train", 0, 1.5), MetricPoint("λ", 0, 2.0)])
    with Store(store_path) as store:
        got = store.get_run("학습-1 🚀")
        assert got.id == run.id
        assert got.project == "프로젝트 ✓"
        assert got.config == config
        assert store.keys(run.id) == {"λ": "λ", "손실/train": "손실/train"}
        assert store.series(run.id, "손실/train").values.tolist() == [1.5]
        assert [r.id for r in store.list_runs("프로젝트 ✓")] == [run.id]


def test_non_finite_config_and_summary_stay_strict_json(store_path: Path) -> None:
    summary = {"loss": math.nan, "best": math.inf, "worst": -math.inf, "n": 2**60, "z": -0.0}
    with Store(store_path) as store:
        run = store.create_run("json", config={"clip": math.inf}, summary=summary)
        got = store.get_run(run.id)
    assert math.isnan(got.summary["loss"])
    assert got.summary["best"] == math.inf and got.summary["worst"] == -math.inf
    assert got.summary["n"] == 2**60
    assert got.config == {"clip": math.inf}
    # Plain SQL can read every field (SQLite's JSON parser rejects NaN tokens).
    with sqlite3.connect(store_path) as conn:
        row = conn.execute(
            "SELECT json_extract(summary, '$.loss'), json_extract(summary, '$.n'), "
            "json_extract(config, '$.clip') FROM runs WHERE id = ?",
            (run.id,),
        ).fetchone()
    assert row == ("NaN", 2**60, "Infinity")


@pytest.mark.parametrize(
    "n", [0, 1, INSERT_ROWS - 1, INSERT_ROWS, INSERT_ROWS + 1, 2 * INSERT_ROWS + 3]
)
def test_batch_sizes_around_the_multi_row_insert(store_path: Path, n: int) -> None:
    with Store(store_path) as store:
        run = store.create_run("batch")
        assert store.write_points(run.id, (MetricPoint("k", i, i * 0.5) for i in range(n))) == n
        s = store.series(run.id, "k")
        assert s.steps.tolist() == list(range(n))
        assert s.values.tolist() == [i * 0.5 for i in range(n)]
        assert store.count_points(run.id) == n


def test_every_point_is_kept_duplicates_in_logging_order(store_path: Path) -> None:
    with Store(store_path) as store:
        run = store.create_run("dups")
        store.write_points(run.id, [MetricPoint("k", 5, 1.0), MetricPoint("k", 3, 2.0)])
        store.write_points(run.id, [MetricPoint("k", 5, 3.0), MetricPoint("k", 4, math.nan)])
        s = store.series(run.id, "k")
        assert s.steps.tolist() == [3, 4, 5, 5]
        assert s.values[[0, 2, 3]].tolist() == [2.0, 1.0, 3.0]
        assert math.isnan(s.values[1])
        assert len(s.finite) == 3
        window = store.series(run.id, "k", step_min=4, step_max=4)
        assert window.steps.tolist() == [4]


def test_points_of_other_kinds_and_runs_stay_apart(store_path: Path) -> None:
    with Store(store_path) as store:
        a = store.create_run("p", "a")
        b = store.create_run("p", "b")
        store.write_points(a.id, [MetricPoint("loss", 0, 1.0)])
        store.write_points(a.id, [MetricPoint("loss", 0, 9.0)], kind="system")
        store.write_points(b.id, [MetricPoint("loss", 0, 2.0)])
        data = store.load(a.id)
        assert data.series["loss"].values.tolist() == [1.0]
        assert data.system["loss"].values.tolist() == [9.0]
        assert store.load(b.id).series["loss"].values.tolist() == [2.0]
        assert data.info.status is RunStatus.RUNNING

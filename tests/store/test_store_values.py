"""Every value kind goes into a real store and comes back unchanged, on both engines (a
SQLite file and a PostgreSQL database: tests/store/conftest.py); where the engines store a
value differently (NaN, integers beyond 2**53, a step logged twice, a NUL in a name) each is
checked against what docs/storage.md and docs/team.md say."""

from __future__ import annotations

import math
import subprocess
import textwrap
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from losslens.errors import StoreError
from losslens.model import MetricPoint, RunStatus
from losslens.store import StoreProtocol
from losslens.store.open import open_store
from losslens.store.points import INSERT_ROWS

#: The ``sql`` fixture (tests/store/conftest.py): plain SQL on the store, ``?`` placeholders.
Sql = Callable[..., list[tuple[Any, ...]]]

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


def _raw(sql: Sql, run_id: str, key: str) -> list[tuple[int, object]]:
    return sql(
        "SELECT step, value FROM metrics WHERE run_id = ? AND key = ? ORDER BY step", run_id, key
    )


def test_float_values_round_trip_bit_for_bit(spec: str, engine: str, sql: Sql) -> None:
    with open_store(spec) as store:
        run = store.create_run("values")
        n = store.write_points(
            run.id, [MetricPoint("x", i, v, 1000.0 + i) for i, v in enumerate(VALUES)]
        )
        assert n == len(VALUES)
    # A new handle on the store: nothing comes from a cache.
    with open_store(spec, create=False) as store:
        s = store.series(run.id, "x")
    assert s.steps.tolist() == list(range(len(VALUES)))
    for got, want in zip(s.values.tolist(), VALUES, strict=True):
        if math.isnan(want):
            assert math.isnan(got)
        else:
            assert got == want
            assert math.copysign(1.0, got) == math.copysign(1.0, want)  # -0.0 stays -0.0
    assert s.wall_times.tolist() == [1000.0 + i for i in range(len(VALUES))]
    raw = _raw(sql, run.id, "x")
    if engine == "sqlite":
        assert raw[0][1] is None  # NaN is stored as NULL (documented in docs/storage.md)
    else:
        assert math.isnan(float(raw[0][1]))  # type: ignore[arg-type]  # float8 holds NaN
    assert math.copysign(1.0, float(raw[7][1])) == -1.0  # type: ignore[arg-type]
    assert [float(v) for _, v in raw[1:3]] == [math.inf, -math.inf]  # type: ignore[arg-type]


def test_big_integers_are_exact_in_sql_and_steps_are_int64(
    spec: str, engine: str, sql: Sql
) -> None:
    big = 2**53 + 1  # not representable as a float64
    with open_store(spec) as store:
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
    raw = _raw(sql, run.id, "tokens")
    assert [s for s, _ in raw] == [2**62, 2**62 + 1, 2**62 + 2, 2**62 + 3]  # steps exact in SQL
    if engine == "sqlite":
        assert [v for _, v in raw[:3]] == [big, 2**63 - 1, -(2**63)]
    else:  # float8: integers beyond 2**53 are rounded to the nearest double (docs/team.md)
        assert [v for _, v in raw[:3]] == [float(big), float(2**63 - 1), float(-(2**63))]
    assert raw[3][1] == float(2**80)
    assert s.values[0] == float(big)  # the float64 view of the same point


def test_unicode_keys_names_projects_and_config(spec: str) -> None:
    config = {"모델": "qwen", "lr": 2e-4, "nested": {"ß": [1, 2.5, None]}, "emoji": "🔥"}
    with open_store(spec) as store:
        run = store.create_run("프로젝트 ✓", "학습-1 🚀", config=config)
        store.write_points(run.id, [MetricPoint("손실/train", 0, 1.5), MetricPoint("λ", 0, 2.0)])
    with open_store(spec) as store:
        got = store.get_run("학습-1 🚀")
        assert got.id == run.id
        assert got.project == "프로젝트 ✓"
        assert got.config == config
        assert store.keys(run.id) == {"λ": "λ", "손실/train": "손실/train"}
        assert store.series(run.id, "손실/train").values.tolist() == [1.5]
        assert [r.id for r in store.list_runs("프로젝트 ✓")] == [run.id]


def test_non_finite_config_and_summary_stay_strict_json(
    store: StoreProtocol, engine: str, sql: Sql
) -> None:
    summary = {"loss": math.nan, "best": math.inf, "worst": -math.inf, "n": 2**60, "z": -0.0}
    run = store.create_run("json", config={"clip": math.inf}, summary=summary)
    got = store.get_run(run.id)
    assert math.isnan(got.summary["loss"])
    assert got.summary["best"] == math.inf and got.summary["worst"] == -math.inf
    assert got.summary["n"] == 2**60
    assert got.config == {"clip": math.inf}
    # Plain SQL can read every field (SQLite's JSON parser rejects NaN tokens, and so does
    # PostgreSQL's).
    if engine == "sqlite":
        query = (
            "SELECT json_extract(summary, '$.loss'), json_extract(summary, '$.n'), "
            "json_extract(config, '$.clip') FROM runs WHERE id = ?"
        )
    else:
        query = (
            "SELECT summary->>'loss', (summary->>'n')::bigint, config->>'clip' "
            "FROM runs WHERE id = ?"
        )
    assert sql(query, run.id) == [("NaN", 2**60, "Infinity")]


def test_batch_sizes_around_the_multi_row_insert(store: StoreProtocol) -> None:
    for n in (0, 1, INSERT_ROWS - 1, INSERT_ROWS, INSERT_ROWS + 1, 2 * INSERT_ROWS + 3):
        run = store.create_run("batch", f"n{n}")
        assert store.write_points(run.id, (MetricPoint("k", i, i * 0.5) for i in range(n))) == n
        s = store.series(run.id, "k")
        assert s.steps.tolist() == list(range(n)), n
        assert s.values.tolist() == [i * 0.5 for i in range(n)]
        assert store.count_points(run.id) == n


def test_a_step_logged_twice(store: StoreProtocol, engine: str) -> None:
    """SQLite keeps every point, a repeated step in logging order; PostgreSQL keeps one per
    (run, key, step), the first written, so a retried batch never duplicates."""
    run = store.create_run("dups")
    store.write_points(run.id, [MetricPoint("k", 5, 1.0), MetricPoint("k", 3, 2.0)])
    store.write_points(run.id, [MetricPoint("k", 5, 3.0), MetricPoint("k", 4, math.nan)])
    s = store.series(run.id, "k")
    if engine == "sqlite":
        assert s.steps.tolist() == [3, 4, 5, 5]
        assert s.values[[0, 2, 3]].tolist() == [2.0, 1.0, 3.0]
        assert len(s.finite) == 3
    else:
        assert s.steps.tolist() == [3, 4, 5]
        assert s.values[[0, 2]].tolist() == [2.0, 1.0]
        assert len(s.finite) == 2
    assert math.isnan(s.values[1])
    assert store.count_points(run.id) == len(s)
    assert store.load(run.id).series["k"].steps.tolist() == s.steps.tolist()
    window = store.series(run.id, "k", step_min=4, step_max=4)
    assert window.steps.tolist() == [4]


def test_points_of_other_kinds_and_runs_stay_apart(store: StoreProtocol) -> None:
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
    assert store.count_points(a.id) == 1 and store.count_points(a.id, "system") == 1
    assert store.keys(a.id, "system") == {"loss": "loss"}
    assert store.last_step(b.id) == 0 and store.last_step(store.create_run("p").id) is None


def test_a_bad_step_writes_nothing(store: StoreProtocol) -> None:
    run = store.create_run("steps")
    store.write_points(run.id, [MetricPoint("k", 0, 1.0)])
    for step in (2**63, -(2**63) - 1, 1.5, "7"):
        with pytest.raises(ValueError, match="step"):
            store.write_points(
                run.id,
                [MetricPoint("k", 1, 2.0), MetricPoint("new", step, 3.0)],  # type: ignore[arg-type]
            )
        assert store.keys(run.id) == {"k": "k"}  # the batch's new key went with it
        assert store.series(run.id, "k").steps.tolist() == [0]
        assert store.count_points(run.id) == 1 and store.last_step(run.id) == 0


def test_control_characters_in_names_and_keys(store: StoreProtocol, engine: str) -> None:
    odd = "a\x01c\u2028d\x7f"
    run = store.create_run(odd, odd, config={odd: odd, "nul": "x\x00y"})
    store.write_points(run.id, [MetricPoint(odd, 0, 1.0)], originals={odd: odd + "!"})
    got = store.load(run.id)
    assert (got.info.project, got.info.name) == (odd, odd)
    assert got.info.config == {odd: odd, "nul": "x\x00y"}  # JSON escapes the NUL: both keep it
    assert list(got.series) == [odd] and got.original_keys == {odd: odd + "!"}
    nul = "loss\x00"
    if engine == "sqlite":
        store.write_points(run.id, [MetricPoint(nul, 0, 1.0)])
        assert nul in store.keys(run.id)
        return
    # PostgreSQL's text cannot hold a NUL: one clear error, and nothing of the batch is kept
    with pytest.raises(StoreError, match="NUL") as err:
        store.write_points(run.id, [MetricPoint("fine", 0, 1.0), MetricPoint(nul, 0, 1.0)])
    assert "\n" not in str(err.value)
    assert store.keys(run.id) == {odd: odd + "!"}
    with pytest.raises(StoreError, match="NUL"):
        store.create_run("p", nul)
    assert [r.id for r in store.list_runs()] == [run.id]


def test_four_processes_writing_at_once_lose_nothing(spec: str, python: str) -> None:
    """Four writer processes, each with handles opened and closed as it goes (like a resumed
    writer), create runs of one project and write batches at the same time."""
    open_store(spec).close()
    code = textwrap.dedent(
        """
        import sys
        from losslens.model import MetricPoint
        from losslens.store.open import open_store
        spec, seed = sys.argv[1], int(sys.argv[2])
        with open_store(spec) as st:
            run = st.create_run("p", f"w{seed}", run_id=f"writer{seed}")
        step = 0
        for _ in range(6):
            with open_store(spec) as st:
                for _ in range(4):
                    k = 50 + 37 * seed
                    st.write_points(run.id, [
                        MetricPoint(key, step + i, float(seed * 1e6 + step + i), None)
                        for i in range(k) for key in ("a", "b")
                    ])
                    step += k
        """
    )
    procs = [subprocess.Popen([python, "-c", code, spec, str(i)]) for i in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    with open_store(spec) as st:
        assert sorted(r.name for r in st.list_runs("p")) == ["w0", "w1", "w2", "w3"]
        assert st.projects() == ["p"]
        for seed in range(4):
            n = 6 * 4 * (50 + 37 * seed)
            run = st.load(f"writer{seed}")
            assert set(run.series) == {"a", "b"} and st.count_points(run.info.id) == 2 * n
            for s in run.series.values():
                assert s.steps.tolist() == list(range(n))
                assert s.values.tolist() == [seed * 1e6 + i for i in range(n)]

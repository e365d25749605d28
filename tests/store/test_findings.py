"""Findings kept in the store: read back equal to a fresh analysis, made stale by new points,
kept across the migration from schema 1, and the fast column reader behind ``Store.load``.

All but the schema-1 migration (a SQLite file's) run on both engines (``spec``, ``store``:
tests/store/conftest.py)."""

from __future__ import annotations

import json
import math
import re
import sqlite3
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from losslens.analysis import analyze
from losslens.model import MetricPoint, Report, RunInfo, RunStatus, finding_to_dict
from losslens.store import Store, StoreProtocol
from losslens.store.open import open_store
from losslens.store.schema import MIGRATIONS, SCHEMA_VERSION
from losslens.stored_analysis import current_report, report_for, stamp, verdicts

#: The ``sql`` fixture (tests/store/conftest.py): plain SQL on the store, ``?`` placeholders.
Sql = Callable[..., list[tuple[Any, ...]]]


def _points(n: int, *, nan_at: int | None = None, start: int = 1) -> list[MetricPoint]:
    rng = np.random.default_rng(n)
    out = []
    for s in range(start, start + n):
        loss = 0.6 + 2.0 * math.exp(-s / (n / 5)) + 0.02 * float(rng.standard_normal())
        if nan_at is not None and s >= nan_at:
            loss = math.nan
        out += [
            MetricPoint("train/loss", s, loss, 1000.0 + s),
            MetricPoint("train/learning_rate", s, 2e-4 * (1 - s / (2 * n)), 1000.0 + s),
            MetricPoint("train/grad_norm", s, 0.8 + 0.05 * float(rng.standard_normal()), None),
        ]
    return out


def _run(store: StoreProtocol, name: str, n: int = 400, **kw: int) -> RunInfo:
    info = store.create_run("p", name, status=RunStatus.FINISHED, config={"lora_r": 8})
    store.write_points(info.id, _points(n, **kw))
    return store.get_run(info.id)


def _same(a: Report, b: Report) -> None:
    assert a.verdict == b.verdict
    assert a.summary == b.summary
    assert [finding_to_dict(f) for f in a.findings] == [finding_to_dict(f) for f in b.findings]
    assert a.readings == b.readings


def test_findings_read_back_equal_a_fresh_analysis(spec: str) -> None:
    with open_store(spec) as st:
        healthy, broken = _run(st, "healthy"), _run(st, "broken", nan_at=300)
        for info in (healthy, broken):
            assert current_report(st, info) is None  # never analysed
            first = report_for(st, info)
            kept = st.read_report(info, stamp(st, info))
            assert kept is not None
            _same(kept, analyze(st.load(info.id)))
            _same(kept, first)
    with open_store(spec) as st:  # another handle: read back from the store
        ids = [healthy.id, broken.id]
        assert {k: v.verdict for k, v in st.read_analyses(ids).items()} == {
            broken.id: "failed",
            healthy.id: "healthy",
        }
        kept = st.read_report(broken)
        assert kept is not None and kept.verdict.value == "failed"
        assert [f.rule_id for f in kept.findings] == [
            p["rule_id"] for p in st.load_findings(broken.id)
        ]
        assert st.read_report(broken, "another stamp") is None  # stale: not returned
        st.forget_analysis(broken.id)
        assert st.read_report(broken) is None and list(st.read_analyses(ids)) == [healthy.id]


def test_new_points_make_the_stored_findings_stale(spec: str) -> None:
    with open_store(spec) as st:
        info = _run(st, "growing", nan_at=None)
        report_for(st, info)
        assert current_report(st, info) is not None
        before = stamp(st, info)
        st.write_points(info.id, _points(50, start=401, nan_at=401))  # NaN from now on
        assert stamp(st, info) != before
        assert current_report(st, info) is None
        # without analysing, the stale verdict is what is stored; asking analyses again
        assert verdicts(st, [info], analyse=False)[info.id].verdict == "healthy"  # type: ignore[union-attr]
        got = verdicts(st, [info])[info.id]
        assert got is not None and got.verdict == "failed" and got.stamp == stamp(st, info)
        kept = current_report(st, info)
        assert kept is not None
        _same(kept, analyze(st.load(info.id)))
        # metadata the analysis reads (the config) also makes it stale
        st.update_run(info.id, config={"lora_r": 8, "max_steps": 100_000})
        assert current_report(st, st.get_run(info.id)) is None


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "losslens", *args], capture_output=True, text=True, timeout=120
    )


def test_a_schema_1_store_is_migrated_and_analysed_once(tmp_path: Path) -> None:
    """SQLite only: a file written by schema 1 (PostgreSQL's migrations: tests/team)."""
    path = tmp_path / "old.db"
    with Store(path) as st:  # points and rollups as version 1 wrote them
        info = _run(st, "old-run", nan_at=350)
    with sqlite3.connect(path) as conn:  # back to what schema 1 looked like
        made = re.findall(r"CREATE (TABLE|INDEX) (\w+)", MIGRATIONS[1])
        for kind, name in sorted(made, key=lambda m: m[0] != "INDEX"):  # indexes first
            conn.execute(f"DROP {kind} IF EXISTS {name}")
        conn.execute("PRAGMA user_version = 1")
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert SCHEMA_VERSION == len(MIGRATIONS) == 2

    out = _cli("runs", "--store", str(path), "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [(r["id"], r["verdict"]) for r in rows] == [(info.id, "failed")]
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        (created,) = conn.execute("SELECT created_at FROM analyses").fetchone()
        assert conn.execute("SELECT COUNT(*) FROM findings").fetchone()[0] >= 1
    table = _cli("runs", "--store", str(path))
    assert table.returncode == 0 and "failed" in table.stdout
    with sqlite3.connect(path) as conn:  # read, not analysed again
        assert conn.execute("SELECT created_at FROM analyses").fetchone()[0] == created


def test_analyze_with_rules_left_out_keeps_no_verdict(spec: str) -> None:
    with open_store(spec) as st:
        info = _run(st, "partial", nan_at=300)
    out = _cli("analyze", info.id, "--store", spec, "--ignore", "nan-inf")
    assert out.returncode == 0, out.stderr
    with open_store(spec) as st:
        assert st.read_analyses([info.id]) == {}
    out = _cli("analyze", info.id, "--store", spec, "--json")
    assert out.returncode == 0, out.stderr
    with open_store(spec) as st:
        assert st.read_analyses([info.id])[info.id].verdict == json.loads(out.stdout)["verdict"]


def test_load_reads_every_point_exactly(spec: str, engine: str, sql: Sql) -> None:
    """Store.load (on SQLite one pass over the run's rowid range) equals Store.series (the
    index), with NaN, ±inf, repeated and out-of-order steps, huge steps, and plain-SQL
    points. (PostgreSQL keeps one point per step: the first written.)"""
    with open_store(spec) as st:
        other = st.create_run("p", "other")
        info = st.create_run("p", "odd")
        pts = []
        for i in range(5000):
            st_ = i if i % 97 else i - 50  # out of order now and then
            v = [1.0 / (i + 1), math.nan, math.inf, -math.inf, -0.0, 2**60][i % 6]
            pts.append(MetricPoint("train/loss", st_, v, None if i % 3 else float(i)))
            pts.append(MetricPoint("train/loss", st_, 0.5, None))  # a repeated step
            pts.append(MetricPoint("big", 2**62 + i, float(i), None))
        st.write_points(info.id, pts[:7000])
        st.write_points(other.id, [MetricPoint("train/loss", 1, 1.0)])  # interleaved rows
        st.write_points(info.id, pts[7000:])
        st.write_points(info.id, [MetricPoint("sys", 1, 3.0, 5.0)], kind="system")
        ((kid,),) = sql(
            "SELECT id FROM metric_keys WHERE run_id = ? AND key = 'train/loss'", info.id
        )
        # plain SQL (on SQLite no rollups: read through the index instead)
        if engine == "sqlite":
            sql("INSERT INTO points VALUES (?, ?, ?, ?)", kid, -5, 9.0, None)
        else:
            sql("INSERT INTO points VALUES (?, ?, ?, ?, ?)", info.id, kid, -5, None, 9.0)
        run = st.load(info.id)
        assert set(run.series) == {"train/loss", "big"} and set(run.system) == {"sys"}
        for kind, got in (("metric", run.series), ("system", run.system)):
            for key, s in got.items():
                ref = st.series(info.id, key, kind=kind)
                assert s.steps.dtype == np.int64 and s.values.dtype == np.float64
                assert np.array_equal(s.steps, ref.steps)
                assert np.array_equal(s.values, ref.values, equal_nan=True)
                assert np.array_equal(s.wall_times, ref.wall_times, equal_nan=True)
        steps = {p.step for p in pts if p.key == "train/loss"} | {-5}
        kept = 2 * 5000 + 1 if engine == "sqlite" else len(steps)
        assert len(run.series["train/loss"]) == kept
        assert int(run.series["train/loss"].steps[0]) == -50  # sorted by step
        assert int(run.series["big"].steps[-1]) == 2**62 + 4999  # exact beyond 2**53


@pytest.mark.parametrize("n", [5, 40, 3000])
def test_signals_keep_their_numbers(n: int) -> None:
    """The chunked neighbour statistics give what one big nanmedian over all windows gives."""
    from losslens.analysis import signals

    rng = np.random.default_rng(n)
    x = rng.standard_normal(n)
    x[rng.integers(0, n, max(1, n // 40))] = np.nan
    for half in (3, 25):
        pad = np.concatenate([np.full(half, np.nan), x, np.full(half, np.nan)])
        win = np.lib.stride_tricks.sliding_window_view(pad, 2 * half + 1).copy()
        win[:, half] = np.nan
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            want = np.nanmedian(win, axis=1)
        assert np.array_equal(signals.neighbour_median(x, half), want, equal_nan=True)

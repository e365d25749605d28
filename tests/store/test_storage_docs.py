"""Every SQL example in docs/storage.md runs against a real store and returns what it says.

SQLite only: docs/storage.md documents the SQLite file (its SQL dialect, ``json_extract``,
``rollups``); the PostgreSQL tables are docs/team.md's."""

from __future__ import annotations

import math
import re
import sqlite3
from pathlib import Path

import pytest

from losslens.model import MetricPoint, RunStatus
from losslens.store import Store
from losslens.store.schema import MIGRATIONS

DOC = Path(__file__).resolve().parents[2] / "docs" / "storage.md"


def _examples() -> list[str]:
    return re.findall(r"```sql\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


@pytest.fixture
def conn(store_path: Path) -> sqlite3.Connection:
    with Store(store_path) as store:
        demo = store.create_run("docs", "demo", config={"learning_rate": 2e-4})
        store.write_points(
            demo.id,
            [MetricPoint("train/loss", i, 2.0 - i / 1000, 1e9 + i) for i in range(300)]
            + [MetricPoint("train/loss", 300, math.nan)]
            + [MetricPoint("eval/loss", i, 1.5 - i / 1000) for i in range(0, 300, 100)],
        )
        store.write_points(
            demo.id,
            [MetricPoint("system/gpu.0.memory_used_mb", i, 1000.0 + i) for i in range(3)],
            kind="system",
        )
        store.update_run(demo.id, status=RunStatus.FINISHED, summary={"train/loss": 1.701})
        silent = store.create_run("docs", "silent", host="elsewhere")
        store.update_run(silent.id, heartbeat=1.0)
    return sqlite3.connect(store_path)


def test_the_doc_has_examples() -> None:
    assert len(_examples()) >= 8


def test_every_example_runs(conn: sqlite3.Connection) -> None:
    for sql in _examples():
        code = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
        for stmt in [s for s in code.split(";") if s.strip()]:
            conn.execute(stmt).fetchall()  # raises on any mistake in the doc


def test_examples_return_what_they_say(conn: sqlite3.Connection) -> None:
    ex = _examples()

    def rows(i: int) -> list[tuple[object, ...]]:
        return conn.execute(ex[i]).fetchall()

    assert [r[1] for r in rows(0)] == ["silent"]
    blocks = rows(1)
    assert [(b[0], b[1], b[2]) for b in blocks] == [(0, 0, 255), (1, 256, 300)]
    assert blocks[0][3] == pytest.approx(2.0 - 0.255) and blocks[0][4] == 2.0
    assert blocks[0][5] == pytest.approx(2.0 - 0.1275)
    assert blocks[1][5] == pytest.approx(2.0 - (256 + 299) / 2000)  # the NaN is left out
    listed = {r[2]: r for r in rows(3)}
    assert listed["demo"][5] == 1.701 and listed["demo"][3] == "finished"
    assert rows(4) == [("demo", 2e-4, 1.3)]
    curve = rows(5)
    assert len(curve) == 301 and curve[0] == (0, 2.0) and curve[-1] == (300, None)
    bad = rows(6)
    assert [(r[1], r[2]) for r in bad] == [("train/loss", 300)]
    windows = rows(7)
    assert [w[1] for w in windows][:1] == [pytest.approx(2.0 - 49.5 / 1000)]
    assert rows(8)[0][2] == 1002.0
    assert [r[1:] for r in rows(9)] == [(301 + 3 + 3, 3)]


def test_the_documented_schema_matches_the_migration() -> None:
    text = DOC.read_text(encoding="utf-8")
    for table in re.findall(r"CREATE (?:TABLE|VIEW) (\w+)", MIGRATIONS[-1]):
        assert f"`{table}`" in text, f"{table} is not documented in docs/storage.md"
    assert f"now **{len(MIGRATIONS)}**" in text

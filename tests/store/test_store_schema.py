"""Opening, migrating and refusing store files; runs, findings and status.

Runs, findings and a store from a newer version are checked on both engines (``spec`` and
``store``: tests/store/conftest.py); opening, migrating and refusing *files* is SQLite's
alone (a PostgreSQL database is migrated by ``losslens db upgrade``: tests/team).
"""

from __future__ import annotations

import os
import socket
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from losslens.errors import RunNotFoundError, StoreError, StoreVersionError
from losslens.model import (
    HEARTBEAT_TIMEOUT_S,
    Evidence,
    Finding,
    MetricPoint,
    RunInfo,
    RunStatus,
    Severity,
    finding_from_dict,
)
from losslens.paths import default_store_path
from losslens.store import Store, StoreProtocol, effective_status
from losslens.store.open import open_store
from losslens.store.schema import APPLICATION_ID, SCHEMA_VERSION
from losslens.stored_analysis import report_for

#: The ``sql`` fixture (tests/store/conftest.py): plain SQL on the store, ``?`` placeholders.
Sql = Callable[..., list[tuple[Any, ...]]]

TABLES = {"projects", "runs", "metric_keys", "points", "findings"}


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def test_migrates_an_empty_file(tmp_path: Path) -> None:  # SQLite only, as the next five
    path = tmp_path / "empty.db"
    path.write_bytes(b"")
    with Store(path, create=False) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.integrity_check() == "ok"
    assert _tables(path) >= TABLES
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    with Store(path) as store:  # opening again migrates nothing and keeps data
        run = store.create_run("p")
    with Store(path) as store:
        assert [r.id for r in store.list_runs()] == [run.id]


def test_default_location_is_under_losslens_home(tmp_path: Path) -> None:
    with Store() as store:
        store.create_run("p")
    assert default_store_path() == tmp_path / "losslens-home" / "losslens.db"
    assert default_store_path().exists()
    folder = tmp_path / "folder"
    folder.mkdir()
    with Store(folder) as store:  # a folder means the store file inside it
        assert store.path == folder / "losslens.db"


def test_refuses_a_store_from_a_newer_version(spec: str, engine: str, sql: Sql) -> None:
    open_store(spec).close()
    if engine == "sqlite":
        sql(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    else:
        sql(
            "INSERT INTO schema_migrations (version, name, applied_at) "
            "SELECT max(version) + 1, 'from_the_future', now() FROM schema_migrations"
        )
    with pytest.raises(StoreVersionError) as err:
        open_store(spec)
    assert "newer losslens" in err.value.message
    assert "upgrade" in (err.value.hint or "")


def test_refuses_a_text_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("these are my notes, not a database\n" * 50)
    with pytest.raises(StoreError) as err:
        Store(path)
    assert "not a readable losslens store" in err.value.message
    assert path.read_text().startswith("these are my notes")


def test_refuses_and_leaves_alone_another_sqlite_database(tmp_path: Path) -> None:
    path = tmp_path / "mlflow.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE experiments (id INTEGER PRIMARY KEY)")
    with pytest.raises(StoreError) as err:
        Store(path)
    assert "not a losslens store" in err.value.message
    assert _tables(path) == {"experiments"}


def test_missing_store_without_create(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as err:
        Store(tmp_path / "nope.db", create=False)
    assert "no store" in err.value.message
    assert not (tmp_path / "nope.db").exists()


def test_run_lookup_by_id_prefix_and_name(store: StoreProtocol) -> None:
    a = store.create_run("p", "same", run_id="abc11111")
    b = store.create_run("p", "same", run_id="abc22222", start_time=time.time() + 1)
    c = store.create_run("q", run_id="zzz00000")
    assert store.get_run("abc11111").id == a.id
    assert store.get_run("abc2").id == b.id
    assert store.get_run("same").id == b.id  # the newest run of that name
    assert store.get_run("zzz").name == "run-1"
    with pytest.raises(RunNotFoundError, match="matches 2 runs"):
        store.get_run("abc")
    with pytest.raises(RunNotFoundError, match="no run 'nothing'"):
        store.get_run("nothing")
    with pytest.raises(StoreError, match="exists already"):
        store.create_run("p", run_id="abc11111")
    assert store.projects() == ["p", "q"]
    assert [r.id for r in store.list_runs("p")] == [b.id, a.id]
    assert [r.id for r in store.list_runs()] == [b.id, c.id, a.id]
    assert store.find_by_source("none") is None
    assert store.find_run_id("abc1") is None  # exactly this id: no prefix matching
    found = store.find_run_id("abc11111")
    assert found is not None and found.name == "same"
    assert c.id == "zzz00000"
    # the same name and start: the run created last is the newest
    x = store.create_run("r", "twin", run_id="twin0000", start_time=1000.0)
    y = store.create_run("r", "twin", run_id="twin1111", start_time=1000.0)
    assert store.get_run("twin").id == y.id != x.id
    assert [r.id for r in store.list_runs("r")] == [y.id, x.id]
    store.set_source_id(a.id, "sha:1")
    by_source = store.find_by_source("sha:1")
    assert by_source is not None and by_source.id == a.id
    with pytest.raises(StoreError, match="exists already"):
        store.create_run("p", source_id="sha:1")


def test_update_and_delete_run_cascades(store: StoreProtocol, sql: Sql) -> None:
    run = store.create_run("p")
    other = store.create_run("p")
    store.write_points(run.id, [MetricPoint("k", i, float(i)) for i in range(10)])
    store.write_points(run.id, [MetricPoint("cpu", 0, 1.0)], kind="system")
    store.write_points(other.id, [MetricPoint("k", 0, 1.0)])
    store.update_run(run.id, status=RunStatus.FINISHED, end_time=time.time(), exit_code=0)
    store.update_run(run.id, config={"lr": 0.1}, summary={"loss": 1.0}, name="renamed")
    got = store.get_run(run.id)
    assert got.status is RunStatus.FINISHED and got.exit_code == 0 and got.name == "renamed"
    assert got.config == {"lr": 0.1} and got.summary == {"loss": 1.0}
    with pytest.raises(ValueError):
        store.update_run(run.id, id="other")
    report_for(store, store.get_run(run.id))  # a stored analysis and its findings
    assert sql("SELECT COUNT(*) FROM analyses") == [(1,)]
    store.delete_run(run.id)
    with pytest.raises(RunNotFoundError):
        store.get_run(run.id)
    assert sql("SELECT COUNT(*) FROM points") == [(1,)]  # the other run's point only
    assert sql("SELECT COUNT(*) FROM metric_keys") == [(1,)]
    assert sql("SELECT COUNT(*) FROM analyses") == sql("SELECT COUNT(*) FROM findings") == [(0,)]
    assert store.load(other.id).series["k"].values.tolist() == [1.0]


def test_findings_round_trip(store: StoreProtocol) -> None:
    finding = Finding(
        rule_id="nan_loss",
        kind="nan",
        severity=Severity.ERROR,
        title={"en": "Loss became NaN", "ko": "손실이 NaN이 되었습니다"},
        explanation={"en": "x"},
        suggestion={"en": "y"},
        evidence=Evidence("train/loss", 10, 20, {"first_nan": float("nan"), "n": 3}),
        onset_step=10,
    )
    run = store.create_run("p")
    store.save_findings(run.id, [finding, finding])
    store.save_findings(run.id, [finding])  # replaces
    loaded = store.load_findings(run.id)
    assert len(loaded) == 1
    back = finding_from_dict(loaded[0])
    assert back.title == finding.title and back.onset_step == 10
    assert str(back.evidence.values["first_nan"]) == "nan"


def _info(**kw: object) -> RunInfo:
    base: dict[str, object] = {
        "id": "x",
        "project": "p",
        "name": "n",
        "status": RunStatus.RUNNING,
        "start_time": time.time(),  # after this process began, as for a real run
        "heartbeat": time.time(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }
    base.update(kw)
    return RunInfo(**base)  # type: ignore[arg-type]


def test_effective_status() -> None:
    assert effective_status(_info()) is RunStatus.RUNNING
    # The process is gone.
    assert effective_status(_info(pid=2**22 + 12345)) is RunStatus.CRASHED
    # The pid is alive but belongs to a process that started after the run (pid reuse).
    assert effective_status(_info(start_time=time.time() - 10**7)) is RunStatus.CRASHED
    # Another host: only the heartbeat can tell.
    other = {"host": "elsewhere", "pid": 1}
    assert effective_status(_info(**other)) is RunStatus.RUNNING
    stale = time.time() - HEARTBEAT_TIMEOUT_S - 1
    assert effective_status(_info(heartbeat=stale, **other)) is RunStatus.CRASHED
    # Final states are never second-guessed.
    assert effective_status(_info(status=RunStatus.FINISHED, pid=2**22 + 1)) is RunStatus.FINISHED


def test_both_engines_implement_the_store_protocol(spec: str) -> None:
    """At run time (mypy --strict proves the signatures: losslens.store.protocol)."""
    with open_store(spec) as store:
        assert isinstance(store, StoreProtocol)
        assert store.readonly is False and store.schema_version >= 1
        with store.snapshot():
            assert store.list_runs() == [] and store.projects() == []


def test_writing_points_to_a_missing_run_is_run_not_found(store: StoreProtocol) -> None:
    run = store.create_run("p")
    store.delete_run(run.id)
    for run_id in (run.id, "never-made"):
        with pytest.raises(RunNotFoundError, match=run_id):
            store.write_points(run_id, [MetricPoint("k", 0, 1.0)])
    assert store.list_runs() == []

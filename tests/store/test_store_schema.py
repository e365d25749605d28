"""Opening, migrating and refusing store files; runs, findings and status."""

from __future__ import annotations

import os
import socket
import sqlite3
import time
from pathlib import Path

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
from losslens.store import Store, effective_status
from losslens.store.schema import APPLICATION_ID, SCHEMA_VERSION

TABLES = {"projects", "runs", "metric_keys", "points", "findings"}


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def test_migrates_an_empty_file(tmp_path: Path) -> None:
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


def test_refuses_a_store_from_a_newer_version(store_path: Path) -> None:
    Store(store_path).close()
    with sqlite3.connect(store_path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreVersionError) as err:
        Store(store_path)
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


def test_run_lookup_by_id_prefix_and_name(store_path: Path) -> None:
    with Store(store_path) as store:
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
        assert store.find_by_source("none") is None
        assert c.id == "zzz00000"


def test_update_and_delete_run_cascades(store_path: Path) -> None:
    with Store(store_path) as store:
        run = store.create_run("p")
        store.write_points(run.id, [MetricPoint("k", i, float(i)) for i in range(10)])
        store.write_points(run.id, [MetricPoint("cpu", 0, 1.0)], kind="system")
        store.update_run(run.id, status=RunStatus.FINISHED, end_time=time.time(), exit_code=0)
        assert store.get_run(run.id).status is RunStatus.FINISHED
        with pytest.raises(ValueError):
            store.update_run(run.id, id="other")
        store.delete_run(run.id)
        with pytest.raises(RunNotFoundError):
            store.get_run(run.id)
        assert store.conn.execute("SELECT COUNT(*) FROM points").fetchone()[0] == 0
        assert store.conn.execute("SELECT COUNT(*) FROM metric_keys").fetchone()[0] == 0


def test_findings_round_trip(store_path: Path) -> None:
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
    with Store(store_path) as store:
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

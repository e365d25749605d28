"""A store on a read-only mount: read commands work (SQLite ``mode=ro``, or ``immutable``
when the ``-shm`` file cannot be made), writes say so in one line.

As root, file permissions do not stop writes, so the tests use a read-only bind mount
(skipped with the reason where mounting is not allowed).

SQLite only: a read-only *file*. A PostgreSQL store is never read-only to losslens (the
server's permissions refuse a write with their own error)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import losslens
from losslens.errors import StoreError
from losslens.store import Store

DATA = Path(__file__).resolve().parents[1] / "data"


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True)


@pytest.fixture
def readonly_dir(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """(a writable folder, the same folder mounted read-only)."""
    src = tmp_path / "rw"
    ro = tmp_path / "ro"
    src.mkdir()
    ro.mkdir()
    proc = _mount("--bind", str(src), str(ro))
    if proc.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {proc.stderr.strip() or proc.returncode}")
    proc = _mount("-o", "remount,bind,ro", str(ro))
    if proc.returncode != 0:
        subprocess.run(["umount", str(ro)], check=False)
        pytest.skip(f"cannot remount read-only here: {proc.stderr.strip() or proc.returncode}")
    try:
        yield src, ro
    finally:
        subprocess.run(["umount", "-l", str(ro)], check=False)


def _cli(*args: str | os.PathLike[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "losslens", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ,
    )


def _make_store(folder: Path) -> tuple[Path, str]:
    store = folder / "losslens.db"
    run = losslens.init(project="ro", name="r1", dir=store, system_metrics=False)
    for i in range(50):
        run.log({"train/loss": 2.0 / (i + 1)})
    run.finish()
    return store, run.id


def _check_read_commands(store: Path, run_id: str) -> None:
    for args in (("runs",), ("show", run_id), ("analyze", run_id)):
        res = _cli(*args, "--store", store)
        assert res.returncode in (0, 1), res.stderr  # 1: analyze found something
        assert "Traceback" not in res.stderr
        assert run_id in res.stdout or args[0] == "analyze"
    res = _cli("runs", "--store", store, "--json")
    assert res.returncode == 0 and run_id in res.stdout


def _check_writes_refused(store: Path) -> None:
    state = DATA / "faults" / "healthy" / "trainer_state.json"
    res = _cli("import", state, "--store", store)
    assert res.returncode == 2
    lines = [x for x in res.stderr.splitlines() if x.startswith("losslens: error:")]
    assert len(lines) == 1 and "read-only" in lines[0], res.stderr
    assert "Traceback" not in res.stderr
    with pytest.raises(StoreError, match="read-only"):
        losslens.init(project="ro", dir=store, system_metrics=False)


def test_a_clean_store_on_a_read_only_mount(readonly_dir: tuple[Path, Path]) -> None:
    rw, ro = readonly_dir
    _, run_id = _make_store(rw)
    assert not (rw / "losslens.db-wal").exists()
    store = ro / "losslens.db"
    with Store(store, create=False) as s:
        assert s.readonly and s.immutable  # WAL without a -shm: only an immutable open reads
        assert [r.id for r in s.list_runs()] == [run_id]
        assert s.count_points(run_id) == 50
    _check_read_commands(store, run_id)
    _check_writes_refused(store)


def test_a_store_with_wal_and_shm_on_a_read_only_mount(
    readonly_dir: tuple[Path, Path], tmp_path: Path
) -> None:
    rw, ro = readonly_dir
    live = tmp_path / "live"
    live.mkdir()
    store, run_id = _make_store(live)
    # copy the store while a connection holds it open: -wal and -shm come along
    conn = sqlite3.connect(store)
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    conn.execute("UPDATE runs SET name = 'renamed'")
    conn.commit()
    for suffix in ("", "-wal", "-shm"):
        shutil.copyfile(f"{store}{suffix}", rw / f"losslens.db{suffix}")
    conn.close()
    ro_store = ro / "losslens.db"
    assert Path(f"{ro_store}-wal").exists() and Path(f"{ro_store}-shm").exists()
    with Store(ro_store, create=False) as s:
        assert s.readonly
        assert s.count_points(run_id) == 50
    _check_read_commands(ro_store, run_id)
    _check_writes_refused(ro_store)


def test_readonly_open_refuses_writes_in_one_line(store_path: Path) -> None:
    _make_store(store_path.parent)
    with Store(store_path.parent / "losslens.db", readonly=True) as s:
        with pytest.raises(StoreError, match="read-only") as info:
            s.update_run(s.list_runs()[0].id, name="x")
        assert "\n" not in str(info.value)

"""``losslens runs`` and ``losslens show`` through a real subprocess."""

from __future__ import annotations

import json
import math
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from losslens.model import MetricPoint, RunStatus
from losslens.store import Store
from losslens.store.schema import SCHEMA_VERSION


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "losslens", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "120"},
    )


def _fill(store_path: Path) -> dict[str, str]:
    with Store(store_path) as store:
        done = store.create_run("qlora", "done", config={"lr": 2e-4, "r": 16})
        store.write_points(
            done.id,
            [MetricPoint("train/loss", i, 2.0 - i / 100, 1000.0 + i) for i in range(100)]
            + [MetricPoint("eval/loss", i, 1.9 - i / 200) for i in range(0, 100, 10)]
            + [MetricPoint("train/grad_norm", 50, math.nan)],
        )
        store.write_points(done.id, [MetricPoint("system/cpu_percent", 0, 50.0)], kind="system")
        store.update_run(
            done.id,
            status=RunStatus.FINISHED,
            end_time=done.start_time + 3600,
            summary={"train/loss": 1.01, "best": math.nan},
        )
        dead = store.create_run("qlora", "학습 🚀", pid=2**22 + 7, host=os.uname().nodename)
        other = store.create_run("other", "elsewhere")
    return {"done": done.id, "dead": dead.id, "other": other.id}


def test_runs_json_lists_every_run_with_its_status(store_path: Path) -> None:
    ids = _fill(store_path)
    out = cli("runs", "--json", "--store", store_path)
    assert out.returncode == 0, out.stderr
    runs = {r["name"]: r for r in json.loads(out.stdout)}
    assert set(runs) == {"done", "학습 🚀", "elsewhere"}
    assert runs["done"]["status"] == "finished"
    assert runs["done"]["duration"] == pytest.approx(3600)
    assert runs["done"]["config"] == {"lr": 2e-4, "r": 16}
    assert runs["학습 🚀"]["status"] == "crashed"  # running, but its process is gone
    assert runs["학습 🚀"]["id"] == ids["dead"]
    only = json.loads(cli("runs", "--json", "--project", "other", "--store", store_path).stdout)
    assert [r["id"] for r in only] == [ids["other"]]


def test_runs_table_and_default_store(store_path: Path, tmp_path: Path) -> None:
    empty = cli("runs")  # the default store (under LOSSLENS_HOME) does not exist yet
    assert empty.returncode == 0, empty.stderr
    assert "no runs yet" in empty.stdout
    _fill(tmp_path / "losslens-home" / "losslens.db")
    table = cli("runs")
    assert table.returncode == 0, table.stderr
    assert "학습 🚀" in table.stdout and "crashed" in table.stdout and "finished" in table.stdout
    assert "1h00m00s" in table.stdout


def test_show_prints_config_summary_and_a_sparkline_per_metric(store_path: Path) -> None:
    ids = _fill(store_path)
    out = cli("show", ids["done"][:4], "--store", store_path)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    for needle in ("qlora/done", "finished", "Run history", "Run summary", "Config"):
        assert needle in text
    history = text.split("Run history")[1].split("Run summary")[0]
    lines = {line.split()[0]: line for line in history.splitlines() if line.strip()}
    for key in ("train/loss", "eval/loss"):
        assert any(ch in lines[key] for ch in "▁▂▃▄▅▆▇█"), lines[key]
    assert "train/grad_norm" in lines  # only a NaN: listed, with no line to draw
    assert lines["train/loss"].split()[-1] == "100"  # points
    assert "system/cpu_percent" in text


def test_show_json(store_path: Path) -> None:
    ids = _fill(store_path)
    out = cli("show", "done", "--json", "--store", store_path)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["id"] == ids["done"]
    loss = data["metrics"]["train/loss"]
    assert loss["points"] == 100 and loss["first_step"] == 0 and loss["last_step"] == 99
    assert loss["min"] == pytest.approx(1.01) and loss["max"] == 2.0
    assert data["metrics"]["train/grad_norm"]["non_finite"] == 1
    assert data["system"]["system/cpu_percent"]["points"] == 1
    assert data["summary"]["train/loss"] == 1.01


def _one_line_error(out: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert out.stdout == ""
    first = out.stderr.splitlines()[0]
    assert first.startswith("losslens: error: ")
    for needle in needles:
        assert needle in out.stderr


def test_errors_are_one_line_without_traceback(store_path: Path, tmp_path: Path) -> None:
    _fill(store_path)
    _one_line_error(cli("show", "no-such-run", "--store", store_path), "no run 'no-such-run'")

    text = tmp_path / "notes.txt"
    text.write_text("not a database\n" * 100)
    _one_line_error(cli("runs", "--store", text), "not a readable losslens store")
    _one_line_error(cli("show", "x", "--json", "--store", text), "not a readable losslens store")

    newer = tmp_path / "newer.db"
    Store(newer).close()
    with sqlite3.connect(newer) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    _one_line_error(cli("runs", "--store", newer), "newer losslens", "upgrade")

    _one_line_error(cli("show", "x", "--store", tmp_path / "missing.db"), "no store at")
    assert not (tmp_path / "missing.db").exists()


def test_a_killed_logger_shows_as_crashed(store_path: Path) -> None:
    code = (
        "import losslens, os, signal\n"
        f"run = losslens.init(project='k', name='victim', dir={str(store_path)!r})\n"
        "run.log({'loss': 1.0}); run.flush()\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    child = subprocess.run([sys.executable, "-c", code], timeout=120, check=False)
    assert child.returncode == -9
    runs = json.loads(cli("runs", "--json", "--store", store_path).stdout)
    assert [(r["name"], r["status"]) for r in runs] == [("victim", "crashed")]
    shown = json.loads(cli("show", "victim", "--json", "--store", store_path).stdout)
    assert shown["metrics"]["loss"]["points"] == 1
    text = cli("show", "victim", "--store", store_path).stdout
    assert "crashed" in text and "stopped without finishing" in text

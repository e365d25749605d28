"""The local-first sync client against a real ``losslens server`` on a real PostgreSQL: a
training script with ``server=`` ends with every point on the server; a server that comes up
late is caught up with by itself; a client killed with SIGKILL is completed by ``losslens
sync`` without duplicates; a read-only token costs one error line and nothing local."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from extras import needs

needs("psycopg", "team")
needs("starlette", "team")
needs("uvicorn", "team")

import psycopg  # noqa: E402

from losslens.model import Report, finding_to_dict  # noqa: E402
from losslens.server.tokens import create_token  # noqa: E402
from losslens.store import Store  # noqa: E402
from losslens.store.pg import PgStore  # noqa: E402
from losslens.stored_analysis import analysis_version, current_report  # noqa: E402

SCRIPT = """
import os, sys, time
from pathlib import Path
import losslens
run = losslens.init(project="alpha", id=sys.argv[1], server=os.environ.get("SYNC_URL"),
                    system_metrics=False)
steps = int(sys.argv[2])
for step in range(steps):
    losslens.log({"train/loss": 2.0 / (1 + step), "train/lr": 1e-4, "Eval Loss": float("nan")})
run.flush()
Path(sys.argv[3]).write_text(str(steps))
if sys.argv[4] == "hang":
    time.sleep(600)
elif sys.argv[4] == "wait":
    while not Path(sys.argv[3] + ".go").exists():
        time.sleep(0.05)
losslens.finish()
print("done")
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, url: str) -> None:
        self.url, self.port = url, free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "losslens", "server", "--store", self.url, "--port",
             str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "losslens server exited"
            try:
                with urllib.request.urlopen(self.base + "/api/v1/health", timeout=5) as got:
                    if json.load(got)["ok"]:
                        return
            except OSError:
                time.sleep(0.1)
        pytest.fail("losslens server did not answer within 60 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)


@pytest.fixture
def server(pg_store_url: str) -> Iterator[Server]:
    srv = Server(pg_store_url)
    try:
        yield srv
    finally:
        srv.stop()


def token(url: str, scope: str = "write") -> str:
    with PgStore(url) as store:
        return create_token(store, "alpha", scope=scope)[1]


def client(
    tmp_path: Path, srv: Server, tok: str, run_id: str, steps: int, mode: str = "end"
) -> subprocess.Popen[str]:
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    env = {
        **os.environ,
        "LOSSLENS_STORE": str(tmp_path / "local.db"),
        "SYNC_URL": srv.base,
        "LOSSLENS_TOKEN": tok,
        "LOSSLENS_SYNC_TIMEOUT": "60",
    }
    env.pop("LOSSLENS_SERVER", None)
    return subprocess.Popen(
        [sys.executable, str(script), run_id, str(steps), str(tmp_path / "flushed"), mode],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(path: Path, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the client never reached its flush"
        time.sleep(0.05)


def local_points(db: Path, run_id: str) -> set[tuple[str, int]]:
    """The (key, step) of a run's points in the local store ``db``."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT k.key, p.step FROM points p JOIN metric_keys k ON k.id = p.key_id "
            "WHERE k.run_id = ?",
            (run_id,),
        ).fetchall()
    return {(str(k), int(s)) for k, s in rows}


def remote(url: str, run_id: str) -> tuple[list[tuple[str, int]], str, int]:
    """The server's points of ``run_id`` (with any duplicates), its status and NaN count."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT k.key, p.step, p.value FROM points p JOIN metric_keys k ON k.id = p.key_id "
            "WHERE p.run_id = %s",
            (run_id,),
        ).fetchall()
        status = conn.execute("SELECT status FROM runs WHERE id = %s", (run_id,)).fetchone()
    nans = sum(1 for r in rows if r[2] is not None and r[2] != r[2])
    return [(str(k), int(s)) for k, s, _ in rows], status[0] if status else "", nans


def local_report(db: Path, run_id: str) -> Report:
    analysis_version.cache_clear()  # as the client computed it: others may edit the analysis
    with Store(db, create=False) as local:
        report = current_report(local, local.get_run(run_id))
    assert report is not None, "the client did not analyse the run"
    return report


def findings_match(db: Path, url: str, run_id: str) -> Report:
    """The server holds the findings the client made, current (so nothing analyses again)."""
    analysis_version.cache_clear()
    with PgStore(url) as store:
        on_server = current_report(store, store.get_run(run_id))
    assert on_server is not None, "no current findings on the server"
    local = local_report(db, run_id)
    assert on_server.verdict == local.verdict
    assert [finding_to_dict(f) for f in on_server.findings] == [
        finding_to_dict(f) for f in local.findings
    ]
    assert [r.metric for r in on_server.readings] == [r.metric for r in local.readings]
    return on_server


def http_get(srv: Server, tok: str, path: str) -> Any:
    req = urllib.request.Request(
        srv.base + "/api/v1" + path, headers={"Authorization": f"Bearer {tok}"}
    )
    with urllib.request.urlopen(req, timeout=30) as got:
        return json.load(got)


def sync_cli(tmp_path: Path, srv: Server, tok: str, *runs: str) -> Any:
    got = subprocess.run(
        [sys.executable, "-m", "losslens", "sync", *runs, "--server", srv.base, "--token", tok,
         "--store", str(tmp_path / "local.db"), "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert got.returncode == 0, got.stderr
    return json.loads(got.stdout)


def test_a_script_with_server_ends_with_every_point_on_the_server(
    tmp_path: Path, server: Server, pg_store_url: str
) -> None:
    server.start()
    proc = client(tmp_path, server, token(pg_store_url), "r-live", 5000)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "done" in out, err
    assert "losslens sync" not in err  # nothing left pending
    points, status, nans = remote(pg_store_url, "r-live")
    assert len(points) == 15_000 and set(points) == local_points(tmp_path / "local.db", "r-live")
    assert status == "finished" and nans == 5000
    # the client analysed the run and sent its findings: current on the server, unanalysed
    report = findings_match(tmp_path / "local.db", pg_store_url, "r-live")
    assert report.findings  # a NaN eval loss at every step
    assert http_get(server, token(pg_store_url, "read"), "/runs/r-live")["analysis"] == {
        "verdict": str(report.verdict),
        "n_findings": len(report.findings),
        "created_at": pytest.approx(time.time(), abs=600),
        "current": True,
    }
    again = sync_cli(tmp_path, server, token(pg_store_url), "r-live")
    assert again["runs"] == [{"run": "r-live", "sent": 0, "skipped": True}]


def test_a_server_that_starts_late_is_caught_up_with_before_finish_returns(
    tmp_path: Path, server: Server, pg_store_url: str
) -> None:
    tok = token(pg_store_url)
    proc = client(tmp_path, server, tok, "r-late", 2000, "wait")
    wait_for(tmp_path / "flushed", proc)  # every point logged while the server is down
    server.start()
    (tmp_path / "flushed.go").touch()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "done" in out, err
    points, status, _ = remote(pg_store_url, "r-late")
    assert len(points) == 6000 and set(points) == local_points(tmp_path / "local.db", "r-late")
    assert status == "finished"


@pytest.mark.parametrize("online", [False, True], ids=["offline", "online"])
def test_a_client_killed_with_sigkill_is_completed_by_losslens_sync(
    tmp_path: Path, server: Server, pg_store_url: str, online: bool
) -> None:
    tok = token(pg_store_url)
    if online:
        server.start()  # the live sync sends some or all of it before the kill
    proc = client(tmp_path, server, tok, "r-kill", 3000, "hang")
    wait_for(tmp_path / "flushed", proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    if not online:
        server.start()
    got = sync_cli(tmp_path, server, tok)["runs"]
    assert [r["run"] for r in got] == ["r-kill"] and "error" not in got[0]
    if not online:
        verdict = str(local_report(tmp_path / "local.db", "r-kill").verdict)
        assert got[0] == {"run": "r-kill", "sent": 9000, "skipped": False, "verdict": verdict}
    points, status, _ = remote(pg_store_url, "r-kill")
    assert len(points) == 9000 and set(points) == local_points(tmp_path / "local.db", "r-kill")
    assert status == "crashed"  # what the local store says of a client that died
    findings_match(tmp_path / "local.db", pg_store_url, "r-kill")  # sent by losslens sync
    again = sync_cli(tmp_path, server, tok, "r-kill")["runs"][0]
    assert again == {"run": "r-kill", "sent": 0, "skipped": True}
    assert len(remote(pg_store_url, "r-kill")[0]) == 9000


@pytest.mark.parametrize("kind", ["read", "wrong"])
def test_a_refused_token_costs_one_error_line_and_nothing_local(
    tmp_path: Path, server: Server, pg_store_url: str, kind: str
) -> None:
    server.start()
    tok = token(pg_store_url, "read") if kind == "read" else "ll_" + "x" * 43
    proc = client(tmp_path, server, tok, "r-ro", 2000)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "done" in out, err  # training went on to its end
    lines = [line for line in err.splitlines() if line.strip()]
    code = "403" if kind == "read" else "401"
    assert len(lines) == 1 and f"refused ({code}" in lines[0] and "losslens sync r-ro" in lines[0]
    assert len(local_points(tmp_path / "local.db", "r-ro")) == 6000
    with Store(tmp_path / "local.db", create=False) as local:
        assert str(local.get_run("r-ro").status) == "finished"
    assert remote(pg_store_url, "r-ro")[0] == []


# -- the HF callback and ``losslens train`` with a server -------------------------------------


@pytest.mark.slow
def test_the_hf_callback_sends_its_run_to_the_server(
    tmp_path: Path, server: Server, pg_store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    needs("transformers", "train")
    from datasets import Dataset
    from transformers import Trainer, TrainingArguments

    from losslens.integrations.hf import LosslensCallback
    from losslens.train.tiny import build_model, build_tokenizer

    server.start()
    monkeypatch.delenv("LOSSLENS_SERVER", raising=False)
    monkeypatch.setenv("LOSSLENS_TOKEN", token(pg_store_url))  # the token from the environment
    monkeypatch.setenv("LOSSLENS_SYNC_TIMEOUT", "120")
    text = "the cat sat on the mat and the dog sat on the log " * 4
    tok = build_tokenizer([text], vocab_size=300)
    ids = tok(text)["input_ids"][:24]
    args = TrainingArguments(
        output_dir=str(tmp_path / "out"), max_steps=6, per_device_train_batch_size=2,
        learning_rate=5e-3, logging_steps=1, save_strategy="no", report_to="none",
        use_cpu=True, disable_tqdm=True, seed=0,
    )  # fmt: skip
    callback = LosslensCallback(
        project="alpha", dir=str(tmp_path / "local.db"), server=server.base, system_metrics=False
    )
    rows = Dataset.from_list([{"input_ids": ids, "labels": ids} for _ in range(8)])
    Trainer(model=build_model(tok, 0), args=args, train_dataset=rows, callbacks=[callback]).train()
    assert callback.run is not None and callback.done
    run_id = callback.run.id
    points, status, _ = remote(pg_store_url, run_id)
    assert status == "finished" and ("train/loss", 6) in points
    assert sorted(points) == sorted(local_points(tmp_path / "local.db", run_id))
    findings_match(tmp_path / "local.db", pg_store_url, run_id)


@pytest.mark.slow
def test_losslens_train_with_server_sends_its_run(
    tmp_path: Path, server: Server, pg_store_url: str
) -> None:
    needs("transformers", "train")
    server.start()
    data = Path(__file__).resolve().parents[2] / "examples" / "mini_instruct.jsonl"
    env = {k: v for k, v in os.environ.items() if k not in ("LOSSLENS_SERVER", "LOSSLENS_TOKEN")}
    got = subprocess.run(
        [sys.executable, "-m", "losslens", "train", "--model", "tiny", "--cutoff_len", "64",
         "--data_path", str(data), "--output_dir", str(tmp_path / "out"), "--max_steps", "4",
         "--logging_steps", "1", "--eval_steps", "2", "--name", "team-sft",
         "--store", str(tmp_path / "local.db"),
         "--server", server.base, "--token", token(pg_store_url)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env={**env, "PYTHONWARNINGS": "ignore::DeprecationWarning", "LOSSLENS_SYNC_TIMEOUT": "120"},
    )  # fmt: skip
    assert got.returncode == 0, got.stderr[-3000:]
    assert "losslens sync" not in got.stderr  # nothing left pending
    with Store(tmp_path / "local.db", create=False) as local:
        (info,) = local.list_runs()
    points, status, _ = remote(pg_store_url, info.id)
    assert status == "finished" and info.name == "team-sft"
    assert {s for k, s in points if k == "train/loss"} == {1, 2, 3, 4}
    assert {s for k, s in points if k == "eval/loss"} == {2, 4}
    assert sorted(points) == sorted(local_points(tmp_path / "local.db", info.id))
    findings_match(tmp_path / "local.db", pg_store_url, info.id)

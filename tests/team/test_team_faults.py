"""Faults of the team mode, with real processes: clients (``losslens.init(server=…)``) and
``losslens server`` on a real PostgreSQL. Eight clients logging 50,000 steps each at once
lose and duplicate nothing; a client whose network goes dark for 30 s catches up by itself;
a server killed with SIGKILL and back 10 s later gets every point; a client killed with
SIGKILL while logging is completed by ``losslens sync`` up to its last local flush.
(Refused tokens and a server that starts late: test_team_sync.py.)"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from extras import needs

needs("psycopg", "team")
needs("starlette", "team")
needs("uvicorn", "team")

import psycopg  # noqa: E402
from test_team_sync import (  # noqa: E402
    Server,
    findings_match,
    local_points,
    remote,
    token,
)

KEYS = ("train/loss", "train/lr", "train/grad_norm")

#: 50,000 steps of three metrics, as fast as the loop goes.
BURST = """
import os, sys
import losslens
run = losslens.init(project="alpha", id=sys.argv[1], server=os.environ["SYNC_URL"],
                    system_metrics=False)
for step in range(int(sys.argv[2])):
    losslens.log({"train/loss": 2.0 / (1 + step), "train/lr": 1e-4, "train/grad_norm": 0.5})
losslens.finish()
print("done")
"""

#: Logs about 1,000 steps a second until told to stop (the file argv[2] exists); every 500
#: steps it flushes and writes the number of steps flushed to argv[3] (atomically).
PACED = """
import os, sys, time
from pathlib import Path
import losslens
run = losslens.init(project="alpha", id=sys.argv[1], server=os.environ["SYNC_URL"],
                    system_metrics=False)
stop, flushed = Path(sys.argv[2]), Path(sys.argv[3])
step = 0
while not stop.exists():
    for _ in range(500):
        losslens.log({"train/loss": 2.0 / (1 + step), "train/lr": 1e-4})
        step += 1
        if step % 10 == 0:
            time.sleep(0.01)
    run.flush()
    flushed.with_suffix(".tmp").write_text(str(step))
    flushed.with_suffix(".tmp").replace(flushed)
losslens.finish()
print("done")
"""


def start_client(
    tmp_path: Path, script: str, url: str, tok: str, run_id: str, *args: str
) -> subprocess.Popen[str]:
    """A client process; its local store is ``RUN_ID.db`` (one machine, one store)."""
    path = tmp_path / f"{run_id}.py"
    path.write_text(script)
    env = {
        **os.environ,
        "LOSSLENS_STORE": str(tmp_path / f"{run_id}.db"),
        "SYNC_URL": url,
        "LOSSLENS_TOKEN": tok,
        "LOSSLENS_SYNC_TIMEOUT": "240",
    }
    env.pop("LOSSLENS_SERVER", None)
    return subprocess.Popen(
        [sys.executable, str(path), run_id, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def local_top(tmp_path: Path, run_id: str) -> int:
    """The last step the client's local store holds now (read-only, while it logs)."""
    with sqlite3.connect(f"file:{tmp_path / f'{run_id}.db'}?mode=ro", uri=True, timeout=30) as c:
        row = c.execute("SELECT MAX(step) FROM points").fetchone()
    return int(row[0]) if row and row[0] is not None else -1


def server_top(url: str, run_id: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT MAX(step_max) FROM metric_keys WHERE run_id = %s", (run_id,)
        ).fetchone()
    return int(row[0]) if row and row[0] is not None else -1


def wait_until(
    what: str, check: Callable[[], bool], proc: subprocess.Popen[str], limit: float = 120
) -> None:
    """Wait (bounded) until ``check()``, the client still running."""
    deadline = time.monotonic() + limit
    while not check():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{what}: not within {limit:.0f} s"
        time.sleep(0.1)


def finish_client(proc: subprocess.Popen[str], stop: Path) -> str:
    stop.touch()
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0 and "done" in out, err
    assert "losslens sync" not in err, err  # nothing was left pending
    return err


def assert_complete(tmp_path: Path, url: str, run_id: str) -> None:
    """The server holds exactly the points of the client's local store, each once."""
    points, status, _ = remote(url, run_id)
    local = local_points(tmp_path / f"{run_id}.db", run_id)
    assert len(points) == len(set(points)) == len(local)
    assert set(points) == local
    assert status == "finished"


# -- many clients at once ---------------------------------------------------------------------


def test_eight_clients_of_50k_steps_at_once_lose_and_duplicate_nothing(
    tmp_path: Path, pg_store_url: str
) -> None:
    srv = Server(pg_store_url)
    srv.start()
    try:
        tok = token(pg_store_url)
        runs = [f"burst-{i}" for i in range(8)]
        procs = [start_client(tmp_path, BURST, srv.base, tok, r, "50000") for r in runs]
        for proc in procs:
            out, err = proc.communicate(timeout=600)
            assert proc.returncode == 0 and "done" in out, err
            assert "losslens sync" not in err, err  # finish() saw every point arrive
    finally:
        srv.stop()
    with psycopg.connect(pg_store_url) as conn:
        rows = conn.execute(
            "SELECT p.run_id, k.key, count(*), count(DISTINCT p.step), min(p.step), "
            "max(p.step), min(k.n_points) FROM points p JOIN metric_keys k ON k.id = p.key_id "
            "GROUP BY p.run_id, k.key ORDER BY p.run_id, k.key"
        ).fetchall()
        status = dict(conn.execute("SELECT id, status FROM runs").fetchall())
    assert rows == [(r, k, 50_000, 50_000, 0, 49_999, 50_000) for r in runs for k in sorted(KEYS)]
    assert status == {r: "finished" for r in runs}
    findings_match(tmp_path / "burst-0.db", pg_store_url, "burst-0")


# -- outages ----------------------------------------------------------------------------------


class Proxy:
    """A TCP relay in front of the server whose network can go dark: while offline it
    accepts connections and never answers (packets lost, as on a dead link), and the
    connections open when it went dark are cut."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.online = threading.Event()
        self.online.set()
        self.lock = threading.Lock()
        self.open: list[socket.socket] = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.open.append(conn)
            if self.online.is_set():
                threading.Thread(target=self._relay, args=(conn,), daemon=True).start()

    def _relay(self, conn: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target), timeout=30)
        except OSError:
            conn.close()
            return
        with self.lock:
            self.open.append(upstream)
        threading.Thread(target=self._pump, args=(upstream, conn), daemon=True).start()
        self._pump(conn, upstream)

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while self.online.is_set():
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def go_dark(self) -> None:
        self.online.clear()
        with self.lock:
            cut, self.open = self.open, []
        for s in cut:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def come_back(self) -> None:
        with self.lock:
            held, self.open = self.open, []  # the connections made while dark: dropped
        for s in held:
            s.close()
        self.online.set()

    def close(self) -> None:
        self.closed = True
        self.listener.close()
        self.go_dark()


def run_through_outage(
    tmp_path: Path, pg_store_url: str, run_id: str, outage: float, *, kill_server: bool
) -> None:
    srv = Server(pg_store_url)
    srv.start()
    proxy = Proxy(srv.port) if not kill_server else None
    url = proxy.base if proxy is not None else srv.base
    stop, flushed = tmp_path / f"{run_id}.stop", tmp_path / f"{run_id}.flushed"
    try:
        proc = start_client(
            tmp_path, PACED, url, token(pg_store_url), run_id, str(stop), str(flushed)
        )
        wait_until("first points on the server", lambda: server_top(srv.url, run_id) >= 0, proc)
        if kill_server:
            srv.stop()  # SIGKILL, mid-run: batches in flight
        else:
            assert proxy is not None
            proxy.go_dark()
        before = local_top(tmp_path, run_id)
        time.sleep(outage)  # the client logs on meanwhile
        logged = local_top(tmp_path, run_id)
        assert logged >= before + 500 and proc.poll() is None  # training went on meanwhile
        if kill_server:
            srv.start()  # the same port, the same store
        else:
            assert proxy is not None
            proxy.come_back()
        # caught up by itself, while still logging (finish() would send the rest anyway)
        wait_until("catch-up", lambda: server_top(srv.url, run_id) >= logged, proc)
        finish_client(proc, stop)
    finally:
        if proxy is not None:
            proxy.close()
        srv.stop()
    assert_complete(tmp_path, pg_store_url, run_id)


def test_a_client_offline_for_30_s_catches_up_by_itself(tmp_path: Path, pg_store_url: str) -> None:
    run_through_outage(tmp_path, pg_store_url, "dark-30s", 30.0, kill_server=False)


def test_a_server_killed_mid_run_and_back_10_s_later_gets_every_point(
    tmp_path: Path, pg_store_url: str
) -> None:
    run_through_outage(tmp_path, pg_store_url, "kill-10s", 10.0, kill_server=True)
    findings_match(tmp_path / "kill-10s.db", pg_store_url, "kill-10s")


# -- a client killed ----------------------------------------------------------------------------


def test_a_client_killed_while_logging_is_completed_up_to_its_last_flush(
    tmp_path: Path, pg_store_url: str
) -> None:
    srv = Server(pg_store_url)
    srv.start()
    try:
        tok = token(pg_store_url)
        run_id = "r-sigkill"
        stop, flushed = tmp_path / "never", tmp_path / "flushed"
        proc = start_client(tmp_path, PACED, srv.base, tok, run_id, str(stop), str(flushed))
        wait_until(
            "a few local flushes",
            lambda: flushed.exists() and int(flushed.read_text()) >= 1000,
            proc,
        )
        proc.send_signal(signal.SIGKILL)  # mid-loop, the sync thread mid-batch or not
        proc.communicate(timeout=30)
        last_flush = int(flushed.read_text())
        synced = subprocess.run(
            [sys.executable, "-m", "losslens", "sync", "--server", srv.base, "--token", tok,
             "--store", str(tmp_path / f"{run_id}.db"), "--json"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert synced.returncode == 0, synced.stdout + synced.stderr
        got = json.loads(synced.stdout)["runs"]
        assert [r["run"] for r in got] == [run_id] and "error" not in got[0]
    finally:
        srv.stop()
    points, status, _ = remote(pg_store_url, run_id)
    assert len(points) == len(set(points))
    flushed_points = {(k, s) for k in ("train/loss", "train/lr") for s in range(last_flush)}
    assert flushed_points <= set(points)  # everything logged before the last flush
    assert set(points) == local_points(
        tmp_path / f"{run_id}.db", run_id
    )  # and whatever else reached the disk
    assert status == "crashed"
    findings_match(tmp_path / f"{run_id}.db", pg_store_url, run_id)

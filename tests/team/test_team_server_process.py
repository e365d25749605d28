"""``losslens token`` and ``losslens server`` as real processes on a real PostgreSQL: the
secret is printed once and only its hash is stored; points sent through a uvicorn server give
the same findings as the same log imported to SQLite; a server killed with SIGKILL and
restarted has every point it acknowledged."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from extras import needs

needs("psycopg", "team")
needs("starlette", "team")
needs("uvicorn", "team")

import psycopg  # noqa: E402

from losslens.cli import main  # noqa: E402
from losslens.numeric import encode_nonfinite  # noqa: E402
from losslens.server.tokens import create_token  # noqa: E402
from losslens.store import Store  # noqa: E402
from losslens.store.pg import PgStore  # noqa: E402

FAULTS = Path(__file__).resolve().parents[1] / "data" / "faults"
KEPT = ("verdict", "summary", "counts", "findings", "readings")


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "losslens", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "120"},
    )


def ok_json(got: subprocess.CompletedProcess[str]) -> Any:
    assert got.returncode == 0, got.stderr
    return json.loads(got.stdout)


def run_main(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    """The CLI in this process (cheaper than a subprocess where the process is not the point)."""
    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def main_json(capsys: pytest.CaptureFixture[str], *args: str | Path) -> Any:
    code, out, err = run_main(capsys, *args)
    assert code == 0, err
    return json.loads(out)


def test_token_create_prints_the_secret_once_and_stores_its_hash(
    pg_store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    made = cli("token", "create", "--project", "alpha", "--name", "box-1", "--store", pg_store_url)
    assert made.returncode == 0, made.stderr
    secret = made.stdout.splitlines()[0]
    assert re.fullmatch(r"ll_[A-Za-z0-9_\-]{43}", secret)
    assert made.stdout.count(secret) == 1
    read = main_json(
        capsys, "token", "create", "--project", "alpha", "--read-only", "--store", pg_store_url,
        "--json",
    )  # fmt: skip
    assert read["scope"] == "read" and read["token"].startswith("ll_")

    with psycopg.connect(pg_store_url) as conn:
        rows = conn.execute("SELECT * FROM api_tokens ORDER BY id").fetchall()
    dumped = repr(rows)
    assert secret not in dumped and read["token"] not in dumped
    hashes = {r[0]: r[3] for r in rows}
    assert hashes[1] == hashlib.sha256(secret.encode()).hexdigest()

    code, listed, _ = run_main(capsys, "token", "list", "--store", pg_store_url)
    assert code == 0 and "box-1" in listed and secret not in listed
    assert main_json(capsys, "token", "revoke", "1", "--store", pg_store_url, "--json")[
        "revoked_at"
    ]
    tokens = main_json(
        capsys, "token", "list", "--project", "alpha", "--store", pg_store_url, "--json"
    )
    assert [(t["id"], t["scope"], t["revoked_at"] is not None) for t in tokens["tokens"]] == [
        (1, "write", True),
        (2, "read", False),
    ]
    code, _, err = run_main(capsys, "token", "revoke", "99", "--store", pg_store_url)
    assert code != 0 and "no token with id 99" in err
    for command in (["token", "list"], ["server"]):
        code, _, err = run_main(capsys, *command, "--store", "local.db")
        assert code == 2 and "needs a PostgreSQL store" in err


# -- a real server ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, url: str, port: int) -> None:
        self.url, self.port = url, port
        self.base = f"http://127.0.0.1:{port}/api/v1"
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "losslens", "server", "--store", self.url, "--port",
             str(self.port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"losslens server exited: {self.proc.stdout.read()}")  # type: ignore[union-attr]
            try:
                with urllib.request.urlopen(self.base + "/health", timeout=5) as got:
                    if json.load(got)["ok"]:
                        return
            except OSError:
                time.sleep(0.1)
        pytest.fail("losslens server did not answer within 60 s")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        if self.proc.stdout:
            self.proc.stdout.close()

    def call(self, method: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(encode_nonfinite(body)).encode()
        req = urllib.request.Request(
            self.base + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as got:
                return got.status, json.load(got)
        except urllib.error.HTTPError as err:
            return err.code, json.load(err)


def write_token(url: str, project: str = "alpha") -> str:
    with PgStore(url) as store:
        return create_token(store, project)[1]


def analyzed(capsys: pytest.CaptureFixture[str], store: str, run: str) -> dict[str, Any]:
    return kept(main_json(capsys, "analyze", run, "--store", store, "--format", "json"))


def kept(got: dict[str, Any]) -> dict[str, Any]:
    report = got["reports"][0] if "reports" in got else got
    return {k: report[k] for k in KEPT}


@pytest.mark.parametrize("case", ["nan_hidden", "overfit_with_eval"])
def test_points_sent_through_the_server_give_the_findings_of_sqlite(
    server: Server, tmp_path: Path, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "local.db"
    imported = main_json(capsys, "import", FAULTS / case, "--store", db, "--json")
    run_id = imported["imported"][0]["id"]
    with Store(db) as local:
        run = local.load(run_id)
    info = run.info
    token = write_token(server.url)
    status, _ = server.call(
        "POST", "/runs", token,
        {"id": info.id, "name": info.name, "config": info.config, "host": "gpu-07",
         "start_time": info.start_time, "status": "running"},
    )  # fmt: skip
    assert status == 201
    points = [
        [key, kind, int(s), None if w != w else float(w), float(v)]
        for kind, series in (("metric", run.series), ("system", run.system))
        for key, ser in series.items()
        for s, v, w in zip(ser.steps, ser.values, ser.wall_times, strict=True)
    ]
    for i in range(0, len(points), 700):  # several batches, as a sync client sends them
        status, body = server.call(
            "POST", f"/runs/{info.id}/points", token,
            {"points": points[i : i + 700], "originals": run.original_keys},
        )  # fmt: skip
        assert (status, body) == (200, {"accepted": len(points[i : i + 700])})
    status, _ = server.call(
        "PATCH", f"/runs/{info.id}", token,
        {"status": str(info.status), "end_time": info.end_time, "summary": info.summary},
    )  # fmt: skip
    assert status == 200
    on_pg = kept(ok_json(cli("analyze", info.id, "--store", server.url, "--format", "json")))
    assert on_pg == analyzed(capsys, str(db), info.id)
    if case == "nan_hidden":
        assert on_pg["verdict"] == "failed"
    status, listed = server.call("GET", "/runs", token)
    assert status == 200 and [(r["id"], r["host"]) for r in listed["runs"]] == [(info.id, "gpu-07")]


def test_a_server_killed_with_sigkill_keeps_every_acknowledged_point(server: Server) -> None:
    token = write_token(server.url)
    assert server.call("POST", "/runs", token, {"id": "killed-run"})[0] == 201
    size = 2000
    acked: list[int] = []  # first steps of the acknowledged batches
    unacked: list[int] = []
    enough = threading.Event()

    def client() -> None:
        start = 0
        while start < 400 * size:
            points = [["loss", "metric", s, None, s * 0.5] for s in range(start, start + size)]
            try:
                status, _ = server.call(
                    "POST", "/runs/killed-run/points", token, {"points": points}
                )
            except (OSError, http.client.HTTPException, ValueError):
                unacked.append(start)
                return
            assert status == 200
            acked.append(start)
            if len(acked) >= 5:
                enough.set()
            start += size
        enough.set()

    sender = threading.Thread(target=client)
    sender.start()
    assert enough.wait(60)
    server.kill()  # mid-stream: batches are in flight
    sender.join(60)
    assert unacked, "the server was killed after the client had finished"

    with PgStore(server.url) as store:
        stored = set(store.series("killed-run", "loss").steps.tolist())
    for start in acked:
        assert set(range(start, start + size)) <= stored
    assert len(stored) in (len(acked) * size, (len(acked) + 1) * size)  # + one committed unacked

    server.start()  # the same port, the same store
    for start in unacked:  # the client retries what it never saw acknowledged
        points = [["loss", "metric", s, None, s * 0.5] for s in range(start, start + size)]
        status, body = server.call("POST", "/runs/killed-run/points", token, {"points": points})
        assert (status, body) == (200, {"accepted": size})
    with PgStore(server.url) as store:
        series = store.series("killed-run", "loss")
        assert series.steps.tolist() == list(range((len(acked) + 1) * size))
        assert store.count_points("killed-run") == (len(acked) + 1) * size
    assert server.call("GET", "/runs/killed-run", token)[1]["last_step"] == series.steps[-1]

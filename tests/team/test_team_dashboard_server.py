"""``losslens server`` serves the dashboard from PostgreSQL: runs sent by two machines show with
their host, the run page and its findings load, any live API token opens it (once by
``?token=``, then by cookie), and it is read-only."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import urllib.error
import urllib.request
from typing import Any

import pytest

from extras import needs

needs("psycopg", "team")
needs("starlette", "team")
needs("uvicorn", "team")
needs("jinja2", "ui")

from test_team_server_process import Server, write_token  # noqa: E402

from losslens.server.tokens import create_token, revoke_token  # noqa: E402
from losslens.store.pg import PgStore  # noqa: E402


def _get(srv: Server, path: str, headers: dict[str, str] | None = None) -> tuple[int, str, Any]:
    req = urllib.request.Request(f"http://127.0.0.1:{srv.port}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as got:
            return got.status, got.read().decode(), got.headers
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(), err.headers


def _send_run(srv: Server, token: str, run_id: str, host: str, rise: bool) -> None:
    status, _ = srv.call("POST", "/runs", token, {"id": run_id, "name": run_id, "host": host})
    assert status == 201
    points = []
    for step in range(1, 201):
        loss = 2.0 * math.exp(-step / 40) + 0.3 * math.exp(-step / 400)
        points.append(["train/loss", "metric", step, 1.7e9 + step, loss])
        if step % 20 == 0:
            ev = (
                2.1 * math.exp(-step / 40)
                + 0.4
                + (0.02 * (step - 100) if rise and step > 100 else 0)
            )
            points.append(["eval/loss", "metric", step, 1.7e9 + step, ev])
    assert srv.call("POST", f"/runs/{run_id}/points", token, {"points": points})[0] == 200
    assert srv.call("PATCH", f"/runs/{run_id}", token, {"status": "finished"})[0] == 200


def test_the_server_dashboard_shows_runs_of_several_machines(
    server: Server, pg_store_url: str
) -> None:
    token = write_token(pg_store_url)
    _send_run(server, token, "run-a", "gpu-01", rise=False)
    _send_run(server, token, "run-b", "gpu-02", rise=True)
    with PgStore(pg_store_url) as store:
        reader = create_token(store, "alpha", scope="read")[1]

    # no token: refused, also from loopback (the team dashboard is never open)
    assert _get(server, "/")[0] == 401
    assert _get(server, "/?token=ll_" + "x" * 43)[0] == 401

    # a read token opens it once by ?token=, then the cookie it sets is enough
    status, html, headers = _get(server, f"/?token={reader}")
    assert status == 200, html
    assert "gpu-01" in html and "gpu-02" in html and "run-b" in html
    cookie = headers["set-cookie"].split(";")[0]
    status, body, _ = _get(server, "/api/runs", {"Cookie": cookie})
    assert status == 200
    rows = {r["name"]: r for r in json.loads(body)}
    assert {rows["run-a"]["host"], rows["run-b"]["host"]} == {"gpu-01", "gpu-02"}

    # the run page and its stored findings, from PostgreSQL
    status, html, _ = _get(server, "/runs/run-b", {"Cookie": cookie})
    assert status == 200 and "run-b" in html
    status, body, _ = _get(server, "/api/runs/run-b/report", {"Cookie": cookie})
    assert status == 200
    assert "overfitting" in body

    # read-only: rename and delete are refused even with the page's own header
    req = urllib.request.Request(
        f"http://127.0.0.1:{server.port}/api/runs/run-a",
        method="DELETE",
        headers={"Cookie": cookie, "X-Losslens-Token": reader},
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=30)
    assert err.value.code == 403

    # the ingest API is untouched by the mount
    assert server.call("GET", "/runs", reader)[0] == 200


def test_a_revoked_token_no_longer_opens_a_new_session(server: Server, pg_store_url: str) -> None:
    with PgStore(pg_store_url) as store:
        info, secret = create_token(store, "alpha", scope="read")
        revoke_token(store, info.id)
    assert _get(server, f"/?token={secret}")[0] == 401


def test_losslens_ui_opens_a_postgresql_store(server: Server, pg_store_url: str) -> None:
    token = write_token(pg_store_url)
    _send_run(server, token, "run-c", "gpu-03", rise=False)
    proc = subprocess.Popen(
        [sys.executable, "-m", "losslens", "ui", "--store", pg_store_url, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("losslens dashboard: http://127.0.0.1:"), first
        assert "password" not in proc.stdout.readline()
        url = first.split(": ", 1)[1].strip()
        with urllib.request.urlopen(url + "api/runs", timeout=60) as got:
            rows = json.load(got)
        assert [(r["name"], r["host"]) for r in rows] == [("run-c", "gpu-03")]
    finally:
        proc.kill()
        proc.wait(30)

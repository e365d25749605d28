"""Ship a run's points from the local SQLite store to a ``losslens server`` (docs/team.md).

Local-first: ``log()`` and the background writer are unchanged and the local store is always
written first. A :class:`RunSync` thread reads the points the writer committed (by rowid,
through a read-only connection) and posts them in batches; the server keys every point by
``(run, key, step)``, so a batch sent twice stores nothing twice and "retry until 200" is the
whole protocol. Network errors and 5xx answers are retried with back-off and never reach the
training loop; a 401/403 (a wrong or read-only token) is reported in one line and ends the
sync. ``losslens sync`` (:func:`push_run`) sends what a run left pending.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from losslens.numeric import encode_nonfinite
from losslens.store import Store

#: Points per request (the server accepts up to 50,000).
BATCH = 20_000
_DONE = ("finished", "crashed", "killed", "failed")


class SyncRefused(Exception):
    """The server refused the token or the request (4xx): retrying will not help."""


def _value(v: Any) -> Any:
    if v is None:
        return "NaN"
    if isinstance(v, float) and math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return v


class Client:
    """JSON over HTTP to one server with one token (stdlib only)."""

    def __init__(self, server: str, token: str, timeout: float = 30.0) -> None:
        self.base = server.rstrip("/") + "/api/v1"
        self.token = token
        self.timeout = timeout

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """``(status, answer)``; 5xx and network errors raise ``OSError``, other 4xx
        :class:`SyncRefused` (404 is returned, so callers can create the run)."""
        data = (
            None if body is None else json.dumps(encode_nonfinite(body), allow_nan=False).encode()
        )
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("error", "")
            except Exception:
                message = ""
            if exc.code == 404:
                return 404, {"error": message}
            if exc.code >= 500:
                raise OSError(f"server answered {exc.code} {message}") from None
            raise SyncRefused(f"{exc.code} {message}".strip()) from None


def _run_body(info: Any) -> dict[str, Any]:
    return {
        "id": info.id,
        "name": info.name,
        "config": info.config,
        "host": info.host,
        "pid": info.pid,
        "command": info.command,
        "start_time": info.start_time,
        "status": str(info.status),
    }


def _end_body(info: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"status": str(info.status), "summary": info.summary}
    if info.end_time is not None:
        body["end_time"] = info.end_time
    if info.exit_code is not None:
        body["exit_code"] = info.exit_code
    return body


class _Reader:
    """New points of one run from the local store, by rowid, read-only."""

    def __init__(self, store_path: str | Path, run_id: str) -> None:
        self.conn = sqlite3.connect(
            f"file:{store_path}?mode=ro", uri=True, timeout=30, check_same_thread=False
        )
        self.run_id = run_id

    def batch(self, after: int, min_step: int | None = None) -> tuple[int, list[Any], Any]:
        """``(last rowid, points, originals)`` of up to :data:`BATCH` points after ``after``."""
        sql = (
            "SELECT p.rowid, k.key, k.kind, p.step, p.wall_time, p.value, k.original "
            "FROM points p JOIN metric_keys k ON k.id = p.key_id "
            "WHERE k.run_id = ? AND p.rowid > ?"
        )
        args: list[Any] = [self.run_id, after]
        if min_step is not None:
            sql += " AND (k.kind != 'metric' OR p.step >= ?)"
            args.append(min_step)
        rows = self.conn.execute(sql + " ORDER BY p.rowid LIMIT ?", (*args, BATCH)).fetchall()
        originals = {r[1]: r[6] for r in rows if r[6] and r[6] != r[1]}
        points = [[r[1], r[2], r[3], r[4], _value(r[5])] for r in rows]
        return (rows[-1][0] if rows else after), points, originals

    def pending(self, after: int) -> int:
        return int(
            self.conn.execute(
                "SELECT COUNT(*) FROM points p JOIN metric_keys k ON k.id = p.key_id "
                "WHERE k.run_id = ? AND p.rowid > ?",
                (self.run_id, after),
            ).fetchone()[0]
        )

    def close(self) -> None:
        self.conn.close()


def _info(store_path: str | Path, run_id: str) -> Any:
    with Store(store_path, create=False) as store:
        return store.get_run(run_id)


class RunSync:
    """A daemon thread that keeps the server's copy of one run up to date."""

    def __init__(
        self, store_path: str | Path, run_id: str, server: str, token: str, interval: float = 0.5
    ) -> None:
        self.store_path = store_path
        self.run_id = run_id
        self.client = Client(server, token, timeout=10.0)
        self.server = server
        self.interval = interval
        self.cursor = 0
        self.refused: str | None = None
        self._created = False
        self._ending = threading.Event()
        self._end_sent = False
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="losslens-sync", daemon=True)
        self._thread.start()

    def _step(self, reader: _Reader) -> bool:
        """One unit of work; True when there may be more right away."""
        if not self._created:
            status, _ = self.client.call(
                "POST", "/runs", _run_body(_info(self.store_path, self.run_id))
            )
            self._created = True
        last, points, originals = reader.batch(self.cursor)
        if points:
            body: dict[str, Any] = {"points": points}
            if originals:
                body["originals"] = originals
            status, _ = self.client.call("POST", f"/runs/{self.run_id}/points", body)
            if status == 404:
                self._created = False
                return True
            self.cursor = last
            return True
        if self._ending.is_set() and not self._end_sent:
            self.client.call(
                "PATCH", f"/runs/{self.run_id}", _end_body(_info(self.store_path, self.run_id))
            )
            self._end_sent = True
        return False

    def _loop(self) -> None:
        delay = 0.0
        reader: _Reader | None = None
        while not self._end_sent:
            try:
                if reader is None:
                    reader = _Reader(self.store_path, self.run_id)
                more = self._step(reader)
                delay = 0.0
                if more:
                    continue
            except SyncRefused as exc:
                self.refused = str(exc)
                print(
                    f"losslens: sync to {self.server} refused ({exc}); the run is recorded "
                    f"locally only: check the token, then run `losslens sync {self.run_id}`",
                    file=sys.stderr,
                )
                break
            except Exception:
                delay = min(10.0, delay * 2 or 0.25)  # network, 5xx, store busy: back off
            self._wake.wait(delay or self.interval)
            self._wake.clear()
        if reader is not None:
            reader.close()

    def finish(self, timeout: float) -> None:
        """Send what is left and the run's end (bounded by ``timeout`` seconds); say what is
        still pending when time runs out."""
        self._ending.set()
        self._wake.set()
        deadline = time.monotonic() + timeout
        while self._thread.is_alive() and time.monotonic() < deadline:
            self._wake.set()
            self._thread.join(0.1)
        if self.refused is not None or self._end_sent:
            return
        try:
            reader = _Reader(self.store_path, self.run_id)
            try:
                left = reader.pending(self.cursor)
            finally:
                reader.close()
        except Exception:
            left = -1
        what = f"{left:,} points" if left >= 0 else "points"
        print(
            f"losslens: {what} of run {self.run_id} not yet on {self.server}; "
            f"run `losslens sync {self.run_id}` to send them",
            file=sys.stderr,
        )


def push_run(store_path: str | Path, run_id: str, client: Client) -> dict[str, Any]:
    """Send a run's metadata, its points from the server's last step on, and its end; returns
    ``{"run", "sent", "skipped"}``. Raises :class:`SyncRefused` or ``OSError``."""
    info = _info(store_path, run_id)
    status, remote = client.call("GET", f"/runs/{run_id}")
    local_top: int | None
    with Store(store_path, create=False) as store:
        local_top = store.last_step(run_id)
    if (
        status == 200
        and remote.get("status") == str(info.status)
        and str(info.status) in _DONE
        and remote.get("last_step") == local_top
    ):
        return {"run": run_id, "sent": 0, "skipped": True}
    min_step = remote.get("last_step") if status == 200 else None
    client.call("POST", "/runs", _run_body(info))
    reader = _Reader(store_path, run_id)
    sent, cursor = 0, 0
    try:
        while True:
            cursor, points, originals = reader.batch(cursor, min_step)
            if not points:
                break
            body: dict[str, Any] = {"points": points}
            if originals:
                body["originals"] = originals
            client.call("POST", f"/runs/{run_id}/points", body)
            sent += len(points)
    finally:
        reader.close()
    client.call("PATCH", f"/runs/{run_id}", _end_body(info))
    return {"run": run_id, "sent": sent, "skipped": False}


def from_env(server: str | None, token: str | None) -> tuple[str, str] | None:
    """The server and token to sync to (arguments win over LOSSLENS_SERVER/LOSSLENS_TOKEN)."""
    server = server or os.environ.get("LOSSLENS_SERVER") or None
    token = token or os.environ.get("LOSSLENS_TOKEN") or None
    if not server:
        return None
    return server, token or ""

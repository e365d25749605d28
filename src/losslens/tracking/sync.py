"""Ship a run's points from the local SQLite store to a ``losslens server`` (docs/team.md).

Local-first: ``log()`` and the background writer are unchanged and the local store is always
written first. A :class:`RunSync` thread reads the points the writer committed (by rowid,
through a read-only connection, as numpy columns) and posts them in batches, in the
column-wise format of :mod:`losslens.store.wire` (JSON to a server that does not read it);
the server keys every point by ``(run, key, step)``, so a batch sent twice stores nothing
twice and "retry until 200" is the whole protocol. Network errors and 5xx answers are
retried with back-off and never reach the training loop; a 401/403 (a wrong or read-only
token) is reported in one line and ends the sync. ``losslens sync`` (:func:`push_run`)
sends what a run left pending.

Once the run's end is on the server, its findings follow (``PUT …/findings``): the body is
made by a *findings source*, a function of ``(store path, run id)`` that analyses the run
in the local store. Recording does not diagnose, so this module never imports the
analysis: ``losslens.api`` registers the source for every run
(:func:`losslens.tracking.run.use_findings_source`), and ``losslens sync`` passes it to
:func:`push_run`.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import os
import queue
import sqlite3
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import numpy as np

from losslens.errors import ConfigError
from losslens.numeric import encode_nonfinite
from losslens.store import Store, wire

#: Points per request (the server accepts up to 50,000).
BATCH = 20_000
#: Requests with points a run's sync keeps in flight at once.
IN_FLIGHT = 2
#: Steps up to this size are exact in the float64 table a read is made into.
_EXACT = float(2**53)
_DONE = ("finished", "crashed", "killed", "failed")

#: ``(local store path, run id) -> body of PUT /api/v1/runs/{id}/findings``.
FindingsSource = Callable[[str | Path, str], dict[str, Any]]


class SyncRefused(Exception):
    """The server refused the token or the request (4xx): retrying will not help."""


class Client:
    """JSON, and point batches in the column-wise format, over HTTP to one server with one
    token (the stdlib's urllib)."""

    def __init__(self, server: str, token: str, timeout: float = 30.0) -> None:
        self.base = server.rstrip("/") + "/api/v1"
        self.token = token
        self.timeout = timeout
        #: Whether batches of points go in the column-wise format (else JSON).
        self.columns = True

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """``(status, answer)``; 5xx and network errors raise ``OSError``, other 4xx
        :class:`SyncRefused` (404 is returned, so callers can create the run)."""
        return self._send(method, path, None if body is None else _dumps(body))

    def post_points(self, run_id: str, batch: wire.PointColumns) -> int:
        """POST a batch of points in the column-wise format; the status, as :meth:`call`.
        A server that does not read that format (400 or 415) gets JSON from then on."""
        path = f"/runs/{run_id}/points"
        if self.columns:
            try:
                return self._send("POST", path, wire.encode(batch), wire.CONTENT_TYPE)[0]
            except SyncRefused as exc:
                if not str(exc).startswith(("400", "415")):
                    raise
                self.columns = False
        return self.call("POST", path, batch.to_json())[0]

    def _send(
        self, method: str, path: str, data: bytes | None, kind: str = "application/json"
    ) -> tuple[int, Any]:
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        req.add_header("Content-Type", kind)
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
        except (http.client.HTTPException, ValueError) as exc:  # cut mid-answer, or garbled
            raise OSError(f"bad answer from the server: {type(exc).__name__}: {exc}") from None


def _dumps(body: Any) -> bytes:
    """JSON of a body; non-finite floats as their tokens (points come with them already,
    so the common case skips the walk over every value)."""
    try:
        return json.dumps(body, allow_nan=False).encode()
    except ValueError:
        return json.dumps(encode_nonfinite(body), allow_nan=False).encode()


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
    """New points of one run from the local store, by rowid, read-only.

    Rowids grow with every commit, so a cursor (the last rowid looked at) is where the
    next read starts: each read is a range scan of the rowid index from the cursor, whatever
    the size of the store, keeping only the points of this run.
    """

    _ROWS = (
        "SELECT p.rowid, p.key_id, p.step, p.wall_time, p.value FROM points p "
        "WHERE p.rowid > ? AND p.rowid <= ? "
        "AND +p.key_id IN (SELECT id FROM metric_keys WHERE run_id = ?) "
        "ORDER BY p.rowid LIMIT ?"
    )

    def __init__(self, store_path: str | Path, run_id: str) -> None:
        self.conn = sqlite3.connect(
            f"file:{store_path}?mode=ro",
            uri=True,
            timeout=30,
            check_same_thread=False,
            isolation_level=None,
        )
        self.run_id = run_id
        self.keys: dict[int, tuple[str, str, str | None]] = {}

    def _key(self, key_id: int) -> tuple[str, str, str | None]:
        got = self.keys.get(key_id)
        if got is None:
            rows = self.conn.execute(
                "SELECT id, key, kind, original FROM metric_keys WHERE run_id = ?",
                (self.run_id,),
            ).fetchall()
            self.keys = {int(r[0]): (str(r[1]), str(r[2]), r[3]) for r in rows}
            got = self.keys[key_id]
        return got

    def batch(self, after: int, min_step: int | None = None) -> tuple[int, wire.PointColumns, bool]:
        """``(cursor, points, more)``: up to :data:`BATCH` points of the run after rowid
        ``after``, as columns (with ``min_step``, metric points below it are left out);
        ``more`` when the read stopped at the limit, not at the end of what is committed."""
        self.conn.execute("BEGIN")  # one snapshot for the top and the rows
        try:
            top = self.conn.execute("SELECT MAX(rowid) FROM points").fetchone()[0] or 0
            rows = self.conn.execute(self._ROWS, (after, top, self.run_id, BATCH)).fetchall()
        finally:
            self.conn.execute("COMMIT")
        more = len(rows) == BATCH
        cursor = rows[-1][0] if more else max(top, after)
        return cursor, self._columns(rows, min_step), more

    def _columns(self, rows: list[Any], min_step: int | None) -> wire.PointColumns:
        """Rows ``(rowid, key_id, step, wall_time, value)`` as columns, in one pass over
        the cells (NULL -> NaN: the local store keeps a NaN value as NULL)."""
        n = len(rows)
        table = np.fromiter(itertools.chain.from_iterable(rows), np.float64, count=5 * n)
        table = table.reshape(n, 5)
        kids = table[:, 1].astype(np.int64)
        if n and not float(np.abs(table[:, 2]).max()) < _EXACT:  # a step from 2**53 on
            steps = np.array([r[2] for r in rows], dtype=np.int64)
        else:
            steps = table[:, 2].astype(np.int64)
        walls, values = table[:, 3].copy(), table[:, 4].copy()
        if min_step is not None and n:
            ids = np.unique(kids)
            metric = np.array([self._key(int(k))[1] == "metric" for k in ids])
            keep = ~(metric[np.searchsorted(ids, kids)] & (steps < min_step))
            kids, steps, walls, values = kids[keep], steps[keep], walls[keep], values[keep]
        unique, index = np.unique(kids, return_inverse=True)
        infos = [self._key(int(k)) for k in unique]
        return wire.PointColumns(
            keys=[(key, kind) for key, kind, _ in infos],
            originals=[original for _, _, original in infos],
            index=index.astype(np.int32).reshape(-1),
            steps=steps,
            walls=walls,
            values=values,
        )

    def pending(self, after: int) -> int:
        return int(
            self.conn.execute(
                "SELECT COUNT(*) FROM points p WHERE p.rowid > ? "
                "AND +p.key_id IN (SELECT id FROM metric_keys WHERE run_id = ?)",
                (after, self.run_id),
            ).fetchone()[0]
        )

    def close(self) -> None:
        self.conn.close()


def _info(store_path: str | Path, run_id: str) -> Any:
    with Store(store_path, create=False) as store:
        return store.get_run(run_id)


class _Posts:
    """Point batches posted by ``depth`` daemon threads: while the server writes one batch
    it parses the next, and the sync thread reads and encodes the one after."""

    def __init__(self, client: Client, depth: int) -> None:
        self.client = client
        self.jobs: queue.SimpleQueue[tuple[str, wire.PointColumns, Future[int]] | None] = (
            queue.SimpleQueue()
        )
        self.depth = depth
        for _ in range(depth):
            threading.Thread(target=self._work, name="losslens-sync-post", daemon=True).start()

    def submit(self, run_id: str, batch: wire.PointColumns) -> Future[int]:
        done: Future[int] = Future()
        self.jobs.put((run_id, batch, done))
        return done

    def _work(self) -> None:
        while (job := self.jobs.get()) is not None:
            run_id, batch, done = job
            try:
                done.set_result(self.client.post_points(run_id, batch))
            except BaseException as exc:
                done.set_exception(exc)

    def close(self) -> None:
        for _ in range(self.depth):
            self.jobs.put(None)


class RunSync:
    """A daemon thread that keeps the server's copy of one run up to date.

    Up to :data:`IN_FLIGHT` batches are posted at once. ``cursor`` is the rowid up to which
    the server has acknowledged every point; reading goes on ahead of it, and a batch that
    fails sends reading back to where that batch began (batches after it that did arrive
    are sent again, which stores nothing twice).
    """

    def __init__(
        self,
        store_path: str | Path,
        run_id: str,
        server: str,
        token: str,
        interval: float = 0.5,
        *,
        findings: FindingsSource | None = None,
    ) -> None:
        self.store_path = store_path
        self.findings = findings
        self.run_id = run_id
        self.client = Client(server, token, timeout=10.0)
        self.server = server
        self.interval = interval
        self.cursor = 0  # every point of the run up to this rowid is on the server
        self._read = 0  # every point up to this rowid is read (and posted)
        self._in_flight: deque[tuple[int, int, Future[int]]] = deque()
        self._posts = _Posts(self.client, IN_FLIGHT)
        self.refused: str | None = None
        self._created = False
        self._ending = threading.Event()
        self._end_sent = False
        self._findings_done = findings is None
        self._resent = False
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
        more = True
        while more and len(self._in_flight) < IN_FLIGHT:
            last, points, more = reader.batch(self._read)
            if len(points):
                posted = self._posts.submit(self.run_id, points)
                self._in_flight.append((self._read, last, posted))
            self._read = last
        if self._in_flight:
            start, end, posted = self._in_flight[0]
            try:
                status = posted.result()
            except BaseException:
                self._rewind(start)
                raise
            if status == 404:  # the run is not on the server (yet): create it first
                self._rewind(start)
                self._created = False
                return True
            self._in_flight.popleft()
            self.cursor = end
            return True
        self.cursor = self._read
        if more:
            return True
        if self._ending.is_set() and not self._end_sent:
            self.client.call(
                "PATCH", f"/runs/{self.run_id}", _end_body(_info(self.store_path, self.run_id))
            )
            self._end_sent = True
            return True
        if self._end_sent and not self._findings_done:
            self._send_findings()
            return not self._findings_done
        return False

    def _rewind(self, start: int) -> None:
        """A batch failed: wait for the others in flight, read again from its start."""
        for _, _, posted in self._in_flight:
            with contextlib.suppress(BaseException):
                posted.result()
        self._in_flight.clear()
        self._read = self.cursor = start

    def _send_findings(self) -> None:
        assert self.findings is not None
        try:
            body = self.findings(self.store_path, self.run_id)
        except Exception as exc:  # the analysis failed: the points are all there anyway
            self._findings_done = True
            _say(
                f"losslens: could not analyse run {self.run_id} for {self.server} "
                f"({type(exc).__name__}: {exc}); its points are all there"
            )
            return
        try:
            send_findings(self.client, self.run_id, body)
        except Incomplete:
            if self._resent:
                self._findings_done = True
                _say(
                    f"losslens: findings of run {self.run_id} not kept by {self.server}: "
                    "it lacks some of the run's points"
                )
                return
            self._resent = True
            self._read = self.cursor = 0  # send every point again (none is stored twice)
            return
        self._findings_done = True

    def _loop(self) -> None:
        delay = 0.0
        reader: _Reader | None = None
        while not (self._end_sent and self._findings_done):
            try:
                if reader is None:
                    reader = _Reader(self.store_path, self.run_id)
                more = self._step(reader)
                delay = 0.0
                if more:
                    continue
            except SyncRefused as exc:
                if self._end_sent:  # the findings only: the run itself is on the server
                    self._findings_done = True
                    _say(f"losslens: findings of run {self.run_id} refused by {self.server}: {exc}")
                    continue
                self.refused = str(exc)
                _say(
                    f"losslens: sync to {self.server} refused ({exc}); the run is recorded "
                    f"locally only: check the token, then run `losslens sync {self.run_id}`"
                )
                break
            except Exception:
                delay = min(10.0, delay * 2 or 0.25)  # network, 5xx, store busy: back off
            self._wake.wait(delay or self.interval)
            self._wake.clear()
        self._posts.close()
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
        if self.refused is not None or (self._end_sent and self._findings_done):
            return
        if self._end_sent:
            _say(
                f"losslens: every point of run {self.run_id} is on {self.server}, its findings "
                f"not yet; run `losslens sync {self.run_id}` to send them"
            )
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
        _say(
            f"losslens: {what} of run {self.run_id} not yet on {self.server}; "
            f"run `losslens sync {self.run_id}` to send them"
        )


def _say(line: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        print(line, file=sys.stderr, flush=True)


class Incomplete(OSError):
    """The server does not hold every point the findings were made from (409)."""


def send_findings(client: Client, run_id: str, body: dict[str, Any]) -> None:
    """``PUT`` a run's findings; :class:`Incomplete` when the server lacks some of the
    points they were made from (send every point again, then retry)."""
    try:
        client.call("PUT", f"/runs/{run_id}/findings", body)
    except SyncRefused as exc:
        if str(exc).startswith("409"):
            raise Incomplete(f"server answered {exc}") from None
        raise


def push_run(
    store_path: str | Path,
    run_id: str,
    client: Client,
    findings: FindingsSource | None = None,
) -> dict[str, Any]:
    """Send a run's metadata, its points from the server's last step on, its end and (with
    a ``findings`` source) its findings; returns ``{"run", "sent", "skipped"}``, plus
    ``"verdict"`` when findings were sent. Raises :class:`SyncRefused` or ``OSError``."""
    info = _info(store_path, run_id)
    status, remote = client.call("GET", f"/runs/{run_id}")
    local_top: int | None
    with Store(store_path, create=False) as store:
        local_top = store.last_step(run_id)
    done = str(info.status) in _DONE
    analysed = (remote.get("analysis") or {}).get("current") if status == 200 else False
    if (
        status == 200
        and remote.get("status") == str(info.status)
        and done
        and remote.get("last_step") == local_top
        and (analysed or findings is None)
    ):
        return {"run": run_id, "sent": 0, "skipped": True}
    min_step = remote.get("last_step") if status == 200 else None
    client.call("POST", "/runs", _run_body(info))
    sent = _send_points(store_path, run_id, client, min_step)
    client.call("PATCH", f"/runs/{run_id}", _end_body(info))
    out: dict[str, Any] = {"run": run_id, "sent": sent, "skipped": False}
    if findings is not None and done:
        body = findings(store_path, run_id)
        try:
            send_findings(client, run_id, body)
        except Incomplete:  # points missing below the server's last step: send them all
            out["sent"] += _send_points(store_path, run_id, client, None)
            send_findings(client, run_id, body)
        out["verdict"] = body["verdict"]
    return out


def _send_points(store_path: str | Path, run_id: str, client: Client, min_step: int | None) -> int:
    reader = _Reader(store_path, run_id)
    sent, cursor, more = 0, 0, True
    try:
        while more:
            cursor, points, more = reader.batch(cursor, min_step)
            if not len(points):
                continue
            client.post_points(run_id, points)
            sent += len(points)
    finally:
        reader.close()
    return sent


def from_env(server: str | None, token: str | None) -> tuple[str, str] | None:
    """The server and token to sync to (arguments win over LOSSLENS_SERVER/LOSSLENS_TOKEN)."""
    server = server or os.environ.get("LOSSLENS_SERVER") or None
    token = token or os.environ.get("LOSSLENS_TOKEN") or None
    if not server:
        return None
    if not server.lower().startswith(("http://", "https://")):
        raise ConfigError(
            f"the server must be an http:// or https:// URL, not {server!r}",
            "use the http://HOST:PORT address losslens server prints (server=, --server or "
            "LOSSLENS_SERVER)",
        )
    return server, token or ""

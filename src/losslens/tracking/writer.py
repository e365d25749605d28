"""The background writer: ``log()`` only appends to a queue; this thread makes it durable.

The queue is a :class:`collections.deque` (``append`` and ``popleft`` are atomic), so the
training thread never takes a lock. It holds, in order:

* ``(step, wall_time, {key: value})`` tuples from ``Run.log``;
* lists of :class:`MetricPoint` from the system monitor;
* :class:`Meta` (new config/summary JSON, or the final status at ``finish()``);
* :class:`threading.Event` flush markers, set once everything before them is committed.

The thread wakes every ``POLL_S`` and commits one transaction when ``interval`` has passed
since the last commit, when ``BATCH_ENTRIES`` entries wait (so that a fast loop is written
while it runs, in large batches), or when a flush marker is waiting.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, NamedTuple

from losslens.errors import StoreError
from losslens.model import MetricPoint
from losslens.store import Store
from losslens.store.store import dumps
from losslens.textsafe import safe

#: How often the thread looks at the queue, in seconds.
POLL_S = 0.05
#: Commit early once this many entries wait, whatever the interval.
BATCH_ENTRIES = 4_000
#: Most entries written in one transaction.
MAX_ENTRIES = 50_000
#: Most entries (``log()`` calls, system samples) waiting to be written. When the queue is
#: full ``log()`` waits for the writer (back-pressure, nothing lost); while the store is
#: failing, it drops the entry instead and counts it (the run then ends ``failed``).
MAX_QUEUE = 50_000
#: Heartbeat of an idle run, in seconds (a run with no heartbeat for
#: ``model.HEARTBEAT_TIMEOUT_S`` is shown as crashed).
IDLE_HEARTBEAT_S = 5.0


class Meta(NamedTuple):
    """Run fields to write with the next transaction (``None``: leave as is).

    ``summary`` holds the values set explicitly on ``run.summary``; the writer adds the last
    value of every other metric it has written.
    """

    config: str | None = None
    summary: dict[str, Any] | None = None
    status: str | None = None
    end_time: float | None = None
    exit_code: int | None = None


class StoreGone(Exception):
    """The store file was deleted or replaced while the run was logging."""


class BackgroundWriter:
    """Batches queued entries into SQLite transactions at least every ``interval`` seconds.

    A write that fails (disk full, I/O error, the store locked or read-only) is reported on
    stderr at once with SQLite's own error, and retried with back-off: the entries stay
    queued, and recording resumes when the cause is gone (space freed). The store file
    being deleted or replaced is detected (device and inode checked before each commit) and
    ends recording. ``lost`` counts the points that could not be written.
    """

    #: When finishing with the store failing: how long to keep retrying before giving up.
    FINAL_RETRY_S = 5.0

    def __init__(
        self,
        store_path: Path,
        run_id: str,
        interval: float = 1.0,
        *,
        max_queue: int = MAX_QUEUE,
        last: dict[str, Any] | None = None,
        explicit: dict[str, Any] | None = None,
    ) -> None:
        self.store_path = store_path
        self.run_id = run_id
        self.interval = max(0.0, float(interval))
        self.max_queue = max(1, int(max_queue))
        self.queue: deque[Any] = deque()
        #: The error of the last failed write, None once a write succeeds again.
        self.error: BaseException | None = None
        #: The first error seen (kept for the final report even after a recovery).
        self.first_error: BaseException | None = None
        #: The store was deleted or replaced: nothing more can be written.
        self.gone: StoreGone | None = None
        self.points_written = 0
        self.lost = 0  # points the writer thread could not write
        self.dropped = 0  # points log() could not queue (queue full while the store fails)
        self.last: dict[str, Any] = dict(last or {})  # the last value of each metric written
        self._explicit: dict[str, Any] = dict(explicit or {})
        self._summary_dirty = False
        self._stop = False
        self._stop_at = 0.0
        self._wake = threading.Event()
        self._room = threading.Event()
        self._markers = 0  # flush markers queued and not yet set
        self._waiting: set[threading.Event] = set()  # the same markers, for a failure
        self._reported: BaseException | None = None
        self._markers_lock = threading.Lock()
        self._inode = _inode(store_path)
        self._thread = threading.Thread(target=self._loop, name="losslens-writer", daemon=True)
        self._thread.start()

    # called from other threads ------------------------------------------------------------
    def add_system(self, points: list[MetricPoint]) -> None:
        # one small sample every few seconds: never waits; dropped only while failing
        if len(self.queue) >= self.max_queue and self.failing:
            self.dropped += len(points)
        else:
            self.queue.append(points)

    def add_meta(self, meta: Meta) -> None:
        self.queue.append(meta)

    @property
    def failing(self) -> bool:
        return self.error is not None or self.gone is not None

    @property
    def points_lost(self) -> int:
        return self.lost + self.dropped

    def wait_for_room(self) -> bool:
        """Called by ``log()`` when the queue is full: wait until the writer has made room
        (back-pressure). False when it cannot (the store is failing, or the writer
        stopped): the caller drops the entry and counts it."""
        while len(self.queue) >= self.max_queue:
            if self.failing or not self._thread.is_alive():
                return False
            self._room.clear()
            self._wake.set()
            self._room.wait(POLL_S)
        return True

    def flush(self, timeout: float = 120.0) -> bool:
        """Block until everything queued so far is committed; False on timeout."""
        return self._flush(timeout, stop=False)

    def close(self, timeout: float = 120.0) -> bool:
        """Write everything queued, then stop the thread."""
        done = self._flush(timeout, stop=True)
        self._thread.join(timeout=max(5.0, self.FINAL_RETRY_S + 2.0))
        return done

    def _flush(self, timeout: float, stop: bool) -> bool:
        if not self._thread.is_alive():
            return self.error is None and not self.queue
        marker = threading.Event()
        with self._markers_lock:
            self._markers += 1
            self._waiting.add(marker)
        self.queue.append(marker)  # before _stop: the thread never exits with it queued
        if stop:
            self._stop_at = time.monotonic()
            self._stop = True
        self._wake.set()
        return marker.wait(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # the writer thread --------------------------------------------------------------------
    def _loop(self) -> None:
        store: Store | None = None
        ids: dict[Any, int] = {}
        last_commit = 0.0
        delay = 0.0
        try:
            while True:
                self._wake.wait(delay or POLL_S)
                self._wake.clear()
                now = time.monotonic()
                n = len(self.queue)
                if (
                    self.error is not None
                    or n >= BATCH_ENTRIES
                    or n >= self.max_queue  # log() is waiting for room
                    or self._markers
                    or self._stop
                    or (n and now - last_commit >= self.interval)
                    or now - last_commit >= IDLE_HEARTBEAT_S
                ):
                    try:
                        if store is None:
                            self._check_store()  # before Store() could create a new file
                            store = Store(self.store_path)
                            ids = {}
                        self._write(store, ids)
                    except StoreGone as exc:
                        self.gone = exc
                        self._report(exc)
                        self._drain_after_error()
                        return
                    except Exception as exc:
                        self._report(exc)
                        if store is not None:
                            store.close()
                            store = None
                        delay = min(max(delay * 2, 0.1), 2.0)
                        if self._stop and time.monotonic() - self._stop_at > self.FINAL_RETRY_S:
                            self._drain_after_error()
                            return
                        continue
                    if self.error is not None:
                        _say(
                            f"losslens: recording to {self.store_path} resumed "
                            f"({self.lost + self.dropped:,} points could not be recorded)"
                        )
                        self.error = None
                    delay = 0.0
                    last_commit = time.monotonic()
                    self._room.set()
                if self._stop and not self.queue:
                    return
        finally:
            if store is not None:
                store.close()
            self._room.set()

    def _report(self, exc: BaseException) -> None:
        """Say at once, on stderr, what went wrong (the same message only once), and let
        every ``flush()`` waiting return (it raises the error) instead of waiting for a
        retry that may never succeed."""
        if exc is self._reported:
            return
        self._reported = exc
        first = self.error is None or describe(self.error) != describe(exc)
        if self.first_error is None:
            self.first_error = exc
        if first:  # said before any flush() returns with it
            tail = (
                "recording stopped"
                if isinstance(exc, StoreGone)
                else f"retrying; up to {self.max_queue:,} log() calls are kept meanwhile"
            )
            _say(f"losslens: cannot write to {self.store_path}: {describe(exc)}; {tail}")
        self.error = exc
        with self._markers_lock:
            waiting, self._waiting = self._waiting, set()
        for m in waiting:
            m.set()

    def _check_store(self) -> None:
        now = _inode(self.store_path)
        if now is None or (self._inode is not None and now != self._inode):
            raise StoreGone(
                f"the store file {self.store_path} was "
                f"{'deleted' if now is None else 'replaced'} while this run was logging"
            )

    def _write(self, store: Store, ids: dict[Any, int]) -> None:
        """Write up to ``MAX_ENTRIES`` queued entries (more while more wait) and commit.

        On failure the entries go back to the head of the queue (to be retried), except
        when the data itself is at fault (then its points are counted as lost); the flush
        markers of the batch are released either way, so that ``flush()`` can report.
        """
        while True:
            self._check_store()
            take = min(len(self.queue), MAX_ENTRIES)
            popleft = self.queue.popleft
            entries = [popleft() for _ in range(take)]
            markers: list[threading.Event] = []
            try:
                with store.transaction():
                    meta = self._write_entries(store, ids, entries, markers)
                    fields: dict[str, Any] = {"heartbeat": time.time()}
                    if meta is not None:
                        for field in ("config", "status", "end_time", "exit_code"):
                            value = getattr(meta, field)
                            if value is not None:
                                fields[field] = value
                        if meta.summary is not None:
                            self._explicit = meta.summary
                            self._summary_dirty = True
                    if self._summary_dirty:
                        fields["summary"] = dumps({**self.last, **self._explicit})
                    store.write_run_fields(self.run_id, **fields)
            except BaseException as exc:
                ids.clear()  # key ids made in the rolled-back transaction are void
                store.forget_key_ids()
                keep = [e for e in entries if not isinstance(e, threading.Event)]
                gone = self._run_deleted(store, exc)
                if gone is not None:
                    self.queue.extendleft(reversed(keep))  # counted as lost by the drain
                    self.gone = gone
                    self._report(gone)
                    self._release([e for e in entries if isinstance(e, threading.Event)])
                    raise gone from exc
                if not _retryable(exc):
                    lost = sum(
                        len(e[2]) if type(e) is tuple else len(e)
                        for e in keep
                        if type(e) is not Meta
                    )
                    self.lost += lost
                    keep = [e for e in keep if type(e) is Meta]
                self.queue.extendleft(reversed(keep))
                self._report(exc)  # the error is set before any flush() is released
                self._release([e for e in entries if isinstance(e, threading.Event)])
                raise
            self._summary_dirty = False
            self._release(markers)
            if len(self.queue) < BATCH_ENTRIES and not self._markers:
                return

    def _run_deleted(self, store: Store, exc: BaseException) -> StoreGone | None:
        """A foreign-key failure because the run itself was deleted (``losslens`` UI, another
        process): recording cannot go on."""
        if not isinstance(exc, sqlite3.IntegrityError):
            return None
        try:
            if store.find_run_id(self.run_id) is not None:
                return None
        except sqlite3.Error:
            return None
        return StoreGone(f"run {self.run_id} was deleted from {self.store_path} while logging")

    def _release(self, markers: list[threading.Event]) -> None:
        if markers:
            with self._markers_lock:
                self._markers -= len(markers)
                self._waiting.difference_update(markers)
            for m in markers:
                m.set()

    def _write_entries(
        self,
        store: Store,
        ids: dict[Any, int],
        entries: list[Any],
        markers: list[threading.Event],
    ) -> Meta | None:
        run_id = self.run_id
        flat: list[Any] = []
        extend = flat.extend
        meta: Meta | None = None
        last = self.last
        for entry in entries:
            if type(entry) is tuple:
                step, wall, data = entry
                last.update(data)
                for k, v in data.items():
                    kid = ids.get(k)
                    if kid is None:
                        kid = ids[k] = store.key_id(run_id, k)
                    extend((kid, step, wall, v))
            elif type(entry) is list:
                store.add_points(run_id, entry, kind="system")
            elif type(entry) is Meta:
                meta = entry if meta is None else _merge(meta, entry)
            else:
                markers.append(entry)
        store.insert_rows(flat)
        if flat:
            self.points_written += len(flat) // 4
            self._summary_dirty = True
        return meta

    def _drain_after_error(self) -> None:
        """Recording has stopped: count what is queued as lost, release every flush()."""
        while True:
            while self.queue:
                entry = self.queue.popleft()
                if isinstance(entry, threading.Event):
                    self._release([entry])
                elif type(entry) is tuple:
                    self.lost += len(entry[2])
                elif type(entry) is list:
                    self.lost += len(entry)
            if self._stop:
                return
            self._wake.wait(POLL_S)
            self._wake.clear()


def _inode(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _retryable(exc: BaseException) -> bool:
    """Errors of the place, not of the data: disk full, I/O, locks, permissions."""
    return isinstance(exc, sqlite3.OperationalError | OSError | StoreError)


def describe(exc: BaseException) -> str:
    """An error as one line, with SQLite's own code (``SQLITE_FULL``) when there is one."""
    text = safe(str(exc) or type(exc).__name__)
    code = getattr(exc, "sqlite_errorname", None)
    return f"{text} ({code})" if code and code not in text else text


def _say(line: str) -> None:
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _merge(old: Meta, new: Meta) -> Meta:
    return old._replace(**{k: v for k, v in new._asdict().items() if v is not None})


def raise_if_failed(writer: BackgroundWriter, *, final: bool = False) -> None:
    """Raise :class:`StoreError` when the writer is failing now or (``final``) lost points."""
    exc = writer.gone or writer.error
    lost = writer.points_lost
    if exc is None and not (final and lost):
        return
    cause = describe(exc or writer.first_error or RuntimeError("the queue was full"))
    what = f"; {lost:,} points were not recorded" if lost else ""
    raise StoreError(
        f"losslens could not record run {writer.run_id} in {writer.store_path}: {cause}{what}",
        "check the disk and the store (losslens runs --store PATH)",
    )

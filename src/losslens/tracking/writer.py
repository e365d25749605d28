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

import threading
import time
import warnings
from collections import deque
from pathlib import Path
from typing import Any, NamedTuple

from losslens.errors import StoreError
from losslens.model import MetricPoint
from losslens.store import Store
from losslens.store.store import dumps

#: How often the thread looks at the queue, in seconds.
POLL_S = 0.05
#: Commit early once this many entries wait, whatever the interval.
BATCH_ENTRIES = 4_000
#: Most entries written in one transaction.
MAX_ENTRIES = 50_000
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


class BackgroundWriter:
    """Batches queued entries into SQLite transactions at least every ``interval`` seconds."""

    def __init__(self, store_path: Path, run_id: str, interval: float = 1.0) -> None:
        self.store_path = store_path
        self.run_id = run_id
        self.interval = max(0.0, float(interval))
        self.queue: deque[Any] = deque()
        self.error: BaseException | None = None
        self.points_written = 0
        self.last: dict[str, Any] = {}  # the last value of each metric written
        self._explicit: dict[str, Any] = {}
        self._summary_dirty = False
        self._stop = False
        self._wake = threading.Event()
        self._markers = 0  # flush markers queued and not yet set
        self._markers_lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="losslens-writer", daemon=True)
        self._thread.start()

    # called from other threads ------------------------------------------------------------
    def add_system(self, points: list[MetricPoint]) -> None:
        self.queue.append(points)

    def add_meta(self, meta: Meta) -> None:
        self.queue.append(meta)

    def flush(self, timeout: float = 120.0) -> bool:
        """Block until everything queued so far is committed; False on timeout."""
        return self._flush(timeout, stop=False)

    def close(self, timeout: float = 120.0) -> bool:
        """Write everything queued, then stop the thread."""
        done = self._flush(timeout, stop=True)
        self._thread.join(timeout=5.0)
        return done

    def _flush(self, timeout: float, stop: bool) -> bool:
        if not self._thread.is_alive():
            return self.error is None and not self.queue
        marker = threading.Event()
        self.queue.append(marker)  # before _stop: the thread never exits with it queued
        with self._markers_lock:
            self._markers += 1
        if stop:
            self._stop = True
        self._wake.set()
        return marker.wait(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # the writer thread --------------------------------------------------------------------
    def _loop(self) -> None:
        store: Store | None = None
        last_commit = 0.0
        try:
            store = Store(self.store_path)
            ids: dict[Any, int] = {}
            while True:
                self._wake.wait(POLL_S)
                self._wake.clear()
                now = time.monotonic()
                n = len(self.queue)
                if (
                    n >= BATCH_ENTRIES
                    or self._markers
                    or self._stop
                    or (n and now - last_commit >= self.interval)
                    or now - last_commit >= IDLE_HEARTBEAT_S
                ):
                    self._write(store, ids)
                    last_commit = time.monotonic()
                if self._stop and not self.queue:
                    return
        except BaseException as exc:  # surfaced by Run.finish; never kills the process
            self.error = exc
            warnings.warn(
                f"losslens could not write to {self.store_path}: {exc}; "
                "metrics logged from now on are not recorded",
                RuntimeWarning,
                stacklevel=1,
            )
            self._drain_after_error()
        finally:
            if store is not None:
                store.close()

    def _write(self, store: Store, ids: dict[Any, int]) -> None:
        """Write up to ``MAX_ENTRIES`` queued entries (more while more wait) and commit."""
        while True:
            take = min(len(self.queue), MAX_ENTRIES)
            popleft = self.queue.popleft
            entries = [popleft() for _ in range(take)]
            markers: list[threading.Event] = []
            try:
                with store.transaction() as conn:
                    meta = self._write_entries(store, ids, entries, markers)
                    sets = ["heartbeat = ?"]
                    args: list[Any] = [time.time()]
                    if meta is not None:
                        for field in ("config", "status", "end_time", "exit_code"):
                            value = getattr(meta, field)
                            if value is not None:
                                sets.append(f"{field} = ?")
                                args.append(value)
                        if meta.summary is not None:
                            self._explicit = meta.summary
                            self._summary_dirty = True
                    if self._summary_dirty:
                        sets.append("summary = ?")
                        args.append(dumps({**self.last, **self._explicit}))
                        self._summary_dirty = False
                    conn.execute(
                        f"UPDATE runs SET {', '.join(sets)} WHERE id = ?", (*args, self.run_id)
                    )
            except BaseException as exc:
                # Release the flush() calls waiting on this batch, the error set first.
                self.error = exc
                self._release([e for e in entries if isinstance(e, threading.Event)])
                raise
            self._release(markers)
            if len(self.queue) < BATCH_ENTRIES and not self._markers:
                return

    def _release(self, markers: list[threading.Event]) -> None:
        if markers:
            with self._markers_lock:
                self._markers -= len(markers)
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
                        kid = ids[k] = store._key_id(run_id, str(k), "metric", None)
                    extend((kid, step, wall, v))
            elif type(entry) is list:
                store._write_points_locked(run_id, entry, "system", {})
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
        """After a fatal error: keep the queue from growing and release every flush()."""
        while True:
            while self.queue:
                entry = self.queue.popleft()
                if isinstance(entry, threading.Event):
                    self._release([entry])
            if self._stop:
                return
            self._wake.wait(POLL_S)
            self._wake.clear()


def _merge(old: Meta, new: Meta) -> Meta:
    return old._replace(**{k: v for k, v in new._asdict().items() if v is not None})


def raise_if_failed(writer: BackgroundWriter) -> None:
    if writer.error is not None:
        raise StoreError(
            f"losslens could not record this run in {writer.store_path}: {writer.error}",
            "check the disk and the store (losslens runs --store PATH)",
        )

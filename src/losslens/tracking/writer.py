"""The background writer: ``log()`` only appends to a buffer; this thread makes it durable."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from losslens.model import MetricPoint
from losslens.store import Store

#: Flush when this many points wait, even before the interval is over.
FLUSH_POINTS = 20_000


class BackgroundWriter:
    """Batches points into SQLite transactions at least every ``interval`` seconds."""

    def __init__(self, store_path: Path, run_id: str, interval: float = 1.0) -> None:
        self.store_path = store_path
        self.run_id = run_id
        self.interval = interval
        self._buf: list[MetricPoint] = []
        self._sys: list[MetricPoint] = []
        self._originals: dict[str, str] = {}
        self._cv = threading.Condition()
        self._stop = False
        self._flush_requested = 0
        self._flushed = 0
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="losslens-writer", daemon=True)
        self._thread.start()

    # called from the training thread ------------------------------------------------------
    def add(self, points: list[MetricPoint]) -> None:
        with self._cv:
            self._buf.extend(points)
            if len(self._buf) >= FLUSH_POINTS:
                self._cv.notify()

    def add_system(self, points: list[MetricPoint]) -> None:
        with self._cv:
            self._sys.extend(points)

    def flush(self, timeout: float = 60.0) -> None:
        """Block until everything added so far is committed."""
        with self._cv:
            self._flush_requested += 1
            target = self._flush_requested
            self._cv.notify()
            deadline = time.monotonic() + timeout
            while self._flushed < target and self._thread.is_alive():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cv.wait(left)

    def close(self) -> None:
        self.flush()
        with self._cv:
            self._stop = True
            self._cv.notify()
        self._thread.join(timeout=30)

    # the writer thread --------------------------------------------------------------------
    def _loop(self) -> None:
        store = Store(self.store_path)
        try:
            last_beat = 0.0
            while True:
                with self._cv:
                    idle = not self._buf and not self._sys and not self._stop
                    if idle and self._flush_requested == self._flushed:
                        self._cv.wait(self.interval)
                    points, self._buf = self._buf, []
                    system, self._sys = self._sys, []
                    target = self._flush_requested
                    stop = self._stop
                now = time.time()
                if points or system or now - last_beat >= self.interval:
                    with store.transaction() as conn:
                        store._write_points_locked(self.run_id, points, "metric", {})
                        store._write_points_locked(self.run_id, system, "system", {})
                        conn.execute(
                            "UPDATE runs SET heartbeat = ? WHERE id = ?", (now, self.run_id)
                        )
                    last_beat = now
                with self._cv:
                    self._flushed = max(self._flushed, target)
                    self._cv.notify_all()
                if stop:
                    return
        except BaseException as exc:  # surfaced by Run.finish
            self.error = exc
            with self._cv:
                self._flushed = self._flush_requested
                self._cv.notify_all()
        finally:
            store.close()

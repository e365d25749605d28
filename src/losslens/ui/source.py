"""What the dashboard's pages and API read: :class:`DashboardData`, one interface, two engines.

:class:`losslens.ui.data.DataSource` serves it from a SQLite store (series kept in memory,
charts from the write-time rollups), :class:`losslens.ui.pgdata.PgDataSource` from the
PostgreSQL store (charts summarised by PostgreSQL). ``request.app.state.data`` is either;
``mypy --strict`` proves that both fit (the functions under ``TYPE_CHECKING`` at the end).

``store()`` gives the few store calls the pages make themselves (:class:`DashboardStore`).
A key's *head* (``heads``) is ``(key_id, kind, key, mark)``: ``mark`` changes whenever a
point is added to the key (a rowid on SQLite, the point count on PostgreSQL), None when
the key has no point.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import numpy as np

from losslens.model import Report, RunData, RunInfo, Series
from losslens.render.downsample import Candidates
from losslens.store.findings import StoredAnalysis
from losslens.store.protocol import StoreProtocol
from losslens.store.rollups import SubArray


class _Sized(Protocol):
    @property
    def nbytes(self) -> int: ...


E = TypeVar("E", bound=_Sized)


class SeriesCache(Generic[E]):
    """Series read from a store, keyed by ``(run id, kind, key)``; thread-safe. Beyond
    ``limit`` bytes the least recently used go first (the newest always stays)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[str, str, str], E] = OrderedDict()
        self._bytes = 0

    def get(self, key: tuple[str, str, str]) -> E | None:
        with self._lock:
            entry = self._items.get(key)
            if entry is not None:
                self._items.move_to_end(key)
            return entry

    def put(self, key: tuple[str, str, str], entry: E) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._items[key] = entry
            self._bytes += entry.nbytes
            while self._bytes > self.limit and len(self._items) > 1:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= dropped.nbytes

    def forget(self, run_id: str) -> None:
        with self._lock:
            for key in [k for k in self._items if k[0] == run_id]:
                self._bytes -= self._items.pop(key).nbytes


class DashboardStore(StoreProtocol, Protocol):
    """The store calls the pages, the API and the data sources' shared half make
    (``ds.store().…``): the store protocol and what the dashboard adds to it."""

    def key_heads(self, run_id: str) -> list[tuple[int, str, str, int | None]]: ...

    def projects(self) -> list[str]: ...

    def update_run(self, run_id: str, **fields: Any) -> None: ...

    def delete_run(self, run_id: str) -> None: ...

    def rollup_subs(
        self, key_id: int, step_min: int | None = None, step_max: int | None = None
    ) -> SubArray:
        """Summaries of a key's points in consecutive slices (a sparkline's input)."""
        ...

    def count_in(self, key_id: int, step_min: int | None, step_max: int | None) -> int: ...

    def read_points(
        self, key_id: int, *, with_wall: bool = False
    ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any], int]:
        """One key's points ordered by step: ``(steps, values, wall_times, mark)``."""
        ...


class DashboardData(Protocol):
    """Thread-safe reads of one store for the web app (``request.app.state.data``)."""

    #: Points read by the live view (its per-poll work, for tests).
    points_read: int
    #: Points read to compare runs.
    compare_points_read: int

    @property
    def store_path(self) -> str | Path:
        """What names the store (a path, or a URL without its password)."""
        ...

    def store(self) -> DashboardStore: ...

    def runs(self, project: str | None = None) -> list[RunInfo]: ...

    def run(self, ref: str) -> RunInfo: ...

    def data_version(self) -> int:
        """A number that changes when anything is committed to the store: one cheap look."""
        ...

    def heads(self, info: RunInfo) -> list[tuple[int, str, str, int | None]]: ...

    def version(self, info: RunInfo, heads: list[Any] | None = None) -> str: ...

    def series(
        self, info: RunInfo, kind: str, key: str, heads: list[Any] | None = None
    ) -> Series: ...

    def drawable(
        self,
        info: RunInfo,
        kind: str,
        key: str,
        heads: list[Any],
        width: int,
        step_min: int | None = None,
        step_max: int | None = None,
    ) -> Series | Candidates:
        """What to draw one series from at ``width`` px: the whole series when short, else
        a bounded set of points that draws the same (every column's extremes kept)."""
        ...

    def all_series(self, info: RunInfo) -> tuple[dict[str, Series], dict[str, Series]]: ...

    def run_data(self, info: RunInfo) -> RunData: ...

    def compare_data(self, infos: list[RunInfo]) -> list[RunData]: ...

    def forget(self, run_id: str) -> None: ...

    def report(self, info: RunInfo) -> Report | None: ...

    def cached_report(self, info: RunInfo, heads: list[Any] | None = None) -> Report | None: ...

    def verdicts(
        self, infos: list[RunInfo], *, analyse: bool = True
    ) -> dict[str, StoredAnalysis | None]: ...

    def live_poll(self, info: RunInfo, after_step: int, *, wait: bool = True) -> dict[str, Any]: ...

    def loss_stats(
        self, info: RunInfo, heads: list[Any] | None = None
    ) -> dict[str, float | None]: ...

    def table(
        self, infos: list[RunInfo], *, analyse: bool = True
    ) -> tuple[dict[str, list[Any]], dict[str, dict[str, float | None]], dict[str, Any]]: ...


if TYPE_CHECKING:  # checked by mypy, never run: both engines serve the dashboard
    from losslens.store.pg import PgStore
    from losslens.store.store import Store
    from losslens.ui.data import DataSource
    from losslens.ui.pgdata import PgDataSource

    def _sqlite_serves(ds: DataSource) -> DashboardData:
        return ds

    def _postgresql_serves(ds: PgDataSource) -> DashboardData:
        return ds

    def _sqlite_store(st: Store) -> DashboardStore:
        return st

    def _postgresql_store(st: PgStore) -> DashboardStore:
        return st


__all__ = ["DashboardData", "DashboardStore"]

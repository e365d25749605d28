"""The one store interface both engines implement: :class:`StoreProtocol`.

Analysis, reports, the read and import commands and the stored-analysis cache take a
``StoreProtocol`` and do not know whether they hold the SQLite :class:`~losslens.store.Store`
or the PostgreSQL :class:`~losslens.store.pg.PgStore`. What only one engine has stays off
it: transactions and raw connections (the SQLite tracking writer and the server's ingest
use their own engine's), and the SQLite dashboard reads over ``rollups``.

The engines differ where docs/team.md says so: the PostgreSQL store keeps one value per
``(run, key, step)`` (the first written) and stores values as ``float8``.

``mypy --strict`` proves that both classes satisfy the protocol (the functions under
``TYPE_CHECKING`` at the end of this module).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol, Self, runtime_checkable

from losslens.model import Finding, MetricPoint, Report, RunData, RunInfo, RunStatus, Series

if TYPE_CHECKING:
    from losslens.store.findings import StoredAnalysis


@runtime_checkable
class StoreProtocol(Protocol):
    """A handle on a run store (one per thread). Close it, or use it in a ``with``."""

    @property
    def readonly(self) -> bool:
        """True when writes would be refused (a SQLite file on a read-only mount)."""
        ...

    @property
    def schema_version(self) -> int: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...

    def snapshot(self) -> AbstractContextManager[None]:
        """Reads inside see one consistent state of the store."""
        ...

    # -- runs -------------------------------------------------------------------------------

    def create_run(
        self,
        project: str,
        name: str | None = None,
        *,
        run_id: str | None = None,
        status: RunStatus = RunStatus.RUNNING,
        start_time: float | None = None,
        end_time: float | None = None,
        config: dict[str, Any] | None = None,
        summary: dict[str, Any] | None = None,
        host: str | None = None,
        pid: int | None = None,
        command: str | None = None,
        git_commit: str | None = None,
        source: str | None = None,
        source_id: str | None = None,
        output_dir: str | None = None,
    ) -> RunInfo:
        """A new run (``StoreError`` when its id or ``source_id`` is taken)."""
        ...

    def update_run(self, run_id: str, **fields: Any) -> None:
        """Set run columns (``ValueError`` for a column that cannot be updated)."""
        ...

    def set_source_id(self, run_id: str, source_id: str) -> None: ...

    def delete_run(self, run_id: str) -> None:
        """Delete a run with its points, keys, findings and stored analysis."""
        ...

    def list_runs(self, project: str | None = None) -> list[RunInfo]:
        """Runs newest first (ties: the one created last first)."""
        ...

    def projects(self) -> list[str]: ...

    def get_run(self, ref: str) -> RunInfo:
        """A run by id, unique id prefix, or name (``RunNotFoundError`` otherwise)."""
        ...

    def find_run_id(self, run_id: str) -> RunInfo | None: ...

    def find_by_source(self, source_id: str) -> RunInfo | None: ...

    def last_step(self, run_id: str) -> int | None: ...

    # -- points -----------------------------------------------------------------------------

    def write_points(
        self,
        run_id: str,
        points: Iterable[MetricPoint],
        *,
        kind: str = "metric",
        originals: dict[str, str] | None = None,
        heartbeat: bool = False,
    ) -> int:
        """Write points in one transaction; returns how many were given. A step that is not
        a 64-bit integer raises ``ValueError``, a run that does not exist
        ``RunNotFoundError``; either way nothing of the batch is kept."""
        ...

    def keys(self, run_id: str, kind: str = "metric") -> dict[str, str]: ...

    def count_points(self, run_id: str, kind: str = "metric") -> int: ...

    def series(
        self,
        run_id: str,
        key: str,
        *,
        kind: str = "metric",
        step_min: int | None = None,
        step_max: int | None = None,
    ) -> Series: ...

    def load(self, ref: str) -> RunData:
        """A run with every series (metric and system), read in one snapshot."""
        ...

    # -- findings and stored analyses (losslens.stored_analysis) ----------------------------

    def save_findings(self, run_id: str, findings: Sequence[Finding]) -> None: ...

    def load_findings(self, run_id: str) -> list[dict[str, Any]]: ...

    def points_stamps(self, run_ids: Sequence[str]) -> dict[str, str]:
        """Per run: a digest source that any new point of the run changes."""
        ...

    def read_analyses(self, run_ids: Iterable[str]) -> dict[str, StoredAnalysis]:
        """The stored analyses (current or not) of these runs."""
        ...

    def read_report(self, info: RunInfo, stamp: str | None = None) -> Report | None:
        """The stored report of a run, or None (also when ``stamp`` differs: stale)."""
        ...

    def write_report(self, report: Report, stamp: str) -> bool:
        """Replace the run's stored analysis and findings in one transaction (False when
        nothing could be kept: a read-only store, or the run deleted meanwhile)."""
        ...

    def forget_analysis(self, run_id: str) -> None:
        """Drop a run's stored analysis (its findings stay until the next analysis)."""
        ...


if TYPE_CHECKING:  # checked by mypy, never run: both engines satisfy the protocol
    from losslens.store.pg import PgStore
    from losslens.store.store import Store

    def _sqlite_is_a_store(store: Store) -> StoreProtocol:
        return store

    def _postgresql_is_a_store(store: PgStore) -> StoreProtocol:
        return store


__all__ = ["StoreProtocol"]

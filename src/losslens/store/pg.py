"""The run store on PostgreSQL (``--store postgresql://…``): the methods of
:class:`losslens.store.Store` that import, analysis and the read commands use.

Needs the ``team`` extra (psycopg 3 and its pool). The schema is plain SQL in
``pg_migrations/NNNN_name.sql``, applied in order by ``losslens db upgrade`` (:func:`upgrade`)
and recorded in ``schema_migrations``; opening a database whose schema is behind asks for
that command. Points are keyed by ``(run_id, key_id, step)``: writing a point again stores
nothing new, so a retried batch never duplicates (unlike the SQLite store, which keeps every
row). They go in with binary COPY built in numpy, straight into ``points`` when a batch
only appends, else through a staging table and one ``INSERT … ON CONFLICT DO NOTHING``;
either also updates each key's count and last step (``pg_write.py``). See docs/team.md.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import psycopg
from psycopg import sql as pgsql
from psycopg_pool import ConnectionPool, PoolTimeout

from losslens.errors import RunNotFoundError, StoreError, StoreVersionError
from losslens.model import Finding, MetricPoint, Report, RunData, RunInfo, RunStatus, Series
from losslens.store.findings import StoredAnalysis, finding_rows, report_body, stored_report
from losslens.store.jsonvalues import dumps, loads
from losslens.store.pg_reads import PgReads, step_range
from losslens.store.pg_schema import connect, migrations, redact, schema_version
from losslens.store.pg_write import columns, key_ids, write_columns
from losslens.store.points import _check_steps
from losslens.store.store import _UPDATABLE, new_run_id, run_info_from_row
from losslens.store.wire import PointColumns

_RUN_COLUMNS = (
    "r.id, p.name, r.name, r.status, r.start_time, r.end_time, r.heartbeat, r.host, r.pid, "
    "r.command, r.git_commit, r.config::text, r.summary::text, r.source, r.source_id, "
    "r.output_dir, r.exit_code"
)
_RUN_BASE = f"SELECT {_RUN_COLUMNS} FROM runs r JOIN projects p ON p.id = r.project_id"
_INSERT_FINDING = (
    "INSERT INTO findings (run_id, rule_id, kind, severity, step_start, step_end, "
    "onset_step, payload, created_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)"
)

# -- the store ------------------------------------------------------------------------------


class PgStore(PgReads):
    """A handle on a losslens store in a PostgreSQL database. Use one per thread."""

    #: Never read-only: PostgreSQL's permissions refuse writes with their own error.
    readonly = False
    immutable = False

    def __init__(self, url: str, *, create: bool = True, pool_size: int = 4) -> None:
        self.url = url
        #: What messages name (the URL without its password).
        self.path = redact(url)
        self._local = threading.local()
        with connect(url) as conn:
            have, want = schema_version(conn), len(migrations())
        if have > want:
            raise StoreVersionError(
                f"{self.path} was written by a newer losslens (schema {have}, "
                f"this version reads up to {want})",
                "upgrade losslens: pip install -U 'losslens[team]'",
            )
        if have < want:
            raise StoreError(
                f"the database {self.path} has losslens schema {have}, this version needs {want}",
                f"run: losslens db upgrade --store {self.path}",
            )
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            url,
            min_size=1,
            max_size=max(1, pool_size),
            kwargs={"autocommit": True},
            open=True,
            name="losslens",
        )

    # -- connections ------------------------------------------------------------------------

    @property
    def _tx(self) -> psycopg.Connection[Any] | None:
        conn: psycopg.Connection[Any] | None = getattr(self._local, "tx", None)
        return conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[Any]]:
        """One write transaction (a nested call joins the open one)."""
        if self._tx is not None:
            yield self._tx
            return
        with self._connection() as conn, conn.transaction():
            self._local.tx = conn
            try:
                yield conn
            finally:
                self._local.tx = None

    @contextlib.contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection; a lost server is one StoreError, not a traceback."""
        try:
            with self._pool.connection(timeout=30.0) as conn:
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise StoreError(
                f"lost the connection to PostgreSQL at {self.path}: {first}",
                "check that the server runs, then run the command again",
            ) from exc
        except psycopg.DataError as exc:
            if "NUL" not in str(exc):
                raise
            # SQLite keeps a NUL in a text; PostgreSQL's text cannot hold one (nothing is kept)
            raise StoreError(
                "PostgreSQL cannot store the NUL character (\\x00) of a run, project or metric "
                "name",
                "rename it, or keep this run in a SQLite store (--store PATH)",
            ) from exc

    @contextlib.contextmanager
    def _reading(self) -> Iterator[psycopg.Connection[Any]]:
        if self._tx is not None:
            yield self._tx
            return
        with self._connection() as conn:
            yield conn

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads inside see one consistent state (a REPEATABLE READ transaction)."""
        if self._tx is not None:
            yield
            return
        with self._connection() as conn:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            self._local.tx = conn
            try:
                yield
            finally:
                self._local.tx = None
                conn.execute("COMMIT")

    def _all(self, query: str, args: Sequence[Any] | dict[str, Any] = ()) -> list[tuple[Any, ...]]:
        with self._reading() as conn:
            return conn.execute(query.encode("utf-8"), args).fetchall()

    def _one_bytes(self, query: str, args: Sequence[Any]) -> bytes:
        """The first column of the first row of ``query``, a ``bytea``, in binary (b"" when
        NULL)."""
        with self._reading() as conn:
            row = conn.execute(query.encode("utf-8"), args, binary=True).fetchone()
        return bytes(row[0]) if row is not None and row[0] is not None else b""

    def _copy_rows(self, query: str, args: Sequence[Any], dtype: np.dtype[Any]) -> Any:
        """The rows of ``query`` (no NULLs) as a numpy record array, read with binary COPY."""
        buf = bytearray()
        stmt = f"COPY ({query}) TO STDOUT (FORMAT BINARY)".encode()
        with self._reading() as conn, conn.cursor() as cur, cur.copy(stmt, args) as copy:
            for block in copy:
                buf += block
        return np.frombuffer(bytes(buf[19:-2]), dtype=dtype)  # header and trailer off

    def close(self) -> None:
        self._pool.close()

    def __enter__(self) -> PgStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        with self._reading() as conn:
            return schema_version(conn)

    # -- runs -------------------------------------------------------------------------------

    def _project_id(self, conn: psycopg.Connection[Any], name: str) -> int:
        conn.execute(
            "INSERT INTO projects (name, created_at) VALUES (%s, %s) ON CONFLICT (name) DO NOTHING",
            (name, time.time()),
        )
        row = conn.execute("SELECT id FROM projects WHERE name = %s", (name,)).fetchone()
        assert row is not None
        return int(row[0])

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
        rid = run_id or new_run_id()
        now = time.time()
        start = start_time if start_time is not None else now
        try:
            with self.transaction() as conn:
                pid_ = self._project_id(conn, project)
                if not name:
                    row = conn.execute(
                        "SELECT COUNT(*) FROM runs WHERE project_id = %s", (pid_,)
                    ).fetchone()
                    name = f"run-{int(row[0] if row else 0) + 1}"
                conn.execute(
                    "INSERT INTO runs (id, project_id, name, status, start_time, end_time, "
                    "heartbeat, host, pid, command, git_commit, config, summary, source, "
                    "source_id, output_dir) VALUES "
                    "(%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                    (
                        rid,
                        pid_,
                        name,
                        str(status),
                        start,
                        end_time,
                        now,
                        host,
                        pid,
                        command,
                        git_commit,
                        dumps(config or {}),
                        dumps(summary or {}),
                        source,
                        source_id,
                        output_dir,
                    ),
                )
        except psycopg.errors.UniqueViolation as exc:
            raise StoreError(f"a run with id {rid} or source {source_id} exists already") from exc
        return self.get_run(rid)

    def update_run(self, run_id: str, **fields: Any) -> None:
        bad = set(fields) - _UPDATABLE
        if bad:
            raise ValueError(f"cannot update {sorted(bad)}")
        if not fields:
            return
        values = [
            (v if isinstance(v, str) else dumps(v))
            if k in ("config", "summary")
            else (str(v) if k == "status" else v)
            for k, v in fields.items()
        ]
        sets = pgsql.SQL(", ").join(
            pgsql.SQL("{} = %s").format(pgsql.Identifier(k)) for k in fields
        )
        query = pgsql.SQL("UPDATE runs SET {} WHERE id = %s").format(sets)
        with self.transaction() as conn:
            conn.execute(query, (*values, run_id))

    def set_source_id(self, run_id: str, source_id: str) -> None:
        """Mark a run as the complete import of ``source_id`` (see :meth:`find_by_source`)."""
        with self.transaction() as conn:
            conn.execute("UPDATE runs SET source_id = %s WHERE id = %s", (source_id, run_id))

    def delete_run(self, run_id: str) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM points WHERE run_id = %s", (run_id,))  # no FK: see 0001
            conn.execute("DELETE FROM runs WHERE id = %s", (run_id,))

    def _row_to_info(self, row: Sequence[Any]) -> RunInfo:
        return run_info_from_row(row)

    def list_runs(self, project: str | None = None) -> list[RunInfo]:
        query = _RUN_BASE
        args: tuple[str, ...] = ()
        if project:
            query, args = query + " WHERE p.name = %s", (project,)
        rows = self._all(query + " ORDER BY r.start_time DESC, r.seq DESC", args)
        return [self._row_to_info(r) for r in rows]

    def projects(self) -> list[str]:
        return [str(r[0]) for r in self._all('SELECT name FROM projects ORDER BY name COLLATE "C"')]

    def get_run(self, ref: str) -> RunInfo:
        """A run by id, unique id prefix, or name (the newest run with that name)."""
        rows = self._all(_RUN_BASE + " WHERE r.id = %s", (ref,))
        if not rows:
            rows = self._all(
                _RUN_BASE + " WHERE r.name = %s ORDER BY r.start_time DESC, r.seq DESC LIMIT 1",
                (ref,),
            )
        if not rows and len(ref) >= 3:
            pattern = ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            rows = self._all(_RUN_BASE + " WHERE r.id LIKE %s ESCAPE '\\'", (pattern,))
            if len(rows) > 1:
                raise RunNotFoundError(
                    f"'{ref}' matches {len(rows)} runs", "give more characters of the run id"
                )
        if not rows:
            raise RunNotFoundError(
                f"no run '{ref}' in {self.path}", "list runs with: losslens runs --store URL"
            )
        return self._row_to_info(rows[0])

    def find_run_id(self, run_id: str) -> RunInfo | None:
        """The run with exactly this id (no name or prefix matching), or None."""
        rows = self._all(_RUN_BASE + " WHERE r.id = %s", (run_id,))
        return self._row_to_info(rows[0]) if rows else None

    def find_by_source(self, source_id: str) -> RunInfo | None:
        rows = self._all(_RUN_BASE + " WHERE r.source_id = %s", (source_id,))
        return self._row_to_info(rows[0]) if rows else None

    def last_step(self, run_id: str) -> int | None:
        """The largest step logged for any metric of the run, or None."""
        rows = self._all(
            "SELECT MAX(step_max) FROM metric_keys WHERE run_id = %s AND kind = 'metric'",
            (run_id,),
        )
        return int(rows[0][0]) if rows and rows[0][0] is not None else None

    # -- points -----------------------------------------------------------------------------

    def key_id(
        self, run_id: str, key: str, kind: str = "metric", original: str | None = None
    ) -> int:
        """The id of a run's metric key, created when new. Call inside :meth:`transaction`."""
        with self.transaction() as conn:
            row = conn.execute(
                "INSERT INTO metric_keys (run_id, key, original, kind) VALUES (%s,%s,%s,%s) "
                "ON CONFLICT (run_id, key, kind) DO NOTHING RETURNING id",
                (run_id, key, original, kind),
            ).fetchone()
            if row is None:
                row = conn.execute(
                    "SELECT id FROM metric_keys WHERE run_id = %s AND key = %s AND kind = %s",
                    (run_id, key, kind),
                ).fetchone()
            assert row is not None
            return int(row[0])

    def write_points(
        self,
        run_id: str,
        points: Iterable[MetricPoint],
        *,
        kind: str = "metric",
        originals: dict[str, str] | None = None,
        heartbeat: bool = False,
    ) -> int:
        """Write points in one transaction; returns how many were given (a point already
        stored, same run, key and step, is left as it is; ``RunNotFoundError`` when the run
        does not exist)."""
        try:
            with self.transaction() as conn:
                n = self.add_points(run_id, points, kind=kind, originals=originals)
                if heartbeat:
                    conn.execute(
                        "UPDATE runs SET heartbeat = %s WHERE id = %s", (time.time(), run_id)
                    )
        except psycopg.errors.ForeignKeyViolation as exc:  # a key of a run that is not there
            raise RunNotFoundError(f"no run '{run_id}' to write points to") from exc
        return n

    def add_points(
        self,
        run_id: str,
        points: Iterable[MetricPoint],
        *,
        kind: str = "metric",
        originals: dict[str, str] | None = None,
    ) -> int:
        """Write points inside the caller's :meth:`transaction` (binary COPY, see
        :func:`~losslens.store.pg_write.write_columns`); returns how many were given."""
        originals = originals or {}
        flat: list[Any] = []
        extend = flat.extend
        with self.transaction() as conn:
            ids: dict[str, int] = {}
            for key, step, v, wall_time in points:
                kid = ids.get(key)
                if kid is None:
                    kid = ids[key] = self.key_id(run_id, key, kind, originals.get(key))
                extend((kid, step, wall_time, v))
            if not flat:
                return 0
            _check_steps(flat)
            write_columns(conn, run_id, *columns(flat))
        return len(flat) // 4

    def add_columns(self, run_id: str, batch: PointColumns) -> int:
        """Write a batch given as columns (:mod:`losslens.store.wire`, both kinds) inside the
        caller's :meth:`transaction`, as :meth:`add_points` does; returns its size."""
        if not len(batch):
            return 0
        try:
            with self.transaction() as conn:
                ids = key_ids(conn, run_id, batch.keys, batch.originals)
                kids = ids[batch.index]
                write_columns(conn, run_id, kids, batch.steps, batch.walls, batch.values)
        except psycopg.errors.ForeignKeyViolation as exc:  # a key of a run that is not there
            raise RunNotFoundError(f"no run '{run_id}' to write points to") from exc
        return len(batch)

    def keys(self, run_id: str, kind: str = "metric") -> dict[str, str]:
        """The run's metric keys -> the name they were logged under."""
        rows = self._all(
            "SELECT key, original FROM metric_keys WHERE run_id = %s AND kind = %s "
            'ORDER BY key COLLATE "C"',
            (run_id, kind),
        )
        return {str(k): str(o or k) for k, o in rows}

    def count_points(self, run_id: str, kind: str = "metric") -> int:
        rows = self._all(
            "SELECT COALESCE(SUM(n_points), 0) FROM metric_keys WHERE run_id = %s AND kind = %s",
            (run_id, kind),
        )
        return int(rows[0][0])

    def series(
        self,
        run_id: str,
        key: str,
        *,
        kind: str = "metric",
        step_min: int | None = None,
        step_max: int | None = None,
    ) -> Series:
        query = (
            "SELECT p.step, p.value, p.wall_time FROM points p JOIN metric_keys k "
            "ON k.id = p.key_id WHERE p.run_id = %s AND k.run_id = %s AND k.key = %s "
            "AND k.kind = %s"
        )
        clause, bounds = step_range("p.step", step_min, step_max)
        rows = self._all(query + clause + " ORDER BY p.step", [run_id, run_id, key, kind, *bounds])
        return Series(key, *_columns(rows))

    def _run_series(self, run_id: str, kind: str) -> dict[str, Series]:
        keys = self._all(
            "SELECT id, key FROM metric_keys WHERE run_id = %s AND kind = %s "
            'ORDER BY key COLLATE "C"',
            (run_id, kind),
        )
        out: dict[str, Series] = {}
        for kid, key in keys:
            steps, values, walls, _ = self.read_range(int(kid), None, None, with_wall=True)
            out[str(key)] = Series(str(key), steps, values, walls)
        return out

    def load(self, ref: str) -> RunData:
        """A run with every series (metric and system), read in one snapshot."""
        info = self.get_run(ref)
        with self.snapshot():
            keys = self.keys(info.id)
            series = self._run_series(info.id, "metric")
            system = self._run_series(info.id, "system")
        return RunData(info=info, series=series, system=system, original_keys=keys)

    # -- findings and stored analyses --------------------------------------------------------

    def save_findings(self, run_id: str, findings: Sequence[Finding]) -> None:
        """Replace the stored findings of a run."""
        with self.transaction() as conn:
            self._write_findings(conn, run_id, findings, time.time())

    def _write_findings(
        self, conn: psycopg.Connection[Any], run_id: str, findings: Sequence[Finding], now: float
    ) -> None:
        conn.execute("DELETE FROM findings WHERE run_id = %s", (run_id,))
        with conn.cursor() as cur:
            cur.executemany(_INSERT_FINDING, finding_rows(run_id, findings, now))

    def load_findings(self, run_id: str) -> list[dict[str, Any]]:
        rows = self._all(
            "SELECT payload::text FROM findings WHERE run_id = %s ORDER BY id", (run_id,)
        )
        return [loads(r[0]) for r in rows]

    def points_stamps(self, run_ids: Sequence[str]) -> dict[str, str]:
        """Per run: a digest source of its keys' point counts and last steps (kept by every
        writer), which any new point changes: the PostgreSQL side of
        :func:`losslens.store.findings.points_stamps`."""
        rows = self._all(
            "SELECT run_id, id, n_points, step_max FROM metric_keys WHERE run_id = ANY(%s) "
            "ORDER BY run_id, id",
            (list(run_ids),),
        )
        parts: dict[str, list[str]] = {r: [] for r in run_ids}
        for run_id, kid, n, last in rows:
            parts.setdefault(str(run_id), []).append(f"{kid}:{n}:{last}")
        return {r: ",".join(p) for r, p in parts.items()}

    def read_analyses(self, run_ids: Iterable[str]) -> dict[str, StoredAnalysis]:
        """The stored analyses (current or not) of these runs."""
        rows = self._all(
            "SELECT run_id, stamp, verdict, n_findings, created_at FROM analyses "
            "WHERE run_id = ANY(%s)",
            (list(run_ids),),
        )
        return {
            str(r[0]): StoredAnalysis(str(r[0]), str(r[1]), str(r[2]), int(r[3]), float(r[4]))
            for r in rows
        }

    def read_report(self, info: RunInfo, stamp: str | None = None) -> Report | None:
        """The stored report of a run, or None (also when ``stamp`` differs: stale)."""
        with self.snapshot():
            rows = self._all(
                "SELECT stamp, verdict, report::text, created_at FROM analyses WHERE run_id = %s",
                (info.id,),
            )
            if not rows or (stamp is not None and rows[0][0] != stamp):
                return None
            payloads = list(self.load_findings(info.id))
        _, verdict, body, created = rows[0]
        return stored_report(info, str(verdict), dict(loads(body)), float(created), payloads)

    def write_report(self, report: Report, stamp: str) -> bool:
        """Replace a run's stored analysis and findings in one transaction (False when the
        run was deleted meanwhile)."""
        run_id, now = report.run.id, time.time()
        with self.transaction() as conn:
            if conn.execute("SELECT 1 FROM runs WHERE id = %s", (run_id,)).fetchone() is None:
                return False
            self._write_findings(conn, run_id, report.findings, now)
            conn.execute(
                "INSERT INTO analyses (run_id, stamp, verdict, n_findings, report, created_at) "
                "VALUES (%s,%s,%s,%s,%s,%s) ON CONFLICT (run_id) DO UPDATE SET "
                "stamp = EXCLUDED.stamp, verdict = EXCLUDED.verdict, "
                "n_findings = EXCLUDED.n_findings, report = EXCLUDED.report, "
                "created_at = EXCLUDED.created_at",
                (
                    run_id,
                    stamp,
                    str(report.verdict),
                    len(report.findings),
                    dumps(report_body(report)),
                    now,
                ),
            )
        return True

    def forget_analysis(self, run_id: str) -> None:
        """Drop a run's stored analysis (its findings stay until the next analysis)."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM analyses WHERE run_id = %s", (run_id,))


def _columns(
    rows: Sequence[Sequence[Any]],
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """``(step, value, wall_time)`` rows as int64 / float64 (NULL -> NaN) columns."""
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.float64), np.zeros(0, np.float64)
    steps = np.fromiter((r[0] for r in rows), np.int64, count=len(rows))
    values = np.array([r[1] for r in rows], dtype=np.float64)
    walls = np.array([r[2] for r in rows], dtype=np.float64)
    return steps, values, walls


__all__ = ["PgStore"]

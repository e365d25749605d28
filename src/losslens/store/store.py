"""The run store: one SQLite file in WAL mode, safe for many processes at once."""

from __future__ import annotations

import contextlib
import math
import os
import secrets
import socket
import sqlite3
import string
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import psutil

from losslens.errors import RunNotFoundError, StoreError, StoreVersionError
from losslens.model import (
    HEARTBEAT_TIMEOUT_S,
    Finding,
    Report,
    RunData,
    RunInfo,
    RunStatus,
    Series,
)
from losslens.paths import resolve_store_path
from losslens.store import findings as stored
from losslens.store.columns import run_columns
from losslens.store.findings import INSERT_FINDING as INSERT_FINDING
from losslens.store.findings import finding_rows as finding_rows
from losslens.store.jsonvalues import dumps as dumps
from losslens.store.jsonvalues import loads as loads
from losslens.store.points import PointsMixin
from losslens.store.schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION

_T = TypeVar("_T")
_ID_ALPHABET = string.ascii_lowercase + string.digits
_RUN_COLUMNS = (
    "r.id, p.name, r.name, r.status, r.start_time, r.end_time, r.heartbeat, r.host, r.pid, "
    "r.command, r.git_commit, r.config, r.summary, r.source, r.source_id, r.output_dir, r.exit_code"
)
_UPDATABLE = {
    "name",
    "status",
    "end_time",
    "heartbeat",
    "config",
    "summary",
    "output_dir",
    "exit_code",
    "command",
    "git_commit",
    "pid",
    "host",
}


def new_run_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


def _pid_alive(pid: int, started: float | None = None) -> bool:
    """Whether process ``pid`` exists and (if ``started`` is given) is not a newer process
    that reuses the number of one that began at ``started``."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    except OSError:
        return False
    if started is None:
        return True
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return bool(proc.create_time() <= started + 2.0)
    except Exception:
        return True


class Store(PointsMixin):
    """A handle on one store file. Use one ``Store`` per thread."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        create: bool = True,
        readonly: bool | None = None,
    ) -> None:
        self.path = Path(":memory:") if str(path) == ":memory:" else resolve_store_path(path)
        self._key_ids: dict[tuple[str, str, str], int] = {}
        self._lock = threading.Lock()
        #: Opened read-only (``readonly=True``, or a store on a read-only file system or
        #: without write permission): reads work, every write raises a one-line StoreError.
        self.readonly = False
        #: Opened with SQLite's ``immutable=1`` (read-only, and ``-shm`` could not be made).
        self.immutable = False
        if str(self.path) != ":memory:":
            if not self.path.exists() and not create:
                raise StoreError(
                    f"no store at {self.path}",
                    "log or import a run first, or pass --store PATH",
                )
            if readonly is None:
                readonly = self.path.exists() and not _writable(self.path)
            self.readonly = bool(readonly)
            if not self.readonly:
                try:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise StoreError(
                        f"cannot create the store folder {self.path.parent}: {exc}"
                    ) from exc
        try:
            self.conn = self._connect()
        except sqlite3.Error as exc:
            raise StoreError(
                f"cannot open the store {self.path}: {exc}",
                "check the path and its permissions, or pass --store PATH",
            ) from exc
        try:
            self.conn.execute("PRAGMA busy_timeout = 60000")
            self._setup()
        except StoreError:
            self.conn.close()
            raise
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            raise StoreError(
                f"{self.path} is not a readable losslens store ({exc})",
                "pass --store with the path of a losslens store, or move this file away",
            ) from exc

    # -- set-up -----------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if not self.readonly:
            return sqlite3.connect(
                str(self.path), timeout=60.0, isolation_level=None, check_same_thread=False
            )
        uri = "file:" + urllib.parse.quote(str(self.path.resolve()))
        for query in ("?mode=ro", "?mode=ro&immutable=1"):
            conn = sqlite3.connect(
                uri + query, uri=True, timeout=60.0, isolation_level=None, check_same_thread=False
            )
            try:
                conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            except sqlite3.OperationalError:
                # WAL needs a -shm file next to the store; in a read-only folder without one,
                # only an immutable open can read it.
                conn.close()
                continue
            self.immutable = "immutable" in query
            return conn
        raise sqlite3.OperationalError("unable to open the read-only store")

    def _setup(self) -> None:
        c = self.conn
        # One statement, so one consistent snapshot even while another process migrates.
        version, app_id, tables = c.execute(
            "SELECT (SELECT user_version FROM pragma_user_version), "
            "(SELECT application_id FROM pragma_application_id), "
            "(SELECT COUNT(*) FROM sqlite_master)"
        ).fetchone()
        version = int(version)
        if str(self.path) != ":memory:" and (
            (version == 0 and tables) or (version > 0 and app_id != APPLICATION_ID)
        ):
            raise StoreError(
                f"{self.path} is an SQLite database, but not a losslens store",
                "pass --store with the path of a losslens store (losslens.db)",
            )
        if version > SCHEMA_VERSION:
            raise StoreVersionError(
                f"{self.path} was written by a newer losslens (schema {version}, "
                f"this version reads up to {SCHEMA_VERSION})",
                "upgrade losslens: pip install -U losslens",
            )
        if self.readonly:
            if version < SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} is read-only and needs an upgrade to schema {SCHEMA_VERSION}",
                    "open it once with write access, or copy it somewhere writable",
                )
            c.execute("PRAGMA foreign_keys = ON")
            return
        if str(self.path) != ":memory:":
            if version == 0 and not tables:
                # Only possible before the first write. Larger pages make the points
                # table and its index about 15% cheaper to append to.
                c.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            mode = _retry_locked(lambda: c.execute("PRAGMA journal_mode = WAL").fetchone()[0])
            if str(mode).lower() != "wal":
                raise StoreError(f"cannot switch {self.path} to WAL mode (got {mode})")
        c.execute("PRAGMA synchronous = NORMAL")
        c.execute("PRAGMA foreign_keys = ON")
        if version < SCHEMA_VERSION:
            self._migrate()

    def _migrate(self) -> None:
        with self.transaction():
            version = int(self.conn.execute("PRAGMA user_version").fetchone()[0])
            for i in range(version, SCHEMA_VERSION):
                for stmt in _split_sql(MIGRATIONS[i]):
                    self.conn.execute(stmt)
                self.conn.execute(f"PRAGMA user_version = {i + 1}")

    def transaction(self) -> _Transaction:
        """A write transaction taken with BEGIN IMMEDIATE (no lock-upgrade deadlocks)."""
        return _Transaction(
            self.conn, self._lock, self.path if self.readonly else None, self._key_ids.clear
        )

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    # -- runs -------------------------------------------------------------------------------

    def _project_id(self, name: str) -> int:
        row = self.conn.execute("SELECT id FROM projects WHERE name = ?", (name,)).fetchone()
        if row:
            return int(row[0])
        cur = self.conn.execute(
            "INSERT INTO projects (name, created_at) VALUES (?, ?)", (name, time.time())
        )
        return int(cur.lastrowid or 0)

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
        with self.transaction():
            pid_ = self._project_id(project)
            if not name:
                n = self.conn.execute(
                    "SELECT COUNT(*) FROM runs WHERE project_id = ?", (pid_,)
                ).fetchone()[0]
                name = f"run-{int(n) + 1}"
            try:
                self.conn.execute(
                    "INSERT INTO runs (id, project_id, name, status, start_time, end_time, "
                    "heartbeat, host, pid, command, git_commit, config, summary, source, "
                    "source_id, output_dir) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
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
            except sqlite3.IntegrityError as exc:
                raise StoreError(
                    f"a run with id {rid} or source {source_id} exists already"
                ) from exc
        return self.get_run(rid)

    def update_run(self, run_id: str, **fields: Any) -> None:
        bad = set(fields) - _UPDATABLE
        if bad:
            raise ValueError(f"cannot update {sorted(bad)}")
        if not fields:
            return
        with self.transaction():
            self.write_run_fields(run_id, **fields)

    def write_run_fields(self, run_id: str, **fields: Any) -> None:
        """:meth:`update_run` inside the caller's :meth:`transaction` (``config`` and
        ``summary`` as dicts, or as JSON text already made with :func:`dumps`)."""
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
        sets = ", ".join(f"{k} = ?" for k in fields)
        self.conn.execute(f"UPDATE runs SET {sets} WHERE id = ?", (*values, run_id))

    def set_source_id(self, run_id: str, source_id: str) -> None:
        """Mark a run as the complete import of ``source_id`` (see :meth:`find_by_source`)."""
        with self.transaction() as conn:
            conn.execute("UPDATE runs SET source_id = ? WHERE id = ?", (source_id, run_id))

    def delete_run(self, run_id: str) -> None:
        with self.transaction():
            self.conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        self._key_ids = {k: v for k, v in self._key_ids.items() if k[0] != run_id}

    def _row_to_info(self, row: Sequence[Any]) -> RunInfo:
        return run_info_from_row(row)

    def list_runs(self, project: str | None = None) -> list[RunInfo]:
        sql = f"SELECT {_RUN_COLUMNS} FROM runs r JOIN projects p ON p.id = r.project_id"
        args: tuple[Any, ...] = ()
        if project:
            sql += " WHERE p.name = ?"
            args = (project,)
        sql += " ORDER BY r.start_time DESC, r.rowid DESC"
        return [self._row_to_info(r) for r in self.conn.execute(sql, args)]

    def projects(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT name FROM projects ORDER BY name")]

    def get_run(self, ref: str) -> RunInfo:
        """A run by id, unique id prefix, or name (the newest run with that name)."""
        base = f"SELECT {_RUN_COLUMNS} FROM runs r JOIN projects p ON p.id = r.project_id"
        row = self.conn.execute(base + " WHERE r.id = ?", (ref,)).fetchone()
        if row is None:
            rows = self.conn.execute(
                base + " WHERE r.name = ? ORDER BY r.start_time DESC, r.rowid DESC LIMIT 1",
                (ref,),
            ).fetchall()
            if not rows and len(ref) >= 3:
                rows = self.conn.execute(
                    base + " WHERE r.id LIKE ? ESCAPE '\\'",
                    (ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",),
                ).fetchall()
                if len(rows) > 1:
                    raise RunNotFoundError(
                        f"'{ref}' matches {len(rows)} runs", "give more characters of the run id"
                    )
            row = rows[0] if rows else None
        if row is None:
            raise RunNotFoundError(
                f"no run '{ref}' in {self.path}", "list runs with: losslens runs"
            )
        return self._row_to_info(row)

    def find_run_id(self, run_id: str) -> RunInfo | None:
        """The run with exactly this id (no name or prefix matching), or None."""
        row = self.conn.execute("SELECT id FROM runs WHERE id = ?", (run_id,)).fetchone()
        return self.get_run(row[0]) if row else None

    def last_step(self, run_id: str) -> int | None:
        """The largest step logged for any metric of the run, or None."""
        row = self.conn.execute(
            "SELECT MAX(p.step) FROM points p JOIN metric_keys k ON k.id = p.key_id "
            "WHERE k.run_id = ? AND k.kind = 'metric'",
            (run_id,),
        ).fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def find_by_source(self, source_id: str) -> RunInfo | None:
        row = self.conn.execute("SELECT id FROM runs WHERE source_id = ?", (source_id,)).fetchone()
        return self.get_run(row[0]) if row else None

    def load(self, ref: str) -> RunData:
        """A run with every series (metric and system)."""
        info = self.get_run(ref)
        with self.snapshot():  # one pass per kind, numpy columns (losslens.store.columns)
            keys = self.keys(info.id)
            series = {k: Series(k, *c) for k, c in run_columns(self.conn, info.id).items()}
            system = {
                k: Series(k, *c) for k, c in run_columns(self.conn, info.id, "system").items()
            }
        return RunData(info=info, series=series, system=system, original_keys=keys)

    # -- findings ---------------------------------------------------------------------------

    def save_findings(self, run_id: str, findings: Sequence[Finding]) -> None:
        """Replace the stored findings of a run."""
        with self.transaction():
            self.conn.execute("DELETE FROM findings WHERE run_id = ?", (run_id,))
            self.conn.executemany(INSERT_FINDING, finding_rows(run_id, findings, time.time()))

    def load_findings(self, run_id: str) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT payload FROM findings WHERE run_id = ? ORDER BY id", (run_id,)
        ).fetchall()
        return [loads(r[0]) for r in rows]

    # -- stored analyses (losslens.store.findings, losslens.stored_analysis) ----------------

    def points_stamps(
        self, run_ids: Sequence[str], marks: Sequence[stored.KeyMark] | None = None
    ) -> dict[str, str]:
        """Per run: the digest source of its keys' last points (``findings.points_stamps``)."""
        return stored.points_stamps(self.conn, run_ids, marks)

    def read_analyses(
        self, run_ids: Iterable[str] | None = None
    ) -> dict[str, stored.StoredAnalysis]:
        return stored.read_analyses(self.conn, run_ids)

    def read_report(self, info: RunInfo, stamp: str | None = None) -> Report | None:
        return stored.read_report(self.conn, info, stamp)

    def write_report(self, report: Report, stamp: str) -> bool:
        return stored.write_report(self, report, stamp)

    def forget_analysis(self, run_id: str) -> None:
        stored.forget_analysis(self, run_id)

    def integrity_check(self) -> str:
        return str(self.conn.execute("PRAGMA integrity_check").fetchone()[0])


class _Transaction:
    def __init__(
        self,
        conn: sqlite3.Connection,
        lock: threading.Lock,
        readonly: Path | None = None,
        on_rollback: Callable[[], None] | None = None,
    ) -> None:
        self.conn = conn
        self.lock = lock
        self.readonly = readonly
        self.on_rollback = on_rollback

    def __enter__(self) -> sqlite3.Connection:
        if self.readonly is not None:
            raise StoreError(
                f"cannot write to {self.readonly}: the store is read-only "
                "(read-only file system or no write permission)",
                "copy it somewhere writable, or pass --store PATH",
            )
        self.lock.acquire()
        try:
            _begin_immediate(self.conn)
        except BaseException:
            self.lock.release()
            raise
        return self.conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type is not None and self.on_rollback is not None:
                self.on_rollback()  # e.g. key ids made inside are void
            if exc_type is None:
                self.conn.execute("COMMIT")
            elif self.conn.in_transaction:
                # SQLITE_FULL/IOERR may have rolled the transaction back already; a failed
                # ROLLBACK must not hide the error that caused it.
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("ROLLBACK")
        except sqlite3.Error:
            if self.on_rollback is not None:
                self.on_rollback()
            if self.conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("ROLLBACK")
            raise
        finally:
            self.lock.release()


def _writable(path: Path) -> bool:
    """Whether the store file and its folder can be written (a read-only mount counts as
    not writable even for root, whom file permissions do not stop)."""
    try:
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            return False
    except (OSError, AttributeError):
        pass
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc)
    return "locked" in text or "busy" in text


def _retry_locked(call: Callable[[], _T], what: str = "the store") -> _T:
    """``call()``, retried while SQLite says busy/locked: busy_timeout covers most waits
    (it is not consulted for every lock, e.g. a journal-mode switch), this the rest."""
    delay = 0.005
    deadline = time.monotonic() + 120.0
    while True:
        try:
            return call()
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc):
                raise
            if time.monotonic() > deadline:
                raise StoreError(
                    f"{what} stayed locked for 120 s: {exc}",
                    "another process holds a write lock on it; stop it or use another --store",
                ) from exc
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def _begin_immediate(conn: sqlite3.Connection) -> None:
    """BEGIN IMMEDIATE (the write lock up front: no lock-upgrade deadlocks), retried."""
    _retry_locked(lambda: conn.execute("BEGIN IMMEDIATE"))


#: Page size of a new store file, in bytes.
PAGE_SIZE = 16384


def run_info_from_row(row: Sequence[Any]) -> RunInfo:
    """A :class:`RunInfo` from the run columns in ``_RUN_COLUMNS`` order (both engines)."""
    info = RunInfo(
        id=row[0],
        project=row[1],
        name=row[2],
        status=RunStatus(row[3]),
        start_time=row[4],
        end_time=row[5],
        heartbeat=row[6],
        host=row[7],
        pid=row[8],
        command=row[9],
        git_commit=row[10],
        config=loads(row[11]),
        summary=loads(row[12]),
        source=row[13],
        source_id=row[14],
        output_dir=row[15],
        exit_code=row[16],
    )
    info.status = effective_status(info)
    return info


def effective_status(info: RunInfo, now: float | None = None) -> RunStatus:
    """A run that says 'running' but whose process is gone, or heartbeat stale, is crashed."""
    if info.status is not RunStatus.RUNNING:
        return info.status
    if info.pid and info.host == socket.gethostname() and not _pid_alive(info.pid, info.start_time):
        return RunStatus.CRASHED
    now = time.time() if now is None else now
    if info.heartbeat is not None and now - info.heartbeat > HEARTBEAT_TIMEOUT_S:
        return RunStatus.CRASHED
    return RunStatus.RUNNING


def _split_sql(script: str) -> list[str]:
    out, buf = [], []
    for line in script.splitlines():
        if line.strip().startswith("--"):
            continue
        buf.append(line)
        if line.rstrip().endswith(";"):
            stmt = "\n".join(buf).strip()
            if stmt.strip(";"):
                out.append(stmt)
            buf = []
    rest = "\n".join(buf).strip()
    if rest:
        out.append(rest)
    return out


def finite_or_none(x: float) -> float | None:
    return x if math.isfinite(x) else None

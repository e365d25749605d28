"""The run store: one SQLite file in WAL mode, safe for many processes at once."""

from __future__ import annotations

import json
import math
import os
import secrets
import socket
import sqlite3
import string
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import psutil

from losslens.errors import RunNotFoundError, StoreError, StoreVersionError
from losslens.model import (
    HEARTBEAT_TIMEOUT_S,
    Finding,
    RunData,
    RunInfo,
    RunStatus,
    finding_to_dict,
)
from losslens.paths import resolve_store_path
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
}


def new_run_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


def _json_default(obj: object) -> object:
    item = getattr(obj, "item", None)
    if callable(item):
        try:
            return item()
        except Exception:
            pass
    if isinstance(obj, set | tuple):
        return list(obj)
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return str(obj)


#: How non-finite floats are written in stored JSON, which stays strict JSON (so that
#: SQLite's ``json_extract`` reads every row) and comes back as floats through :func:`loads`.
_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _encode_nonfinite(obj: object) -> object:
    if isinstance(obj, float) and not math.isfinite(obj):
        return "NaN" if obj != obj else ("Infinity" if obj > 0 else "-Infinity")
    if isinstance(obj, dict):
        return {k: _encode_nonfinite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_encode_nonfinite(v) for v in obj]
    return obj


def _decode_nonfinite(obj: Any) -> Any:
    if isinstance(obj, str):
        return _NONFINITE.get(obj, obj)
    if isinstance(obj, dict):
        return {k: _decode_nonfinite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode_nonfinite(v) for v in obj]
    return obj


def dumps(obj: object) -> str:
    """Strict JSON as the store writes it: NaN/±Inf as "NaN"/"Infinity"/"-Infinity",
    numpy scalars as numbers, other unknown objects as ``str``."""
    try:
        return json.dumps(obj, default=_json_default, ensure_ascii=False, allow_nan=False)
    except ValueError:
        plain = json.loads(json.dumps(obj, default=_json_default))
        return json.dumps(_encode_nonfinite(plain), ensure_ascii=False, allow_nan=False)


def loads(text: str | None) -> Any:
    """The inverse of :func:`dumps` ("NaN"/"Infinity"/"-Infinity" strings become floats)."""
    if not text:
        return {}
    obj = json.loads(text)
    if "NaN" in text or "Infinity" in text:
        obj = _decode_nonfinite(obj)
    return obj


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

    def __init__(self, path: str | os.PathLike[str] | None = None, *, create: bool = True) -> None:
        self.path = Path(":memory:") if str(path) == ":memory:" else resolve_store_path(path)
        self._key_ids: dict[tuple[str, str, str], int] = {}
        self._lock = threading.Lock()
        if str(self.path) != ":memory:":
            if not self.path.exists() and not create:
                raise StoreError(
                    f"no store at {self.path}",
                    "log or import a run first, or pass --store PATH",
                )
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"cannot create the store folder {self.path.parent}: {exc}"
                ) from exc
        try:
            self.conn = sqlite3.connect(
                str(self.path), timeout=60.0, isolation_level=None, check_same_thread=False
            )
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
        return _Transaction(self.conn, self._lock)

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
        values = [
            dumps(v) if k in ("config", "summary") else (str(v) if k == "status" else v)
            for k, v in fields.items()
        ]
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self.transaction():
            self.conn.execute(f"UPDATE runs SET {sets} WHERE id = ?", (*values, run_id))

    def delete_run(self, run_id: str) -> None:
        with self.transaction():
            self.conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        self._key_ids = {k: v for k, v in self._key_ids.items() if k[0] != run_id}

    def _row_to_info(self, row: Sequence[Any]) -> RunInfo:
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
                base + " WHERE r.name = ? ORDER BY r.start_time DESC LIMIT 1", (ref,)
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

    def find_by_source(self, source_id: str) -> RunInfo | None:
        row = self.conn.execute("SELECT id FROM runs WHERE source_id = ?", (source_id,)).fetchone()
        return self.get_run(row[0]) if row else None

    def load(self, ref: str) -> RunData:
        """A run with every series (metric and system)."""
        info = self.get_run(ref)
        keys = self.keys(info.id)
        series = {k: self.series(info.id, k) for k in keys}
        system = {k: self.series(info.id, k, kind="system") for k in self.keys(info.id, "system")}
        return RunData(info=info, series=series, system=system, original_keys=keys)

    # -- findings ---------------------------------------------------------------------------

    def save_findings(self, run_id: str, findings: Sequence[Finding]) -> None:
        """Replace the stored findings of a run."""
        now = time.time()
        with self.transaction():
            self.conn.execute("DELETE FROM findings WHERE run_id = ?", (run_id,))
            self.conn.executemany(
                "INSERT INTO findings (run_id, rule_id, kind, severity, step_start, step_end, "
                "onset_step, payload, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
                [
                    (
                        run_id,
                        f.rule_id,
                        f.kind,
                        str(f.severity),
                        f.evidence.step_start,
                        f.evidence.step_end,
                        f.onset_step,
                        dumps(finding_to_dict(f)),
                        now,
                    )
                    for f in findings
                ],
            )

    def load_findings(self, run_id: str) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT payload FROM findings WHERE run_id = ? ORDER BY id", (run_id,)
        ).fetchall()
        return [loads(r[0]) for r in rows]

    def integrity_check(self) -> str:
        return str(self.conn.execute("PRAGMA integrity_check").fetchone()[0])


class _Transaction:
    def __init__(self, conn: sqlite3.Connection, lock: threading.Lock) -> None:
        self.conn = conn
        self.lock = lock

    def __enter__(self) -> sqlite3.Connection:
        self.lock.acquire()
        try:
            _begin_immediate(self.conn)
        except BaseException:
            self.lock.release()
            raise
        return self.conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type is None:
                self.conn.execute("COMMIT")
            else:
                self.conn.execute("ROLLBACK")
        finally:
            self.lock.release()


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

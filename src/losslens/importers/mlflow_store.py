"""MLflow runs: the file store (``mlruns/<exp>/<run>/``) and the SQLite store (``mlflow.db``).

Both are read directly (no MLflow import, no tracking server): metric files hold one
``<timestamp_ms> <value> <step>`` line per logged value; the SQL store has a ``metrics``
table with the same columns plus ``is_nan``. Params become config; the HF Trainer's
end-of-run values (``train_runtime``, ...) become summary; ``system/*`` metrics are system
series.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import yaml

from losslens.errors import ImportError_
from losslens.importers.base import (
    BATCH_SIZE,
    EpochFilter,
    KeyMap,
    StepGuard,
    batched,
    chunked,
    display_path,
    is_summary_key,
    open_error,
    open_regular,
    read_regular,
    safe_repr,
)
from losslens.importers.sqlite_util import (
    connect_readonly,
    count_rows,
    damage_warning,
    is_sqlite,
    quick_check,
    table_names,
)
from losslens.model import ImportedRun, MetricPoint, RunStatus, jsonable
from losslens.numeric import as_step, as_value

#: Longest metric-file line read (a real one is about 40 bytes).
_MAX_LINE = 4096

# MLflow's RunStatus enum in the file store's meta.yaml
_FILE_STATUS = {
    1: RunStatus.RUNNING,
    2: RunStatus.RUNNING,
    3: RunStatus.FINISHED,
    4: RunStatus.FAILED,
    5: RunStatus.KILLED,
}
_SQL_STATUS = {
    "RUNNING": RunStatus.RUNNING,
    "SCHEDULED": RunStatus.RUNNING,
    "FINISHED": RunStatus.FINISHED,
    "FAILED": RunStatus.FAILED,
    "KILLED": RunStatus.KILLED,
}


def _param_value(text: str) -> Any:
    """MLflow params are strings; give numbers and booleans back their type."""
    t = text.strip()
    if t in ("True", "False"):
        return t == "True"
    if t == "None":
        return None
    try:
        return int(t)
    except ValueError:
        pass
    try:
        f = float(t)
    except ValueError:
        return text
    return f if math.isfinite(f) else t


class _NoAliasLoader(yaml.SafeLoader):
    """PyYAML's safe loader without aliases (``*name``): MLflow never writes them, and a
    few nested aliases expand to gigabytes (a "billion laughs" file)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "YAML aliases (*name) are not accepted", event.start_mark
            )
        return super().compose_node(parent, index)


#: Largest meta.yaml, param or tag file read (MLflow writes a few hundred bytes).
MAX_META_BYTES = 1 << 20


def load_yaml(path: Path) -> Any:
    """A small YAML file, safely (no aliases, no Python objects, size-limited)."""
    raw = read_regular(path, MAX_META_BYTES)
    return yaml.load(raw.decode("utf-8"), Loader=_NoAliasLoader)


def _read_small(path: Path) -> str:
    return read_regular(path, MAX_META_BYTES).decode("utf-8", errors="replace")


def _status(value: Any, table: dict[Any, RunStatus]) -> RunStatus:
    """An MLflow status, as its number (file store) or its name (``RUNNING``)."""
    if isinstance(value, str) and value.strip().upper() in _SQL_STATUS:
        return _SQL_STATUS[value.strip().upper()]
    n = as_step(value)
    return table.get(n, RunStatus.FINISHED) if n is not None else RunStatus.FINISHED


def _ms(value: Any) -> float | None:
    """An MLflow millisecond timestamp in seconds, or None when it is not a plausible one."""
    v = as_value(value)
    return v / 1000 if v is not None and 0 < v < 1e14 else None


def _split_metric(raw: str) -> tuple[str, bool]:
    """``(key, is_system)`` for an MLflow metric name."""
    if raw.startswith("system/"):
        return raw[len("system/") :], True
    return raw, False


class MLflowFileImporter:
    name = "mlflow_file"
    description = "MLflow file store run directory (mlruns/<experiment>/<run>/)"

    def sniff(self, path: Path) -> bool:
        if not path.is_dir():
            return False
        return (path / "meta.yaml").is_file() and (
            (path / "metrics").is_dir() or (path / "params").is_dir()
        )

    def claims(self, path: Path) -> bool:
        return False  # no file name is this format's alone

    def read(self, path: Path) -> Iterator[ImportedRun]:
        yield read_file_run(path)


def _read_tree(root: Path) -> dict[str, Path]:
    """Files below ``root`` by their key (metric keys with ``/`` are nested folders)."""
    if not root.is_dir():
        return {}
    return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*")) if p.is_file()}


def read_file_run(path: Path) -> ImportedRun:
    where = str(path / "meta.yaml")
    try:
        meta = load_yaml(path / "meta.yaml") or {}
    except (ValueError, yaml.YAMLError, RecursionError) as exc:  # ValueError: bad UTF-8,
        # an integer of more than 4300 digits
        raise ImportError_(f"unreadable MLflow meta.yaml: {exc}", path=where) from exc
    if not isinstance(meta, dict):
        raise ImportError_("unreadable MLflow meta.yaml (not a mapping)", path=where)
    run_id = str(meta.get("run_id") or meta.get("run_uuid") or path.name)
    tags = {k: _read_small(p) for k, p in _read_tree(path / "tags").items()}
    params = {k: _param_value(_read_small(p)) for k, p in _read_tree(path / "params").items()}
    project = None
    exp_meta = path.parent / "meta.yaml"
    if exp_meta.is_file():
        try:
            exp = load_yaml(exp_meta) or {}
            project = str(exp.get("name")) if isinstance(exp, dict) and exp.get("name") else None
        except (ImportError_, ValueError, yaml.YAMLError, RecursionError):
            project = None
    start = meta.get("start_time")
    end = meta.get("end_time")
    keymap = KeyMap()
    imported = ImportedRun(
        name=str(meta.get("run_name") or tags.get("mlflow.runName") or run_id),
        format="mlflow",
        source=display_path(path),
        source_id=f"mlflow:{run_id}",
        batches=iter(()),
        project=project,
        config={k: jsonable(v) for k, v in params.items()},
        start_time=_ms(start),
        end_time=_ms(end),
        status=_status(meta.get("status") or 3, _FILE_STATUS),
        original_keys=keymap.originals,
    )
    metrics = _read_tree(path / "metrics")
    system: list[MetricPoint] = []
    imported.batches = batched(_file_points(metrics, imported, keymap, system))
    imported.system_batches = chunked(system)
    return imported


def _file_points(
    metrics: dict[str, Path], imported: ImportedRun, keymap: KeyMap, system: list[MetricPoint]
) -> Iterator[MetricPoint]:
    """The points of the metric files; system metrics go to ``system``."""
    epochs = EpochFilter()
    guard = StepGuard(imported.warnings)
    for raw, file in metrics.items():
        name, is_system = _split_metric(raw)
        summary = is_summary_key(raw)
        key = name if is_system else keymap(raw)
        try:
            f = open_regular(file)
        except OSError as exc:
            raise open_error(file, exc) from exc
        with f:
            for lineno, line in enumerate(iter(partial(f.readline, _MAX_LINE), b""), 1):
                parts = line.split()
                if not parts:
                    continue
                ts = as_value(parts[0].decode("ascii", "replace"))
                value = as_value(parts[1].decode("ascii", "replace")) if len(parts) > 1 else None
                if ts is None or value is None or len(line) >= _MAX_LINE:
                    raise ImportError_(
                        "bad MLflow metric line (expected '<timestamp> <value> <step>')",
                        path=str(file),
                        location=f"line {lineno}",
                    )
                checked = guard(parts[2].decode("ascii", "replace")) if len(parts) > 2 else 0
                if checked is None:
                    continue
                step = checked
                if summary:
                    imported.summary[raw] = jsonable(value)
                    continue
                if not is_system and epochs.duplicate(key, step):
                    continue
                p = MetricPoint(key, step, value, ts / 1000 if math.isfinite(ts) else None)
                if is_system:
                    system.append(p)
                    continue
                yield p


class MLflowSQLImporter:
    name = "mlflow_sqlite"
    description = "MLflow SQLite tracking store (mlflow.db)"

    def sniff(self, path: Path) -> bool:
        if path.is_dir() or not is_sqlite(path):
            return False
        names = table_names(path)
        return {"runs", "metrics", "experiments", "alembic_version"} <= names

    def claims(self, path: Path) -> bool:
        return False  # no file name is this format's alone

    def read(self, path: Path) -> Iterator[ImportedRun]:
        conn = connect_readonly(path)
        try:
            runs = conn.execute(
                "SELECT r.run_uuid, r.name, r.status, r.start_time, r.end_time, e.name "
                "FROM runs r LEFT JOIN experiments e ON e.experiment_id = r.experiment_id "
                "WHERE r.lifecycle_stage IS NULL OR r.lifecycle_stage != 'deleted' "
                "ORDER BY r.start_time"
            ).fetchall()
            configs: dict[str, dict[str, Any]] = {}
            for run_uuid, key, value in conn.execute("SELECT run_uuid, key, value FROM params"):
                configs.setdefault(run_uuid, {})[str(key)] = jsonable(
                    _param_value(value if isinstance(value, str) else str(value or ""))
                )
            problem = quick_check(conn)
        except sqlite3.DatabaseError as exc:
            raise ImportError_(f"unreadable MLflow database: {exc}", path=str(path)) from exc
        finally:
            conn.close()
        for run_uuid, name, status, start, end, exp in runs:
            keymap = KeyMap()
            imported = ImportedRun(
                name=str(name or run_uuid),
                format="mlflow",
                source=f"{display_path(path)}#{run_uuid}",
                source_id=f"mlflow:{run_uuid}",
                batches=iter(()),
                project=str(exp) if exp else None,
                config=configs.get(run_uuid, {}),
                start_time=_ms(start),
                end_time=_ms(end),
                status=_status(str(status), {}),
                original_keys=keymap.originals,
            )
            system: list[MetricPoint] = []
            imported.batches = _sql_points(path, run_uuid, imported, keymap, system, problem)
            imported.system_batches = chunked(system)
            yield imported


def _sql_points(
    path: Path,
    run_uuid: str,
    imported: ImportedRun,
    keymap: KeyMap,
    system: list[MetricPoint],
    problem: str | None = None,
) -> Iterator[list[MetricPoint]]:
    conn = connect_readonly(path)
    guard = StepGuard(imported.warnings)
    bad = StepGuard(imported.warnings, "value")  # rows whose value cell is not a number
    # A damaged file: read the table itself, not through an index that may be broken.
    source = "metrics NOT INDEXED" if problem else "metrics"
    scanned = 0
    try:
        cur = conn.execute(
            "SELECT key, value, timestamp, step, is_nan FROM "
            f"{source} WHERE run_uuid = ? ORDER BY key, step, timestamp",
            (run_uuid,),
        )
        epochs = EpochFilter()
        while rows := cur.fetchmany(BATCH_SIZE):
            scanned += len(rows)
            batch: list[MetricPoint] = []
            for raw_key, value, ts, raw_step, is_nan in rows:
                raw = str(raw_key)
                v = math.nan if is_nan else as_value(value)
                if v is None:
                    bad.drop(f"value {safe_repr(value)} of '{raw}' is not a number")
                    continue
                step = guard(raw_step) if raw_step is not None else 0
                if step is None:
                    continue
                if is_summary_key(raw):
                    imported.summary[raw] = jsonable(v)
                    continue
                name, is_system = _split_metric(raw)
                wall = _ms(ts)
                if is_system:
                    system.append(MetricPoint(name, step, v, wall))
                    continue
                key = keymap(raw)
                if not epochs.duplicate(key, step):
                    batch.append(MetricPoint(key, step, v, wall))
            if batch:
                yield batch
        if problem:
            indexed = count_rows(
                conn, "SELECT COUNT(*) FROM metrics WHERE run_uuid = ?", (run_uuid,)
            )
            imported.warnings.append(damage_warning(problem, "metrics", scanned, indexed))
    except sqlite3.DatabaseError as exc:
        raise ImportError_(f"unreadable MLflow database: {exc}", path=str(path)) from exc
    finally:
        conn.close()

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
from pathlib import Path
from typing import Any

import yaml

from losslens.errors import ImportError_
from losslens.importers.base import (
    BATCH_SIZE,
    EpochFilter,
    KeyMap,
    batched,
    chunked,
    display_path,
    is_summary_key,
)
from losslens.importers.sqlite_util import connect_readonly, is_sqlite, table_names
from losslens.model import ImportedRun, MetricPoint, RunStatus, jsonable

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
        meta = yaml.safe_load((path / "meta.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ImportError_(f"unreadable MLflow meta.yaml: {exc}", path=where) from exc
    if not isinstance(meta, dict):
        raise ImportError_("unreadable MLflow meta.yaml (not a mapping)", path=where)
    run_id = str(meta.get("run_id") or meta.get("run_uuid") or path.name)
    tags = {
        k: p.read_text(encoding="utf-8", errors="replace")
        for k, p in _read_tree(path / "tags").items()
    }
    params = {
        k: _param_value(p.read_text(encoding="utf-8", errors="replace"))
        for k, p in _read_tree(path / "params").items()
    }
    project = None
    exp_meta = path.parent / "meta.yaml"
    if exp_meta.is_file():
        try:
            exp = yaml.safe_load(exp_meta.read_text(encoding="utf-8")) or {}
            project = str(exp.get("name")) if isinstance(exp, dict) and exp.get("name") else None
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
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
        start_time=start / 1000 if isinstance(start, int | float) else None,
        end_time=end / 1000 if isinstance(end, int | float) else None,
        status=_FILE_STATUS.get(int(meta.get("status") or 3), RunStatus.FINISHED),
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
    for raw, file in metrics.items():
        name, is_system = _split_metric(raw)
        summary = is_summary_key(raw)
        key = name if is_system else keymap(raw)
        with open(file, "rb") as f:
            for lineno, line in enumerate(f, 1):
                parts = line.split()
                if not parts:
                    continue
                try:
                    ts = int(parts[0])
                    value = float(parts[1])
                    step = int(parts[2]) if len(parts) > 2 else 0
                except (ValueError, IndexError) as exc:
                    raise ImportError_(
                        "bad MLflow metric line (expected '<timestamp> <value> <step>')",
                        path=str(file),
                        location=f"line {lineno}",
                    ) from exc
                if summary:
                    imported.summary[raw] = jsonable(value)
                    continue
                if not is_system and epochs.duplicate(key, step):
                    continue
                p = MetricPoint(key, step, value, ts / 1000)
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
                configs.setdefault(run_uuid, {})[key] = jsonable(_param_value(value or ""))
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
                start_time=start / 1000 if isinstance(start, int | float) else None,
                end_time=end / 1000 if isinstance(end, int | float) else None,
                status=_SQL_STATUS.get(str(status), RunStatus.FINISHED),
                original_keys=keymap.originals,
            )
            system: list[MetricPoint] = []
            imported.batches = _sql_points(path, run_uuid, imported, keymap, system)
            imported.system_batches = chunked(system)
            yield imported


def _sql_points(
    path: Path, run_uuid: str, imported: ImportedRun, keymap: KeyMap, system: list[MetricPoint]
) -> Iterator[list[MetricPoint]]:
    conn = connect_readonly(path)
    try:
        cur = conn.execute(
            "SELECT key, value, timestamp, step, is_nan FROM metrics WHERE run_uuid = ? "
            "ORDER BY key, step, timestamp",
            (run_uuid,),
        )
        epochs = EpochFilter()
        while rows := cur.fetchmany(BATCH_SIZE):
            batch: list[MetricPoint] = []
            for raw, value, ts, step, is_nan in rows:
                v = math.nan if is_nan else float(value)
                if is_summary_key(raw):
                    imported.summary[raw] = jsonable(v)
                    continue
                name, is_system = _split_metric(raw)
                wall = ts / 1000 if ts is not None else None
                if is_system:
                    system.append(MetricPoint(name, int(step or 0), v, wall))
                    continue
                key = keymap(raw)
                if not epochs.duplicate(key, int(step or 0)):
                    batch.append(MetricPoint(key, int(step or 0), v, wall))
            if batch:
                yield batch
    except sqlite3.DatabaseError as exc:
        raise ImportError_(f"unreadable MLflow database: {exc}", path=str(path)) from exc
    finally:
        conn.close()

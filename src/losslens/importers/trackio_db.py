"""trackio project databases (``~/.cache/huggingface/trackio/<project>.db``).

One SQLite file per project; ``metrics`` rows hold a JSON object per ``trackio.log`` call
(non-finite numbers written as the strings ``"NaN"``/``"Infinity"``), ``configs`` one JSON
config per run and ``system_metrics`` the sampled system stats. HF runs log
``train/global_step``, which is used as the step (trackio's own ``step`` counts log calls).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from losslens import keys
from losslens.errors import ImportError_
from losslens.importers.base import (
    BATCH_SIZE,
    KeyMap,
    StepGuard,
    display_path,
    safe_repr,
    scalar,
)
from losslens.importers.sqlite_util import (
    columns,
    connect_readonly,
    damage_warning,
    is_sqlite,
    quick_check,
    table_names,
)
from losslens.model import ImportedRun, MetricPoint, jsonable

_HF_STEP = "train/global_step"


def _iso(ts: Any) -> float | None:
    if not isinstance(ts, str):
        return None
    try:
        return datetime.fromisoformat(ts).timestamp()
    except (ValueError, OverflowError, OSError):
        return None


def _json(raw: Any) -> Any:
    """A JSON cell, or None when it is NULL, not JSON, or absurdly nested."""
    if not isinstance(raw, str | bytes):
        return None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None


class TrackioImporter:
    name = "trackio"
    description = "trackio project database (<project>.db)"

    def sniff(self, path: Path) -> bool:
        if path.is_dir() or not is_sqlite(path):
            return False
        names = table_names(path)
        if not {"metrics", "configs"} <= names or "alembic_version" in names:
            return False
        conn = connect_readonly(path)
        try:
            return {"run_name", "step", "metrics"} <= columns(conn, "metrics")
        except sqlite3.Error:
            return False
        finally:
            conn.close()

    def claims(self, path: Path) -> bool:
        return False  # no file name is this format's alone

    def read(self, path: Path) -> Iterator[ImportedRun]:
        project = path.stem
        conn = connect_readonly(path)
        try:
            has_id = "run_id" in columns(conn, "metrics")
            ident = "run_id" if has_id else "run_name"
            runs = conn.execute(
                f"SELECT {ident}, run_name, MIN(timestamp), MAX(timestamp) FROM metrics "
                f"GROUP BY {ident} ORDER BY MIN(id)"
            ).fetchall()
            configs: dict[str, dict[str, Any]] = {}
            cfg_ident = ident if ident in columns(conn, "configs") else "run_name"
            for rid, raw in conn.execute(f"SELECT {cfg_ident}, config FROM configs"):
                cfg = _json(raw)
                if isinstance(cfg, dict):
                    configs[str(rid)] = cfg
            has_system = "system_metrics" in table_names(path)
            problem = quick_check(conn)
        except sqlite3.DatabaseError as exc:
            raise ImportError_(f"unreadable trackio database: {exc}", path=str(path)) from exc
        finally:
            conn.close()
        for rid, run_name, first_ts, last_ts in runs:
            cfg = configs.get(str(rid), {})
            start = _iso(cfg.get("_Created")) or _iso(first_ts)
            keymap = KeyMap()
            imported = ImportedRun(
                name=str(run_name or rid),
                format="trackio",
                source=f"{display_path(path)}#{run_name}",
                source_id=f"trackio:{project}:{rid}",
                batches=iter(()),
                project=project,
                config={k: jsonable(v) for k, v in cfg.items() if not k.startswith("_")},
                start_time=start,
                end_time=_iso(last_ts),
                original_keys=keymap.originals,
            )
            imported.batches = _points(path, ident, rid, keymap, imported, problem)
            if has_system:
                imported.system_batches = _system(path, ident, rid)
            yield imported


def _rows(path: Path, sql: str, args: tuple[Any, ...]) -> Iterator[list[tuple[Any, ...]]]:
    conn = connect_readonly(path)
    try:
        cur = conn.execute(sql, args)
        while rows := cur.fetchmany(BATCH_SIZE):
            yield rows
    except sqlite3.DatabaseError as exc:
        raise ImportError_(f"unreadable trackio database: {exc}", path=str(path)) from exc
    finally:
        conn.close()


def _points(
    path: Path,
    ident: str,
    rid: Any,
    keymap: KeyMap,
    imported: ImportedRun,
    problem: str | None = None,
) -> Iterator[list[MetricPoint]]:
    epoch_step = -1
    guard = StepGuard(imported.warnings)
    unreadable = StepGuard(imported.warnings, "metrics cell")
    # A damaged file: read the table itself, not through an index that may be broken.
    table = "metrics NOT INDEXED" if problem else "metrics"
    sql = f"SELECT step, timestamp, metrics FROM {table} WHERE {ident} = ? ORDER BY id"
    scanned = 0
    for rows in _rows(path, sql, (rid,)):
        scanned += len(rows)
        batch: list[MetricPoint] = []
        for step, ts, raw in rows:
            row = _json(raw)
            if not isinstance(row, dict):
                unreadable.drop(f"{safe_repr(raw)} is not a JSON object")
                continue
            hf = row.get(_HF_STEP)
            checked = guard(
                hf if isinstance(hf, int | float) and not isinstance(hf, bool) else step
            )
            if checked is None:
                continue
            s = checked
            wall = _iso(ts)
            for k, v in row.items():
                if k == _HF_STEP or k.startswith("_"):
                    continue
                f = scalar(v)
                if f is None:
                    continue
                key = keymap(k)
                if key == keys.EPOCH:
                    if s == epoch_step:
                        continue  # eval logs repeat the epoch
                    epoch_step = s
                batch.append(MetricPoint(key, s, f, wall))
        if batch:
            yield batch
    if problem:
        imported.warnings.append(damage_warning(problem, "metrics", scanned, None))


def _system(path: Path, ident: str, rid: Any) -> Iterator[list[MetricPoint]]:
    sql = f"SELECT timestamp, metrics FROM system_metrics WHERE {ident} = ? ORDER BY id"
    n = 0
    for rows in _rows(path, sql, (rid,)):
        batch: list[MetricPoint] = []
        for ts, raw in rows:
            row = _json(raw)
            if isinstance(row, dict):
                wall = _iso(ts)
                for k, v in row.items():
                    f = scalar(v)
                    if f is not None:
                        batch.append(MetricPoint(k, n, f, wall))
            n += 1
        if batch:
            yield batch

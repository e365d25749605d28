"""The JSON API behind the dashboard (documented in ``docs/api.md``).

Read-only except ``POST /api/runs/{ref}/rename`` and ``DELETE /api/runs/{ref}``, which
the security layer lets through only with the token in a header.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from losslens.errors import ConfigError, LosslensError, RunNotFoundError
from losslens.model import Report, RunInfo, Series, jsonable
from losslens.render.groups import (
    ChartGroup,
    chart_groups,
    clamp_width,
    findings_payload,
    report_payload,
    round_sig,
    series_payload,
)
from losslens.render.runs import run_to_dict
from losslens.ui.data import DataSource

#: Config keys shown first in the runs table, when a run has them.
KEY_CONFIG = (
    "model",
    "model_name_or_path",
    "base_model",
    "learning_rate",
    "lr",
    "lora_r",
    "r",
    "per_device_train_batch_size",
    "batch_size",
    "gradient_accumulation_steps",
    "num_train_epochs",
    "max_steps",
)


class JSON(JSONResponse):
    """Strict JSON (no NaN tokens), UTF-8, never cached."""

    def render(self, content: Any) -> bytes:
        return json.dumps(
            content, ensure_ascii=False, allow_nan=False, separators=(",", ":")
        ).encode("utf-8")


def error_response(exc: Exception) -> JSON:
    if isinstance(exc, RunNotFoundError):
        return JSON({"error": exc.message, "hint": exc.hint}, status_code=404)
    if isinstance(exc, LosslensError):
        return JSON({"error": exc.message, "hint": exc.hint}, status_code=400)
    return JSON({"error": str(exc)}, status_code=400)


def _ds(request: Request) -> DataSource:
    ds: DataSource = request.app.state.data
    return ds


def _int(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(float(raw))
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {raw!r}") from None


def _lang(request: Request) -> str:
    lang = request.query_params.get("lang", "en")
    return lang if lang in ("en", "ko") else "en"


def key_config(config: Mapping[str, Any], n: int = 4) -> list[tuple[str, Any]]:
    """A few config values worth a column in the runs table."""
    out = [(k, config[k]) for k in KEY_CONFIG if k in config and not isinstance(config[k], dict)]
    if len(out) < n:
        for k, v in config.items():
            if k not in KEY_CONFIG and isinstance(v, int | float | str) and len(str(v)) < 40:
                out.append((k, v))
            if len(out) >= n:
                break
    return out[:n]


def run_row(ds: DataSource, info: RunInfo, heads: list[Any] | None = None) -> dict[str, Any]:
    """A run as a row of the runs table (verdict only when already analysed)."""
    heads = ds.heads(info) if heads is None else heads
    row = run_to_dict(info)
    row.update(ds.loss_stats(info, heads))
    report = ds.cached_report(info, heads)
    row["verdict"] = str(report.verdict) if report is not None else None
    row["n_findings"] = len(report.findings) if report is not None else None
    row["key_config"] = key_config(info.config)
    return row


# -- handlers (sync ones run in Starlette's thread pool) ------------------------------------------


def projects(request: Request) -> Response:
    ds = _ds(request)
    runs = ds.runs()
    counts: dict[str, int] = {}
    for r in runs:
        counts[r.project] = counts.get(r.project, 0) + 1
    return JSON([{"name": p, "runs": counts.get(p, 0)} for p in ds.store().projects()])


def runs(request: Request) -> Response:
    ds = _ds(request)
    qp = request.query_params
    rows = [run_row(ds, r) for r in ds.runs(qp.get("project") or None)]
    if qp.get("status"):
        rows = [r for r in rows if r["status"] == qp["status"]]
    if qp.get("verdict"):
        rows = [r for r in rows if r["verdict"] == qp["verdict"]]
    if qp.get("q"):
        needle = qp["q"].lower()
        rows = [r for r in rows if needle in r["name"].lower()]
    return JSON(jsonable(rows))


def run_detail(request: Request) -> Response:
    ds = _ds(request)
    info = ds.run(request.path_params["ref"])
    heads = ds.heads(info)
    data = run_row(ds, info, heads)
    data["keys"] = [{"kind": h[1], "key": h[2]} for h in heads]
    data["version"] = ds.version(info, heads)
    groups = _chart_groups(heads)
    data["groups"] = [{"id": g.id, "title": g.label(_lang(request)), "x": g.x} for g in groups]
    return JSON(jsonable(data))


def _chart_groups(heads: list[Any]) -> list[ChartGroup]:
    """The charts of a run, from its keys (``DataSource.heads``)."""
    return chart_groups(
        [h[2] for h in heads if h[1] == "metric"], [h[2] for h in heads if h[1] == "system"]
    )


def _drawn_payload(
    ds: DataSource,
    info: RunInfo,
    heads: list[Any],
    ref: tuple[str, str],
    mode: str,
    width: int,
    lo: int | None,
    hi: int | None,
) -> dict[str, Any]:
    """One series of a chart: from the whole series when in memory or short, else from the
    store's rollups (same picture, same payload fields)."""
    kind, key = ref
    if mode == "step":
        src = ds.drawable(info, kind, key, heads, width, lo, hi)
    else:
        src = ds.series(info, kind, key, heads)
    if isinstance(src, Series):
        return series_payload(
            src, kind=kind, label=key, mode=mode, start_time=info.start_time, width=width,
            x_min=lo, x_max=hi,
        )  # fmt: skip
    shown = Series(key, src.steps, src.values, np.full(len(src.steps), np.nan))
    out = series_payload(shown, kind=kind, label=key, mode=mode, width=width, x_min=lo, x_max=hi)
    out["n_total"] = src.n_total
    out.pop("mean", None)
    if out["n_shown"] < src.n_total:
        bm = src.means
        out["mean"] = {
            "x": [int(v) for v in np.round(bm.x).tolist()],
            "y": [v if math.isfinite(v) else None for v in round_sig(bm.mean).tolist()],
            "n": bm.n.tolist(),
        }
    return out


def run_data(request: Request) -> Response:
    ds = _ds(request)
    info = ds.run(request.path_params["ref"])
    heads = ds.heads(info)
    version = ds.version(info, heads)
    groups = _chart_groups(heads)
    wanted = request.query_params.get("group")
    if wanted:
        groups = [g for g in groups if g.id == wanted]
        if not groups:
            raise ConfigError(f"run {info.id} has no chart '{wanted}'")
    keys = request.query_params.get("keys")
    if keys:
        names = set(keys.split(","))
        groups = [
            ChartGroup(g.id, g.title, tuple(r for r in g.series if r[1] in names), g.x)
            for g in groups
        ]
        groups = [g for g in groups if g.series]
    lang = _lang(request)
    width = clamp_width(_int(request, "width"))
    lo, hi = _int(request, "step_min"), _int(request, "step_max")
    out = [
        {
            "id": g.id,
            "title": g.label(lang),
            "x": g.x,
            "series": [_drawn_payload(ds, info, heads, r, g.x, width, lo, hi) for r in g.series],
        }
        for g in groups
    ]
    return JSON({"run": info.id, "status": str(info.status), "version": version, "groups": out})


def run_report(request: Request) -> Response:
    ds = _ds(request)
    info = ds.run(request.path_params["ref"])
    report = ds.report(info)
    groups = _chart_groups(ds.heads(info))
    data = report_payload(report, groups, _lang(request))
    if report is None:
        stored = ds.store().load_findings(info.id)
        data["findings"] = findings_payload(stored, groups, _lang(request))
    data["run"] = info.id
    return JSON(jsonable(data))


def run_poll(request: Request) -> Response:
    ds = _ds(request)
    info = ds.run(request.path_params["ref"])
    return JSON(
        jsonable(
            {
                "run": info.id,
                "name": info.name,
                "status": str(info.status),
                "version": ds.version(info),
                "heartbeat": info.heartbeat,
                "end_time": info.end_time,
            }
        )
    )


def _flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in config.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, Mapping) and v:
            out.update(_flatten(v, key))
        else:
            out[key] = v
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b) and type(a) is type(b)


def config_diff(configs: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Only the config keys whose values differ between runs (missing counts as different)."""
    flat = [_flatten(c) for c in configs]
    keys = sorted({k for f in flat for k in f})
    missing = object()
    rows = []
    for k in keys:
        vals = [f.get(k, missing) for f in flat]
        if all(v is not missing for v in vals) and all(_same(vals[0], v) for v in vals[1:]):
            continue
        rows.append({"key": k, "values": [None if v is missing else v for v in vals]})
    return rows


def compare_runs(ds: DataSource, refs: list[str]) -> list[tuple[RunInfo, Report | None]]:
    if len(refs) < 1:
        raise ConfigError("give the runs to compare: ?runs=ID1,ID2")
    out = []
    for ref in refs[:12]:
        info = ds.run(ref)
        out.append((info, ds.report(info)))
    return out


def _refs(request: Request) -> list[str]:
    return [r for r in request.query_params.get("runs", "").split(",") if r.strip()]


def compare(request: Request) -> Response:
    ds = _ds(request)
    lang = _lang(request)
    pairs = compare_runs(ds, _refs(request))
    runs_out = []
    for info, report in pairs:
        row = run_row(ds, info)
        rp = report_payload(report, [], lang)
        row.update(
            verdict=rp["verdict"],
            summary=rp["summary"],
            findings=[{k: f[k] for k in ("kind", "severity", "title")} for f in rp["findings"]],
        )
        runs_out.append(row)
    diff = config_diff([info.config for info, _ in pairs])
    return JSON(jsonable({"runs": runs_out, "config_diff": diff}))


def compare_data(request: Request) -> Response:
    ds = _ds(request)
    refs = _refs(request)
    if not refs:
        raise ConfigError("give the runs to compare: ?runs=ID1,ID2")
    infos = [ds.run(r) for r in refs[:12]]
    data = [(info, ds.all_series(info)[0]) for info in infos]
    groups = chart_groups({k for _, m in data for k in m})
    wanted = request.query_params.get("group")
    if wanted:
        groups = [g for g in groups if g.id == wanted]
    width = clamp_width(_int(request, "width"))
    lo, hi = _int(request, "step_min"), _int(request, "step_max")
    out = []
    for g in groups:
        series = []
        multi = len(g.series) > 1
        for info, metric in data:
            for _, key in g.series:
                s = metric.get(key)
                if s is None:
                    continue
                label = f"{info.name} · {key}" if multi else info.name
                series.append(
                    series_payload(s, kind="metric", label=label, width=width, x_min=lo, x_max=hi)
                )
        out.append({"id": g.id, "title": g.label(_lang(request)), "x": g.x, "series": series})
    return JSON({"runs": [i.id for i in infos], "groups": out})


async def rename(request: Request) -> Response:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return JSON({"error": 'send JSON: {"name": "new name"}'}, status_code=400)
    name = body.get("name") if isinstance(body, dict) else None
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        return JSON({"error": "name must be a non-empty string of at most 200 characters"}, 400)
    ds = _ds(request)
    ref = request.path_params["ref"]

    def work() -> dict[str, Any]:
        info = ds.run(ref)
        ds.store().update_run(info.id, name=name.strip())
        return {"id": info.id, "name": name.strip()}

    try:
        return JSON(await run_in_threadpool(work))
    except LosslensError as exc:
        return error_response(exc)


async def delete(request: Request) -> Response:
    ds = _ds(request)
    ref = request.path_params["ref"]

    def work() -> dict[str, Any]:
        info = ds.run(ref)
        ds.store().delete_run(info.id)
        ds.forget(info.id)
        return {"id": info.id, "deleted": True}

    try:
        return JSON(await run_in_threadpool(work))
    except LosslensError as exc:
        return error_response(exc)

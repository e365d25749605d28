"""The JSON API behind the dashboard (documented in ``docs/api.md``).

Read-only except ``POST /api/runs/{ref}/rename`` and ``DELETE /api/runs/{ref}``, which
the security layer lets through only with the token in a header.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from losslens.analysis.compare import Comparison, comparison_to_dict
from losslens.analysis.compare import compare as analyze_comparison
from losslens.errors import ConfigError, LosslensError, RunNotFoundError
from losslens.flatconfig import flatten as _flatten
from losslens.flatconfig import same_value as _same
from losslens.model import Report, RunInfo, Series, jsonable
from losslens.render.groups import (
    MAX_WIDTH,
    ChartGroup,
    chart_groups,
    clamp_width,
    report_payload,
    round_sig,
    series_payload,
)
from losslens.render.runs import run_to_dict
from losslens.store.findings import StoredAnalysis
from losslens.ui.clock import clock
from losslens.ui.source import DashboardData

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


def _ds(request: Request) -> DashboardData:
    ds: DashboardData = request.app.state.data
    return ds


#: Bounds of the numeric query parameters (steps are SQLite integers).
STEP_BOUNDS = (-(2**63), 2**63 - 1)
WIDTH_BOUNDS = (50, MAX_WIDTH)
#: Most runs one compare request takes (more is a 400, never a silent cut).
MAX_COMPARE = 20
_STATUSES = ("running", "finished", "crashed", "failed", "killed")
_VERDICTS = ("healthy", "needs_attention", "failed")


def _int(request: Request, name: str, bounds: tuple[int, int] = STEP_BOUNDS) -> int | None:
    """An integer query parameter within ``bounds``; absent is None; anything else
    (empty, non-numeric, fractional, NaN, ±inf, 1e400, out of range) is a 400."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    lo, hi = bounds
    hint = f"give a whole number from {lo} to {hi}"
    text = raw.strip()
    try:
        value = int(text)
    except ValueError:
        try:
            f = float(text)
        except ValueError:
            raise ConfigError(f"{name} must be a whole number, not {raw[:40]!r}", hint) from None
        if not math.isfinite(f) or f != int(f):
            raise ConfigError(f"{name} must be a whole number, not {raw[:40]!r}", hint) from None
        value = int(f)
    if not lo <= value <= hi:
        raise ConfigError(f"{name} is out of range: {raw[:40]}", hint)
    return value


def _range(request: Request) -> tuple[int | None, int | None]:
    lo, hi = _int(request, "step_min"), _int(request, "step_max")
    if lo is not None and hi is not None and lo > hi:
        raise ConfigError("step_min must not be greater than step_max")
    return lo, hi


def _width(request: Request) -> int:
    width = _int(request, "width", WIDTH_BOUNDS)
    return clamp_width(width)


def _choice(request: Request, name: str, allowed: tuple[str, ...]) -> str | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if raw not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, not {raw[:40]!r}")
    return raw


def _lang(request: Request) -> str:
    lang = request.query_params.get("lang", "en")
    return lang if lang in ("en", "ko") else "en"


def _api_lang(request: Request) -> str:
    """The language of an API answer: ``en`` (default) or ``ko``; anything else is a 400."""
    return _choice(request, "lang", ("en", "ko")) or "en"


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


def run_row(
    ds: DashboardData,
    info: RunInfo,
    heads: list[Any] | None = None,
    stored: StoredAnalysis | bool | None = True,
    stats: dict[str, float | None] | None = None,
    *,
    with_key_config: bool = True,
) -> dict[str, Any]:
    """A run as a row of the runs table, its verdict from the findings kept in the store
    (``stored``: one already read, or True to read it, analysing the run once if needed)."""
    heads = ds.heads(info) if heads is None else heads
    row = run_to_dict(info)
    row.update(ds.loss_stats(info, heads) if stats is None else stats)
    if stored is True:
        stored = ds.verdicts([info]).get(info.id)
    got = stored if isinstance(stored, StoredAnalysis) else None
    row["verdict"] = got.verdict if got is not None else None
    row["n_findings"] = got.n_findings if got is not None else None
    if with_key_config:  # the JSON's few config values (the page shows its own summary)
        row["key_config"] = key_config(info.config)
    return row


def run_rows(ds: DashboardData, infos: list[RunInfo]) -> list[dict[str, Any]]:
    """Rows of the runs table for many runs, read in a handful of queries (verdicts kept in
    the store; a run never analysed is analysed once, and kept)."""
    heads, stats, found = ds.table(infos)
    return [run_row(ds, r, heads[r.id], stored=found.get(r.id), stats=stats[r.id]) for r in infos]


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
    status = _choice(request, "status", _STATUSES)
    verdict = _choice(request, "verdict", _VERDICTS)
    rows = run_rows(ds, ds.runs(qp.get("project") or None))
    if status:
        rows = [r for r in rows if r["status"] == status]
    if verdict:
        rows = [r for r in rows if r["verdict"] == verdict]
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
    lang = _api_lang(request)
    data["groups"] = [{"id": g.id, "title": g.label(lang), "x": g.x} for g in groups]
    return JSON(jsonable(data))


def _chart_groups(heads: list[Any]) -> list[ChartGroup]:
    """The charts of a run, from its keys (``DashboardData.heads``)."""
    return chart_groups(
        [h[2] for h in heads if h[1] == "metric"], [h[2] for h in heads if h[1] == "system"]
    )


def _drawn_payload(
    ds: DashboardData,
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
    lang = _api_lang(request)
    width = _width(request)
    lo, hi = _range(request)
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
    out = [
        {
            "id": g.id,
            "title": g.label(lang),
            "x": g.x,
            "series": [_drawn_payload(ds, info, heads, r, g.x, width, lo, hi) for r in g.series],
        }
        for g in groups
    ]
    body: dict[str, Any] = {
        "run": info.id,
        "status": str(info.status),
        "version": version,
        "groups": out,
    }
    body["clock"] = clock(ds, info, heads)
    return JSON(body)


def run_report(request: Request) -> Response:
    ds = _ds(request)
    _api_lang(request)
    info = ds.run(request.path_params["ref"])
    report = ds.report(info)
    groups = _chart_groups(ds.heads(info))
    data = report_payload(report, groups, _lang(request))
    data["run"] = info.id
    return JSON(jsonable(data))


#: Longest a poll with ``wait`` is held open while nothing new arrives (seconds).
MAX_WAIT = 30
#: How often a held poll looks for a commit by another process (seconds): a new point
#: reaches the page this long after the logger commits it, at most.
WAIT_TICK = 0.1


def _poll_once(ds: DashboardData, ref: str, after: int | None, lang: str) -> dict[str, Any]:
    info = ds.run(ref)
    out: dict[str, Any] = {
        "run": info.id,
        "name": info.name,
        "status": str(info.status),
        "version": ds.version(info),
        "heartbeat": info.heartbeat,
        "end_time": info.end_time,
    }
    if after is not None:
        live = ds.live_poll(info, after, wait=False)  # findings catch up in the background
        report = live.pop("report")
        groups = _chart_groups(ds.heads(info))
        rp = report_payload(report, groups, lang)
        out.update(live, verdict=rp["verdict"], summary=rp["summary"], findings=rp["findings"])
    return out


async def run_poll(request: Request) -> Response:
    """The run's state; with ``?after=STEP`` (the last step the page has) also every metric
    point logged past it and the live findings: a poll costs the new points, whatever the
    run's length (``DashboardData.live_poll``).

    With ``&wait=SECONDS`` too (at most :data:`MAX_WAIT`), a poll of a running run with
    nothing new is held open until a point past ``after`` arrives, the run ends or the time
    is up: the page hears of a point as soon as it is committed, and an idle tab costs one
    look at the store's change counter every :data:`WAIT_TICK` seconds."""
    ds = _ds(request)
    ref = request.path_params["ref"]
    after = _int(request, "after")
    wait = _int(request, "wait", (0, MAX_WAIT)) or 0
    lang = _lang(request)
    seen = ds.data_version()
    out = await run_in_threadpool(_poll_once, ds, ref, after, lang)
    if after is None or not wait:
        return JSON(jsonable(out))
    deadline = time.monotonic() + wait
    while not out.get("points") and out["status"] == "running" and time.monotonic() < deadline:
        await asyncio.sleep(WAIT_TICK)
        now = ds.data_version()
        if now == seen:
            continue
        seen = now
        out = await run_in_threadpool(_poll_once, ds, ref, after, lang)
    return JSON(jsonable(out))


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


def compare_runs(
    ds: DashboardData, refs: list[str], *, analyse: bool = True
) -> list[tuple[RunInfo, Report | None]]:
    """The runs and their diagnoses: kept in the store (a run never analysed is analysed
    once, with ``analyse``; without it, its report is None until someone analyses it)."""
    if len(refs) < 1:
        raise ConfigError("give the runs to compare: ?runs=ID1,ID2")
    _check_refs(refs)
    out = []
    for ref in refs:
        info = ds.run(ref)
        out.append((info, ds.report(info) if analyse else ds.cached_report(info)))
    return out


def short_label(name: str, n: int = 22) -> str:
    """A run name short enough for a legend (the full name is in the run legend above)."""
    return name if len(name) <= n else name[: n - 1] + "…"


def short_key(key: str) -> str:
    """``eval/loss`` -> ``eval``, ``train/loss`` -> ``train``: what tells series apart."""
    head, _, tail = key.partition("/")
    return head if tail and head in ("train", "eval", "test") else key


def _refs(request: Request) -> list[str]:
    return [r.strip() for r in request.query_params.get("runs", "").split(",") if r.strip()]


def _check_refs(refs: list[str]) -> None:
    if len(refs) > MAX_COMPARE:
        raise ConfigError(
            f"compare takes at most {MAX_COMPARE} runs, not {len(refs)}",
            "pick fewer runs, or compare them in groups",
        )


def comparison(ds: DashboardData, pairs: list[tuple[RunInfo, Report | None]]) -> Comparison:
    """The verdict of the comparison (computed by ``losslens.analysis.compare``, from a
    bounded read of long runs: ``DashboardData.compare_data``)."""
    runs = ds.compare_data([info for info, _ in pairs])
    return analyze_comparison(runs, [r for _, r in pairs])


def compare(request: Request) -> Response:
    ds = _ds(request)
    lang = _api_lang(request)
    pairs = compare_runs(ds, _refs(request))
    heads = [ds.heads(info) for info, _ in pairs]
    groups = chart_groups({h[2] for hs in heads for h in hs if h[1] == "metric"})
    runs_out = []
    for i, (info, report) in enumerate(pairs):
        row = run_row(ds, info, heads[i])
        rp = report_payload(report, groups, lang)
        for f in rp["findings"]:
            f["run"] = i
        row.update(verdict=rp["verdict"], summary=rp["summary"], findings=rp["findings"])
        runs_out.append(row)
    diff = config_diff([info.config for info, _ in pairs])
    result = comparison_to_dict(comparison(ds, pairs))
    return JSON(jsonable({"runs": runs_out, "config_diff": diff, "comparison": result}))


def compare_data(request: Request) -> Response:
    ds = _ds(request)
    refs = _refs(request)
    if not refs:
        raise ConfigError("give the runs to compare: ?runs=ID1,ID2")
    _check_refs(refs)
    lang = _api_lang(request)
    width = _width(request)
    lo, hi = _range(request)
    infos = [ds.run(r) for r in refs]
    # what each run has, from its keys: series are drawn from rollups, never all read
    data = [(info, ds.heads(info)) for info in infos]
    groups = chart_groups({h[2] for _, heads in data for h in heads if h[1] == "metric"})
    wanted = request.query_params.get("group")
    if wanted:
        groups = [g for g in groups if g.id == wanted]
        if not groups:
            raise ConfigError(f"these runs have no chart '{wanted[:80]}'")
    out = []
    for g in groups:
        series = []
        multi = len(g.series) > 1
        for i, (info, heads) in enumerate(data):
            have = {h[2] for h in heads if h[1] == "metric"}
            for _, key in g.series:
                if key not in have:
                    continue
                label = short_label(info.name)
                if multi:
                    label += " · " + short_key(key)
                payload = _drawn_payload(ds, info, heads, ("metric", key), "step", width, lo, hi)
                payload["label"] = label
                payload["run"] = i
                series.append(payload)
        out.append({"id": g.id, "title": g.label(lang), "x": g.x, "series": series})
    clocks = [clock(ds, info, ds.heads(info)) for info in infos]
    return JSON({"runs": [i.id for i in infos], "groups": out, "clocks": clocks})


async def rename(request: Request) -> Response:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return JSON({"error": 'send JSON: {"name": "new name"}'}, status_code=400)
    name = body.get("name") if isinstance(body, dict) else None
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        return JSON({"error": "name must be a non-empty string of at most 200 characters"}, 400)
    if any(ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 for ch in name):
        return JSON({"error": "name must not contain control characters (NUL, newline, ...)"}, 400)
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

"""The dashboard's HTML pages: runs table, run page, compare page, static files."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from losslens import keys as K
from losslens.analysis.compare import config_changes
from losslens.errors import ConfigError
from losslens.model import RunInfo
from losslens.present.config import config_summary, config_view
from losslens.present.rows import runs_rows_html
from losslens.present.strings import ui_text
from losslens.present.style import run_color, run_colors, sparkline_points, sparklines_points
from losslens.present.templates import (
    STATIC_FILES,
    UPLOT_VERSION,
    environment,
    render,
    static_bytes,
)
from losslens.render import import_notes
from losslens.render.downsample import bucket_means
from losslens.render.groups import report_payload
from losslens.ui import api
from losslens.ui.source import DashboardData

#: How often the run page asks whether a live run has new points.
POLL_MS = 1500
#: Points of the runs table's loss sparkline.
SPARK_POINTS = 48
#: Sparklines kept, per store, run and key, while the key gets no new point (its head).
SPARK_ENTRIES = 100_000
_SPARKS: dict[tuple[str, str, int], tuple[Any, str]] = {}
_SPARK_LOCK = threading.Lock()


def load_templates() -> None:
    """Compile the pages' templates (Jinja keeps them)."""
    for name in ("runs.html", "run.html", "compare.html", "error.html"):
        environment().get_template(name)


def _page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    lang = api._lang(request)
    html = render(
        template,
        lang=lang,
        text=ui_text(lang),
        inline=False,
        uplot_version=UPLOT_VERSION,
        write_token=request.app.state.write_token,
        **context,
    )
    return HTMLResponse(html, status_code=status_code)


def _spark_of_points(ds: DashboardData, info: RunInfo, key: str, heads: list[Any]) -> str:
    s = ds.series(info, "metric", key, heads)
    if len(s) < 2:
        return ""
    bm = bucket_means(s.steps.astype(float), s.values, SPARK_POINTS)
    return sparkline_points(bm.mean.tolist())


def _sparks(ds: DashboardData, infos: list[RunInfo], heads: dict[str, list[Any]]) -> dict[str, str]:
    """Every run's loss sparkline: a long run's from the means of its 16-point rollup
    sub-blocks (the page never reads a whole series), computed for all of them at once; a
    short run's from its points. Kept while the run's loss gets no new point."""
    st = ds.store()
    out: dict[str, str] = {}
    long: list[tuple[str, Any, Any]] = []
    marks: dict[str, tuple[int, Any]] = {}
    for info in infos:
        hs = heads[info.id]
        names = {h[2]: (int(h[0]), h[3]) for h in hs if h[1] == "metric"}
        key = K.resolve(set(names), K.LOSS)
        if key is None:
            out[info.id] = ""
            continue
        kid, mark = names[key]
        with _SPARK_LOCK:
            known = _SPARKS.get((str(ds.store_path), info.id, kid))
        if known is not None and mark is not None and known[0] == mark:
            out[info.id] = known[1]
            continue
        marks[info.id] = (kid, mark)
        subs = st.rollup_subs(kid)
        if int(subs["n"].sum()) <= 16 * SPARK_POINTS:
            out[info.id] = _spark_of_points(ds, info, key, hs)
            continue
        ok = subs["nf"] > 0
        nf = subs["nf"][ok]
        long.append((info.id, subs["s_sum"][ok] / nf, subs["v_sum"][ok] / nf))
    out.update(zip([r[0] for r in long], spark_lines([(r[1], r[2]) for r in long]), strict=True))
    with _SPARK_LOCK:
        if len(_SPARKS) + len(marks) > SPARK_ENTRIES:
            _SPARKS.clear()
        for run_id, (kid, mark) in marks.items():
            _SPARKS[(str(ds.store_path), run_id, kid)] = (mark, out[run_id])
    return out


def spark_lines(curves: list[tuple[Any, Any]]) -> list[str]:
    """``sparkline_points(bucket_means(x, y, SPARK_POINTS).mean)`` of many curves (x
    ascending), in one pass of numpy over all of them."""
    if not curves:
        return []
    xs = [np.asarray(c[0], dtype=np.float64) for c in curves]
    ys = [np.asarray(c[1], dtype=np.float64) for c in curves]
    keep = [np.isfinite(y) for y in ys]
    xs = [x[k] for x, k in zip(xs, keep, strict=True)]
    ys = [y[k] for y, k in zip(ys, keep, strict=True)]
    n = np.array([len(x) for x in xs])
    which = np.repeat(np.arange(len(xs)), n)
    x, y = np.concatenate(xs), np.concatenate(ys)
    lo = np.array([v[0] if len(v) else 0.0 for v in xs])
    hi = np.array([v[-1] if len(v) else 0.0 for v in xs])
    span = hi - lo
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(span > 0, SPARK_POINTS / np.where(span > 0, span, 1.0), 0.0)
    b = np.floor((x - lo[which]) * scale[which]).astype(np.int64)
    b = np.clip(b, 0, SPARK_POINTS - 1) + which * SPARK_POINTS
    size = len(xs) * SPARK_POINTS
    count = np.bincount(b, minlength=size).reshape(len(xs), SPARK_POINTS)
    total = np.bincount(b, weights=y, minlength=size).reshape(len(xs), SPARK_POINTS)
    return sparklines_points([t[c > 0] / c[c > 0] for t, c in zip(total, count, strict=True)])


def _colors(ds: DashboardData, every: list[RunInfo] | None = None) -> dict[str, str]:
    """Each run's colour on every page: distinct over the store's runs (oldest first, so a
    new run never changes the colour of an older one) while there are fewer than 21."""
    infos = sorted(ds.runs() if every is None else every, key=lambda i: (i.start_time, i.id))
    ids = [i.id for i in infos]
    return dict(zip(ids, run_colors(ids), strict=True))


def runs_page(request: Request) -> Response:
    ds = api._ds(request)
    project = request.query_params.get("project") or None
    every = ds.runs()
    infos = every if project is None else [i for i in every if i.project == project]
    differ = [c.key for c in config_changes([i.config for i in infos])] if len(infos) > 1 else []
    colors = _colors(ds, every)
    heads, stats, found = ds.table(infos)
    sparks = _sparks(ds, infos, heads)
    rows = []
    for info in infos:
        row = api.run_row(
            ds, info, heads[info.id], found.get(info.id), stats[info.id], with_key_config=False
        )
        row["color"] = colors.get(info.id, run_color(info.id))
        row["spark"] = sparks.get(info.id, "")
        row["cfg"] = config_summary(info.config, differ)
        rows.append(row)
    lang = api._lang(request)
    text = ui_text(lang)
    return _page(
        request,
        "runs.html",
        rows=rows,
        rows_html=runs_rows_html(rows, text, lang),
        projects=ds.store().projects(),
        project=project,
        config={"lang": lang, "text": text},
    )


def run_page(request: Request) -> Response:
    ds = api._ds(request)
    info = ds.run(request.path_params["ref"])
    lang = api._lang(request)
    report: dict[str, Any] = {"verdict": None, "summary": "", "notes": import_notes(info)}
    cached = ds.cached_report(info)
    if cached is not None:
        summary = cached.summary.get(lang) or cached.summary.get("en", "")
        report.update(verdict=str(cached.verdict), summary=summary)
    status = str(info.status)
    config = {
        "run": info.id,
        "lang": lang,
        "status": status,
        "start_time": info.start_time,
        "poll_ms": request.app.state.poll_ms,
        "text": ui_text(lang),
        "colors": [run_color(info.id)],
    }
    return _page(
        request,
        "run.html",
        run=info,
        report=report,
        status=status,
        config=config,
        cfg=config_view(info.config, lang),
    )


def compare_page(request: Request) -> Response:
    ds = api._ds(request)
    lang = api._lang(request)
    refs = api._refs(request)
    if not refs:
        raise ConfigError("pick the runs to compare: /compare?runs=ID1,ID2")
    # first view: the diagnoses kept in the store (a run never analysed shows "…" until the
    # page's script asks /api/compare, which analyses it once); no series is read whole
    pairs = api.compare_runs(ds, refs, analyse=False)
    known = _colors(ds)
    colors = [known.get(info.id, run_color(info.id)) for info, _ in pairs]
    if len(set(colors)) < len(colors):
        colors = run_colors([info.id for info, _ in pairs])
    result = api.comparison(ds, pairs)
    runs = []
    for i, (info, report) in enumerate(pairs):
        rp = report_payload(report, [], lang)
        runs.append(
            {
                "id": info.id,
                "name": info.name,
                "label": result.sides[i].label,
                "project": info.project,
                "status": str(info.status),
                "verdict": rp["verdict"],
                "summary": rp["summary"],
                "findings": rp["findings"],
                "color": colors[i],
                "better": result.better == i,
            }
        )
    changes = [{"key": c.key, "values": list(c.values)} for c in result.changes]
    config = {
        "runs": [info.id for info, _ in pairs],
        "lang": lang,
        "text": ui_text(lang),
        "colors": colors,
    }
    summary = result.summary.get(lang) or result.summary.get("en", "")
    return _page(
        request,
        "compare.html",
        runs=runs,
        diff=changes,
        config=config,
        verdict=summary,
        better=result.better,
    )


def static(request: Request) -> Response:
    name = request.path_params["name"]
    media = STATIC_FILES.get(name)
    if media is None:
        return Response("not found", status_code=404, media_type="text/plain")
    return Response(static_bytes(name), media_type=media, headers={"Cache-Control": "max-age=3600"})


def error_page(request: Request, status: int, message: str, hint: str | None) -> HTMLResponse:
    return _page(request, "error.html", status, message=message, hint=hint or "")

"""The dashboard's HTML pages: runs table, run page, compare page, static files."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from losslens import keys as K
from losslens.analysis.compare import config_changes
from losslens.errors import ConfigError
from losslens.model import RunInfo
from losslens.present.config import config_summary, config_view
from losslens.present.strings import ui_text
from losslens.present.style import run_color, run_colors, sparkline_points
from losslens.present.templates import STATIC_FILES, UPLOT_VERSION, render, static_bytes
from losslens.render.downsample import bucket_means
from losslens.render.groups import report_payload
from losslens.ui import api
from losslens.ui.data import DataSource

#: How often the run page asks whether a live run has new points.
POLL_MS = 1500
#: Points of the runs table's loss sparkline.
SPARK_POINTS = 48


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


def _spark(ds: DataSource, info: RunInfo) -> str:
    heads = ds.heads(info)
    key = K.resolve({h[2] for h in heads if h[1] == "metric"}, K.LOSS)
    if key is None:
        return ""
    # A long run's sparkline comes from the means of its 16-point rollup sub-blocks: the page
    # never reads a whole series.
    key_id = next(h[0] for h in heads if h[1] == "metric" and h[2] == key)
    subs = ds.store().rollup_subs(key_id)
    if int(subs["n"].sum()) > 16 * SPARK_POINTS:
        ok = subs["nf"] > 0
        nf = subs["nf"][ok]
        bm = bucket_means(subs["s_sum"][ok] / nf, subs["v_sum"][ok] / nf, SPARK_POINTS)
        return sparkline_points(bm.mean.tolist())
    s = ds.series(info, "metric", key, heads)
    if len(s) < 2:
        return ""
    bm = bucket_means(s.steps.astype(float), s.values, SPARK_POINTS)
    return sparkline_points(bm.mean.tolist())


def _colors(ds: DataSource) -> dict[str, str]:
    """Each run's colour on every page: distinct over the store's runs (oldest first, so a
    new run never changes the colour of an older one) while there are fewer than 21."""
    infos = sorted(ds.runs(), key=lambda i: (i.start_time, i.id))
    ids = [i.id for i in infos]
    return dict(zip(ids, run_colors(ids), strict=True))


def runs_page(request: Request) -> Response:
    ds = api._ds(request)
    project = request.query_params.get("project") or None
    infos = ds.runs(project)
    differ = [c.key for c in config_changes([i.config for i in infos])] if len(infos) > 1 else []
    rows = []
    colors = _colors(ds)
    for info, row in zip(infos, api.run_rows(ds, infos), strict=True):
        row["color"] = colors.get(info.id, run_color(info.id))
        row["spark"] = _spark(ds, info)
        row["cfg"] = config_summary(info.config, differ)
        rows.append(row)
    lang = api._lang(request)
    return _page(
        request,
        "runs.html",
        rows=rows,
        projects=ds.store().projects(),
        project=project,
        config={"lang": lang, "text": ui_text(lang)},
    )


def run_page(request: Request) -> Response:
    ds = api._ds(request)
    info = ds.run(request.path_params["ref"])
    lang = api._lang(request)
    report = {"verdict": None, "summary": ""}
    cached = ds.cached_report(info)
    if cached is not None:
        summary = cached.summary.get(lang) or cached.summary.get("en", "")
        report = {"verdict": str(cached.verdict), "summary": summary}
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
    pairs = api.compare_runs(ds, refs)
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

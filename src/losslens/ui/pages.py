"""The dashboard's HTML pages: runs table, run page, compare page, static files."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from losslens.errors import ConfigError
from losslens.render.groups import report_payload, ui_text
from losslens.ui import api
from losslens.ui.templates import STATIC_FILES, UPLOT_VERSION, render, static_bytes

#: How often the run page asks whether a live run has new points.
POLL_MS = 1500


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


def runs_page(request: Request) -> Response:
    ds = api._ds(request)
    project = request.query_params.get("project") or None
    rows = [api.run_row(ds, r) for r in ds.runs(project)]
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
        "poll_ms": request.app.state.poll_ms,
        "text": ui_text(lang),
    }
    return _page(request, "run.html", run=info, report=report, status=status, config=config)


def compare_page(request: Request) -> Response:
    ds = api._ds(request)
    lang = api._lang(request)
    refs = api._refs(request)
    if not refs:
        raise ConfigError("pick the runs to compare: /compare?runs=ID1,ID2")
    pairs = api.compare_runs(ds, refs)
    runs = []
    for info, report in pairs:
        rp = report_payload(report, [], lang)
        runs.append(
            {
                "id": info.id,
                "name": info.name,
                "project": info.project,
                "status": str(info.status),
                "verdict": rp["verdict"],
                "summary": rp["summary"],
                "findings": rp["findings"],
            }
        )
    diff = api.config_diff([info.config for info, _ in pairs])
    config = {"runs": [info.id for info, _ in pairs], "lang": lang, "text": ui_text(lang)}
    return _page(request, "compare.html", runs=runs, diff=diff, config=config)


def static(request: Request) -> Response:
    name = request.path_params["name"]
    media = STATIC_FILES.get(name)
    if media is None:
        return Response("not found", status_code=404, media_type="text/plain")
    return Response(static_bytes(name), media_type=media, headers={"Cache-Control": "max-age=3600"})


def error_page(request: Request, status: int, message: str, hint: str | None) -> HTMLResponse:
    return _page(request, "error.html", status, message=message, hint=hint or "")

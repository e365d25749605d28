"""The ASGI app of ``losslens server``: an authenticated ingest API over a :class:`PgStore`.

Every request but ``GET /api/v1/health`` carries ``Authorization: Bearer ll_…``, a token of
one project (:mod:`losslens.server.tokens`). Bodies and answers are JSON; non-finite values
are the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``. A batch of points may instead come
in the column-wise format of :mod:`losslens.store.wire` (``Content-Type:
application/x-losslens-points``), which the sync client sends. A write is committed before its
answer is sent, and every point is keyed by ``(run, key, step)``, so a client that retries a
batch whose answer it never saw stores nothing twice. The endpoints are listed in
docs/team.md ("The ingest API").
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from losslens.errors import LosslensError, StoreError
from losslens.model import MetricPoint, RunInfo, RunStatus
from losslens.numeric import NONFINITE_TOKENS, STEP_MAX, STEP_MIN, as_value, encode_nonfinite
from losslens.server.findings import BadFindings, report_from_body
from losslens.server.tokens import TokenInfo, verify
from losslens.store import wire
from losslens.store.dispatch import read_analyses, write_report
from losslens.store.findings import run_stamp
from losslens.store.pg import PgStore

#: Most points one ``POST …/points`` may carry (413 beyond).
MAX_POINTS = 50_000
#: Largest request body read (413 beyond): room for MAX_POINTS points with long keys.
MAX_BODY = 16 * 1024 * 1024
#: A run id chosen by a client: what ``new_run_id`` makes, and what a sync client may reuse.
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_MAX_KEY = 512
_MAX_TEXT = 4096
_KINDS = ("metric", "system")


class ApiError(Exception):
    """An answer other than 2xx: its status and a one-line message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _answer(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(encode_nonfinite(data), status_code=status)


# -- request parsing --------------------------------------------------------------------------


def _bearer(request: Request) -> str:
    auth = request.headers.get("authorization", "")
    scheme, _, secret = auth.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiError(401, "missing token: send 'Authorization: Bearer TOKEN'")
    return secret.strip()


async def _body(request: Request) -> dict[str, Any]:
    return _parse(await _read(request))


async def _read(request: Request) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY:
        raise ApiError(413, f"body over {MAX_BODY} bytes: send smaller batches")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise ApiError(413, f"body over {MAX_BODY} bytes: send smaller batches")
        chunks.append(chunk)
    return b"".join(chunks)


def _parse(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, f"the body is not JSON: {str(exc)[:200]}") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object")
    return data


def _number(value: Any, what: str, *, nullable: bool = True) -> float | None:
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ApiError(400, f"{what} must be a number{' or null' if nullable else ''}")
    out = as_value(value)
    if out is None or not math.isfinite(out):
        raise ApiError(400, f"{what} must be a finite number")
    return out


def _text(value: Any, what: str, limit: int = _MAX_TEXT) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit or "\x00" in value:
        raise ApiError(400, f"{what} must be a string of at most {limit} characters")
    return value


def _object(value: Any, what: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ApiError(400, f"{what} must be a JSON object")
    try:
        json.dumps(value, allow_nan=True)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, f"{what} cannot be stored: {exc}") from exc
    return value


def _status(value: Any) -> RunStatus | None:
    if value is None:
        return None
    try:
        return RunStatus(value)
    except ValueError as exc:
        allowed = ", ".join(s.value for s in RunStatus)
        raise ApiError(400, f"status must be one of {allowed}") from exc


def _point(item: Any, i: int) -> tuple[str, MetricPoint]:
    if not isinstance(item, list) or len(item) != 5:
        raise ApiError(400, f"points[{i}] must be [key, kind, step, wall_time, value]")
    key, kind, step, wall, value = item
    if not isinstance(key, str) or not key or len(key) > _MAX_KEY or "\x00" in key:
        raise ApiError(400, f"points[{i}]: key must be a non-empty string (≤ {_MAX_KEY} chars)")
    if kind not in _KINDS:
        raise ApiError(400, f"points[{i}]: kind must be 'metric' or 'system'")
    if isinstance(step, bool) or not isinstance(step, int) or not STEP_MIN <= step <= STEP_MAX:
        raise ApiError(400, f"points[{i}]: step must be an integer between -2**63 and 2**63-1")
    wall_time = _number(wall, f"points[{i}]: wall_time")
    if isinstance(value, str) and value in NONFINITE_TOKENS:
        number = NONFINITE_TOKENS[value]
    elif isinstance(value, int | float) and not isinstance(value, bool):
        got = as_value(value)
        assert got is not None
        number = got
    else:
        raise ApiError(
            400, f'points[{i}]: value must be a number, "NaN", "Infinity" or "-Infinity"'
        )
    return kind, MetricPoint(key, step, number, wall_time)


def _points(items: list[Any]) -> dict[str, list[MetricPoint]]:
    """The points of a batch by kind. The common shape (a known key, an int step in range,
    a float or null wall time, a float value) is checked inline; anything else goes through
    :func:`_point`, which names the first bad point."""
    by_kind: dict[str, list[MetricPoint]] = {"metric": [], "system": []}
    good_keys: set[str] = set()
    isfinite = math.isfinite
    for i, item in enumerate(items):
        if type(item) is list and len(item) == 5:
            key, kind, step, wall, value = item
            if (
                type(key) is str
                and key in good_keys
                and type(kind) is str
                and type(step) is int
                and STEP_MIN <= step <= STEP_MAX
                and type(value) is float
                and (wall is None or (type(wall) is float and isfinite(wall)))
                and kind in by_kind
            ):
                by_kind[kind].append(MetricPoint(key, step, value, wall))
                continue
        kind, point = _point(item, i)
        good_keys.add(point.key)
        by_kind[kind].append(point)
    return {k: v for k, v in by_kind.items() if v}


def _columns(raw: bytes) -> wire.PointColumns:
    """A batch in the column-wise format (:mod:`losslens.store.wire`), checked."""
    try:
        n = wire.count(raw)
        if n > MAX_POINTS:
            raise ApiError(413, f"{n} points in one batch, the most is {MAX_POINTS}")
        return wire.decode(raw)
    except wire.WireError as exc:
        raise ApiError(400, f"bad {wire.CONTENT_TYPE} body: {exc}") from None


# -- the endpoints ------------------------------------------------------------------------------


def _run_dict(info: RunInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "project": info.project,
        "name": info.name,
        "status": str(info.status),
        "start_time": info.start_time,
        "end_time": info.end_time,
        "heartbeat": info.heartbeat,
        "host": info.host,
        "pid": info.pid,
        "command": info.command,
    }


class Api:
    """The endpoints, bound to one store (used from the threads of the threadpool)."""

    def __init__(self, store: PgStore) -> None:
        self.store = store

    # Blocking work runs in starlette's threadpool; PgStore keeps its transaction per thread.
    async def _auth(self, request: Request, *, write: bool) -> TokenInfo:
        secret = _bearer(request)
        token = await run_in_threadpool(verify, self.store, secret)
        if token is None:
            raise ApiError(401, "unknown or revoked token")
        if write and token.scope != "write":
            raise ApiError(403, "this token is read-only")
        return token

    def _own_run(self, token: TokenInfo, run_id: str) -> RunInfo:
        if not _RUN_ID.match(run_id):
            raise ApiError(400, "a run id is 1-64 letters, digits, '_', '.', '-'")
        info = self.store.find_run_id(run_id)
        if info is None:
            raise ApiError(404, f"no run {run_id}: create it with POST /api/v1/runs")
        if info.project != token.project:
            raise ApiError(403, f"run {run_id} belongs to another project")
        return info

    async def health(self, request: Request) -> JSONResponse:
        version = await run_in_threadpool(lambda: self.store.schema_version)
        return _answer({"ok": True, "schema_version": version})

    async def list_runs(self, request: Request) -> JSONResponse:
        token = await self._auth(request, write=False)
        runs = await run_in_threadpool(self.store.list_runs, token.project)
        return _answer({"project": token.project, "runs": [_run_dict(r) for r in runs]})

    async def get_run(self, request: Request) -> JSONResponse:
        token = await self._auth(request, write=False)
        run_id = request.path_params["run_id"]

        def work() -> dict[str, Any]:
            info = self._own_run(token, run_id)
            with self.store.snapshot():
                last = self.store.last_step(run_id)
                analysis = self._analysis(info)
            return {**_run_dict(info), "last_step": last, "analysis": analysis}

        return _answer(await run_in_threadpool(work))

    async def put_run(self, request: Request) -> JSONResponse:
        token = await self._auth(request, write=True)
        body = await _body(request)
        run_id = body.get("id")
        if not isinstance(run_id, str) or not _RUN_ID.match(run_id):
            raise ApiError(400, "id must be 1-64 letters, digits, '_', '.', '-' (chosen by you)")
        project = body.get("project", token.project)
        if project != token.project:
            raise ApiError(403, f"this token writes to project {token.project!r} only")
        fields: dict[str, Any] = {
            "name": _text(body.get("name"), "name", 256),
            "config": _object(body.get("config"), "config"),
            "host": _text(body.get("host"), "host", 256),
            "pid": _number(body.get("pid"), "pid"),
            "command": _text(body.get("command"), "command"),
            "status": _status(body.get("status")),
        }
        if fields["pid"] is not None:
            if not float(fields["pid"]).is_integer():
                raise ApiError(400, "pid must be an integer")
            fields["pid"] = int(fields["pid"])
        start = _number(body.get("start_time"), "start_time")
        given = {k: v for k, v in fields.items() if v is not None}

        def work() -> tuple[RunInfo, bool]:
            for _ in range(2):  # a concurrent create of the same id: then update it
                info = self.store.find_run_id(run_id)
                if info is not None:
                    if info.project != token.project:
                        raise ApiError(403, f"run {run_id} belongs to another project")
                    self.store.update_run(run_id, **given)
                    return self.store.get_run(run_id), False
                try:
                    return self.store.create_run(
                        token.project, run_id=run_id, start_time=start, **given
                    ), True
                except StoreError:
                    continue
            raise ApiError(409, f"run {run_id} could not be created, try again")

        info, created = await run_in_threadpool(work)
        return _answer({**_run_dict(info), "created": created}, 201 if created else 200)

    async def post_points(self, request: Request) -> JSONResponse:
        token = await self._auth(request, write=True)
        run_id = request.path_params["run_id"]
        raw = await _read(request)
        if wire.is_columns(request.headers.get("content-type")):
            batch = _columns(raw)

            def write() -> int:
                self._own_run(token, run_id)
                with self.store.transaction() as conn:
                    n = self.store.add_columns(run_id, batch)
                    conn.execute(
                        "UPDATE runs SET heartbeat = %s WHERE id = %s", (time.time(), run_id)
                    )
                return n

            return _answer({"accepted": await run_in_threadpool(write)})

        def work() -> int:  # parsing too: a 50k-point batch would stall the event loop
            body = _parse(raw)
            items = body.get("points")
            if not isinstance(items, list):
                raise ApiError(400, "points must be a list of [key, kind, step, wall_time, value]")
            if len(items) > MAX_POINTS:
                raise ApiError(413, f"{len(items)} points in one batch, the most is {MAX_POINTS}")
            originals = _object(body.get("originals"), "originals") or {}
            if not all(isinstance(v, str) for v in originals.values()):
                raise ApiError(400, "originals must map keys to the names they were logged under")
            by_kind = _points(items)
            self._own_run(token, run_id)
            n = 0
            with self.store.transaction() as conn:
                for kind, points in by_kind.items():
                    n += self.store.add_points(run_id, points, kind=kind, originals=originals)
                conn.execute("UPDATE runs SET heartbeat = %s WHERE id = %s", (time.time(), run_id))
            return n

        return _answer({"accepted": await run_in_threadpool(work)})

    def _analysis(self, info: RunInfo) -> dict[str, Any] | None:
        """The run's stored analysis: verdict, count, and whether it describes the run as
        the server holds it now (by the analysis code of this server)."""
        from losslens.stored_analysis import stamp

        got = read_analyses(self.store, [info.id]).get(info.id)
        if got is None:
            return None
        return {
            "verdict": got.verdict,
            "n_findings": got.n_findings,
            "created_at": got.created_at,
            "current": got.stamp == stamp(self.store, info),
        }

    async def put_findings(self, request: Request) -> JSONResponse:
        """The findings a client made of the run it recorded: kept as the run's analysis
        when the server holds every metric point they were made from (409 otherwise)."""
        token = await self._auth(request, write=True)
        run_id = request.path_params["run_id"]
        body = await _body(request)

        def work() -> dict[str, Any]:
            info = self._own_run(token, run_id)
            try:
                report, version, n_points = report_from_body(info, body)
            except BadFindings as exc:
                raise ApiError(400, str(exc)) from None
            with self.store.snapshot():
                info = self.store.get_run(run_id)
                held = self.store.count_points(run_id)
                points = self.store.points_stamps([run_id])[run_id]
            if held != n_points:
                raise ApiError(
                    409,
                    f"the server holds {held} metric points of run {run_id}, these findings "
                    f"were made from {n_points}: send the points first",
                )
            report.run = info
            if not write_report(self.store, report, run_stamp(info, points, version)):
                raise ApiError(404, f"no run {run_id}: it was deleted")
            analysis = self._analysis(info)
            assert analysis is not None
            return analysis

        return _answer(await run_in_threadpool(work))

    async def heartbeat(self, request: Request) -> JSONResponse:
        token = await self._auth(request, write=True)
        run_id = request.path_params["run_id"]
        now = time.time()

        def work() -> None:
            self._own_run(token, run_id)
            self.store.update_run(run_id, heartbeat=now)

        await run_in_threadpool(work)
        return _answer({"heartbeat": now})

    async def patch_run(self, request: Request) -> JSONResponse:
        token = await self._auth(request, write=True)
        run_id = request.path_params["run_id"]
        body = await _body(request)
        unknown = set(body) - {"status", "end_time", "summary", "exit_code"}
        if unknown:
            raise ApiError(400, f"cannot change {', '.join(sorted(unknown))}")
        fields: dict[str, Any] = {}
        if "status" in body:
            fields["status"] = _status(body["status"])
        if "end_time" in body:
            fields["end_time"] = _number(body["end_time"], "end_time")
        if "summary" in body:
            fields["summary"] = _object(body["summary"], "summary") or {}
        if "exit_code" in body:
            code = body["exit_code"]
            if code is not None and (isinstance(code, bool) or not isinstance(code, int)):
                raise ApiError(400, "exit_code must be an integer or null")
            if code is not None and not -(2**31) <= code < 2**31:
                raise ApiError(400, "exit_code is out of range")
            fields["exit_code"] = code
        fields = {k: v for k, v in fields.items() if v is not None or k in body}
        if fields.get("status", "") is None:
            raise ApiError(400, "status cannot be null")

        def work() -> RunInfo:
            self._own_run(token, run_id)
            self.store.update_run(run_id, **fields)
            return self.store.get_run(run_id)

        return _answer(_run_dict(await run_in_threadpool(work)))


Handler = Callable[[Request], Awaitable[JSONResponse]]


def _guarded(handler: Handler) -> Handler:
    """Bad input and a lost database become JSON errors, never a 500 with a traceback."""

    async def endpoint(request: Request) -> JSONResponse:
        try:
            return await handler(request)
        except ApiError as exc:
            return JSONResponse({"error": exc.message}, status_code=exc.status)
        except LosslensError as exc:
            return JSONResponse({"error": exc.message}, status_code=503)

    return endpoint


def create_app(store: PgStore) -> Starlette:
    """The server's ASGI app over an open store (closing the store is the caller's job)."""
    api = Api(store)
    base = "/api/v1"
    routes = [
        Route(f"{base}/health", _guarded(api.health), methods=["GET"]),
        Route(f"{base}/runs", _guarded(api.list_runs), methods=["GET"]),
        Route(f"{base}/runs", _guarded(api.put_run), methods=["POST"]),
        Route(f"{base}/runs/{{run_id}}", _guarded(api.get_run), methods=["GET"]),
        Route(f"{base}/runs/{{run_id}}", _guarded(api.patch_run), methods=["PATCH"]),
        Route(f"{base}/runs/{{run_id}}/points", _guarded(api.post_points), methods=["POST"]),
        Route(f"{base}/runs/{{run_id}}/heartbeat", _guarded(api.heartbeat), methods=["POST"]),
        Route(f"{base}/runs/{{run_id}}/findings", _guarded(api.put_findings), methods=["PUT"]),
        Mount("/", app=_dashboard(store)),
    ]
    return Starlette(routes=routes)


class _TokenCheck:
    """Any live API token opens the dashboard; answers are kept ``ttl`` seconds (a revoked
    token stops working within that time) so a page's requests cost no query each."""

    def __init__(self, store: PgStore, ttl: float = 30.0) -> None:
        self.store = store
        self.ttl = ttl
        self._seen: dict[str, tuple[float, bool]] = {}

    def __call__(self, secret: str) -> bool:
        now = time.monotonic()
        hit = self._seen.get(secret)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        ok = verify(self.store, secret) is not None
        if len(self._seen) > 1024:
            self._seen.clear()
        self._seen[secret] = (now, ok)
        return ok


def _dashboard(store: PgStore) -> ASGIApp:
    """The dashboard over the same store: read-only, opened with any API token
    (``/?token=ll_…`` once sets a cookie). Without the ``ui`` extra, a one-line 501."""
    try:
        from losslens.ui.app import create_app as dashboard
        from losslens.ui.pgdata import PgDataSource
    except ImportError:
        message = "the dashboard needs the ui extra: pip install 'losslens[ui]'"

        async def missing(scope: Scope, receive: Receive, send: Send) -> None:
            await PlainTextResponse(message, status_code=501)(scope, receive, send)

        return missing
    return cast(
        ASGIApp,
        dashboard(
            store.path,
            data=PgDataSource(store),
            check_token=_TokenCheck(store),
            read_only=True,
        ),
    )


__all__ = ["MAX_BODY", "MAX_POINTS", "ApiError", "create_app"]

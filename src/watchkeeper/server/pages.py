"""Web pages, rendered on the server (Jinja2, autoescaped) with htmx for partial updates. Thin: parse, query, render.

Routes:
    /                                   → /traces
    /traces                             traces, newest first, with filters and cursor pagination
    /traces/table                       the traces table alone (htmx live refresh)
    /traces/{trace_id}[?span=ID]        one trace: totals, span tree with waterfall, the selected span's panel
    /traces/{trace_id}/spans/{span_id}  the span panel alone (htmx); a plain request is sent to the full page
    /sessions                           sessions, most recently active first
    /sessions/{session_id}              a session as a conversation, one trace per turn
    /slices                             the slice explorer: top changed slices, a slice's rate over time, examples
    /login, /logout                     local login (a form; secure, SameSite=Strict cookie; CSRF-checked logout)
    /access                             access requests, grants, break-glass and spot checks (access.py)
    /static/{name}                      the stylesheet, htmx and the page script

Every page needs the metadata:read permission; a logged-out visitor is sent to /login. Content (messages, tool
arguments and results) is shown only under a grant, and each view of it is recorded in the access log first.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from functools import cache, wraps
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from .. import __version__
from ..errors import InputError, NotFound, WatchkeeperError
from ..records import SpanKind, check_hex_id
from ..store import queries
from ..trust.identity import Principal
from ..trust.roles import Permission
from . import _slices_view as sv
from . import _views as v
from ._auth import public, requires
from ._content import read_trace
from ._runtime import Runtime

router = APIRouter(include_in_schema=False)

# Data never becomes markup: autoescape everywhere, no inline script, styles only in attributes we write.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
_HEADERS = {
    "Content-Security-Policy": _CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
_STATIC_TYPES = {
    "style.css": "text/css; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "htmx.min.js": "text/javascript; charset=utf-8",
}
KINDS = [k.value for k in SpanKind]


@cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(v.FILTERS)
    env.globals.update(
        version=__version__,
        static=_static_url,
        feedback_value=v.feedback_value,
        trace_duration_ms=v.trace_duration_ms,
        kinds=KINDS,
    )
    return env


def _rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A page from ``template`` with the shared context (the caller, the demo banner, the path)."""
    return _render(request, template, status, **context)


def _render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    context.update(
        request=request,
        who=getattr(request.state, "principal", None),
        demo=bool(getattr(request.app.state, "demo", False)),
        now_ns=time.time_ns(),
        path=request.url.path,
    )
    html = _env().get_template(template).render(context)
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


def _error_page(request: Request, exc: WatchkeeperError) -> HTMLResponse:
    status = exc.status if exc.status in (400, 404) else 500
    detail = str(exc) if status < 500 else "the server failed to show this page; it has been logged"
    if _is_htmx(request):
        return _render(request, "_error.html", status, title=exc.title, detail=detail)
    return _render(request, "error.html", status, title=exc.title, detail=detail)


def _page(fn: Callable[..., Response]) -> Callable[..., Response]:
    """Show input and not-found errors as pages, not as the API's problem documents."""

    @wraps(fn)
    def wrapper(request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            return fn(request, *args, **kwargs)
        except (InputError, NotFound) as e:
            return _error_page(request, e)

    return wrapper


# ---------------------------------------------------------------------------------------------------------------


META = Permission.READ_METADATA


@router.get("/", dependencies=[requires(META, page=True)])
def home() -> RedirectResponse:
    return RedirectResponse("/traces", status_code=307)


def _traces_context(request: Request, q: v.TraceQuery, who: Principal) -> dict[str, Any]:
    now = time.time_ns()
    engine = _rt(request).engine
    error: str | None = None
    traces: list[queries.TraceSummary] = []
    nxt: str | None = None
    try:
        traces, nxt = queries.find_traces(
            engine, q.criteria(now), limit=q.limit, cursor=q.cursor or None, project_id=who.project_id
        )
    except InputError as e:
        error = str(e)
    empty_store = (
        not traces and not queries.list_spans(engine, queries.SpanFilter(), limit=1, project_id=who.project_id).spans
    )
    return {
        "q": q,
        "traces": traces,
        "next_url": q.url(cursor=nxt) if nxt else None,
        "newest_url": q.url(cursor=None) if q.cursor else None,
        "live_url": q.url("/traces/table"),
        "error": error,
        "empty_store": empty_store,
        "base_url": str(request.base_url).rstrip("/"),
        "ranges": v.RANGE_LABELS,
        "statuses": v.STATUSES,
        "text_filters": v.TEXT_FILTERS,
        "updated_ns": now,
    }


@router.get("/traces")
@_page
def traces_page(request: Request, who: Principal = requires(META, page=True)) -> Response:
    q = v.TraceQuery.parse(request.query_params)
    ctx = _traces_context(request, q, who)
    return _render(request, "traces.html", 400 if ctx["error"] else 200, **ctx)


@router.get("/traces/table")
@_page
def traces_table(request: Request, who: Principal = requires(META, page=True)) -> Response:
    q = v.TraceQuery.parse(request.query_params)
    if not _is_htmx(request):
        return RedirectResponse(q.url(), status_code=303)
    ctx = _traces_context(request, q, who)
    return _render(request, "_traces_table.html", 400 if ctx["error"] else 200, **ctx)


@router.get("/traces/{trace_id}")
@_page
def trace_page(request: Request, trace_id: str, who: Principal = requires(META, page=True)) -> Response:
    tv = read_trace(_rt(request), who, trace_id, channel="web")
    selected = request.query_params.get("span")
    view = v.trace_view(tv.spans, tv.feedback, selected)
    return _render(request, "trace.html", view=view, panel=view.selected, content=tv.content, grant_id=tv.grant_id)


@router.get("/traces/{trace_id}/spans/{span_id}")
@_page
def span_panel(request: Request, trace_id: str, span_id: str, who: Principal = requires(META, page=True)) -> Response:
    try:
        sid = check_hex_id(span_id, "span_id", 16)
    except ValueError:
        raise InputError("span_id must be 16 hex digits", field="span_id") from None
    if not _is_htmx(request):
        return RedirectResponse(f"/traces/{trace_id.lower()}?{urlencode({'span': sid})}", status_code=303)
    tv = read_trace(_rt(request), who, trace_id, channel="web")
    trace, feedback = tv.spans, tv.feedback
    span = next((s for s in trace if s.span_id == sid), None)
    if span is None:
        raise NotFound(f"trace {trace[0].trace_id} has no span {sid}")
    start = min(s.start_time_ns for s in trace)
    return _render(request, "_span_panel.html", panel=v.span_panel(trace[0].trace_id, start, span, feedback))


@router.get("/sessions")
@_page
def sessions_page(request: Request, who: Principal = requires(META, page=True)) -> Response:
    params: Mapping[str, str] = request.query_params
    rng = params.get("range", "7d")
    rng = rng if rng in v.RANGES else "7d"
    subject = params.get("subject", "").strip()
    seconds = v.RANGES[rng]
    rows = queries.list_sessions(
        _rt(request).engine,
        start_from_ns=None if seconds is None else time.time_ns() - seconds * 1_000_000_000,
        subject_id=subject or None,
        limit=200,
        project_id=who.project_id,
    )
    return _render(request, "sessions.html", sessions=rows, range=rng, subject=subject, ranges=v.RANGE_LABELS)


@router.get("/sessions/{session_id:path}")
@_page
def session_page(request: Request, session_id: str, who: Principal = requires(META, page=True)) -> Response:
    rt = _rt(request)
    summaries = queries.session_traces(rt.engine, session_id, project_id=who.project_id)
    views = [read_trace(rt, who, t.trace_id, channel="web") for t in summaries]
    turns = [v.turn(t, tv.spans) for t, tv in zip(summaries, views, strict=True)]
    content = all(tv.content for tv in views)
    return _render(request, "session.html", session_id=session_id, turns=turns, content=content)


@router.get("/slices")
@_page
def slices_page(request: Request, who: Principal = requires(META, page=True)) -> Response:
    q = sv.SliceQuery.parse(request.query_params, request.query_params.getlist("slice_value"))
    ex = sv.explorer_for(_rt(request), who.project_id)
    ctx = sv.explore(ex, q)
    return _render(
        request, "slices.html", q=q, dimensions=sv.dimension_choices(ex), windows=sv.WINDOWS, baselines=sv.BASELINES,
        pct=sv.pct, **ctx,
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------------------------
# Static files: a fixed list, served from the package with an ETag


@cache
def _static(name: str) -> tuple[bytes, str]:
    data = (resources.files("watchkeeper.server") / "static" / name).read_bytes()
    return data, '"' + hashlib.sha256(data).hexdigest()[:16] + '"'


def _static_url(name: str) -> str:
    return f"/static/{name}?v={_static(name)[1].strip(chr(34))}"


@router.get("/static/{name}", dependencies=[public()])
def static(request: Request, name: str) -> Response:
    media_type = _STATIC_TYPES.get(name)
    if media_type is None:
        raise HTTPException(404, f"no static file {name!r}")
    data, etag = _static(name)
    headers = {"ETag": etag, "Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=media_type, headers=headers)

"""The HTTP API: ingest (OTLP/HTTP and the native JSON batch) and the query endpoints. Thin: parse, call, format."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from ..errors import InputError, PayloadTooLarge
from ..ingest._body import decompress
from ..ingest.jsonbatch import decode_json_batch
from ..records import Feedback, Span, feedback_to_dict, span_to_dict
from ..store import queries
from ..trust.identity import Principal
from ..trust.roles import Permission
from ._auth import requires
from ._content import read_trace
from ._runtime import Runtime
from ._schemas import (
    AggregatesResponse,
    IngestResponse,
    SessionResponse,
    SessionsResponse,
    SpansResponse,
    TraceResponse,
    TracesResponse,
)

router = APIRouter()
_EMPTY_EXPORT_RESPONSE = ExportTraceServiceResponse().SerializeToString()

PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
INGEST_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Malformed body; the problem names the field", **PROBLEM},
    413: {"description": "Body over the configured limit", **PROBLEM},
    415: {"description": "Unsupported content type", **PROBLEM},
    429: {"description": "Ingest queue full; retry after Retry-After seconds", **PROBLEM},
    503: {"description": "Store unavailable", **PROBLEM},
}
QUERY_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Invalid parameter", **PROBLEM},
    422: {"description": "Invalid parameter", **PROBLEM},
}


def _rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (413) to read past ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise InputError("Content-Length must be a number of bytes", field="Content-Length")
        if int(declared) > limit:
            raise PayloadTooLarge(f"body of {declared} bytes exceeds the limit of {limit} bytes", field="body")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body exceeds the limit of {limit} bytes", field="body")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_time(value: str | None, name: str) -> int | None:
    """Nanoseconds since the epoch from an integer (ns) or an RFC 3339 timestamp."""
    if value is None or value == "":
        return None
    v = value.strip()
    if v.lstrip("-").isdigit():
        n = int(v)
        if not 0 <= n < 2**63:
            raise InputError(f"{name} must be a non-negative number of nanoseconds", field=name)
        return n
    try:
        dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"{name} must be nanoseconds since the epoch or an RFC 3339 time (2026-01-31T12:00:00Z)", field=name
        ) from None
    if dt.tzinfo is None:
        raise InputError(f"{name} must include a time zone (Z or +hh:mm)", field=name)
    return int(dt.timestamp() * 1e9)


@router.post(
    "/v1/traces",
    tags=["ingest"],
    summary="OTLP/HTTP trace export (protobuf or JSON, gzip accepted)",
    responses={200: {"description": "All spans committed"}, **INGEST_ERRORS},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
                "application/json": {"schema": {"type": "object"}},
            },
        }
    },
)
async def otlp_traces(request: Request, who: Principal = requires(Permission.INGEST)) -> Response:
    from ..ingest.otlp import decode_otlp

    rt = _rt(request)
    s = rt.settings
    limit = s.max_body_bytes
    raw = await read_body(request, limit)
    encoding = request.headers.get("content-encoding")
    ctype = request.headers.get("content-type", "")

    def decode() -> tuple[list[Span], list[Feedback]]:  # runs on a worker thread, off the event loop
        body = decompress(raw, encoding, limit)
        spans = decode_otlp(
            body, ctype, max_string_chars=s.max_string_chars, max_depth=s.max_depth, max_future_s=s.max_future_s
        )
        return spans, []

    await rt.ingest_body(decode, "otlp", who.project_id)
    if ctype.split(";")[0].strip().lower() == "application/json":
        return JSONResponse({})
    return Response(_EMPTY_EXPORT_RESPONSE, media_type="application/x-protobuf")


@router.post(
    "/api/v1/ingest",
    tags=["ingest"],
    summary="Ingest a batch of spans and feedback events (native JSON)",
    response_model=IngestResponse,
    responses=INGEST_ERRORS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/IngestBody"}}},
        }
    },
)
async def ingest(request: Request, who: Principal = requires(Permission.INGEST)) -> IngestResponse:
    """Answers 200 only after every record of the batch is committed. Re-sending a batch never duplicates a span
    (idempotent on trace id + span id) nor a feedback event (idempotent on its id)."""
    rt = _rt(request)
    limit = rt.settings.max_body_bytes
    ctype = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if ctype not in ("application/json", ""):
        from ..errors import UnsupportedMediaType

        raise UnsupportedMediaType("send application/json", field="Content-Type")
    raw = await read_body(request, limit)
    encoding = request.headers.get("content-encoding")

    def decode() -> tuple[list[Span], list[Feedback]]:  # runs on a worker thread, off the event loop
        return decode_json_batch(decompress(raw, encoding, limit), source="api")

    acc = await rt.ingest_body(decode, "api", who.project_id)
    return IngestResponse(accepted={"spans": acc.spans, "feedback": acc.feedback})


def _filter(
    *,
    from_: str | None,
    to: str | None,
    kind: str | None = None,
    status: str | None = None,
    model: str | None = None,
    session_id: str | None = None,
    subject_id: str | None = None,
    trace_id: str | None = None,
    tool: str | None = None,
    attr: list[str] | None = None,
    min_duration_ms: float | None = None,
    dims: dict[str, str | None] | None = None,
) -> queries.SpanFilter:
    equals = {k: v for k, v in (dims or {}).items() if v}
    for k, v in (
        ("kind", kind),
        ("status", status),
        ("model", model),
        ("session_id", session_id),
        ("subject_id", subject_id),
    ):
        if v:
            equals[k] = v
    attributes: dict[str, str] = {}
    for a in attr or []:
        key, sep, value = a.partition("=")
        if not sep or not key:
            raise InputError("attr must look like key=value", field="attr")
        attributes[key] = value
    return queries.SpanFilter(
        start_from_ns=parse_time(from_, "from"),
        start_to_ns=parse_time(to, "to"),
        trace_id=trace_id,
        equals=equals,
        attributes=attributes,
        tool_query=tool,
        min_duration_ms=min_duration_ms,
    )


class _Dims:
    """Query parameters for the cohort and version dimensions, shared by the list endpoints."""

    def __init__(
        self,
        provider: str | None = None,
        tool_name: str | None = None,
        mcp_server: str | None = None,
        error_type: str | None = None,
        plan_tier: str | None = None,
        region: str | None = None,
        client_name: str | None = None,
        client_version: str | None = None,
        locale: str | None = None,
        model_version: str | None = None,
        prompt_version: str | None = None,
        skill_version: str | None = None,
        service_name: str | None = None,
        name: str | None = None,
    ) -> None:
        self.values = {
            "provider": provider,
            "tool_name": tool_name,
            "mcp_server": mcp_server,
            "error_type": error_type,
            "plan_tier": plan_tier,
            "region": region,
            "client_name": client_name,
            "client_version": client_version,
            "locale": locale,
            "model_version": model_version,
            "prompt_version": prompt_version,
            "skill_version": skill_version,
            "service_name": service_name,
            "name": name,
        }


from fastapi import Depends  # noqa: E402 - kept beside its only use

DimsDep = Annotated[_Dims, Depends()]
FromQ = Annotated[str | None, Query(alias="from", description="Start of the time range: ns since epoch or RFC 3339")]
ToQ = Annotated[str | None, Query(description="End of the time range (exclusive): ns since epoch or RFC 3339")]
AttrQ = Annotated[list[str] | None, Query(description="Attribute filter key=value; repeatable")]
LimitQ = Annotated[int, Query(ge=1, le=queries.MAX_PAGE)]


@router.get("/api/v1/spans", tags=["query"], response_model=SpansResponse, responses=QUERY_ERRORS)
def list_spans(
    request: Request,
    who: Annotated[Principal, requires(Permission.READ_METADATA)],
    dims: DimsDep,
    from_: FromQ = None,
    to: ToQ = None,
    kind: str | None = None,
    status: str | None = None,
    model: str | None = None,
    session_id: str | None = None,
    subject_id: str | None = None,
    trace_id: str | None = None,
    tool: Annotated[str | None, Query(description="Substring of the tool name, case-insensitive")] = None,
    attr: AttrQ = None,
    min_duration_ms: Annotated[float | None, Query(ge=0, le=1e9)] = None,
    limit: LimitQ = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Span metadata (no content), newest first, with cursor pagination."""
    flt = _filter(
        from_=from_,
        to=to,
        kind=kind,
        status=status,
        model=model,
        session_id=session_id,
        subject_id=subject_id,
        trace_id=trace_id,
        tool=tool,
        attr=attr,
        min_duration_ms=min_duration_ms,
        dims=dims.values,
    )
    page = queries.list_spans(_rt(request).engine, flt, limit=limit, cursor=cursor, project_id=who.project_id)
    return {"spans": [_meta(s) for s in page.spans], "next_cursor": page.next_cursor}


def _meta(s: Any) -> dict[str, Any]:
    d = span_to_dict(s)
    d["duration_ms"] = round(s.duration_ms, 3)
    return d


@router.get("/api/v1/traces", tags=["query"], response_model=TracesResponse, responses=QUERY_ERRORS)
def list_traces(
    request: Request,
    who: Annotated[Principal, requires(Permission.READ_METADATA)],
    dims: DimsDep,
    from_: FromQ = None,
    to: ToQ = None,
    status: str | None = None,
    model: str | None = None,
    session_id: str | None = None,
    subject_id: str | None = None,
    attr: AttrQ = None,
    limit: LimitQ = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Traces, newest first, each summarised from all of its spans."""
    flt = _filter(
        from_=from_,
        to=to,
        status=status,
        model=model,
        session_id=session_id,
        subject_id=subject_id,
        attr=attr,
        dims=dims.values,
    )
    traces, nxt = queries.list_traces(_rt(request).engine, flt, limit=limit, cursor=cursor, project_id=who.project_id)
    return {"traces": [_trace_summary(t) for t in traces], "next_cursor": nxt}


def _trace_summary(t: queries.TraceSummary) -> dict[str, Any]:
    return {
        "trace_id": t.trace_id,
        "name": t.root.name,
        "kind": t.root.kind.value,
        "status": t.root.status.value,
        "start_time_ns": t.root.start_time_ns,
        "duration_ms": round((t.end_ns - t.root.start_time_ns) / 1e6, 3),
        "session_id": t.root.session_id,
        "subject_id": t.root.subject_id,
        "service_name": t.root.service_name,
        "span_count": t.span_count,
        "error_count": t.error_count,
        "llm_calls": t.llm_calls,
        "tool_calls": t.tool_calls,
        "input_tokens": t.input_tokens,
        "output_tokens": t.output_tokens,
        "cost_usd": round(t.cost_usd, 8),
    }


def _node(n: queries.TreeNode) -> dict[str, Any]:
    d = _meta(n.span)
    d["children"] = [_node(c) for c in n.children]
    return d


@router.get(
    "/api/v1/traces/{trace_id}",
    tags=["query"],
    response_model=TraceResponse,
    responses={**QUERY_ERRORS, 404: {"description": "No such trace", **PROBLEM}},
)
def get_trace(
    request: Request,
    trace_id: str,
    who: Annotated[Principal, requires(Permission.READ_METADATA)],
    reason: Annotated[str | None, Query(max_length=500, description="Why you open the content (access log)")] = None,
) -> dict[str, Any]:
    """One trace as a tree of spans and the feedback attached to it. Content (messages, tool arguments and results,
    feedback text) is included only under a grant that covers the trace, and each such read is recorded in the
    access log first; otherwise ``content_withheld`` is true and the spans carry metadata only."""
    rt = _rt(request)
    view = read_trace(rt, who, trace_id, channel="api", reason=reason)
    spans = view.spans
    roots = queries.build_tree(spans)
    return {
        "trace_id": spans[0].trace_id,
        "span_count": len(spans),
        "start_time_ns": min(s.start_time_ns for s in spans),
        "end_time_ns": max(s.end_time_ns for s in spans),
        "roots": [_node(r) for r in roots],
        "feedback": [feedback_to_dict(f) for f in view.feedback],
        "content_withheld": not view.content,
        "grant_id": view.grant_id,
    }


@router.get("/api/v1/sessions", tags=["query"], response_model=SessionsResponse, responses=QUERY_ERRORS)
def list_sessions(
    request: Request,
    who: Annotated[Principal, requires(Permission.READ_METADATA)],
    from_: FromQ = None,
    to: ToQ = None,
    subject_id: str | None = None,
    limit: LimitQ = 50,
) -> dict[str, Any]:
    """Sessions active in the time range, most recently active first."""
    rows = queries.list_sessions(
        _rt(request).engine,
        start_from_ns=parse_time(from_, "from"),
        start_to_ns=parse_time(to, "to"),
        subject_id=subject_id,
        limit=limit,
        project_id=who.project_id,
    )
    return {
        "sessions": [
            {
                "session_id": r.session_id,
                "subject_id": r.subject_id,
                "first_ns": r.first_ns,
                "last_ns": r.last_ns,
                "traces": r.traces,
                "spans": r.spans,
                "errors": r.errors,
                "cost_usd": round(r.cost_usd, 8),
            }
            for r in rows
        ]
    }


@router.get(
    "/api/v1/sessions/{session_id}",
    tags=["query"],
    response_model=SessionResponse,
    responses={**QUERY_ERRORS, 404: {"description": "No such session", **PROBLEM}},
)
def get_session(
    request: Request, session_id: str, who: Principal = requires(Permission.READ_METADATA)
) -> dict[str, Any]:
    """The traces of one session in order."""
    traces = queries.session_traces(_rt(request).engine, session_id, project_id=who.project_id)
    return {"session_id": session_id, "traces": [_trace_summary(t) for t in traces]}


@router.get("/api/v1/aggregates", tags=["query"], response_model=AggregatesResponse, responses=QUERY_ERRORS)
def aggregates(
    request: Request,
    who: Annotated[Principal, requires(Permission.READ_METADATA)],
    dims: DimsDep,
    from_: FromQ = None,
    to: ToQ = None,
    kind: str | None = None,
    status: str | None = None,
    model: str | None = None,
    session_id: str | None = None,
    subject_id: str | None = None,
    tool: str | None = None,
    attr: AttrQ = None,
    group_by: Annotated[list[str] | None, Query(description="Dimensions to group by (up to 3); repeatable")] = None,
    bucket: Annotated[str, Query(description="Time bucket: 1m, 5m, 15m, 1h, 6h or 1d")] = "1h",
) -> dict[str, Any]:
    """Count, errors, latency percentiles, tokens and cost per time bucket, grouped by any dimensions."""
    flt = _filter(
        from_=from_,
        to=to,
        kind=kind,
        status=status,
        model=model,
        session_id=session_id,
        subject_id=subject_id,
        tool=tool,
        attr=attr,
        dims=dims.values,
    )
    groups = [g for item in (group_by or []) for g in item.split(",") if g]
    rows = queries.aggregate(_rt(request).engine, flt, group_by=groups, bucket=bucket, project_id=who.project_id)
    return {
        "bucket": bucket,
        "group_by": groups,
        "rows": [
            {
                "bucket_start_ns": r.bucket_start_ns,
                "group": r.group,
                "count": r.count,
                "errors": r.errors,
                "error_rate": round(r.errors / r.count, 6) if r.count else 0.0,
                "input_tokens": r.input_tokens,
                "output_tokens": r.output_tokens,
                "cached_tokens": r.cached_tokens,
                "cost_usd": r.cost_usd,
                "latency_ms": r.latency_ms,
            }
            for r in rows
        ],
    }


@router.get("/api/v1/dimensions", tags=["query"], dependencies=[requires(Permission.READ_METADATA)])
def dimensions() -> dict[str, list[str]]:
    """The dimensions spans can be filtered and grouped by."""
    return {"dimensions": sorted(queries.DIMENSIONS), "buckets": list(queries.BUCKETS_S)}

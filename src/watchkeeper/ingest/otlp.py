"""OTLP/HTTP trace exports (binary protobuf or OTLP/JSON) decoded into canonical spans.

``decode_otlp`` validates every span and maps the OpenTelemetry GenAI, MCP, OpenInference and OpenLLMetry attribute
conventions into canonical fields (docs/ingest-otlp-mapping.md is the table). One bad span rejects the whole request
with an ``InputError`` whose message names the field path, e.g.
``resourceSpans[0].scopeSpans[1].spans[3].spanId: must be 8 bytes (16 hex digits)``, and never a value.
"""

from __future__ import annotations

import time
from typing import Any

from google.protobuf import message  # type: ignore[import-untyped]  # no types-protobuf in the dependencies

from watchkeeper.errors import InputError, UnsupportedMediaType
from watchkeeper.ingest._otlp_json import decode_json
from watchkeeper.ingest._otlp_map import Event, ScopeContext, build_span, scope_context
from watchkeeper.ingest._otlp_values import (
    BadField,
    Cache,
    Limits,
    attrs_from_map,
    fast_request_class,
    new_cache,
    route_map,
)
from watchkeeper.ingest._otlp_wire import diagnose
from watchkeeper.records import Span

__all__ = ["JSON_MEDIA_TYPE", "PROTOBUF_MEDIA_TYPES", "decode_otlp"]

PROTOBUF_MEDIA_TYPES = frozenset({"application/x-protobuf", "application/protobuf"})
JSON_MEDIA_TYPE = "application/json"

_Z16 = bytes(16)
_Z8 = bytes(8)


def decode_otlp(
    body: bytes,
    content_type: str,
    *,
    max_string_chars: int = 1_000_000,
    max_depth: int = 32,
    now_ns: int | None = None,
    max_future_s: int = 3600,
) -> list[Span]:
    """The canonical spans of one OTLP/HTTP ``ExportTraceServiceRequest`` body (already decompressed).

    Raises ``UnsupportedMediaType`` for a content type other than protobuf or JSON, and ``InputError`` (HTTP 400)
    naming the field path and the rule for anything malformed; nothing of a rejected request should be stored.
    """
    media = content_type.partition(";")[0].strip().lower() if isinstance(content_type, str) else ""
    now = time.time_ns() if now_ns is None else now_ns
    size = len(body) if isinstance(body, bytes | bytearray) else max_string_chars + 1
    lim = Limits(max_string_chars, max_depth, now + max_future_s * 1_000_000_000, max_future_s, size > max_string_chars)
    if media in PROTOBUF_MEDIA_TYPES:
        return _decode_protobuf(body, lim)
    if media == JSON_MEDIA_TYPE:
        return decode_json(body, lim)
    raise UnsupportedMediaType(
        "Content-Type must be application/x-protobuf or application/json for OTLP/HTTP traces",
        field="Content-Type",
    )


def _bad(prefix: str, e: BadField) -> InputError:
    path = f"{prefix}.{e.field}" if e.field else prefix
    return InputError(f"{path}: {e.rule}", field=path)


def _decode_protobuf(body: bytes, lim: Limits) -> list[Span]:
    try:
        req: Any = fast_request_class().FromString(body)
    except message.DecodeError:
        path, rule = diagnose(bytes(body))
        raise InputError(f"{path}: {rule} (malformed protobuf)", field=path) from None
    except TypeError:
        raise InputError("body: must be bytes", field="body") from None
    spans: list[Span] = []
    cache = new_cache(lim)
    for ri, rs in enumerate(req.resource_spans):
        try:
            res_attrs = attrs_from_map(rs.resource.attributes, lim, cache)
        except BadField as e:
            raise _bad(f"resourceSpans[{ri}].resource", e) from None
        for si, ss in enumerate(rs.scope_spans):
            scope = ss.scope
            try:
                lim.check_str(scope.name, "name")
                lim.check_str(scope.version, "version")
                scope_attrs = attrs_from_map(scope.attributes, lim, cache) if scope.attributes else {}
            except BadField as e:
                raise _bad(f"resourceSpans[{ri}].scopeSpans[{si}].scope", e) from None
            ctx = scope_context(dict(res_attrs), scope.name, scope.version, scope_attrs)
            for pi, sp in enumerate(ss.spans):
                try:
                    spans.append(_span(sp, lim, cache, ctx))
                except BadField as e:
                    raise _bad(f"resourceSpans[{ri}].scopeSpans[{si}].spans[{pi}]", e) from None
    return spans


def _check_id(raw: bytes, field: str, size: int) -> str:
    if len(raw) != size:
        raise BadField(field, f"must be {size} bytes ({size * 2} hex digits)" if raw else "is required")
    if raw == (_Z16 if size == 16 else _Z8):
        raise BadField(field, "must not be all zeros")
    return raw.hex()


def _span(s: Any, lim: Limits, cache: Cache | None, ctx: ScopeContext) -> Span:
    """One span of the fast schema (see _otlp_values), validated and mapped."""
    trace_id = _check_id(s.trace_id, "traceId", 16)
    span_id = _check_id(s.span_id, "spanId", 8)
    pid: bytes = s.parent_span_id
    parent = None
    if pid:
        if len(pid) != 8:
            raise BadField("parentSpanId", "must be empty or 8 bytes (16 hex digits)")
        if pid != _Z8:
            parent = pid.hex()
    name: str = s.name
    lim.check_str(name, "name")
    start: int = s.start_time_unix_nano
    if not start:
        raise BadField("startTimeUnixNano", "is required")
    end: int = s.end_time_unix_nano or start
    if end < start:
        raise BadField("endTimeUnixNano", "must not be before startTimeUnixNano")
    if end > lim.max_time_ns:
        lim.check_time(start, "startTimeUnixNano")
        lim.check_time(end, "endTimeUnixNano")
    trace_state: str = s.trace_state
    lim.check_str(trace_state, "traceState")
    status = s.status
    status_message: str = status.message
    lim.check_str(status_message, "status.message")
    slots = route_map(s.attributes, lim, cache)

    events: list[Event] = []
    if s.events:
        for ei, ev in enumerate(s.events):
            try:
                lim.check_str(ev.name, "name")
                lim.check_time(ev.time_unix_nano, "timeUnixNano")
                events.append((ev.name, ev.time_unix_nano, attrs_from_map(ev.attributes, lim, cache)))
            except BadField as e:
                raise BadField(f"events[{ei}].{e.field}", e.rule) from None
    links: list[dict[str, object]] = []
    if s.links:
        for li, ln in enumerate(s.links):
            try:
                link: dict[str, object] = {
                    "trace_id": _check_id(ln.trace_id, "traceId", 16),
                    "span_id": _check_id(ln.span_id, "spanId", 8),
                }
                if ln.trace_state:
                    lim.check_str(ln.trace_state, "traceState")
                    link["trace_state"] = ln.trace_state
                if ln.attributes:
                    link["attributes"] = attrs_from_map(ln.attributes, lim, cache)
            except BadField as e:
                raise BadField(f"links[{li}].{e.field}", e.rule) from None
            links.append(link)
    return build_span(
        trace_id,
        span_id,
        parent,
        name,
        start,
        end,
        s.kind,
        status.code,
        status_message,
        trace_state,
        slots,
        events,
        links,
        ctx,
    )

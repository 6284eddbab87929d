"""The OTLP/JSON encoding of ``ExportTraceServiceRequest``, walked into the same shapes the protobuf path produces.

Per the OTLP specification (JSON Protobuf Encoding): keys are lowerCamelCase, ``traceId``/``spanId`` are hex
strings (case-insensitive), 64-bit integers may be numbers or decimal strings, enums are integers (their proto
names are accepted too), ``bytesValue`` is base64, and unknown fields are ignored.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from watchkeeper.errors import InputError
from watchkeeper.ingest._otlp_map import Event, ScopeContext, build_span, scope_context
from watchkeeper.ingest._otlp_routes import route_dict
from watchkeeper.ingest._otlp_values import BadField, Limits, key_path
from watchkeeper.records import Span

_HEX = frozenset("0123456789abcdefABCDEF")
_U64 = 1 << 64
_I64 = 1 << 63
_SPAN_KINDS = {
    "SPAN_KIND_UNSPECIFIED": 0,
    "SPAN_KIND_INTERNAL": 1,
    "SPAN_KIND_SERVER": 2,
    "SPAN_KIND_CLIENT": 3,
    "SPAN_KIND_PRODUCER": 4,
    "SPAN_KIND_CONSUMER": 5,
}
_STATUS_CODES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}
_SPECIAL_DOUBLES = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


def _safe_reason(text: str) -> str:
    """orjson's reason for a parse error, if it is plain words (it never echoes input, but be sure)."""
    reason = text.split(":", 1)[0]
    if len(reason) < 60 and all(c.isalpha() or c in " -'" for c in reason):
        return reason
    return "syntax error"


def decode_json(body: bytes, lim: Limits) -> list[Span]:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        if "UTF-8" in str(e):
            raise InputError("body: is not valid UTF-8", field="body") from None
        raise InputError(
            f"body: is not valid JSON ({_safe_reason(str(e))} at line {e.lineno}, column {e.colno})", field="body"
        ) from None
    except TypeError:
        raise InputError("body: must be bytes", field="body") from None
    if not isinstance(doc, dict):
        raise InputError("body: must be a JSON object (an OTLP ExportTraceServiceRequest)", field="body")
    spans: list[Span] = []
    try:
        rss = _arr(doc.get("resourceSpans"), "resourceSpans")
    except BadField as e:
        raise InputError(f"{e.field}: {e.rule}", field=e.field) from None
    for ri, rs in enumerate(rss):
        where = f"resourceSpans[{ri}]"
        try:
            rs = _obj(rs, "")
            resource = _obj(rs.get("resource"), "resource")
            res_attrs = _attrs(resource.get("attributes"), "resource.attributes", lim)
            sss = _arr(rs.get("scopeSpans"), "scopeSpans")
        except BadField as e:
            raise _bad(where, e) from None
        for si, ss in enumerate(sss):
            where = f"resourceSpans[{ri}].scopeSpans[{si}]"
            try:
                ss = _obj(ss, "")
                scope = _obj(ss.get("scope"), "scope")
                scope_name = _str(scope.get("name"), "scope.name", lim)
                scope_version = _str(scope.get("version"), "scope.version", lim)
                scope_attrs = _attrs(scope.get("attributes"), "scope.attributes", lim)
                items = _arr(ss.get("spans"), "spans")
            except BadField as e:
                raise _bad(where, e) from None
            ctx = scope_context(dict(res_attrs), scope_name, scope_version, scope_attrs)
            for pi, sp in enumerate(items):
                try:
                    spans.append(_span(sp, lim, ctx))
                except BadField as e:
                    raise _bad(f"{where}.spans[{pi}]", e) from None
    return spans


def _bad(prefix: str, e: BadField) -> InputError:
    path = f"{prefix}.{e.field}" if e.field else prefix
    return InputError(f"{path}: {e.rule}", field=path)


# ---------------------------------------------------------------------------------------------------------------
# Field readers: each names the field and the rule, never the value.


def _obj(v: Any, field: str) -> dict[str, Any]:
    if v is None:
        return {}
    if type(v) is not dict:
        raise BadField(field, "must be an object")
    return v


def _arr(v: Any, field: str) -> list[Any]:
    if v is None:
        return []
    if type(v) is not list:
        raise BadField(field, "must be an array")
    return v


def _str(v: Any, field: str, lim: Limits) -> str:
    if v is None:
        return ""
    if type(v) is not str:
        raise BadField(field, "must be a string")
    if len(v) > lim.max_string_chars:
        raise BadField(field, f"is longer than {lim.max_string_chars} characters")
    return v


def _u64(v: Any, field: str) -> int:
    if type(v) is int:
        n = v
    elif type(v) is str and v.isascii() and v.isdigit() and len(v) <= 20:
        n = int(v)
    elif v is None:
        return 0
    else:
        raise BadField(field, "must be an unsigned 64-bit integer (a number or a decimal string)")
    if not 0 <= n < _U64:
        raise BadField(field, "must be an unsigned 64-bit integer (a number or a decimal string)")
    return n


def _enum(v: Any, field: str, names: dict[str, int]) -> int:
    if v is None:
        return 0
    if type(v) is int:
        return v
    if type(v) is str and v in names:
        return names[v]
    raise BadField(field, "must be an integer enum value")


def _hex_id(v: Any, field: str, digits: int) -> str:
    if v is None or v == "":
        raise BadField(field, "is required")
    if type(v) is not str or len(v) != digits or not _HEX.issuperset(v):
        raise BadField(field, f"must be {digits} hex digits ({digits // 2} bytes)")
    if v.count("0") == digits:
        raise BadField(field, "must not be all zeros")
    return v.lower()


def _parent_id(v: Any) -> str | None:
    if v is None or v == "":
        return None
    if type(v) is not str or len(v) != 16 or not _HEX.issuperset(v):
        raise BadField("parentSpanId", "must be empty or 16 hex digits (8 bytes)")
    return None if v.count("0") == 16 else v.lower()  # an all-zero parent means "no parent"


def _any(v: Any, path: str, lim: Limits, depth: int) -> Any:
    """An OTLP/JSON AnyValue as plain Python."""
    if type(v) is not dict:
        raise BadField(path, "must be an AnyValue object")
    if "stringValue" in v:
        s = v["stringValue"]
        if type(s) is not str:
            raise BadField(path, "stringValue must be a string")
        if len(s) > lim.max_string_chars:
            raise BadField(path, f"is longer than {lim.max_string_chars} characters")
        return s
    if "intValue" in v:
        x = v["intValue"]
        if type(x) is str and 0 < len(x) <= 20 and x.isascii() and x.lstrip("-").isdigit():
            x = int(x)
        if type(x) is not int or not -_I64 <= x < _I64:
            raise BadField(path, "intValue must be a signed 64-bit integer (a number or a decimal string)")
        return x
    if "doubleValue" in v:
        x = v["doubleValue"]
        if type(x) is float:
            return x
        if type(x) is int:
            return float(x)
        if type(x) is str and x in _SPECIAL_DOUBLES:
            return _SPECIAL_DOUBLES[x]
        raise BadField(path, "doubleValue must be a number")
    if "boolValue" in v:
        x = v["boolValue"]
        if type(x) is not bool:
            raise BadField(path, "boolValue must be true or false")
        return x
    if "arrayValue" in v or "kvlistValue" in v:
        if depth >= lim.max_depth:
            raise BadField(path, f"is nested deeper than {lim.max_depth} levels of arrays and key-value lists")
        if "arrayValue" in v:
            values = _arr(_obj(v["arrayValue"], f"{path}.arrayValue").get("values"), f"{path}.arrayValue.values")
            return [_any(x, f"{path}[{i}]", lim, depth + 1) for i, x in enumerate(values)]
        values = _arr(_obj(v["kvlistValue"], f"{path}.kvlistValue").get("values"), f"{path}.kvlistValue.values")
        return _kvs(values, path, lim, depth + 1)
    if "bytesValue" in v:
        x = v["bytesValue"]
        if type(x) is not str:
            raise BadField(path, "bytesValue must be a base64 string")
        # proto3 JSON accepts standard or URL-safe base64, padded or not; store the standard padded form.
        x = x.replace("-", "+").replace("_", "/")
        try:
            raw = base64.b64decode(x + "=" * (-len(x) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise BadField(path, "bytesValue must be a base64 string") from None
        if len(raw) > lim.max_string_chars:
            raise BadField(path, f"is longer than {lim.max_string_chars} bytes")
        return base64.b64encode(raw).decode("ascii")
    return None  # an empty AnyValue (or only unknown fields)


def _kvs(items: list[Any], container: str, lim: Limits, depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    maxc = lim.max_string_chars
    for i, kv in enumerate(items):
        if type(kv) is not dict:
            raise BadField(f"{container}[{i}]", "must be an object with key and value")
        k = kv.get("key")
        if type(k) is not str:
            raise BadField(f"{container}[{i}].key", "must be a string")
        if len(k) > maxc:
            raise BadField(f"{container}[{i}].key", f"is longer than {maxc} characters")
        v = kv.get("value")
        out[k] = None if v is None else _any(v, key_path(container, k), lim, depth)
    return out


def _attrs(v: Any, field: str, lim: Limits) -> dict[str, Any]:
    return {} if v is None else _kvs(_arr(v, field), field, lim, 0)


def _span(d: Any, lim: Limits, ctx: ScopeContext) -> Span:
    d = _obj(d, "")
    trace_id = _hex_id(d.get("traceId"), "traceId", 32)
    span_id = _hex_id(d.get("spanId"), "spanId", 16)
    parent = _parent_id(d.get("parentSpanId"))
    name = _str(d.get("name"), "name", lim)
    start = _u64(d.get("startTimeUnixNano"), "startTimeUnixNano")
    if not start:
        raise BadField("startTimeUnixNano", "is required")
    end = _u64(d.get("endTimeUnixNano"), "endTimeUnixNano") or start
    if end < start:
        raise BadField("endTimeUnixNano", "must not be before startTimeUnixNano")
    lim.check_time(start, "startTimeUnixNano")
    lim.check_time(end, "endTimeUnixNano")
    kind = _enum(d.get("kind"), "kind", _SPAN_KINDS)
    status = _obj(d.get("status"), "status")
    code = _enum(status.get("code"), "status.code", _STATUS_CODES)
    status_message = _str(status.get("message"), "status.message", lim)
    trace_state = _str(d.get("traceState"), "traceState", lim)
    attrs = _attrs(d.get("attributes"), "attributes", lim)

    events: list[Event] = []
    for ei, ev in enumerate(_arr(d.get("events"), "events")):
        where = f"events[{ei}]"
        ev = _obj(ev, where)
        t = _u64(ev.get("timeUnixNano"), f"{where}.timeUnixNano")
        lim.check_time(t, f"{where}.timeUnixNano")
        events.append(
            (_str(ev.get("name"), f"{where}.name", lim), t, _attrs(ev.get("attributes"), f"{where}.attributes", lim))
        )
    links: list[dict[str, Any]] = []
    for li, ln in enumerate(_arr(d.get("links"), "links")):
        where = f"links[{li}]"
        ln = _obj(ln, where)
        link: dict[str, Any] = {
            "trace_id": _hex_id(ln.get("traceId"), f"{where}.traceId", 32),
            "span_id": _hex_id(ln.get("spanId"), f"{where}.spanId", 16),
        }
        ts = _str(ln.get("traceState"), f"{where}.traceState", lim)
        if ts:
            link["trace_state"] = ts
        la = _attrs(ln.get("attributes"), f"{where}.attributes", lim)
        if la:
            link["attributes"] = la
        links.append(link)
    return build_span(
        trace_id,
        span_id,
        parent,
        name,
        start,
        end,
        kind,
        code,
        status_message,
        trace_state,
        route_dict(attrs),
        events,
        links,
        ctx,
    )

"""One decoded OTLP span (ids, times, plain-Python attributes, events) into a canonical ``Span``.

Conventions read: OpenTelemetry GenAI (``gen_ai.*``, current and older names), MCP (``mcp.*``, JSON-RPC),
OpenInference (``openinference.span.kind``, ``llm.*``, ``tool.*``, ``input.value``...), OpenLLMetry/Traceloop
(``traceloop.*``, ``llm.usage.*``, ``gen_ai.prompt.{i}.*``) and Watchkeeper's own cohort attributes
(``watchkeeper.*``). Which name feeds which field is the table in ``_otlp_routes``.

Rules:
* One pass routes every known attribute into a slot; where several names feed one slot, the higher-priority name
  wins, a loser with the same value is dropped as a duplicate and one with a different value stays an attribute.
* An attribute whose value does not fit its field (wrong type) stays in ``Span.attributes`` as sent; the request is
  not rejected for it: instrumentations disagree on types, and nothing is lost this way.
* A slot that ends up unused (e.g. ``server.address`` on a span that is not an MCP call) goes back to the attributes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from watchkeeper.ingest import _otlp_messages as msgs
from watchkeeper.ingest._otlp_routes import (
    F_LLM,
    F_MCP,
    F_TOOL,
    F_WK,
    OI_KIND,
    OP_KIND,
    OTEL_SPAN_KIND,
    RESOURCE_SLOTS,
    TL_KIND,
    TL_REQUEST,
    Slots,
    route_more,
    to_jsonrpc_code,
)
from watchkeeper.records import Account, LLMCall, Message, Span, SpanError, SpanKind, Status, ToolCall, Versions

Event = tuple[str, int, dict[str, Any]]  # (name, time_unix_nano, attributes)

_DETAILS_EVENT = "gen_ai.client.inference.operation.details"


@dataclass(slots=True)
class ScopeContext:
    """What every span of one ResourceSpans/ScopeSpans shares; built once per scope, not per span."""

    service_name: str | None = None
    base_attributes: dict[str, Any] = field(default_factory=dict)  # resource.* and otel.scope.*
    resource_slots: dict[str, Any] = field(default_factory=dict)  # watchkeeper.* cohort values set on the resource


def scope_context(
    resource_attrs: dict[str, Any], scope_name: str, scope_version: str, scope_attrs: dict[str, Any]
) -> ScopeContext:
    """What spans of one scope share. ``resource_attrs`` is consumed: pass a copy per scope."""
    service = resource_attrs.get("service.name")
    if type(service) is str and service:
        del resource_attrs["service.name"]
    else:
        service = None
    slots: dict[str, Any] = {}
    for key in RESOURCE_SLOTS.keys() & resource_attrs.keys():
        slot, conv = RESOURCE_SLOTS[key]
        v = conv(resource_attrs[key]) if conv is not None else resource_attrs[key]
        if v is not None:
            slots[slot] = v
            del resource_attrs[key]
    base = {"resource." + k: v for k, v in resource_attrs.items()}
    if scope_name:
        base["otel.scope.name"] = scope_name
    if scope_version:
        base["otel.scope.version"] = scope_version
    if scope_attrs:
        base["otel.scope.attributes"] = scope_attrs
    return ScopeContext(service_name=service, base_attributes=base, resource_slots=slots)


_MISSING: Any = object()
_JSON = "<json>"


def _take_io(vals: dict[str, Any], *sources: tuple[str, str | None]) -> Any:
    """The first present (value slot, MIME slot) source, popped and decoded; ``_MISSING`` if none is present.

    A value whose MIME type is application/json is parsed. A MIME slot is used up only when the decoded value says
    all it said (JSON parsed, or text/plain). Without a MIME slot, a value that looks like a JSON object or array is
    parsed; with ``_JSON`` instead, the value is JSON text whatever it holds.
    """
    for slot, mime_slot in sources:
        v = vals.pop(slot, _MISSING)
        if v is _MISSING:
            continue
        if mime_slot is None:
            return msgs.maybe_json(v)
        if mime_slot == _JSON:  # always JSON text (OpenLLMetry's traceloop.entity.*), even a plain string
            return msgs.json_text(v)
        mime = vals.get(mime_slot)
        if mime is not None and type(v) is str:
            if mime.startswith("application/json"):
                try:
                    parsed = orjson.loads(v)
                except orjson.JSONDecodeError:
                    return v
                del vals[mime_slot]
                return parsed
            if mime.startswith("text/plain"):
                del vals[mime_slot]
        return v
    return _MISSING


def _kind(vals: dict[str, Any], flags: int) -> tuple[SpanKind, tuple[SpanKind, str] | None]:
    """The span kind, and OpenLLMetry's (kind, operation) from llm.request.type if it was recognised."""
    kind: SpanKind | None = None
    op = vals.get("operation")
    if op is not None:
        kind = OP_KIND.get(op)
    oi = vals.get("oi_kind")
    oi_kind = OI_KIND.get(oi.upper()) if oi is not None else None
    if kind is None and oi_kind is not None:
        kind = oi_kind[0]
    if kind is None and "mcp_method" in vals:
        kind = SpanKind.MCP
    tl = vals.get("tl_kind")
    tl_kind = TL_KIND.get(tl) if tl is not None else None
    if kind is None and tl_kind is not None:
        kind = tl_kind[0]
    lrt = vals.get("tl_request")
    tl_req = TL_REQUEST.get(lrt) if lrt is not None else None
    if kind is None and tl_req is not None:
        kind = tl_req[0]
    if kind is None:
        has_model = "request_model" in vals or "response_model" in vals or "oi_model" in vals
        kind = SpanKind.LLM if has_model else SpanKind.UNKNOWN
    if kind is SpanKind.TOOL and flags & F_MCP:
        kind = SpanKind.MCP
    base = SpanKind.TOOL if kind is SpanKind.MCP else kind
    # A kind attribute is used up only when the canonical kind says all it said.
    if oi_kind is not None and oi_kind[1] and oi_kind[0] is base:
        del vals["oi_kind"]
    if tl_kind is not None and tl_kind[1] and tl_kind[0] is base:
        del vals["tl_kind"]
    if base is SpanKind.TOOL and op == "execute_tool":
        del vals["operation"]
    return kind, tl_req


def _take_messages(vals: dict[str, Any], slot: str, role: str, reasons: list[str]) -> list[Message] | None:
    v = vals.get(slot, _MISSING)
    if v is _MISSING:
        return None
    got = msgs.message_list(v, role)
    if got is None:
        return None
    messages, rs, complete = got
    reasons.extend(rs)
    if complete:  # otherwise the attribute stays too, so blobs and custom parts are not lost
        del vals[slot]
    return messages


def _flat(attrs: dict[str, Any], families: set[str], output: bool, reasons: list[str]) -> list[Message] | None:
    """Messages from a flattened, indexed family (OpenInference, OpenLLMetry); used keys leave ``attrs``."""
    used: list[str]
    if not output and "llm.input_messages." in families:
        out, used = msgs.openinference_messages(attrs, "llm.input_messages.", "user")
    elif output and "llm.output_messages." in families:
        out, used = msgs.openinference_messages(attrs, "llm.output_messages.", "assistant")
    elif not output and "gen_ai.prompt." in families:
        out, _, used = msgs.indexed_messages(attrs, "gen_ai.prompt.", "user")
    elif output and "gen_ai.completion." in families:
        out, rs, used = msgs.indexed_messages(attrs, "gen_ai.completion.", "assistant")
        reasons.extend(rs)
    elif not output and "llm.prompts." in families:
        out, used = msgs.text_list(attrs, "llm.prompts.", "prompt.text", "user")
    elif output and "llm.choices." in families:
        out, used = msgs.text_list(attrs, "llm.choices.", "completion.text", "assistant")
    else:
        return None
    for k in used:
        attrs.pop(k, None)
    return out or None


def _llm(
    s: Slots,
    events: list[Event],
    used_events: set[int],
    families: set[str],
    tl_req: tuple[SpanKind, str] | None,
) -> LLMCall:
    vals = s.vals
    pop = vals.pop
    c = LLMCall(provider=pop("provider", None), request_model=pop("request_model", None))
    op = vals.get("operation")
    if op is not None:
        c.operation = op
        del vals["operation"]
    elif tl_req is not None:
        c.operation = tl_req[1]
        del vals["tl_request"]
    c.response_model = pop("response_model", None)
    oi = vals.get("oi_model")
    if oi is not None:  # OpenInference's one model name: the response model, else the requested one
        used = c.request_model is None or c.response_model is None
        c.request_model = c.request_model or oi
        c.response_model = c.response_model or oi
        if used or oi == c.request_model or oi == c.response_model:
            del vals["oi_model"]

    reasons: list[str] = []
    inp = _take_messages(vals, "input_messages", "user", reasons) if "input_messages" in vals else None
    if "system_instructions" in vals:
        got = msgs.system_instructions(vals["system_instructions"])
        if got is not None:
            if got[1]:
                del vals["system_instructions"]
            inp = [got[0], *(inp or [])]
    out = _take_messages(vals, "output_messages", "assistant", reasons) if "output_messages" in vals else None
    if inp is None and "legacy_prompt" in vals:
        inp = _take_messages(vals, "legacy_prompt", "user", reasons)
    if out is None and "legacy_completion" in vals:
        out = _take_messages(vals, "legacy_completion", "assistant", reasons)
    if families:
        if inp is None:
            inp = _flat(s.attrs, families, False, reasons)
        if out is None:
            out = _flat(s.attrs, families, True, reasons)
    if events and (inp is None or out is None):
        ev_in, ev_out, ev_reasons, used_in, used_out = msgs.event_messages(events)
        if inp is None and ev_in:
            inp = ev_in
            used_events |= used_in
        if out is None and ev_out:
            out = ev_out
            reasons.extend(ev_reasons)
            used_events |= used_out
    if inp:
        c.input_messages = inp
    if out:
        c.output_messages = out
    fr = pop("finish_reasons", None)
    c.finish_reasons = fr if fr is not None else reasons

    if "invocation_parameters" in vals:
        d = msgs.maybe_json(vals["invocation_parameters"])
        if type(d) is dict:
            for k, x in d.items():
                s.params.setdefault(k, x)
            del vals["invocation_parameters"]
    c.parameters = s.params

    u = c.usage
    u.input_tokens = pop("input_tokens", None)
    u.output_tokens = pop("output_tokens", None)
    u.cached_input_tokens = pop("cached_tokens", None)
    u.reasoning_tokens = pop("reasoning_tokens", None)
    if "total_tokens" in vals and vals["total_tokens"] == u.total_tokens:
        del vals["total_tokens"]  # derived; kept as an attribute only when it disagrees
    c.cost_usd = pop("cost_usd", None)
    c.response_id = pop("response_id", None)
    return c


def _tool(vals: dict[str, Any], kind: SpanKind, tool_like: bool) -> ToolCall:
    pop = vals.pop
    t = ToolCall(name=pop("tool_name", None), call_id=pop("tool_call_id", None))
    args = _take_io(vals, ("tool_args", None))
    result = _take_io(vals, ("tool_result", None))
    if tool_like:
        if args is _MISSING:
            args = _take_io(
                vals,
                ("input_value", "input_mime"),
                ("tool_parameters", None),
                ("tl_input", _JSON),
                ("mcp_request", None),
            )
        if result is _MISSING:
            result = _take_io(vals, ("output_value", "output_mime"), ("tl_output", _JSON), ("mcp_response", None))
        if t.name is None:
            t.name = pop("tl_entity_name", None)
    if args is not _MISSING:
        t.arguments = args
    if result is not _MISSING:
        t.result = result
    t.jsonrpc_method = pop("mcp_method", None)
    t.jsonrpc_error_code = pop("jsonrpc_error", None)
    t.http_status = pop("http_status", None)
    if kind is SpanKind.MCP:
        addr = pop("server_address", None)
        if addr is not None and "server_port" in vals:
            addr = f"{addr}:{pop('server_port')}"
        t.mcp_server = addr
        if t.call_id is None:
            t.call_id = pop("jsonrpc_request_id", None)
    if type(t.result) is dict and type(t.result.get("isError")) is bool:
        t.is_error = t.result["isError"]  # MCP CallToolResult
    return t


def _error(status_message: str, vals: dict[str, Any], events: list[Event], used_events: set[int]) -> SpanError:
    error = SpanError(type=vals.pop("error_type", None), message=status_message or None)
    if events and (error.type is None or error.message is None):
        for i, (ename, _, eattrs) in enumerate(events):
            if ename == "exception":  # the first recorded exception; its other attributes stay with the event
                if error.type is None and type(eattrs.get("exception.type")) is str:
                    error.type = eattrs.pop("exception.type")
                if error.message is None and type(eattrs.get("exception.message")) is str:
                    error.message = eattrs.pop("exception.message")
                if not eattrs:
                    used_events.add(i)
                break
    return error


def build_span(
    trace_id: str,
    span_id: str,
    parent_span_id: str | None,
    name: str,
    start: int,
    end: int,
    otel_kind: int,
    status_code: int,
    status_message: str,
    trace_state: str,
    s: Slots,
    events: list[Event],
    links: list[dict[str, Any]],
    ctx: ScopeContext,
) -> Span:
    """A canonical span from one decoded OTLP span: its routed attributes ``s`` and its events (both consumed)."""
    used_events: set[int] = set()
    if events:
        for i, (ename, _, eattrs) in enumerate(events):
            if ename == _DETAILS_EVENT:  # the newer GenAI event carries span attributes; the span's own win
                route_more(s, eattrs)
                used_events.add(i)
    attrs, vals, flags, families = s.attrs, s.vals, s.flags, s.families
    kind, tl_req = _kind(vals, flags) if vals else (SpanKind.UNKNOWN, None)
    tool_like = kind is SpanKind.TOOL or kind is SpanKind.MCP

    llm = None
    if (
        flags & F_LLM
        or kind is SpanKind.LLM
        or kind is SpanKind.EMBEDDING
        or families
        or (events and any(e[0] in msgs.MESSAGE_EVENTS for e in events))
    ):
        llm = _llm(s, events, used_events, families, tl_req)  # parameters route with F_LLM: all used here
    tool = _tool(vals, kind, tool_like) if tool_like or flags & F_TOOL else None
    span_input = span_output = _MISSING
    if "input_value" in vals or "tl_input" in vals:
        span_input = _take_io(vals, ("input_value", "input_mime"), ("tl_input", _JSON))
    if "output_value" in vals or "tl_output" in vals:
        span_output = _take_io(vals, ("output_value", "output_mime"), ("tl_output", _JSON))

    status = Status.ERROR if status_code == 2 else Status.OK if status_code == 1 else Status.UNSET
    error_type = vals.get("error_type")
    if error_type is not None and status is Status.UNSET:
        status = Status.ERROR  # semconv: error.type is set if and only if the operation failed
    error = None
    if status is Status.ERROR:
        error = _error(status_message, vals, events, used_events)
        http = tool.http_status if tool is not None else vals.get("http_status")
        if tool is not None and tool.jsonrpc_error_code is not None:
            error.code = str(tool.jsonrpc_error_code)
        elif http is not None and http >= 400:
            error.code = str(http)
    elif status_message:
        attrs["otel.status_message"] = status_message
    if tool is not None:
        if kind is SpanKind.MCP and tool.jsonrpc_error_code is None and error_type is not None:
            tool.jsonrpc_error_code = to_jsonrpc_code(error_type)  # MCP: error.type is the JSON-RPC code
        if tool.is_error is None and (error_type == "tool_error" or status is Status.ERROR):
            tool.is_error = True

    account = Account()
    versions = Versions()
    session_id = subject_id = None
    if vals:
        pop = vals.pop
        session_id = pop("session", None) or pop("mcp_session", None)
        subject_id = pop("subject", None)
        if flags & F_WK:
            account = Account(
                created_at_ns=pop("created_at_ns", None),
                plan_tier=pop("plan_tier", None),
                region=pop("region", None),
                locale=pop("locale", None),
                client_name=pop("client_name", None),
                client_version=pop("client_version", None),
            )
            versions = Versions(
                model=pop("version_model", None), prompt=pop("version_prompt", None), skill=pop("version_skill", None)
            )
        if "metadata" in vals and type(vals["metadata"]) is str:
            meta = msgs.maybe_json(vals["metadata"])  # OpenInference sends a JSON string; keep it queryable
            if type(meta) is dict:
                del vals["metadata"]
                attrs["metadata"] = meta
        s.restore_unused()
    rs = ctx.resource_slots
    if rs:
        _resource_fallback(account, versions, rs)

    if ctx.base_attributes:
        out = ctx.base_attributes.copy()
        out.update(attrs)
    else:
        out = attrs
    if otel_kind:
        out["otel.span.kind"] = OTEL_SPAN_KIND.get(otel_kind, str(otel_kind))
    if trace_state:
        out["otel.trace_state"] = trace_state
    if events and len(used_events) < len(events):
        out["otel.events"] = [
            {"name": n, "time_unix_nano": t, "attributes": a}
            for i, (n, t, a) in enumerate(events)
            if i not in used_events
        ]
    if links:
        out["otel.links"] = links
    return Span(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent_span_id,
        name=name,
        start_time_ns=start,
        end_time_ns=end,
        kind=kind,
        status=status,
        error=error,
        llm=llm,
        tool=tool,
        input=None if span_input is _MISSING else span_input,
        output=None if span_output is _MISSING else span_output,
        session_id=session_id,
        subject_id=subject_id,
        account=account,
        versions=versions,
        service_name=ctx.service_name,
        attributes=out,
        source="otlp",
    )


def _resource_fallback(account: Account, versions: Versions, rs: dict[str, Any]) -> None:
    """Cohort values set on the resource fill what the span did not set itself."""
    for slot, v in rs.items():
        if slot.startswith("version_"):
            attr = slot[8:]
            if getattr(versions, attr) is None:
                setattr(versions, attr, v)
        elif getattr(account, slot) is None:
            setattr(account, slot, v)

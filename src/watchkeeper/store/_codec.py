"""Rows from records and records from rows (content packing lives in ``watchkeeper.content``).

An empty part (an ``llm``, ``tool`` or ``error`` with no field set) is stored as no part: it reads back as None.
"""

from __future__ import annotations

from typing import Any

from .._attributes import dump_attributes, load_attributes
from ..content import ContentOpener, record_aad, unpack_content
from ..records import (
    Account,
    Feedback,
    FeedbackKind,
    LLMCall,
    Message,
    Span,
    SpanError,
    SpanKind,
    Status,
    TokenUsage,
    ToolCall,
    ToolCallRequest,
    Versions,
)


def _unmsg(d: dict[str, Any]) -> Message:
    return Message(
        role=d.get("role", "unknown"),
        content=d.get("content"),
        name=d.get("name"),
        tool_call_id=d.get("tool_call_id"),
        tool_calls=[
            ToolCallRequest(name=t.get("name") or "", id=t.get("id"), arguments=t.get("arguments"))
            for t in d.get("tool_calls", ())
        ],
    )


def _b(hex_id: str | None) -> bytes | None:
    return None if hex_id is None else bytes.fromhex(hex_id)


def span_row(s: Span, project_id: int, ingested_ns: int, payload: bytes | None) -> dict[str, Any]:
    """The ``spans`` row of a record; ``payload`` is the already-encoded content blob."""
    llm, tool, acc, ver, err = s.llm, s.tool, s.account, s.versions, s.error
    return {
        "project_id": project_id,
        "trace_id": bytes.fromhex(s.trace_id),
        "span_id": bytes.fromhex(s.span_id),
        "parent_span_id": _b(s.parent_span_id),
        "name": s.name,
        "kind": s.kind.value,
        "status": s.status.value,
        "start_ns": s.start_time_ns,
        "end_ns": s.end_time_ns,
        "error_type": err.type if err else None,
        "error_code": err.code if err else None,
        "provider": llm.provider if llm else None,
        "request_model": llm.request_model if llm else None,
        "response_model": llm.response_model if llm else None,
        "input_tokens": llm.usage.input_tokens if llm else None,
        "output_tokens": llm.usage.output_tokens if llm else None,
        "cached_tokens": llm.usage.cached_input_tokens if llm else None,
        "cost_usd": llm.cost_usd if llm else None,
        "finish_reason": llm.finish_reasons[0] if llm and llm.finish_reasons else None,
        "tool_name": tool.name if tool else None,
        "mcp_server": tool.mcp_server if tool else None,
        "jsonrpc_method": tool.jsonrpc_method if tool else None,
        "tool_is_error": tool.is_error if tool else None,
        "jsonrpc_error_code": tool.jsonrpc_error_code if tool else None,
        "session_id": s.session_id,
        "subject_id": s.subject_id,
        "account_created_ns": acc.created_at_ns,
        "plan_tier": acc.plan_tier,
        "region": acc.region,
        "client_name": acc.client_name,
        "client_version": acc.client_version,
        "locale": acc.locale,
        "model_version": ver.model,
        "prompt_version": ver.prompt,
        "skill_version": ver.skill,
        "service_name": s.service_name,
        "source": s.source,
        "schema_version": s.schema_version,
        "attributes": dump_attributes(s.attributes),
        "payload": payload,
        "ingested_ns": ingested_ns,
        "log_index": None,  # set by the log's sequencer (trust/log.py) after the commit
        "payload_sha256": None,
    }


def span_from_row(r: Any, *, with_payload: bool = True, opener: ContentOpener | None = None) -> Span:
    """A span record from a ``spans`` row (a SQLAlchemy Row or mapping); ``opener`` opens sealed content."""
    m = r._mapping if hasattr(r, "_mapping") else r
    p: dict[str, Any] = {}
    if with_payload and m.get("payload"):
        aad = record_aad(m["project_id"], "span", f"{m['trace_id'].hex()}:{m['span_id'].hex()}")
        p = unpack_content(m["payload"], opener, aad)
    kind = SpanKind(m["kind"])
    llm = None
    llm_cols = (
        "provider",
        "request_model",
        "response_model",
        "input_tokens",
        "output_tokens",
        "cached_tokens",
        "cost_usd",
        "finish_reason",
    )
    if any(m[c] is not None for c in llm_cols) or any(k in p for k in ("in", "out", "params", "rid", "op", "rt")):
        finish = p.get("finish") or ([m["finish_reason"]] if m["finish_reason"] else [])
        llm = LLMCall(
            provider=m["provider"],
            operation=p.get("op"),
            request_model=m["request_model"],
            response_model=m["response_model"],
            input_messages=[_unmsg(x) for x in p.get("in", ())],
            output_messages=[_unmsg(x) for x in p.get("out", ())],
            finish_reasons=finish,
            parameters=p.get("params", {}),
            usage=TokenUsage(
                input_tokens=m["input_tokens"],
                output_tokens=m["output_tokens"],
                cached_input_tokens=m["cached_tokens"],
                reasoning_tokens=p.get("rt"),
            ),
            cost_usd=m["cost_usd"],
            response_id=p.get("rid"),
        )
    tool = None
    tool_cols = ("tool_name", "mcp_server", "jsonrpc_method", "tool_is_error", "jsonrpc_error_code")
    if any(m[c] is not None for c in tool_cols) or any(k in p for k in ("args", "result", "call_id", "http")):
        tool = ToolCall(
            name=m["tool_name"],
            call_id=p.get("call_id"),
            arguments=p.get("args"),
            result=p.get("result"),
            is_error=m["tool_is_error"],
            mcp_server=m["mcp_server"],
            jsonrpc_method=m["jsonrpc_method"],
            jsonrpc_error_code=m["jsonrpc_error_code"],
            http_status=p.get("http"),
        )
    err = None
    if m["error_type"] is not None or m["error_code"] is not None or "err" in p:
        err = SpanError(type=m["error_type"], code=m["error_code"], message=p.get("err"))
    return Span(
        trace_id=m["trace_id"].hex(),
        span_id=m["span_id"].hex(),
        parent_span_id=m["parent_span_id"].hex() if m["parent_span_id"] is not None else None,
        name=m["name"],
        kind=kind,
        start_time_ns=m["start_ns"],
        end_time_ns=m["end_ns"],
        status=Status(m["status"]),
        error=err,
        llm=llm,
        tool=tool,
        input=p.get("input"),
        output=p.get("output"),
        session_id=m["session_id"],
        subject_id=m["subject_id"],
        account=Account(
            created_at_ns=m["account_created_ns"],
            plan_tier=m["plan_tier"],
            region=m["region"],
            client_name=m["client_name"],
            client_version=m["client_version"],
            locale=m["locale"],
        ),
        versions=Versions(model=m["model_version"], prompt=m["prompt_version"], skill=m["skill_version"]),
        service_name=m["service_name"],
        attributes=load_attributes(m["attributes"]),
        source=m["source"],
        schema_version=m["schema_version"],
    )


def feedback_row(f: Feedback, project_id: int, ingested_ns: int, payload: bytes | None) -> dict[str, Any]:
    """The ``feedback`` row of a record; ``payload`` is the already-encoded content blob."""
    score: float | None = None
    if f.kind in (FeedbackKind.THUMBS, FeedbackKind.SCORE) and isinstance(f.value, int | float):
        score = float(f.value)
    return {
        "project_id": project_id,
        "feedback_id": f.id,
        "trace_id": bytes.fromhex(f.trace_id),
        "span_id": _b(f.span_id),
        "kind": f.kind.value,
        "time_ns": f.time_ns,
        "score": score,
        "session_id": f.session_id,
        "subject_id": f.subject_id,
        "source": f.source,
        "schema_version": f.schema_version,
        "payload": payload,
        "ingested_ns": ingested_ns,
    }


def feedback_from_row(r: Any, opener: ContentOpener | None = None, *, with_payload: bool = True) -> Feedback:
    m = r._mapping if hasattr(r, "_mapping") else r
    p: dict[str, Any] = {}
    if with_payload:
        p = unpack_content(m["payload"], opener, record_aad(m["project_id"], "feedback", m["feedback_id"]))
    kind = FeedbackKind(m["kind"])
    value: Any = p.get("value")
    if m["score"] is not None:
        value = int(m["score"]) if kind is FeedbackKind.THUMBS else m["score"]
    return Feedback(
        id=m["feedback_id"],
        trace_id=m["trace_id"].hex(),
        span_id=m["span_id"].hex() if m["span_id"] is not None else None,
        kind=kind,
        time_ns=m["time_ns"],
        value=value,
        comment=p.get("comment"),
        session_id=m["session_id"],
        subject_id=m["subject_id"],
        source=m["source"],
        schema_version=m["schema_version"],
    )

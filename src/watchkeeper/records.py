"""Canonical records: the one shape every source is decoded into.

Every ingest path (OTLP, the JSON batch API, the Python SDK, replay) produces these types; nothing downstream knows
where a record came from except its ``source`` field. The JSON form of a record (``to_dict`` / ``span_from_dict``)
is also the native wire format of ``POST /api/v1/ingest`` and of ``watchkeeper export``.

Schema history:
  v0  flat LLM-call records (``model``, ``prompt``, ``completion``, ``tokens_in``/``tokens_out``, ISO times),
      written by pre-release SDKs; upcast by :func:`upcast`.
  v1  spans with kinds, nested ``llm`` / ``tool`` parts, context and versions (current).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

SCHEMA_VERSION = 1

# JSON-like value as stored for arguments, results and attributes.
Json = Any


class SpanKind(enum.StrEnum):
    """What a span did. One name per idea across code, API, UI and docs."""

    LLM = "llm"
    TOOL = "tool"
    MCP = "mcp"
    RETRIEVAL = "retrieval"
    EMBEDDING = "embedding"
    AGENT = "agent"
    CHAIN = "chain"
    GUARDRAIL = "guardrail"
    EVALUATOR = "evaluator"
    UNKNOWN = "unknown"


class Status(enum.StrEnum):
    UNSET = "unset"
    OK = "ok"
    ERROR = "error"


class FeedbackKind(enum.StrEnum):
    THUMBS = "thumbs"  # value: +1 or -1
    CORRECTION = "correction"  # the user corrected the answer; value: optional text
    ESCALATION = "escalation"  # handed over to a human; value: optional reason
    SCORE = "score"  # numeric score in [0, 1] from a person or verifier
    COMMENT = "comment"


class RecordError(ValueError):
    """A record is not well-formed. ``field`` names the path, ``rule`` what was wrong; never the value."""

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule


@dataclass(slots=True)
class ToolCallRequest:
    """A tool call the model asked for in its output (not yet executed)."""

    name: str
    id: str | None = None
    arguments: Json = None


@dataclass(slots=True)
class Message:
    role: str
    content: str | None = None
    name: str | None = None
    tool_call_id: str | None = None
    tool_calls: list[ToolCallRequest] = field(default_factory=list)


@dataclass(slots=True)
class TokenUsage:
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_input_tokens: int | None = None
    reasoning_tokens: int | None = None

    @property
    def total_tokens(self) -> int | None:
        if self.input_tokens is None and self.output_tokens is None:
            return None
        return (self.input_tokens or 0) + (self.output_tokens or 0)


@dataclass(slots=True)
class LLMCall:
    """The model-facing part of an ``llm`` (or ``embedding``) span."""

    provider: str | None = None
    operation: str | None = None  # chat, text_completion, embeddings, ...
    request_model: str | None = None
    response_model: str | None = None
    input_messages: list[Message] = field(default_factory=list)
    output_messages: list[Message] = field(default_factory=list)
    finish_reasons: list[str] = field(default_factory=list)
    parameters: dict[str, Json] = field(default_factory=dict)  # temperature, max_tokens, top_p, ...
    usage: TokenUsage = field(default_factory=TokenUsage)
    cost_usd: float | None = None
    response_id: str | None = None


@dataclass(slots=True)
class ToolCall:
    """The executed tool part of a ``tool`` or ``mcp`` span: what was sent, what came back."""

    name: str | None = None
    call_id: str | None = None
    arguments: Json = None
    result: Json = None
    is_error: bool | None = None
    mcp_server: str | None = None
    jsonrpc_method: str | None = None  # e.g. tools/call
    jsonrpc_error_code: int | None = None
    http_status: int | None = None


@dataclass(slots=True)
class SpanError:
    type: str | None = None
    code: str | None = None
    message: str | None = None


@dataclass(slots=True)
class Account:
    """Attributes of the end-user's account, used to slice traffic into cohorts."""

    created_at_ns: int | None = None
    plan_tier: str | None = None
    region: str | None = None
    client_name: str | None = None
    client_version: str | None = None
    locale: str | None = None


@dataclass(slots=True)
class Versions:
    """Which versions served the request."""

    model: str | None = None
    prompt: str | None = None
    skill: str | None = None


@dataclass(slots=True)
class Span:
    trace_id: str  # 32 lowercase hex digits
    span_id: str  # 16 lowercase hex digits
    name: str
    start_time_ns: int
    end_time_ns: int
    kind: SpanKind = SpanKind.UNKNOWN
    parent_span_id: str | None = None
    status: Status = Status.UNSET
    error: SpanError | None = None
    llm: LLMCall | None = None
    tool: ToolCall | None = None
    input: Json = None  # generic input of chain/agent/retrieval spans
    output: Json = None
    session_id: str | None = None
    subject_id: str | None = None  # pseudonymous end-user id
    account: Account = field(default_factory=Account)
    versions: Versions = field(default_factory=Versions)
    service_name: str | None = None
    attributes: dict[str, Json] = field(default_factory=dict)  # everything not mapped, kept as sent
    source: str = "api"
    schema_version: int = SCHEMA_VERSION

    @property
    def duration_ms(self) -> float:
        return (self.end_time_ns - self.start_time_ns) / 1e6


@dataclass(slots=True)
class Feedback:
    """A judgement about a trace that arrives after it: thumbs, correction, escalation, score."""

    id: str
    trace_id: str
    kind: FeedbackKind
    time_ns: int
    span_id: str | None = None
    value: Json = None
    comment: str | None = None
    session_id: str | None = None
    subject_id: str | None = None
    source: str = "api"
    schema_version: int = SCHEMA_VERSION


Record = Span | Feedback

_E = TypeVar("_E", bound=enum.StrEnum)


# ---------------------------------------------------------------------------------------------------------------
# JSON form


def _drop_empty(d: dict[str, Any], keep: tuple[str, ...] = ()) -> dict[str, Any]:
    """Leave out absent fields; ``keep`` names JSON-valued fields where an empty array or object is a value."""
    return {k: v for k, v in d.items() if v is not None and (k in keep or not (isinstance(v, list | dict) and not v))}


def _message_to_dict(m: Message) -> dict[str, Any]:
    d = _drop_empty({"role": m.role, "content": m.content, "name": m.name, "tool_call_id": m.tool_call_id})
    if m.tool_calls:
        d["tool_calls"] = [
            _drop_empty({"id": t.id, "name": t.name, "arguments": t.arguments}, ("arguments",)) for t in m.tool_calls
        ]
    return d


def span_to_dict(s: Span) -> dict[str, Any]:
    """The JSON form of a span, as accepted by ``POST /api/v1/ingest``."""
    d: dict[str, Any] = {
        "schema_version": s.schema_version,
        "trace_id": s.trace_id,
        "span_id": s.span_id,
        "parent_span_id": s.parent_span_id,
        "name": s.name,
        "kind": s.kind.value,
        "start_time_ns": s.start_time_ns,
        "end_time_ns": s.end_time_ns,
        "status": s.status.value,
        "session_id": s.session_id,
        "subject_id": s.subject_id,
        "service_name": s.service_name,
        "source": s.source,
    }
    if s.error is not None:
        d["error"] = _drop_empty({"type": s.error.type, "code": s.error.code, "message": s.error.message})
    if s.llm is not None:
        c = s.llm
        d["llm"] = _drop_empty(
            {
                "provider": c.provider,
                "operation": c.operation,
                "request_model": c.request_model,
                "response_model": c.response_model,
                "input_messages": [_message_to_dict(m) for m in c.input_messages],
                "output_messages": [_message_to_dict(m) for m in c.output_messages],
                "finish_reasons": list(c.finish_reasons),
                "parameters": dict(c.parameters),
                "usage": _drop_empty(
                    {
                        "input_tokens": c.usage.input_tokens,
                        "output_tokens": c.usage.output_tokens,
                        "cached_input_tokens": c.usage.cached_input_tokens,
                        "reasoning_tokens": c.usage.reasoning_tokens,
                    }
                ),
                "cost_usd": c.cost_usd,
                "response_id": c.response_id,
            }
        )
    if s.tool is not None:
        t = s.tool
        d["tool"] = _drop_empty(
            {
                "name": t.name,
                "call_id": t.call_id,
                "arguments": t.arguments,
                "result": t.result,
                "is_error": t.is_error,
                "mcp_server": t.mcp_server,
                "jsonrpc_method": t.jsonrpc_method,
                "jsonrpc_error_code": t.jsonrpc_error_code,
                "http_status": t.http_status,
            },
            ("arguments", "result"),
        )
    d["input"] = s.input
    d["output"] = s.output
    a = s.account
    d["account"] = _drop_empty(
        {
            "created_at_ns": a.created_at_ns,
            "plan_tier": a.plan_tier,
            "region": a.region,
            "client_name": a.client_name,
            "client_version": a.client_version,
            "locale": a.locale,
        }
    )
    d["versions"] = _drop_empty({"model": s.versions.model, "prompt": s.versions.prompt, "skill": s.versions.skill})
    d["attributes"] = dict(s.attributes)
    return _drop_empty(d, ("input", "output", "llm", "tool", "error"))


def feedback_to_dict(f: Feedback) -> dict[str, Any]:
    """The JSON form of a feedback event."""
    return _drop_empty(
        {
            "schema_version": f.schema_version,
            "id": f.id,
            "trace_id": f.trace_id,
            "span_id": f.span_id,
            "kind": f.kind.value,
            "time_ns": f.time_ns,
            "value": f.value,
            "comment": f.comment,
            "session_id": f.session_id,
            "subject_id": f.subject_id,
            "source": f.source,
        }
    )


# ---------------------------------------------------------------------------------------------------------------
# Validation helpers shared by every decoder. They name the field and the rule, never the value.

_HEX = frozenset("0123456789abcdef")
MAX_ID_CHARS = 256
MAX_NAME_CHARS = 1024


def check_hex_id(value: Any, field_name: str, length: int) -> str:
    """A trace or span id as lowercase hex of the given length; the all-zero id is invalid (as in OTLP)."""
    if not isinstance(value, str):
        raise RecordError(field_name, f"must be a string of {length} hex digits")
    v = value.lower()
    if len(v) != length or not _HEX.issuperset(v):
        raise RecordError(field_name, f"must be {length} hex digits")
    if v.count("0") == length:
        raise RecordError(field_name, "must not be all zeros")
    return v


def _opt_str(d: Mapping[str, Any], key: str, path: str, max_len: int = MAX_ID_CHARS) -> str | None:
    v = d.get(key)
    if v is None:
        return None
    if not isinstance(v, str):
        raise RecordError(f"{path}{key}", "must be a string")
    if len(v) > max_len:
        raise RecordError(f"{path}{key}", f"must be at most {max_len} characters")
    return v


def _opt_int(d: Mapping[str, Any], key: str, path: str, lo: int = 0, hi: int = 2**63 - 1) -> int | None:
    v = d.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise RecordError(f"{path}{key}", "must be an integer")
    if not lo <= v <= hi:
        raise RecordError(f"{path}{key}", f"must be between {lo} and {hi}")
    return v


def _opt_float(d: Mapping[str, Any], key: str, path: str) -> float | None:
    v = d.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise RecordError(f"{path}{key}", "must be a finite number")
    return float(v)


def _opt_bool(d: Mapping[str, Any], key: str, path: str) -> bool | None:
    v = d.get(key)
    if v is None:
        return None
    if not isinstance(v, bool):
        raise RecordError(f"{path}{key}", "must be true or false")
    return v


def _obj(d: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
    v = d.get(key)
    if v is None:
        return {}
    if not isinstance(v, Mapping):
        raise RecordError(f"{path}{key}", "must be an object")
    return v


def _list(d: Mapping[str, Any], key: str, path: str) -> list[Any]:
    v = d.get(key)
    if v is None:
        return []
    if not isinstance(v, list):
        raise RecordError(f"{path}{key}", "must be an array")
    return v


def _enum(cls: type[_E], value: Any, path: str, default: _E) -> _E:
    if value is None:
        return default
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(m.value for m in cls)
        raise RecordError(path, f"must be one of: {allowed}") from None


def _messages(items: list[Any], path: str) -> list[Message]:
    out = []
    for i, m in enumerate(items):
        p = f"{path}[{i}]."
        if not isinstance(m, Mapping):
            raise RecordError(f"{path}[{i}]", "must be an object")
        role = _opt_str(m, "role", p) or "unknown"
        content = m.get("content")
        if content is not None and not isinstance(content, str):
            raise RecordError(f"{p}content", "must be a string")
        calls = []
        for j, t in enumerate(_list(m, "tool_calls", p)):
            tp = f"{p}tool_calls[{j}]."
            if not isinstance(t, Mapping):
                raise RecordError(f"{p}tool_calls[{j}]", "must be an object")
            calls.append(
                ToolCallRequest(
                    name=_opt_str(t, "name", tp, MAX_NAME_CHARS) or "",
                    id=_opt_str(t, "id", tp),
                    arguments=t.get("arguments"),
                )
            )
        out.append(
            Message(
                role=role,
                content=content,
                name=_opt_str(m, "name", p),
                tool_call_id=_opt_str(m, "tool_call_id", p),
                tool_calls=calls,
            )
        )
    return out


def span_from_dict(d: Mapping[str, Any], *, source: str | None = None) -> Span:
    """Build a span from its JSON form, upcasting older schema versions; raise RecordError naming the bad field."""
    if not isinstance(d, Mapping):
        raise RecordError("span", "must be an object")
    d = upcast(d)
    trace_id = check_hex_id(d.get("trace_id"), "trace_id", 32)
    span_id = check_hex_id(d.get("span_id"), "span_id", 16)
    parent = d.get("parent_span_id")
    parent_span_id = None if parent in (None, "") else check_hex_id(parent, "parent_span_id", 16)
    name = d.get("name")
    if not isinstance(name, str) or not name:
        raise RecordError("name", "is required and must be a non-empty string")
    if len(name) > MAX_NAME_CHARS:
        raise RecordError("name", f"must be at most {MAX_NAME_CHARS} characters")
    start = _opt_int(d, "start_time_ns", "")
    end = _opt_int(d, "end_time_ns", "")
    if start is None:
        raise RecordError("start_time_ns", "is required")
    if end is None:
        end = start
    if end < start:
        raise RecordError("end_time_ns", "must not be before start_time_ns")

    error = None
    if d.get("error") is not None:
        e = _obj(d, "error", "")
        code = e.get("code")
        if code is not None and not isinstance(code, str | int):
            raise RecordError("error.code", "must be a string or an integer")
        error = SpanError(
            type=_opt_str(e, "type", "error."),
            code=None if code is None else str(code),
            message=_opt_str(e, "message", "error.", 1 << 20),
        )

    llm = None
    if d.get("llm") is not None:
        c = _obj(d, "llm", "")
        u = _obj(c, "usage", "llm.")
        params = _obj(c, "parameters", "llm.")
        reasons = _list(c, "finish_reasons", "llm.")
        if not all(isinstance(r, str) for r in reasons):
            raise RecordError("llm.finish_reasons", "must be an array of strings")
        llm = LLMCall(
            provider=_opt_str(c, "provider", "llm."),
            operation=_opt_str(c, "operation", "llm."),
            request_model=_opt_str(c, "request_model", "llm."),
            response_model=_opt_str(c, "response_model", "llm."),
            input_messages=_messages(_list(c, "input_messages", "llm."), "llm.input_messages"),
            output_messages=_messages(_list(c, "output_messages", "llm."), "llm.output_messages"),
            finish_reasons=list(reasons),
            parameters=dict(params),
            usage=TokenUsage(
                input_tokens=_opt_int(u, "input_tokens", "llm.usage."),
                output_tokens=_opt_int(u, "output_tokens", "llm.usage."),
                cached_input_tokens=_opt_int(u, "cached_input_tokens", "llm.usage."),
                reasoning_tokens=_opt_int(u, "reasoning_tokens", "llm.usage."),
            ),
            cost_usd=_opt_float(c, "cost_usd", "llm."),
            response_id=_opt_str(c, "response_id", "llm."),
        )

    tool = None
    if d.get("tool") is not None:
        t = _obj(d, "tool", "")
        tool = ToolCall(
            name=_opt_str(t, "name", "tool.", MAX_NAME_CHARS),
            call_id=_opt_str(t, "call_id", "tool."),
            arguments=t.get("arguments"),
            result=t.get("result"),
            is_error=_opt_bool(t, "is_error", "tool."),
            mcp_server=_opt_str(t, "mcp_server", "tool."),
            jsonrpc_method=_opt_str(t, "jsonrpc_method", "tool."),
            jsonrpc_error_code=_opt_int(t, "jsonrpc_error_code", "tool.", -(2**31), 2**31 - 1),
            http_status=_opt_int(t, "http_status", "tool.", 100, 599),
        )

    a = _obj(d, "account", "")
    v = _obj(d, "versions", "")
    attrs = _obj(d, "attributes", "")
    return Span(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent_span_id,
        name=name,
        kind=_enum(SpanKind, d.get("kind"), "kind", SpanKind.UNKNOWN),
        start_time_ns=start,
        end_time_ns=end,
        status=_enum(Status, d.get("status"), "status", Status.UNSET),
        error=error,
        llm=llm,
        tool=tool,
        input=d.get("input"),
        output=d.get("output"),
        session_id=_opt_str(d, "session_id", ""),
        subject_id=_opt_str(d, "subject_id", ""),
        account=Account(
            created_at_ns=_opt_int(a, "created_at_ns", "account."),
            plan_tier=_opt_str(a, "plan_tier", "account."),
            region=_opt_str(a, "region", "account."),
            client_name=_opt_str(a, "client_name", "account."),
            client_version=_opt_str(a, "client_version", "account."),
            locale=_opt_str(a, "locale", "account."),
        ),
        versions=Versions(
            model=_opt_str(v, "model", "versions."),
            prompt=_opt_str(v, "prompt", "versions."),
            skill=_opt_str(v, "skill", "versions."),
        ),
        service_name=_opt_str(d, "service_name", ""),
        attributes=dict(attrs),
        source=source or _opt_str(d, "source", "") or "api",
        schema_version=SCHEMA_VERSION,
    )


def feedback_from_dict(d: Mapping[str, Any], *, source: str | None = None) -> Feedback:
    """Build a feedback event from its JSON form; raise RecordError naming the bad field."""
    if not isinstance(d, Mapping):
        raise RecordError("feedback", "must be an object")
    fid = d.get("id")
    if not isinstance(fid, str) or not fid or len(fid) > MAX_ID_CHARS:
        raise RecordError("id", f"is required: a non-empty string of at most {MAX_ID_CHARS} characters")
    kind = _enum(FeedbackKind, d.get("kind"), "kind", FeedbackKind.COMMENT)
    if d.get("kind") is None:
        raise RecordError("kind", "is required")
    time_ns = _opt_int(d, "time_ns", "")
    if time_ns is None:
        raise RecordError("time_ns", "is required")
    value = d.get("value")
    if kind is FeedbackKind.THUMBS and (isinstance(value, bool) or value not in (1, -1)):
        raise RecordError("value", "must be 1 or -1 for thumbs")
    if kind is FeedbackKind.SCORE and (
        isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1
    ):
        raise RecordError("value", "must be a number between 0 and 1 for a score")
    span = d.get("span_id")
    return Feedback(
        id=fid,
        trace_id=check_hex_id(d.get("trace_id"), "trace_id", 32),
        span_id=None if span in (None, "") else check_hex_id(span, "span_id", 16),
        kind=kind,
        time_ns=time_ns,
        value=value,
        comment=_opt_str(d, "comment", "", 1 << 16),
        session_id=_opt_str(d, "session_id", ""),
        subject_id=_opt_str(d, "subject_id", ""),
        source=source or _opt_str(d, "source", "") or "api",
    )


# ---------------------------------------------------------------------------------------------------------------
# Upcasting older schema versions


def _iso_to_ns(value: Any, field_name: str) -> int:
    if not isinstance(value, str):
        raise RecordError(field_name, "must be an ISO 8601 timestamp")
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise RecordError(field_name, "must be an ISO 8601 timestamp") from None
    if dt.tzinfo is None:
        raise RecordError(field_name, "must carry a time zone")
    return int(dt.timestamp()) * 1_000_000_000 + dt.microsecond * 1000


def _upcast_v0(d: Mapping[str, Any]) -> dict[str, Any]:
    """v0 → v1: flat LLM-call records become ``llm`` spans."""
    out: dict[str, Any] = {
        "schema_version": 1,
        "trace_id": d.get("trace_id"),
        "span_id": d.get("span_id") or d.get("id"),
        "parent_span_id": d.get("parent_id"),
        "name": d.get("name") or "llm",
        "kind": "llm",
        "start_time_ns": _iso_to_ns(d.get("start"), "start"),
        "end_time_ns": _iso_to_ns(d.get("end", d.get("start")), "end"),
        "status": "error" if d.get("error") else "ok",
        "session_id": d.get("session"),
        "subject_id": d.get("user"),
        "attributes": dict(d.get("metadata") or {}),
    }
    if d.get("error"):
        out["error"] = {"message": str(d["error"])}
    msgs = []
    if d.get("prompt") is not None:
        msgs.append({"role": "user", "content": d["prompt"]})
    out_msgs = []
    if d.get("completion") is not None:
        out_msgs.append({"role": "assistant", "content": d["completion"]})
    out["llm"] = {
        "request_model": d.get("model"),
        "response_model": d.get("model"),
        "input_messages": msgs,
        "output_messages": out_msgs,
        "usage": {"input_tokens": d.get("tokens_in"), "output_tokens": d.get("tokens_out")},
    }
    return out


_UPCASTERS: dict[int, Callable[[Mapping[str, Any]], dict[str, Any]]] = {0: _upcast_v0}


def upcast(d: Mapping[str, Any]) -> Mapping[str, Any]:
    """Bring a span's JSON form from any older schema version to the current one."""
    version = d.get("schema_version", SCHEMA_VERSION)
    if isinstance(version, bool) or not isinstance(version, int):
        raise RecordError("schema_version", "must be an integer")
    if version > SCHEMA_VERSION:
        raise RecordError("schema_version", f"is newer than this server understands ({SCHEMA_VERSION})")
    while version < SCHEMA_VERSION:
        step = _UPCASTERS.get(version)
        if step is None:
            raise RecordError("schema_version", f"{version} is not a known schema version")
        d = step(d)
        version = d["schema_version"]
    return d


__all__ = [
    "MAX_ID_CHARS",
    "MAX_NAME_CHARS",
    "SCHEMA_VERSION",
    "Account",
    "Feedback",
    "FeedbackKind",
    "LLMCall",
    "Message",
    "RecordError",
    "Span",
    "SpanError",
    "SpanKind",
    "Status",
    "TokenUsage",
    "ToolCall",
    "ToolCallRequest",
    "Versions",
    "check_hex_id",
    "feedback_from_dict",
    "feedback_to_dict",
    "span_from_dict",
    "span_to_dict",
    "upcast",
]

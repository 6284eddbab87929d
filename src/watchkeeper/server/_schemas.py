"""Pydantic models that document the API in OpenAPI. Ingest bodies are parsed by the decoders themselves (faster,
with field paths in errors); these models describe the same shapes for clients and for schemathesis."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

HexTrace = Field(pattern="^[0-9a-fA-F]{32}$", description="32 hex digits, as in OTLP")
HexSpan = Field(pattern="^[0-9a-fA-F]{16}$", description="16 hex digits, as in OTLP")
Kind = Literal["llm", "tool", "mcp", "retrieval", "embedding", "agent", "chain", "guardrail", "evaluator", "unknown"]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ToolCallRequestIn(BaseModel):
    name: str
    id: str | None = None
    arguments: Any = None


class MessageIn(BaseModel):
    role: str
    content: str | None = None
    name: str | None = None
    tool_call_id: str | None = None
    tool_calls: list[ToolCallRequestIn] = []


class UsageIn(BaseModel):
    input_tokens: int | None = Field(None, ge=0)
    output_tokens: int | None = Field(None, ge=0)
    cached_input_tokens: int | None = Field(None, ge=0)
    reasoning_tokens: int | None = Field(None, ge=0)


class LLMIn(BaseModel):
    provider: str | None = None
    operation: str | None = None
    request_model: str | None = None
    response_model: str | None = None
    input_messages: list[MessageIn] = []
    output_messages: list[MessageIn] = []
    finish_reasons: list[str] = []
    parameters: dict[str, Any] = {}
    usage: UsageIn = UsageIn()
    cost_usd: float | None = None
    response_id: str | None = None


class ToolIn(BaseModel):
    name: str | None = None
    call_id: str | None = None
    arguments: Any = None
    result: Any = None
    is_error: bool | None = None
    mcp_server: str | None = None
    jsonrpc_method: str | None = Field(None, description="e.g. tools/call")
    jsonrpc_error_code: int | None = None
    http_status: int | None = Field(None, ge=100, le=599)


class ErrorIn(BaseModel):
    type: str | None = None
    code: str | int | None = None
    message: str | None = None


class AccountIn(BaseModel):
    created_at_ns: int | None = Field(None, ge=0)
    plan_tier: str | None = None
    region: str | None = None
    client_name: str | None = None
    client_version: str | None = None
    locale: str | None = None


class VersionsIn(BaseModel):
    model: str | None = None
    prompt: str | None = None
    skill: str | None = None


class SpanIn(BaseModel):
    """One span in its canonical JSON form (``schema_version`` 1; version 0 records are upcast)."""

    schema_version: int = 1
    trace_id: str = HexTrace
    span_id: str = HexSpan
    parent_span_id: str | None = Field(None, pattern="^[0-9a-fA-F]{16}$")
    name: str = Field(min_length=1, max_length=1024)
    kind: Kind = "unknown"
    start_time_ns: int = Field(ge=0, description="Event time, ns since the Unix epoch")
    end_time_ns: int | None = Field(None, ge=0)
    status: Literal["unset", "ok", "error"] = "unset"
    error: ErrorIn | None = None
    llm: LLMIn | None = None
    tool: ToolIn | None = None
    input: Any = None
    output: Any = None
    session_id: str | None = None
    subject_id: str | None = Field(None, description="Pseudonymous end-user id")
    account: AccountIn = AccountIn()
    versions: VersionsIn = VersionsIn()
    service_name: str | None = None
    attributes: dict[str, Any] = {}


class FeedbackIn(BaseModel):
    """A judgement attached to a trace after the fact."""

    schema_version: int = 1
    id: str = Field(min_length=1, max_length=256, description="Idempotency key of this event")
    trace_id: str = HexTrace
    span_id: str | None = Field(None, pattern="^[0-9a-fA-F]{16}$")
    kind: Literal["thumbs", "correction", "escalation", "score", "comment"]
    time_ns: int = Field(ge=0)
    value: Any = Field(None, description="thumbs: 1 or -1; score: 0..1; correction/escalation: optional text")
    comment: str | None = None
    session_id: str | None = None
    subject_id: str | None = None


class IngestBody(BaseModel):
    spans: list[SpanIn] = []
    feedback: list[FeedbackIn] = []


class IngestResponse(BaseModel):
    accepted: dict[str, int] = Field(description="Records committed, by type")


class SpansResponse(BaseModel):
    spans: list[_Open]
    next_cursor: str | None


class TraceSummaryOut(_Open):
    trace_id: str
    name: str
    start_time_ns: int
    duration_ms: float
    span_count: int


class TracesResponse(BaseModel):
    traces: list[TraceSummaryOut]
    next_cursor: str | None


class TraceResponse(BaseModel):
    trace_id: str
    span_count: int
    start_time_ns: int
    end_time_ns: int
    roots: list[_Open]
    feedback: list[_Open]
    content_withheld: bool = Field(
        description="True when the caller holds no grant covering this trace: spans and feedback carry metadata only"
    )
    grant_id: int | None = Field(None, description="The grant under which the content was read (access log)")


class SessionsResponse(BaseModel):
    sessions: list[_Open]


class SessionResponse(BaseModel):
    session_id: str
    traces: list[TraceSummaryOut]


class AggregatesResponse(BaseModel):
    bucket: str
    group_by: list[str]
    rows: list[_Open]

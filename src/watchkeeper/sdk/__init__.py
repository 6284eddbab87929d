"""Watchkeeper's in-app tracer: record what your LLM app and agents do, and send it to a Watchkeeper server.

    from watchkeeper import sdk

    sdk.configure(service_name="support-bot")      # or WATCHKEEPER_ENDPOINT / _API_KEY / _SERVICE_NAME

    @sdk.observe
    def answer(question: str) -> str:
        with sdk.span("retrieve", kind="retrieval", input=question) as s:
            s.set_output(docs := search(question))
        return llm(question, docs)

Nothing here blocks or raises into the application: records are queued for a background thread, and every failure
inside the SDK is caught and counted (``sdk.stats()``). Imports only the standard library and
``watchkeeper.records``; ``openai`` and ``mcp`` are imported only by their wrappers.
"""

from __future__ import annotations

from watchkeeper.records import Account, FeedbackKind, SpanKind, Status, Versions
from watchkeeper.sdk._config import SETTINGS, Config, Setting
from watchkeeper.sdk._context import (
    TraceContext,
    current_span_id,
    current_trace_id,
    extract_traceparent,
    inject_traceparent,
)
from watchkeeper.sdk._exporter import CaptureExporter, Exporter, HttpExporter, NoopExporter
from watchkeeper.sdk._mcp import instrument_mcp_client, instrument_mcp_server
from watchkeeper.sdk._observe import observe
from watchkeeper.sdk._openai import wrap_openai
from watchkeeper.sdk._tracer import (
    ContextToken,
    SpanHandle,
    configure,
    continue_trace,
    feedback,
    flush,
    get_exporter,
    set_context,
    shutdown,
    span,
    start_span,
    stats,
)

__all__ = [
    "SETTINGS",
    "Account",
    "CaptureExporter",
    "Config",
    "ContextToken",
    "Exporter",
    "FeedbackKind",
    "HttpExporter",
    "NoopExporter",
    "Setting",
    "SpanHandle",
    "SpanKind",
    "Status",
    "TraceContext",
    "Versions",
    "configure",
    "continue_trace",
    "current_span_id",
    "current_trace_id",
    "extract_traceparent",
    "feedback",
    "flush",
    "get_exporter",
    "inject_traceparent",
    "instrument_mcp_client",
    "instrument_mcp_server",
    "observe",
    "set_context",
    "shutdown",
    "span",
    "start_span",
    "stats",
    "wrap_openai",
]

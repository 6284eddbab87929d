"""decode_otlp on the exact bytes the real OpenTelemetry SDK and OTLP/HTTP exporter send, per convention."""

from __future__ import annotations

import base64
import json
from typing import Any

import orjson
import pytest
from google.protobuf import json_format  # type: ignore[import-untyped]  # no types-protobuf installed
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.trace import SpanKind as OtelKind
from opentelemetry.trace import Status as OtelStatus
from opentelemetry.trace import StatusCode, Tracer

from watchkeeper.ingest.otlp import decode_otlp
from watchkeeper.records import Message, SpanKind, Status, ToolCallRequest, span_to_dict


def decode(received: Any) -> list[Any]:
    assert received.path == "/v1/traces"
    assert received.content_type == "application/x-protobuf"
    return decode_otlp(received.body, received.content_type)


def by_name(spans: list[Any]) -> dict[str, Any]:
    return {s.name: s for s in spans}


def to_otlp_json(body: bytes) -> bytes:
    """The same request in the OTLP/JSON encoding: protobuf JSON mapping, with hex ids and integer enums."""
    doc = json_format.MessageToDict(ExportTraceServiceRequest.FromString(body), use_integers_for_enums=True)

    def hexify(node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("traceId", "spanId", "parentSpanId") and isinstance(v, str):
                    node[k] = base64.b64decode(v).hex()
                else:
                    hexify(v)
        elif isinstance(node, list):
            for v in node:
                hexify(v)

    hexify(doc)
    return json.dumps(doc).encode()


INPUT_MESSAGES = [
    {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
    {
        "role": "assistant",
        "parts": [{"type": "tool_call", "id": "call_1", "name": "get_weather", "arguments": {"location": "Paris"}}],
    },
    {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_1", "response": "rainy, 57°F"}]},
]
OUTPUT_MESSAGES = [
    {
        "role": "assistant",
        "parts": [{"type": "text", "content": "It is rainy in Paris."}],
        "finish_reason": "stop",
    }
]


def genai_chat(tracer: Tracer) -> None:
    with tracer.start_as_current_span("chat gpt-4o", kind=OtelKind.CLIENT) as s:
        s.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.response.model": "gpt-4o-2024-08-06",
                "gen_ai.response.id": "chatcmpl-123",
                "gen_ai.usage.input_tokens": 120,
                "gen_ai.usage.output_tokens": 42,
                "gen_ai.usage.cache_read.input_tokens": 100,
                "gen_ai.usage.reasoning.output_tokens": 7,
                "gen_ai.response.finish_reasons": ["stop"],
                "gen_ai.request.temperature": 0.2,
                "gen_ai.request.max_tokens": 512,
                "gen_ai.request.top_p": 0.9,
                "gen_ai.request.stop_sequences": ["END"],
                "gen_ai.conversation.id": "conv-42",
                "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "Be brief."}]),
                "gen_ai.input.messages": json.dumps(INPUT_MESSAGES),
                "gen_ai.output.messages": json.dumps(OUTPUT_MESSAGES),
                "server.address": "api.openai.com",
                "server.port": 443,
                "user.id": "user-7",
                "watchkeeper.account.created_at": "2025-01-02T03:04:05Z",
                "watchkeeper.account.plan_tier": "pro",
                "watchkeeper.account.region": "eu-west",
                "watchkeeper.account.locale": "fr-FR",
                "watchkeeper.client.name": "ios",
                "watchkeeper.client.version": "3.2.1",
                "watchkeeper.version.model": "support-model@4",
                "watchkeeper.version.prompt": "triage@12",
                "watchkeeper.version.skill": "weather@1",
                "app.feature": "checkout",
                "app.flags": ["a", "b"],
            }
        )


@pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip"])
def test_a_genai_chat_span_maps_messages_tokens_cached_tokens_finish_reasons_and_parameters(
    otlp_receiver: Any, record_spans: Any, gzip: bool
) -> None:
    received = otlp_receiver.export(
        record_spans(genai_chat, resource={"service.name": "support-bot", "service.version": "1.4.0"}), gzip=gzip
    )
    assert (received.content_encoding == "gzip") is gzip
    [span] = decode(received)

    assert span.kind is SpanKind.LLM
    assert span.source == "otlp"
    assert span.service_name == "support-bot"
    assert len(span.trace_id) == 32 and span.trace_id == span.trace_id.lower()
    assert len(span.span_id) == 16 and span.parent_span_id is None
    assert span.end_time_ns >= span.start_time_ns > 0
    c = span.llm
    assert (c.provider, c.operation, c.request_model, c.response_model) == (
        "openai",
        "chat",
        "gpt-4o",
        "gpt-4o-2024-08-06",
    )
    assert c.response_id == "chatcmpl-123"
    assert (c.usage.input_tokens, c.usage.output_tokens) == (120, 42)
    assert (c.usage.cached_input_tokens, c.usage.reasoning_tokens) == (100, 7)
    assert c.usage.total_tokens == 162
    assert c.finish_reasons == ["stop"]
    assert c.parameters == {"temperature": 0.2, "max_tokens": 512, "top_p": 0.9, "stop_sequences": ["END"]}
    assert c.input_messages == [
        Message(role="system", content="Be brief."),
        Message(role="user", content="Weather in Paris?"),
        Message(
            role="assistant",
            tool_calls=[ToolCallRequest(name="get_weather", id="call_1", arguments={"location": "Paris"})],
        ),
        Message(role="tool", content="rainy, 57°F", tool_call_id="call_1"),
    ]
    assert c.output_messages == [Message(role="assistant", content="It is rainy in Paris.")]

    assert span.session_id == "conv-42"
    assert span.subject_id == "user-7"
    a = span.account
    assert a.created_at_ns == 1735787045 * 10**9
    assert (a.plan_tier, a.region, a.locale, a.client_name, a.client_version) == (
        "pro",
        "eu-west",
        "fr-FR",
        "ios",
        "3.2.1",
    )
    assert (span.versions.model, span.versions.prompt, span.versions.skill) == (
        "support-model@4",
        "triage@12",
        "weather@1",
    )

    # Unknown attributes are kept as sent; mapped ones are not stored twice.
    attrs = span.attributes
    assert attrs["app.feature"] == "checkout"
    assert attrs["app.flags"] == ["a", "b"]
    assert attrs["server.address"] == "api.openai.com" and attrs["server.port"] == 443
    assert attrs["resource.service.version"] == "1.4.0"
    assert attrs["resource.telemetry.sdk.language"] == "python"
    assert "resource.service.name" not in attrs
    assert attrs["otel.scope.name"] == "tests.ingest"
    assert attrs["otel.span.kind"] == "client"
    assert not [k for k in attrs if k.startswith(("gen_ai.", "watchkeeper.", "user."))]


def test_the_same_export_as_otlp_json_decodes_to_the_same_spans(otlp_receiver: Any, record_spans: Any) -> None:
    received = otlp_receiver.export(record_spans(genai_chat) + record_spans(agent_with_children))
    from_protobuf = decode(received)
    from_json = decode_otlp(to_otlp_json(received.body), "application/json; charset=utf-8")
    assert [span_to_dict(s) for s in from_json] == [span_to_dict(s) for s in from_protobuf]


def execute_tool(tracer: Tracer) -> None:
    with tracer.start_as_current_span("execute_tool get_weather") as s:
        s.set_attributes(
            {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": "get_weather",
                "gen_ai.tool.call.id": "call_1",
                "gen_ai.tool.type": "function",
                "gen_ai.tool.call.arguments": json.dumps({"location": "Paris"}),
                "gen_ai.tool.call.result": json.dumps({"temperature_range": {"high": 75, "low": 60}}),
            }
        )


def test_an_execute_tool_span_maps_name_call_id_arguments_and_result(otlp_receiver: Any, record_spans: Any) -> None:
    [span] = decode(otlp_receiver.export(record_spans(execute_tool)))
    assert span.kind is SpanKind.TOOL
    assert span.llm is None
    t = span.tool
    assert (t.name, t.call_id) == ("get_weather", "call_1")
    assert t.arguments == {"location": "Paris"}
    assert t.result == {"temperature_range": {"high": 75, "low": 60}}
    assert t.is_error is None
    assert span.attributes["gen_ai.tool.type"] == "function"
    assert "gen_ai.operation.name" not in span.attributes


def mcp_calls(tracer: Tracer) -> None:
    with tracer.start_as_current_span("tools/call search_docs", kind=OtelKind.CLIENT) as s:
        s.set_attributes(
            {
                "mcp.method.name": "tools/call",
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": "search_docs",
                "jsonrpc.request.id": "7",
                "mcp.session.id": "191c4850af6c49e08843a3f6c80e5046",
                "mcp.protocol.version": "2025-06-18",
                "network.transport": "tcp",
                "server.address": "docs.internal",
                "server.port": 8080,
                "gen_ai.tool.call.arguments": json.dumps({"query": "refund policy"}),
                "gen_ai.tool.call.result": json.dumps(
                    {"content": [{"type": "text", "text": "index unavailable"}], "isError": True}
                ),
                "error.type": "tool_error",
            }
        )
        s.set_status(OtelStatus(StatusCode.ERROR, "index unavailable"))
    with tracer.start_as_current_span("tools/call get_invoice", kind=OtelKind.CLIENT) as s:
        s.set_attributes(
            {
                "mcp.method.name": "tools/call",
                "gen_ai.tool.name": "get_invoice",
                "jsonrpc.request.id": "8",
                "rpc.response.status_code": "-32602",
                "error.type": "-32602",
            }
        )
        s.set_status(OtelStatus(StatusCode.ERROR, "Invalid params"))
    with tracer.start_as_current_span("initialize", kind=OtelKind.CLIENT) as s:
        s.set_attributes({"mcp.method.name": "initialize", "rpc.jsonrpc.error_code": -32603})


def test_mcp_spans_map_is_error_json_rpc_error_codes_server_and_session(otlp_receiver: Any, record_spans: Any) -> None:
    spans = by_name(decode(otlp_receiver.export(record_spans(mcp_calls))))

    search = spans["tools/call search_docs"]
    assert search.kind is SpanKind.MCP
    assert search.status is Status.ERROR
    t = search.tool
    assert (t.name, t.jsonrpc_method, t.call_id, t.mcp_server) == (
        "search_docs",
        "tools/call",
        "7",
        "docs.internal:8080",
    )
    assert t.is_error is True
    assert t.arguments == {"query": "refund policy"}
    assert t.result["isError"] is True
    assert (search.error.type, search.error.message) == ("tool_error", "index unavailable")
    assert search.session_id == "191c4850af6c49e08843a3f6c80e5046"
    assert search.attributes["mcp.protocol.version"] == "2025-06-18"
    assert search.attributes["otel.span.kind"] == "client"

    invoice = spans["tools/call get_invoice"]
    assert invoice.kind is SpanKind.MCP
    assert invoice.tool.jsonrpc_error_code == -32602
    assert invoice.tool.is_error is True
    assert (invoice.error.type, invoice.error.code, invoice.error.message) == ("-32602", "-32602", "Invalid params")

    init = spans["initialize"]
    assert init.kind is SpanKind.MCP
    assert (init.tool.jsonrpc_method, init.tool.jsonrpc_error_code, init.tool.name) == ("initialize", -32603, None)


def openinference(tracer: Tracer) -> None:
    with tracer.start_as_current_span("ChatOpenAI") as s:
        s.set_attributes(
            {
                "openinference.span.kind": "LLM",
                "llm.model_name": "gpt-4o-mini",
                "llm.provider": "azure",
                "llm.system": "openai",
                "llm.input_messages.0.message.role": "system",
                "llm.input_messages.0.message.content": "You are terse.",
                "llm.input_messages.1.message.role": "user",
                "llm.input_messages.1.message.content": "What is 2+2?",
                "llm.output_messages.0.message.role": "assistant",
                "llm.output_messages.0.message.tool_calls.0.tool_call.id": "call_9",
                "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "add",
                "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": '{"a": 2, "b": 2}',
                "llm.token_count.prompt": 30,
                "llm.token_count.completion": 5,
                "llm.token_count.total": 35,
                "llm.token_count.prompt_details.cache_read": 16,
                "llm.invocation_parameters": json.dumps({"temperature": 0, "max_tokens": 64}),
                "input.value": json.dumps({"messages": [{"role": "user", "content": "What is 2+2?"}]}),
                "input.mime_type": "application/json",
                "output.value": "calling add",
                "output.mime_type": "text/plain",
                "session.id": "sess-1",
                "user.id": "u-1",
                "metadata": json.dumps({"experiment": "b"}),
                "tag.tags": ["math"],
            }
        )
    with tracer.start_as_current_span("add") as s:
        s.set_attributes(
            {
                "openinference.span.kind": "TOOL",
                "tool.name": "add",
                "tool.description": "Adds two numbers",
                "tool_call.id": "call_9",
                "input.value": json.dumps({"a": 2, "b": 2}),
                "input.mime_type": "application/json",
                "output.value": "4",
            }
        )


def test_openinference_llm_and_tool_spans(otlp_receiver: Any, record_spans: Any) -> None:
    spans = by_name(decode(otlp_receiver.export(record_spans(openinference))))

    llm = spans["ChatOpenAI"]
    assert llm.kind is SpanKind.LLM
    c = llm.llm
    assert (c.provider, c.request_model, c.response_model) == ("azure", "gpt-4o-mini", "gpt-4o-mini")
    assert llm.attributes["llm.system"] == "openai"  # a different value from a lower-priority name is kept
    assert c.input_messages == [
        Message(role="system", content="You are terse."),
        Message(role="user", content="What is 2+2?"),
    ]
    assert c.output_messages == [
        Message(role="assistant", tool_calls=[ToolCallRequest(name="add", id="call_9", arguments={"a": 2, "b": 2})])
    ]
    assert (c.usage.input_tokens, c.usage.output_tokens, c.usage.cached_input_tokens) == (30, 5, 16)
    assert c.parameters == {"temperature": 0, "max_tokens": 64}
    assert llm.input == {"messages": [{"role": "user", "content": "What is 2+2?"}]}
    assert llm.output == "calling add"
    assert (llm.session_id, llm.subject_id) == ("sess-1", "u-1")
    assert llm.attributes["metadata"] == {"experiment": "b"}
    assert llm.attributes["tag.tags"] == ["math"]
    assert not [k for k in llm.attributes if k.startswith(("llm.input_messages", "llm.output_messages", "llm.token"))]
    assert not [k for k in llm.attributes if k.startswith(("input.", "output.", "openinference."))]

    tool = spans["add"]
    assert tool.kind is SpanKind.TOOL
    assert (tool.tool.name, tool.tool.call_id) == ("add", "call_9")
    assert tool.tool.arguments == {"a": 2, "b": 2}
    assert tool.tool.result == "4"
    assert tool.input is None and tool.output is None  # used as the tool's arguments and result, not twice
    assert tool.attributes["tool.description"] == "Adds two numbers"


def openllmetry(tracer: Tracer) -> None:
    with tracer.start_as_current_span("support.workflow") as wf:
        wf.set_attributes(
            {
                "traceloop.span.kind": "workflow",
                "traceloop.workflow.name": "support",
                "traceloop.entity.name": "support",
                "traceloop.entity.input": json.dumps({"args": ["refund?"], "kwargs": {}}),
                "traceloop.entity.output": json.dumps("Refunds take 5 days."),
                "traceloop.association.properties.session_id": "s-9",
                "traceloop.association.properties.user_id": "u-9",
            }
        )
        with tracer.start_as_current_span("openai.chat", kind=OtelKind.CLIENT) as s:
            s.set_attributes(
                {
                    "llm.request.type": "chat",
                    "gen_ai.system": "openai",
                    "gen_ai.request.model": "gpt-4o",
                    "gen_ai.response.model": "gpt-4o-2024-08-06",
                    "gen_ai.prompt.0.role": "system",
                    "gen_ai.prompt.0.content": "You help with refunds.",
                    "gen_ai.prompt.1.role": "user",
                    "gen_ai.prompt.1.content": "refund?",
                    "gen_ai.completion.0.role": "assistant",
                    "gen_ai.completion.0.content": "Refunds take 5 days.",
                    "gen_ai.completion.0.finish_reason": "stop",
                    "gen_ai.completion.1.role": "assistant",
                    "gen_ai.completion.1.tool_calls.0.id": "call_3",
                    "gen_ai.completion.1.tool_calls.0.name": "lookup_order",
                    "gen_ai.completion.1.tool_calls.0.arguments": '{"order": 12}',
                    "gen_ai.completion.1.finish_reason": "tool_calls",
                    "gen_ai.usage.prompt_tokens": 50,
                    "gen_ai.usage.completion_tokens": 9,
                    "llm.usage.total_tokens": 59,
                    "gen_ai.usage.cache_read_input_tokens": 32,
                    "llm.is_streaming": False,
                    "traceloop.association.properties.session_id": "s-9",
                }
            )
        with tracer.start_as_current_span("lookup_order.tool") as t:
            t.set_attributes(
                {
                    "traceloop.span.kind": "tool",
                    "traceloop.entity.name": "lookup_order",
                    "traceloop.entity.input": json.dumps({"args": [], "kwargs": {"order": 12}}),
                    "traceloop.entity.output": json.dumps({"status": "shipped"}),
                }
            )


def test_openllmetry_indexed_prompts_and_completions_and_workflow_spans(otlp_receiver: Any, record_spans: Any) -> None:
    spans = by_name(decode(otlp_receiver.export(record_spans(openllmetry))))

    chat = spans["openai.chat"]
    assert chat.kind is SpanKind.LLM
    c = chat.llm
    assert (c.provider, c.operation, c.request_model) == ("openai", "chat", "gpt-4o")
    assert c.input_messages == [
        Message(role="system", content="You help with refunds."),
        Message(role="user", content="refund?"),
    ]
    assert c.output_messages == [
        Message(role="assistant", content="Refunds take 5 days."),
        Message(
            role="assistant", tool_calls=[ToolCallRequest(name="lookup_order", id="call_3", arguments={"order": 12})]
        ),
    ]
    assert c.finish_reasons == ["stop", "tool_calls"]
    assert (c.usage.input_tokens, c.usage.output_tokens, c.usage.cached_input_tokens) == (50, 9, 32)
    assert c.parameters == {"stream": False}
    assert chat.session_id == "s-9"
    assert not [k for k in chat.attributes if k.startswith(("gen_ai.", "llm."))]

    wf = spans["support.workflow"]
    assert wf.kind is SpanKind.CHAIN
    assert wf.input == {"args": ["refund?"], "kwargs": {}}
    assert wf.output == "Refunds take 5 days."
    assert (wf.session_id, wf.subject_id) == ("s-9", "u-9")
    assert wf.attributes["traceloop.span.kind"] == "workflow"  # chain does not say workflow vs task: kept

    tool = spans["lookup_order.tool"]
    assert tool.kind is SpanKind.TOOL
    assert tool.tool.name == "lookup_order"
    assert tool.tool.arguments == {"args": [], "kwargs": {"order": 12}}
    assert tool.tool.result == {"status": "shipped"}
    assert tool.parent_span_id == wf.span_id


def agent_with_children(tracer: Tracer) -> None:
    with tracer.start_as_current_span("invoke_agent travel-agent") as agent:
        agent.set_attributes({"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "travel-agent"})
        with tracer.start_as_current_span("chat gpt-4o") as chat:
            chat.set_attributes({"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"})
        with tracer.start_as_current_span("execute_tool book") as tool:
            tool.set_attributes({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "book"})
            with tracer.start_as_current_span("embeddings text-embedding-3-small") as emb:
                emb.set_attributes(
                    {
                        "gen_ai.operation.name": "embeddings",
                        "gen_ai.request.model": "text-embedding-3-small",
                        "gen_ai.usage.input_tokens": 8,
                    }
                )


def test_parent_child_links_and_one_trace_across_spans(otlp_receiver: Any, record_spans: Any) -> None:
    spans = by_name(decode(otlp_receiver.export(record_spans(agent_with_children))))
    agent = spans["invoke_agent travel-agent"]
    chat = spans["chat gpt-4o"]
    tool = spans["execute_tool book"]
    emb = spans["embeddings text-embedding-3-small"]
    assert len({s.trace_id for s in spans.values()}) == 1
    assert agent.parent_span_id is None
    assert chat.parent_span_id == agent.span_id and tool.parent_span_id == agent.span_id
    assert emb.parent_span_id == tool.span_id
    assert [agent.kind, chat.kind, tool.kind, emb.kind] == [
        SpanKind.AGENT,
        SpanKind.LLM,
        SpanKind.TOOL,
        SpanKind.EMBEDDING,
    ]
    assert agent.attributes["gen_ai.agent.name"] == "travel-agent"
    assert agent.attributes["gen_ai.operation.name"] == "invoke_agent"  # agent kind does not say invoke vs create
    assert (emb.llm.operation, emb.llm.request_model, emb.llm.usage.input_tokens) == (
        "embeddings",
        "text-embedding-3-small",
        8,
    )
    assert chat.start_time_ns >= agent.start_time_ns and chat.end_time_ns <= agent.end_time_ns


def events(tracer: Tracer) -> None:
    with tracer.start_as_current_span("chat claude") as s:
        s.set_attributes({"gen_ai.system": "anthropic", "gen_ai.request.model": "claude-sonnet"})
        s.add_event("gen_ai.system.message", {"gen_ai.system": "anthropic", "content": "Be kind."})
        s.add_event("gen_ai.user.message", {"gen_ai.event.content": json.dumps({"content": "hello"})})
        s.add_event(
            "gen_ai.choice",
            {"index": 0, "finish_reason": "end_turn", "message": json.dumps({"role": "assistant", "content": "hi!"})},
        )
        s.add_event("cache.miss", {"cache.key": "k1"})
    with pytest.raises(ValueError, match="boom"):
        failing_tool(tracer)


def failing_tool(tracer: Tracer) -> None:
    with tracer.start_as_current_span("lookup") as s:
        s.set_attribute("gen_ai.operation.name", "execute_tool")
        raise ValueError("boom")


def test_older_genai_message_events_and_exception_events(otlp_receiver: Any, record_spans: Any) -> None:
    spans = by_name(decode(otlp_receiver.export(record_spans(events))))

    chat = spans["chat claude"]
    assert chat.kind is SpanKind.LLM
    assert chat.llm.provider == "anthropic"
    assert chat.llm.input_messages == [
        Message(role="system", content="Be kind."),
        Message(role="user", content="hello"),
    ]
    assert chat.llm.output_messages == [Message(role="assistant", content="hi!")]
    assert chat.llm.finish_reasons == ["end_turn"]
    [kept] = chat.attributes["otel.events"]  # events that map nowhere are kept
    assert kept["name"] == "cache.miss" and kept["attributes"] == {"cache.key": "k1"} and kept["time_unix_nano"] > 0

    failed = spans["lookup"]
    assert failed.kind is SpanKind.TOOL
    assert failed.status is Status.ERROR
    assert failed.error.type == "ValueError"
    assert "boom" in failed.error.message
    assert failed.tool.is_error is True
    [exc] = failed.attributes["otel.events"]
    assert exc["name"] == "exception"
    assert "exception.stacktrace" in exc["attributes"]
    assert "exception.type" not in exc["attributes"]  # used by the error, not stored twice


def test_cohort_attributes_on_the_resource_apply_to_every_span_unless_the_span_sets_its_own(
    otlp_receiver: Any, record_spans: Any
) -> None:
    def body(tracer: Tracer) -> None:
        with tracer.start_as_current_span("a"):
            pass
        with tracer.start_as_current_span("b") as s:
            s.set_attribute("watchkeeper.account.plan_tier", "enterprise")

    resource = {
        "service.name": "mobile",
        "watchkeeper.client.name": "android",
        "watchkeeper.client.version": "9.1",
        "watchkeeper.account.plan_tier": "free",
        "watchkeeper.version.model": "m@2",
    }
    spans = by_name(decode(otlp_receiver.export(record_spans(body, resource=resource))))
    a, b = spans["a"], spans["b"]
    assert (a.account.client_name, a.account.client_version, a.account.plan_tier) == ("android", "9.1", "free")
    assert b.account.plan_tier == "enterprise" and b.account.client_name == "android"
    assert a.versions.model == b.versions.model == "m@2"
    assert a.kind is SpanKind.UNKNOWN and a.llm is None and a.tool is None
    assert not [k for k in a.attributes if "watchkeeper" in k]


def test_a_large_batch_keeps_every_span_and_id(otlp_receiver: Any, record_spans: Any) -> None:
    def body(tracer: Tracer) -> None:
        for i in range(300):
            with tracer.start_as_current_span(f"chat {i}") as s:
                s.set_attributes({"gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": i})

    spans = decode(otlp_receiver.export(record_spans(body), gzip=True))
    assert len(spans) == 300
    assert len({s.span_id for s in spans}) == 300
    assert sorted(s.llm.usage.input_tokens for s in spans) == list(range(300))
    orjson.dumps([span_to_dict(s) for s in spans])  # everything decoded is JSON-serialisable

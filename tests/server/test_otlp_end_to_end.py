"""The real OpenTelemetry SDK and OTLP/HTTP exporter, pointed at a real Watchkeeper server, on both engines."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from watchkeeper.testing import ServerHandle, running_server

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[ServerHandle]:
    overrides = {} if db_url.startswith("sqlite") else {"database_url": db_url}
    with running_server(tmp_path / "data", **{"auth": False, **overrides}) as handle:
        yield handle


def provider_for(server: ServerHandle, *, gzip: bool) -> TracerProvider:
    exporter = OTLPSpanExporter(
        endpoint=f"{server.url}/v1/traces",
        compression=Compression.Gzip if gzip else Compression.NoCompression,
        timeout=10,
    )
    resource = Resource.create({"service.name": "checkout-agent", "service.version": "3.1.0"})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


@pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip"])
def test_an_agent_turn_exported_by_the_otel_sdk_reads_back_as_one_tree(server: ServerHandle, gzip: bool) -> None:
    provider = provider_for(server, gzip=gzip)
    tracer = provider.get_tracer("e2e")
    with tracer.start_as_current_span("invoke_agent support", attributes={"gen_ai.operation.name": "invoke_agent"}):
        with tracer.start_as_current_span(
            "chat gpt-4o-mini",
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
                "gen_ai.usage.input_tokens": 812,
                "gen_ai.usage.output_tokens": 40,
                "gen_ai.response.finish_reasons": ["tool_calls"],
                "gen_ai.input.messages": json.dumps(
                    [{"role": "user", "parts": [{"type": "text", "content": "Where is order 1042?"}]}]
                ),
                "session.id": "sess-e2e",
                "app.tenant": "acme",
            },
        ):
            pass
        with tracer.start_as_current_span(
            "execute_tool lookup_order",
            attributes={
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": "lookup_order",
                "gen_ai.tool.call.id": "call_7",
                "gen_ai.tool.call.arguments": '{"order_id": "1042"}',
            },
        ) as tool:
            tool.set_status(Status(StatusCode.ERROR, "order service timed out"))
            tool.set_attribute("error.type", "TimeoutError")
        trace_id = format(tool.get_span_context().trace_id, "032x")
    provider.shutdown()  # flushes; SimpleSpanProcessor has already exported each span with SUCCESS or logged

    tree = server.trace(trace_id)
    flat: dict[str, dict[str, object]] = {}

    def walk(node: dict[str, object]) -> None:
        flat[str(node["name"])] = node
        for child in node.get("children", []):  # type: ignore[attr-defined]
            walk(child)

    roots = tree["roots"]
    assert len(roots) == 1 and roots[0]["name"] == "invoke_agent support"
    for root in roots:
        walk(root)
    assert set(flat) == {"invoke_agent support", "chat gpt-4o-mini", "execute_tool lookup_order"}
    chat, tool_span = flat["chat gpt-4o-mini"], flat["execute_tool lookup_order"]
    assert chat["kind"] == "llm" and chat["service_name"] == "checkout-agent" and chat["source"] == "otlp"
    llm = chat["llm"]
    assert isinstance(llm, dict)
    assert llm["request_model"] == "gpt-4o-mini" and llm["response_model"] == "gpt-4o-mini-2024-07-18"
    assert llm["usage"] == {"input_tokens": 812, "output_tokens": 40}
    assert llm["input_messages"] == [{"role": "user", "content": "Where is order 1042?"}]
    assert llm["finish_reasons"] == ["tool_calls"] and llm["cost_usd"] > 0
    assert chat["session_id"] == "sess-e2e"
    assert chat["attributes"]["app.tenant"] == "acme"  # type: ignore[index]
    assert tool_span["kind"] == "tool" and tool_span["status"] == "error"
    assert tool_span["tool"] == {
        "name": "lookup_order",
        "call_id": "call_7",
        "arguments": {"order_id": "1042"},
        "is_error": True,
    }
    assert tool_span["error"] == {"type": "TimeoutError", "message": "order service timed out"}

    by_session = server.get_json("/api/v1/spans?session_id=sess-e2e")["spans"]
    assert [(s["trace_id"], s["name"]) for s in by_session] == [(trace_id, "chat gpt-4o-mini")]
    by_tool = server.get_json("/api/v1/spans?tool=lookup&status=error")["spans"]
    assert [s["span_id"] for s in by_tool] == [tool_span["span_id"]]


def test_the_exporter_sees_success_and_a_malformed_body_gets_a_problem_not_a_lost_batch(server: ServerHandle) -> None:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    for i in range(3):
        with provider.get_tracer("e2e").start_as_current_span(
            f"chat {i}", attributes={"gen_ai.operation.name": "chat"}
        ):
            pass
    finished = memory.get_finished_spans()
    sent = [format(s.get_span_context().trace_id, "032x") for s in finished]
    exporter = OTLPSpanExporter(endpoint=f"{server.url}/v1/traces", timeout=10)
    assert exporter.export(finished) is SpanExportResult.SUCCESS
    exporter.shutdown()  # type: ignore[no-untyped-call]  # the SDK leaves it unannotated

    request = urllib.request.Request(
        f"{server.url}/v1/traces",
        data=b"\x0a\xff\xff\xff\xff\x0f not protobuf",
        headers={"Content-Type": "application/x-protobuf"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=10)
    assert err.value.code == 400
    assert err.value.headers["Content-Type"].startswith("application/problem+json")
    problem = json.loads(err.value.read())
    assert problem["status"] == 400 and problem["detail"]

    for trace_id in sent:  # everything acknowledged before the bad request is still there
        assert server.trace(trace_id)["roots"]

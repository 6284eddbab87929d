"""MCP instrumentation with a real ``mcp`` client talking to a real ``mcp`` server, both instrumented."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, cast

import anyio
import mcp.types as types
import pytest
from mcp import Client, ClientSession, StdioServerParameters, stdio_client
from mcp.server import Server
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from mcp.shared.memory import create_client_server_memory_streams

from watchkeeper import sdk
from watchkeeper.records import Span, SpanKind, Status
from watchkeeper.sdk._mcp import OWN_TRACEPARENT_KEY

from .wk_sdk_helpers import IngestServer

pytestmark = pytest.mark.timeout(60)


def _otel_is_off() -> bool:
    from opentelemetry import trace

    return isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def _text(result: types.CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    return block.text


def _lowlevel_server(seen_meta: list[dict[str, Any]]) -> Server[Any]:
    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        seen_meta.append(dict(ctx.meta or {}))
        args = params.arguments or {}
        if params.name == "add":
            with sdk.span("compute"):
                total = args["a"] + args["b"]
            return types.CallToolResult(content=[types.TextContent(type="text", text=str(total))])
        if params.name == "soft-fail":
            return types.CallToolResult(content=[types.TextContent(type="text", text="quota exceeded")], is_error=True)
        if params.name == "protocol-fail":
            raise MCPError(code=types.INVALID_PARAMS, message="no such tool")
        raise RuntimeError("kaboom")

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        names = ("add", "soft-fail", "protocol-fail", "crash")
        return types.ListToolsResult(tools=[types.Tool(name=n, input_schema={"type": "object"}) for n in names])

    return sdk.instrument_mcp_server(Server("calc-server", on_call_tool=call_tool, on_list_tools=list_tools))


async def _with_session(server: Server[Any], body: Callable[[ClientSession], Awaitable[None]]) -> None:
    """A real JSON-RPC session over memory streams; the server runs in its own task, outside the client's spans."""
    async with (
        create_client_server_memory_streams() as (client_streams, server_streams),
        anyio.create_task_group() as tg,
    ):

        async def serve() -> None:
            await server.run(server_streams[0], server_streams[1], server.create_initialization_options())

        tg.start_soon(serve)
        async with ClientSession(*client_streams) as session:
            await session.initialize()
            sdk.instrument_mcp_client(session)
            await body(session)
        tg.cancel_scope.cancel()


def _pair(capture: sdk.CaptureExporter, tool: str) -> tuple[Span, Span]:
    client = next(s for s in capture.spans if s.kind is SpanKind.MCP and s.tool and s.tool.name == tool)
    server = next(s for s in capture.spans if s.kind is SpanKind.TOOL and s.tool and s.tool.name == tool)
    return client, server


def test_client_and_server_spans_form_one_trace_over_json_rpc(capture: sdk.CaptureExporter) -> None:
    seen_meta: list[dict[str, Any]] = []
    results: dict[str, Any] = {}

    async def body(session: ClientSession) -> None:
        async with sdk.span("agent", kind="agent") as agent:
            results["agent"] = agent
            results["add"] = await session.call_tool("add", {"a": 2, "b": 3}, meta=cast(Any, {"requestor": "test"}))

    anyio.run(_with_session, _lowlevel_server(seen_meta), body)
    assert _text(results["add"]) == "5"
    client, server = _pair(capture, "add")
    agent = results["agent"]
    assert client.trace_id == server.trace_id == agent.trace_id
    assert client.parent_span_id == agent.span_id
    assert server.parent_span_id == client.span_id
    assert capture.find("compute").parent_span_id == server.span_id
    # What travelled: W3C keys in params._meta next to the caller's own meta.
    meta = seen_meta[0]
    expected = f"00-{client.trace_id}-{client.span_id}-01"
    assert meta[OWN_TRACEPARENT_KEY] == expected and meta["requestor"] == "test"
    if _otel_is_off():  # with an OpenTelemetry SDK installed, mcp writes its own span here (tested below)
        assert meta["traceparent"] == expected

    assert client.name == "tools/call add" and client.status is Status.OK
    assert client.tool is not None and server.tool is not None
    assert (client.tool.mcp_server, client.tool.jsonrpc_method, client.tool.arguments) == (
        "calc-server",
        "tools/call",
        {"a": 2, "b": 3},
    )
    assert client.tool.result == {"content": [{"type": "text", "text": "5"}]} and client.tool.is_error is False
    assert server.tool.mcp_server == "calc-server" and server.tool.result == client.tool.result
    assert client.attributes["mcp.side"] == "client" and server.attributes["mcp.side"] == "server"


def test_tool_errors_and_json_rpc_errors_are_recorded_on_both_sides(capture: sdk.CaptureExporter) -> None:
    outcomes: dict[str, Any] = {}

    async def body(session: ClientSession) -> None:
        outcomes["soft-fail"] = await session.call_tool("soft-fail", {})
        for name in ("protocol-fail", "crash"):
            with pytest.raises(MCPError) as info:
                await session.call_tool(name, {})
            outcomes[name] = info.value

    anyio.run(_with_session, _lowlevel_server([]), body)

    assert outcomes["soft-fail"].is_error is True
    client, server = _pair(capture, "soft-fail")
    for s in (client, server):
        assert s.status is Status.ERROR and s.tool is not None and s.tool.is_error is True
        assert s.error is not None and (s.error.type, s.error.message) == ("tool_error", "quota exceeded")

    client, server = _pair(capture, "protocol-fail")
    assert outcomes["protocol-fail"].code == types.INVALID_PARAMS
    for s in (client, server):
        assert s.status is Status.ERROR and s.tool is not None
        assert s.tool.jsonrpc_error_code == types.INVALID_PARAMS
        assert s.error is not None and s.error.code == str(types.INVALID_PARAMS) and s.error.type == "mcp.MCPError"

    client, server = _pair(capture, "crash")
    assert server.error is not None and (server.error.type, server.error.message) == ("RuntimeError", "kaboom")
    assert client.tool is not None and client.tool.jsonrpc_error_code == outcomes["crash"].code
    assert server.parent_span_id == client.span_id


def test_mcpserver_tools_and_the_high_level_client(capture: sdk.CaptureExporter) -> None:
    server = MCPServer("notes")

    @server.tool()
    def lookup(key: str) -> str:
        with sdk.span("db"):
            return key.upper()

    @server.tool()
    def broken() -> str:
        raise ValueError("bad state")

    sdk.instrument_mcp_server(server)
    sdk.instrument_mcp_server(server)  # idempotent
    got: dict[str, Any] = {}

    async def run() -> None:
        async with Client(server, mode="legacy") as client:
            sdk.instrument_mcp_client(client)
            got["ok"] = await client.call_tool("lookup", {"key": "abc"})
            got["bad"] = await client.call_tool("broken", {})

    anyio.run(run)
    assert _text(got["ok"]) == "ABC" and got["bad"].is_error is True
    client, server_span = _pair(capture, "lookup")
    assert server_span.parent_span_id == client.span_id
    assert capture.find("db").parent_span_id == server_span.span_id
    assert client.tool is not None and client.tool.mcp_server == "notes"
    assert len([s for s in capture.spans if s.kind is SpanKind.TOOL]) == 2
    client, server_span = _pair(capture, "broken")
    assert client.status is Status.ERROR and server_span.status is Status.ERROR
    # MCPServer turns the exception into an isError result and keeps its message to itself.
    assert server_span.error is not None and server_span.error.type == "tool_error"
    assert server_span.error.message == "Error executing tool broken"


SERVER_SCRIPT = """
import sys
from mcp.server.mcpserver import MCPServer
from watchkeeper import sdk

sdk.configure(endpoint=sys.argv[1], service_name="mcp-subprocess", schedule_delay_s=0.05)
server = sdk.instrument_mcp_server(MCPServer("remote-notes"))

@server.tool()
def shout(text: str) -> str:
    with sdk.span("inside-tool"):
        return text.upper()

server.run("stdio")
"""


@pytest.mark.slow
def test_spans_from_two_processes_over_stdio_form_one_trace(
    capture: sdk.CaptureExporter, ingest: IngestServer, tmp_path: Path
) -> None:
    script = tmp_path / "server.py"
    script.write_text(SERVER_SCRIPT)
    params = StdioServerParameters(command=sys.executable, args=[str(script), ingest.endpoint])
    got: dict[str, Any] = {}

    async def run() -> None:
        with (tmp_path / "server.log").open("w") as errlog:
            async with stdio_client(params, errlog=errlog) as streams, ClientSession(*streams) as session:
                await session.initialize()
                sdk.instrument_mcp_client(session)
                got["result"] = await session.call_tool("shout", {"text": "hi"})

    anyio.run(run)
    assert _text(got["result"]) == "HI"
    assert ingest.wait_for_requests(1, timeout=20), (tmp_path / "server.log").read_text()[-2000:]
    remote = {s["name"]: s for s in ingest.spans()}
    client = capture.spans[0]
    assert client.kind is SpanKind.MCP and client.tool is not None and client.tool.mcp_server == "remote-notes"
    server = remote["tools/call shout"]
    assert server["trace_id"] == client.trace_id and server["parent_span_id"] == client.span_id
    assert server["service_name"] == "mcp-subprocess" and server["kind"] == "tool"
    assert remote["inside-tool"]["parent_span_id"] == server["span_id"]


OTEL_SCRIPT = """
import anyio
import mcp.types as types
from mcp import ClientSession
from mcp.server import Server
from mcp.shared.memory import create_client_server_memory_streams
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from watchkeeper import sdk

trace.set_tracer_provider(TracerProvider())  # now mcp's own OpenTelemetry spans are real and inject traceparent
cap = sdk.configure(exporter=sdk.CaptureExporter())
seen = []

async def call_tool(ctx, params):
    seen.append(dict(ctx.meta or {}))
    return types.CallToolResult(content=[types.TextContent(type="text", text="ok")])

async def list_tools(ctx, params):
    return types.ListToolsResult(tools=[types.Tool(name="t", input_schema={"type": "object"})])

server = sdk.instrument_mcp_server(Server("s", on_call_tool=call_tool, on_list_tools=list_tools))

async def main():
    async with create_client_server_memory_streams() as (c, s), anyio.create_task_group() as tg:
        tg.start_soon(lambda: server.run(s[0], s[1], server.create_initialization_options()))
        async with ClientSession(*c) as session:
            await session.initialize()
            sdk.instrument_mcp_client(session)
            await session.call_tool("t", {})
        tg.cancel_scope.cancel()

anyio.run(main)
client = next(x for x in cap.spans if x.kind == "mcp")
tool = next(x for x in cap.spans if x.kind == "tool")
print(seen[0]["traceparent"] == f"00-{client.trace_id}-{client.span_id}-01", tool.parent_span_id == client.span_id)
"""


@pytest.mark.slow
def test_linkage_survives_mcp_injecting_its_own_opentelemetry_traceparent(tmp_path: Path) -> None:
    import subprocess

    script = tmp_path / "otel_app.py"
    script.write_text(OTEL_SCRIPT)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    overwritten, linked = out.stdout.split()
    assert overwritten == "False"  # mcp replaced the W3C key with its OpenTelemetry span's...
    assert linked == "True"  # ...and the server span still found the client span through our own key

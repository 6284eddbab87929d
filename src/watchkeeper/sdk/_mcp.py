"""MCP instrumentation: ``tools/call`` on the client as an ``mcp`` span, on the server as a ``tool`` span below it.

Trace context travels in the request's ``params._meta`` as W3C ``traceparent`` / ``tracestate`` (MCP SEP-414, the
OpenTelemetry MCP semantic conventions). ``mcp`` 2.x also injects ``traceparent`` from OpenTelemetry's own context
when an OpenTelemetry SDK is installed, which would overwrite ours; so the client also writes the same value under
``dev.watchkeeper/traceparent``, which the server side prefers. ``mcp`` itself is imported only when used.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, TypeVar

from watchkeeper.records import SpanKind
from watchkeeper.sdk._context import CURRENT, TraceContext, parse_traceparent
from watchkeeper.sdk._tracer import SpanHandle, _count_error, start_span

if TYPE_CHECKING:
    from mcp.server.context import CallNext, HandlerResult, ServerRequestContext

T = TypeVar("T")

OWN_TRACEPARENT_KEY: Final = "dev.watchkeeper/traceparent"
_MARK: Final = "__watchkeeper_wrapped__"
_TOOLS_CALL: Final = "tools/call"
_MAX_ERROR_TEXT: Final = 4096


def _mcp_error_type() -> type[BaseException] | None:
    try:
        from mcp.shared.exceptions import MCPError
    except Exception:
        return None
    return MCPError


def _dump(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            return dump(mode="json", by_alias=True, exclude_none=True)
        except Exception:
            return None
    return value


def _record_result(handle: SpanHandle, result: Any) -> None:
    """Put a ``CallToolResult`` (model or wire dict) on the span; ``isError`` marks the span as an error."""
    data = _dump(result)
    if not isinstance(data, Mapping):
        handle.set_attribute("mcp.result_type", type(result).__name__)
        return
    tool = handle.tool
    tool.result = {k: v for k, v in data.items() if k in ("content", "structuredContent")} or None
    is_error = data.get("isError")
    tool.is_error = bool(is_error) if is_error is not None else False
    if is_error:
        texts = [
            str(c.get("text"))
            for c in data.get("content") or ()
            if isinstance(c, Mapping) and c.get("type") == "text" and c.get("text")
        ]
        handle.set_status("error", error_type="tool_error", message="\n".join(texts)[:_MAX_ERROR_TEXT] or None)


def _record_failure(handle: SpanHandle, exc: BaseException) -> None:
    handle.record_exception(exc)
    mcp_error = _mcp_error_type()
    if mcp_error is not None and isinstance(exc, mcp_error):
        code = getattr(exc, "code", None)
        if isinstance(code, int):
            handle.tool.jsonrpc_error_code = code
            err = handle.record.error
            if err is not None:
                err.type = "mcp.MCPError"
                err.code = str(code)


# ---------------------------------------------------------------------------------------------------------------
# Client


def _server_name(target: Any) -> str | None:
    try:
        info = target.server_info
    except Exception:  # mcp.Client raises before it is connected
        return None
    name = getattr(info, "name", None)
    return name if isinstance(name, str) else None


def instrument_mcp_client(target: T) -> T:
    """Instrument an ``mcp.ClientSession`` or ``mcp.Client`` in place (and give it back).

    Every ``call_tool`` becomes an ``mcp`` span (tool name, arguments, result content, ``isError``, the server's
    name from its initialize result, JSON-RPC error code on ``MCPError``), and the span's trace context is sent in
    ``params._meta`` so an instrumented server's span joins the same trace. Instrumenting twice is harmless.
    """
    try:
        original = getattr(target, "call_tool", None)
        if original is None or getattr(original, _MARK, False):
            return target
        wrapper = _client_wrapper(target, original)
        setattr(wrapper, _MARK, True)
        setattr(target, "call_tool", wrapper)  # noqa: B010 - instance attribute shadows the method on purpose
    except Exception:
        _count_error()
    return target


def _client_wrapper(target: Any, original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    async def call_tool(name: str, arguments: dict[str, Any] | None = None, *args: Any, **kwargs: Any) -> Any:
        handle = _begin_client(target, name, arguments)
        if handle is None:
            return await original(name, arguments, *args, **kwargs)
        try:
            meta = dict(kwargs.get("meta") or {})
            meta["traceparent"] = handle.traceparent
            meta[OWN_TRACEPARENT_KEY] = handle.traceparent
            if handle.tracestate:
                meta["tracestate"] = handle.tracestate
            kwargs["meta"] = meta
        except Exception:
            _count_error()
        token = CURRENT.set(handle)
        try:
            result = await original(name, arguments, *args, **kwargs)
        except BaseException as exc:
            _reset(token)
            _end(handle, exc)
            raise
        _reset(token)
        try:
            _record_result(handle, result)
        except Exception:
            _count_error()
        handle.end()
        return result

    return call_tool


def _begin_client(target: Any, name: Any, arguments: Any) -> SpanHandle | None:
    try:
        handle = start_span(f"{_TOOLS_CALL} {name}", SpanKind.MCP)
        handle.set_tool(
            name=str(name),
            arguments=dict(arguments) if isinstance(arguments, Mapping) else arguments,
            mcp_server=_server_name(target),
            jsonrpc_method=_TOOLS_CALL,
        )
        handle.set_attributes({"mcp.method.name": _TOOLS_CALL, "mcp.side": "client"})
        version = getattr(target, "protocol_version", None)
        if isinstance(version, str):
            handle.set_attribute("mcp.protocol.version", version)
        return handle
    except Exception:
        _count_error()
        return None


def _end(handle: SpanHandle, exc: BaseException) -> None:
    try:
        _record_failure(handle, exc)
    except Exception:
        _count_error()
    handle.end()


def _reset(token: Any) -> None:
    try:
        CURRENT.reset(token)
    except (ValueError, RuntimeError):
        _count_error()


# ---------------------------------------------------------------------------------------------------------------
# Server


def remote_parent(meta: Mapping[str, Any] | None) -> TraceContext | None:
    """The client's span named in a request's ``_meta``: our own key first, then W3C ``traceparent``."""
    if not isinstance(meta, Mapping):
        return None
    state = meta.get("tracestate")
    return parse_traceparent(meta.get(OWN_TRACEPARENT_KEY), state) or parse_traceparent(meta.get("traceparent"), state)


class WatchkeeperServerMiddleware:
    """``mcp`` server middleware: each ``tools/call`` runs inside a ``tool`` span parented by the caller's span."""

    def __init__(self, server_name: str | None) -> None:
        self.server_name = server_name

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != _TOOLS_CALL:
            return await call_next(ctx)
        handle = self._begin(ctx)
        if handle is None:
            return await call_next(ctx)
        token = CURRENT.set(handle)
        try:
            result = await call_next(ctx)
        except BaseException as exc:
            _reset(token)
            _end(handle, exc)
            raise
        _reset(token)
        try:
            _record_result(handle, result)
        except Exception:
            _count_error()
        handle.end()
        return result

    def _begin(self, ctx: Any) -> SpanHandle | None:
        try:
            params = ctx.params if isinstance(ctx.params, Mapping) else {}
            name = params.get("name")
            parent = remote_parent(ctx.meta) or remote_parent(params.get("_meta"))
            handle = start_span(f"{_TOOLS_CALL} {name}", SpanKind.TOOL, parent if parent is not None else True)
            arguments = params.get("arguments")
            handle.set_tool(
                name=str(name),
                arguments=dict(arguments) if isinstance(arguments, Mapping) else arguments,
                mcp_server=self.server_name,
                jsonrpc_method=_TOOLS_CALL,
            )
            handle.set_attributes({"mcp.method.name": _TOOLS_CALL, "mcp.side": "server"})
            if ctx.request_id is not None:
                handle.set_attribute("jsonrpc.request.id", str(ctx.request_id))
            if isinstance(ctx.protocol_version, str):
                handle.set_attribute("mcp.protocol.version", ctx.protocol_version)
            return handle
        except Exception:
            _count_error()
            return None


def instrument_mcp_server(server: T) -> T:
    """Instrument an ``mcp`` server (``mcp.server.Server`` or ``mcp.server.mcpserver.MCPServer``) in place.

    Adds a middleware that records each ``tools/call`` as a ``tool`` span whose parent is the client's span (from
    ``traceparent`` in ``params._meta``), so client and server spans form one trace; spans started inside the tool
    are its children. A tool that raises or returns ``isError`` is recorded as an error. Idempotent.
    """
    try:
        chain = getattr(server, "middleware", None)
        if not isinstance(chain, list):
            return server
        if any(isinstance(m, WatchkeeperServerMiddleware) for m in chain):
            return server
        name = getattr(server, "name", None)
        chain.append(WatchkeeperServerMiddleware(name if isinstance(name, str) else None))
    except Exception:
        _count_error()
    return server

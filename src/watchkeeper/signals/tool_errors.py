"""The class of a failed tool or MCP call: ``timeout``, ``rate_limit``, ``auth``, ``not_found``,
``invalid_arguments``, ``server_error``, ``other`` — or ``ok`` when the call succeeded.

Evidence is read in order of precision: the JSON-RPC error code, the HTTP status, then the error type and message.
"""

# Word lists of error text stay one pattern per class, even past the line limit.
# ruff: noqa: E501

from __future__ import annotations

import re

from ..records import Span, Status
from ._model import Label, unknown
from ._text import value_text

VERSION = "tool-error-1"

_JSONRPC = {
    -32700: "invalid_arguments",  # parse error
    -32600: "invalid_arguments",  # invalid request
    -32601: "not_found",  # method not found
    -32602: "invalid_arguments",  # invalid params
    -32603: "server_error",  # internal error
    -32001: "timeout",  # MCP SDKs: request timed out
    -32002: "not_found",  # MCP: resource not found
    -32042: "auth",  # MCP: URL elicitation / authorisation required
}
_HTTP = {
    400: "invalid_arguments",
    401: "auth",
    403: "auth",
    404: "not_found",
    405: "invalid_arguments",
    408: "timeout",
    409: "invalid_arguments",
    410: "not_found",
    413: "invalid_arguments",
    422: "invalid_arguments",
    429: "rate_limit",
    504: "timeout",
}
_TEXT = [
    ("timeout", re.compile(r"time[sd]?[ -]?out|timed out|deadline exceeded|took too long", re.I)),
    ("rate_limit", re.compile(r"rate[ -]?limit|too many requests|quota|throttl|429", re.I)),
    (
        "auth",
        re.compile(
            r"unauthori[sz]ed|forbidden|permission denied|access denied|auth|api key|credential|token (?:expired|invalid)|401|403",
            re.I,
        ),
    ),
    ("not_found", re.compile(r"not found|no such|does not exist|unknown (?:tool|method|resource)|404", re.I)),
    (
        "invalid_arguments",
        re.compile(
            r"invalid|validation|missing (?:required )?(?:argument|param|field)|bad request|schema|unexpected (?:argument|keyword)|typeerror|valueerror|400|422",
            re.I,
        ),
    ),
    (
        "server_error",
        re.compile(
            r"internal (?:server )?error|server error|service unavailable|bad gateway|5\d\d|exception|traceback|crash",
            re.I,
        ),
    ),
]


def classify_tool_error(
    *,
    failed: bool,
    jsonrpc_code: int | None = None,
    http_status: int | None = None,
    error_type: str | None = None,
    message: str | None = None,
) -> Label:
    """The class of one tool call's failure (``ok`` when it did not fail)."""
    if jsonrpc_code is not None and jsonrpc_code in _JSONRPC:
        return Label(_JSONRPC[jsonrpc_code], 0.95, VERSION, evidence=("jsonrpc_code",))
    if http_status is not None:
        if http_status in _HTTP:
            return Label(_HTTP[http_status], 0.95, VERSION, evidence=("http_status",))
        if 500 <= http_status <= 599:
            return Label("server_error", 0.9, VERSION, evidence=("http_status",))
    if not failed and jsonrpc_code is None and (http_status is None or http_status < 400):
        return Label("ok", 1.0, VERSION)
    text = " ".join(x for x in (error_type, message) if x)[:2000]
    for cls, rx in _TEXT:
        if rx.search(text):
            return Label(cls, 0.7, VERSION, evidence=("error_text",))
    if jsonrpc_code is not None and jsonrpc_code in range(-32099, -31999):
        return Label("server_error", 0.6, VERSION, evidence=("jsonrpc_code",))
    return Label("other", 0.5, VERSION)


def tool_error_of(span: Span) -> Label:
    """The tool-error class of a tool or MCP span."""
    t = span.tool
    if t is None:
        return unknown(VERSION, "span has no tool call")
    failed = bool(t.is_error) or span.status is Status.ERROR or span.error is not None
    message = span.error.message if span.error is not None else None
    etype = span.error.type if span.error is not None else None
    if failed and message is None and t.is_error:
        message = (value_text(t.result) or "")[:2000] or None
    if span.error is not None and span.error.code and t.jsonrpc_error_code is None:
        code = span.error.code.strip()
        if code.lstrip("-").isdigit() and len(code) < 10:
            n = int(code)
            if 100 <= n <= 599:
                return classify_tool_error(failed=True, http_status=n, error_type=etype, message=message)
            return classify_tool_error(failed=True, jsonrpc_code=n, error_type=etype, message=message)
    return classify_tool_error(
        failed=failed, jsonrpc_code=t.jsonrpc_error_code, http_status=t.http_status, error_type=etype, message=message
    )

"""Where the current span lives, how ids are made, and W3C Trace Context (``traceparent``) in and out.

The current span is held in a :mod:`contextvars` variable, so nested calls form a tree and asyncio tasks inherit the
span that was current when they were created. A remote parent (a ``traceparent`` received from another process) is
held in the same variable as a :class:`TraceContext`.
"""

from __future__ import annotations

import contextvars
import os
import random
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from watchkeeper.sdk._tracer import SpanHandle

# A private generator: an application's ``random.seed(42)`` must not make our ids repeat across processes.
_rng = random.Random(os.urandom(32))  # noqa: S311 - ids need uniqueness, not secrecy (as in OpenTelemetry)
_getrandbits = _rng.getrandbits


def _reseed_after_fork() -> None:
    _rng.seed(os.urandom(32))


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reseed_after_fork)


def new_trace_id() -> str:
    """A random trace id: 32 lowercase hex digits, never all zeros."""
    n = _getrandbits(128)
    while not n:
        n = _getrandbits(128)
    return f"{n:032x}"


def new_span_id() -> str:
    """A random span id: 16 lowercase hex digits, never all zeros."""
    n = _getrandbits(64)
    while not n:
        n = _getrandbits(64)
    return f"{n:016x}"


@dataclass(frozen=True, slots=True)
class TraceContext:
    """A parent span in another process, as carried by a W3C ``traceparent`` (and ``tracestate``)."""

    trace_id: str
    span_id: str
    sampled: bool = True
    tracestate: str | None = None

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{'01' if self.sampled else '00'}"


# The active span: a live SpanHandle, a remote TraceContext, or None at the root.
CURRENT: contextvars.ContextVar[SpanHandle | TraceContext | None] = contextvars.ContextVar(
    "watchkeeper_current_span", default=None
)

_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")
_MAX_TRACESTATE_CHARS = 512


def parse_traceparent(value: Any, tracestate: Any = None) -> TraceContext | None:
    """The remote parent named by a ``traceparent`` header value, or None when it is absent or malformed.

    Follows W3C Trace Context level 1: version ``ff`` is invalid; version ``00`` is exactly 55 characters; a later
    version may append fields after a dash, which are ignored; all-zero trace or span ids are invalid.
    """
    if not isinstance(value, str) or len(value) < 55 or len(value) > 512:
        return None
    match = _TRACEPARENT.match(value.strip())
    if match is None:
        return None
    version, trace_id, span_id, flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest is not None):
        return None
    if trace_id == "0" * 32 or span_id == "0" * 16:
        return None
    state = tracestate if isinstance(tracestate, str) and 0 < len(tracestate) <= _MAX_TRACESTATE_CHARS else None
    return TraceContext(trace_id, span_id, bool(int(flags, 16) & 1), state)


def _get(carrier: Mapping[str, Any], key: str) -> Any:
    value = carrier.get(key)
    if value is None:
        # HTTP header mappings are case-insensitive in spirit; plain dicts are not.
        for k, v in carrier.items():
            if isinstance(k, str) and k.lower() == key:
                return v
    if isinstance(value, list | tuple):
        return value[0] if value else None
    return value


def extract_traceparent(carrier: Mapping[str, Any] | None) -> TraceContext | None:
    """The remote parent carried by ``traceparent``/``tracestate`` keys of a mapping (headers, MCP ``_meta``)."""
    if not carrier:
        return None
    try:
        return parse_traceparent(_get(carrier, "traceparent"), _get(carrier, "tracestate"))
    except Exception:  # a hostile carrier must not reach the application
        return None


def current_parent() -> SpanHandle | TraceContext | None:
    return CURRENT.get()


def current_trace_id() -> str | None:
    """The trace id of the current span (or remote parent), or None outside any span."""
    cur = CURRENT.get()
    return None if cur is None else cur.trace_id


def current_span_id() -> str | None:
    """The span id of the current span (or remote parent), or None outside any span."""
    cur = CURRENT.get()
    return None if cur is None else cur.span_id


def inject_traceparent(carrier: MutableMapping[str, Any] | None = None) -> dict[str, Any] | MutableMapping[str, Any]:
    """Write ``traceparent`` (and ``tracestate`` when known) for the current span into ``carrier``; return it.

    Outside any span the carrier is returned unchanged. A new dict is made when no carrier is given.
    """
    out: MutableMapping[str, Any] = {} if carrier is None else carrier
    cur = CURRENT.get()
    if cur is None:
        return out
    out["traceparent"] = f"00-{cur.trace_id}-{cur.span_id}-01"
    if cur.tracestate:
        out["tracestate"] = cur.tracestate
    return out

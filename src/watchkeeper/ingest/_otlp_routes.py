"""The routing table: which attribute names feed which canonical slot, in which priority, converted how.

One dict lookup per attribute routes it (``ROUTES``), so the cost of mapping grows with the attributes a span has,
not with the conventions we understand. Where several conventions name the same thing, earlier names in a slot's
list win. docs/ingest-otlp-mapping.md is the same table for people; keep the two in step.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from watchkeeper.ingest._otlp_messages import maybe_json
from watchkeeper.records import SpanKind

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)

# ---------------------------------------------------------------------------------------------------------------
# Converters: the canonical value, or None when the attribute does not fit (it then stays an attribute as sent).


def to_str(v: Any) -> str | None:
    if type(v) is str:
        return v or None
    if type(v) is int:
        return str(v)
    return None


def to_int(v: Any) -> int | None:
    t = type(v)
    if t is int:
        n: int = v
        return n
    if t is float and v.is_integer():
        return int(v)
    if t is str and 0 < len(v) < 20 and v.isascii() and v.lstrip("-").isdigit():
        return int(v)
    return None


def to_count(v: Any) -> int | None:
    n = to_int(v)
    return n if n is not None and n >= 0 else None


def to_float(v: Any) -> float | None:
    if (type(v) is float and v == v and abs(v) != float("inf")) or type(v) is int:
        return float(v)
    return None


def to_str_list(v: Any) -> list[str] | None:
    v = maybe_json(v)
    if type(v) is str:
        return [v]
    if type(v) is list and all(type(x) is str for x in v):
        return v
    return None


def to_http_status(v: Any) -> int | None:
    n = to_int(v)
    return n if n is not None and 100 <= n <= 599 else None


def to_jsonrpc_code(v: Any) -> int | None:
    n = to_int(v)
    return n if n is not None and -(2**31) <= n < 2**31 else None


def to_time_ns(v: Any) -> int | None:
    """Nanoseconds since the epoch from an integer or an RFC 3339 string with a time zone."""
    n = to_count(v)
    if n is not None:
        return n
    if type(v) is not str or len(v) > 64:
        return None
    try:
        dt = datetime.fromisoformat(v)
    except ValueError:
        return None
    if dt.tzinfo is None:
        return None
    return ((dt - _EPOCH) // _US) * 1000


# ---------------------------------------------------------------------------------------------------------------
# Span kinds

OP_KIND = {
    "chat": SpanKind.LLM,
    "text_completion": SpanKind.LLM,
    "generate_content": SpanKind.LLM,
    "completion": SpanKind.LLM,
    "embeddings": SpanKind.EMBEDDING,
    "execute_tool": SpanKind.TOOL,
    "invoke_agent": SpanKind.AGENT,
    "create_agent": SpanKind.AGENT,
    "retrieval": SpanKind.RETRIEVAL,
}
# value -> (kind, whether the kind says all the attribute said, so the attribute can be dropped)
OI_KIND = {
    "LLM": (SpanKind.LLM, True),
    "TOOL": (SpanKind.TOOL, True),
    "CHAIN": (SpanKind.CHAIN, True),
    "AGENT": (SpanKind.AGENT, True),
    "RETRIEVER": (SpanKind.RETRIEVAL, True),
    "RERANKER": (SpanKind.RETRIEVAL, False),
    "EMBEDDING": (SpanKind.EMBEDDING, True),
    "GUARDRAIL": (SpanKind.GUARDRAIL, True),
    "EVALUATOR": (SpanKind.EVALUATOR, True),
    "PROMPT": (SpanKind.CHAIN, False),
    "UNKNOWN": (SpanKind.UNKNOWN, True),
}
TL_KIND = {
    "workflow": (SpanKind.CHAIN, False),
    "task": (SpanKind.CHAIN, False),
    "agent": (SpanKind.AGENT, True),
    "tool": (SpanKind.TOOL, True),
    "unknown": (SpanKind.UNKNOWN, True),
}
# OpenLLMetry's llm.request.type -> (kind, canonical operation)
TL_REQUEST = {
    "chat": (SpanKind.LLM, "chat"),
    "completion": (SpanKind.LLM, "text_completion"),
    "embedding": (SpanKind.EMBEDDING, "embeddings"),
    "rerank": (SpanKind.RETRIEVAL, "rerank"),
}
OTEL_SPAN_KIND = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}

# ---------------------------------------------------------------------------------------------------------------
# The table

F_LLM = 1  # the span carries a model call: it gets an ``llm`` part
F_TOOL = 2  # the span carries a tool call: it gets a ``tool`` part
F_MCP = 4  # an MCP attribute: a tool span is an ``mcp`` span
F_WK = 8  # a watchkeeper.* cohort attribute

Conv = Callable[[Any], Any] | None

# (slot, converter, attribute names by priority, flags)
TABLE: tuple[tuple[str, Conv, tuple[str, ...], int], ...] = (
    # what the span is
    ("operation", to_str, ("gen_ai.operation.name",), 0),
    ("oi_kind", to_str, ("openinference.span.kind",), 0),
    ("tl_kind", to_str, ("traceloop.span.kind",), 0),
    ("tl_request", to_str, ("llm.request.type",), F_LLM),
    # the model call
    ("provider", to_str, ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system"), 0),
    ("request_model", to_str, ("gen_ai.request.model", "llm.request.model_name"), F_LLM),
    ("response_model", to_str, ("gen_ai.response.model", "llm.response.model_name"), F_LLM),
    ("oi_model", to_str, ("llm.model_name", "embedding.model_name"), F_LLM),
    ("input_messages", None, ("gen_ai.input.messages",), F_LLM),
    ("system_instructions", None, ("gen_ai.system_instructions",), F_LLM),
    ("output_messages", None, ("gen_ai.output.messages",), F_LLM),
    ("legacy_prompt", None, ("gen_ai.prompt",), F_LLM),
    ("legacy_completion", None, ("gen_ai.completion",), F_LLM),
    (
        "finish_reasons",
        to_str_list,
        ("gen_ai.response.finish_reasons", "llm.response.finish_reason", "llm.finish_reason"),
        F_LLM,
    ),
    (
        "input_tokens",
        to_count,
        (
            "gen_ai.usage.input_tokens",
            "gen_ai.usage.prompt_tokens",
            "llm.token_count.prompt",
            "llm.usage.prompt_tokens",
        ),
        F_LLM,
    ),
    (
        "output_tokens",
        to_count,
        (
            "gen_ai.usage.output_tokens",
            "gen_ai.usage.completion_tokens",
            "llm.token_count.completion",
            "llm.usage.completion_tokens",
        ),
        F_LLM,
    ),
    (
        "cached_tokens",
        to_count,
        (
            "gen_ai.usage.cache_read.input_tokens",
            "gen_ai.usage.cache_read_input_tokens",
            "llm.token_count.prompt_details.cache_read",
            "llm.usage.cache_read_input_tokens",
            "gen_ai.usage.cached_tokens",
            "gen_ai.usage.input_cached_tokens",
        ),
        F_LLM,
    ),
    (
        "reasoning_tokens",
        to_count,
        (
            "gen_ai.usage.reasoning.output_tokens",
            "gen_ai.usage.reasoning_tokens",
            "llm.token_count.completion_details.reasoning",
            "llm.usage.reasoning_tokens",
        ),
        F_LLM,
    ),
    ("total_tokens", to_count, ("gen_ai.usage.total_tokens", "llm.usage.total_tokens", "llm.token_count.total"), 0),
    ("cost_usd", to_float, ("llm.cost.total",), F_LLM),
    ("response_id", to_str, ("gen_ai.response.id",), F_LLM),
    ("invocation_parameters", None, ("llm.invocation_parameters",), F_LLM),
    # the tool call
    ("tool_name", to_str, ("gen_ai.tool.name", "tool.name", "tool_call.function.name"), F_TOOL),
    ("tool_call_id", to_str, ("gen_ai.tool.call.id", "tool_call.id", "tool.id"), F_TOOL),
    ("tool_args", None, ("gen_ai.tool.call.arguments", "tool_call.function.arguments"), F_TOOL),
    ("tool_result", None, ("gen_ai.tool.call.result",), F_TOOL),
    ("tool_parameters", None, ("tool.parameters",), F_TOOL),
    ("mcp_method", to_str, ("mcp.method.name",), F_TOOL | F_MCP),
    ("mcp_request", None, ("mcp.request.argument",), 0),
    ("mcp_response", None, ("mcp.response.value",), 0),
    ("jsonrpc_error", to_jsonrpc_code, ("rpc.jsonrpc.error_code", "rpc.response.status_code"), 0),
    ("jsonrpc_request_id", to_str, ("jsonrpc.request.id", "rpc.jsonrpc.request_id", "mcp.request.id"), 0),
    ("http_status", to_http_status, ("http.response.status_code", "http.status_code"), 0),
    ("server_address", to_str, ("server.address",), 0),
    ("server_port", to_int, ("server.port",), 0),
    ("tl_entity_name", to_str, ("traceloop.entity.name",), 0),
    # generic input and output
    ("input_value", None, ("input.value",), 0),
    ("input_mime", to_str, ("input.mime_type",), 0),
    ("output_value", None, ("output.value",), 0),
    ("output_mime", to_str, ("output.mime_type",), 0),
    ("tl_input", None, ("traceloop.entity.input",), 0),
    ("tl_output", None, ("traceloop.entity.output",), 0),
    # errors, sessions, subjects
    ("error_type", to_str, ("error.type",), 0),
    (
        "session",
        to_str,
        (
            "watchkeeper.session.id",
            "session.id",
            "gen_ai.conversation.id",
            "traceloop.association.properties.session_id",
        ),
        0,
    ),
    ("mcp_session", to_str, ("mcp.session.id",), F_MCP),
    (
        "subject",
        to_str,
        (
            "watchkeeper.subject.id",
            "user.id",
            "enduser.pseudo.id",
            "enduser.id",
            "traceloop.association.properties.user_id",
        ),
        0,
    ),
    # cohorts and versions
    ("created_at_ns", to_time_ns, ("watchkeeper.account.created_at",), F_WK),
    ("plan_tier", to_str, ("watchkeeper.account.plan_tier",), F_WK),
    ("region", to_str, ("watchkeeper.account.region",), F_WK),
    ("locale", to_str, ("watchkeeper.account.locale",), F_WK),
    ("client_name", to_str, ("watchkeeper.client.name",), F_WK),
    ("client_version", to_str, ("watchkeeper.client.version",), F_WK),
    ("version_model", to_str, ("watchkeeper.version.model",), F_WK),
    (
        "version_prompt",
        to_str,
        ("watchkeeper.version.prompt", "llm.prompt_template.version", "traceloop.prompt.version"),
        F_WK,
    ),
    ("version_skill", to_str, ("watchkeeper.version.skill",), F_WK),
    ("metadata", None, ("metadata",), 0),
)

# (attribute, parameter name); earlier entries win for the same parameter.
PARAMETERS: tuple[tuple[str, str], ...] = (
    ("gen_ai.request.temperature", "temperature"),
    ("gen_ai.request.max_tokens", "max_tokens"),
    ("gen_ai.request.top_p", "top_p"),
    ("gen_ai.request.top_k", "top_k"),
    ("gen_ai.request.frequency_penalty", "frequency_penalty"),
    ("gen_ai.request.presence_penalty", "presence_penalty"),
    ("gen_ai.request.stop_sequences", "stop_sequences"),
    ("gen_ai.request.seed", "seed"),
    ("gen_ai.request.choice.count", "choice_count"),
    ("gen_ai.request.encoding_formats", "encoding_formats"),
    ("gen_ai.embeddings.dimension.count", "dimensions"),
    ("gen_ai.output.type", "output_type"),
    ("gen_ai.request.streaming", "stream"),
    ("llm.top_k", "top_k"),
    ("llm.frequency_penalty", "frequency_penalty"),
    ("llm.presence_penalty", "presence_penalty"),
    ("llm.chat.stop_sequences", "stop_sequences"),
    ("llm.request.repetition_penalty", "repetition_penalty"),
    ("llm.is_streaming", "stream"),
)

# Cohort attributes that may also be set once on the resource; the span's own value wins.
RESOURCE_SLOTS = {
    keys[0]: (slot, conv) for slot, conv, keys, flags in TABLE if flags & F_WK and keys[0].startswith("watchkeeper.")
}


class Route(NamedTuple):
    slot: str
    priority: int
    conv: Conv
    flags: int
    parameter: bool


def _routes() -> dict[str, Route]:
    out: dict[str, Route] = {}
    for slot, conv, keys, flags in TABLE:
        for prio, key in enumerate(keys):
            out[key] = Route(slot, prio, conv, flags, False)
    for prio, (key, name) in enumerate(PARAMETERS):
        out[key] = Route(name, prio, None, F_LLM, True)
    return out


ROUTES = _routes()

# Presence of one of these means a flattened, indexed message family is worth scanning for; value = its prefix.
MARKERS = {
    "llm.input_messages.0.message.role": "llm.input_messages.",
    "llm.input_messages.0.message.content": "llm.input_messages.",
    "llm.output_messages.0.message.role": "llm.output_messages.",
    "llm.output_messages.0.message.content": "llm.output_messages.",
    "gen_ai.prompt.0.role": "gen_ai.prompt.",
    "gen_ai.prompt.0.content": "gen_ai.prompt.",
    "gen_ai.completion.0.role": "gen_ai.completion.",
    "gen_ai.completion.0.content": "gen_ai.completion.",
    "llm.prompts.0.prompt.text": "llm.prompts.",
    "llm.choices.0.completion.text": "llm.choices.",
}
WATCHED = frozenset(ROUTES) | frozenset(MARKERS)


# ---------------------------------------------------------------------------------------------------------------
# Routing


class Slots:
    """Routed attributes of one span.

    ``vals[slot]`` is the converted value, ``src[slot]`` the attribute name it came from, and ``raws[slot]`` the value
    as sent when conversion changed it. The builder pops what it uses and ``restore_unused`` puts the rest back into
    ``attrs`` under their own names. ``params`` holds model parameters the same way; ``families`` lists the indexed
    message families present (by prefix).
    """

    __slots__ = ("attrs", "families", "flags", "params", "psrc", "raws", "src", "vals")

    def __init__(self, attrs: dict[str, Any]) -> None:
        self.attrs = attrs
        self.vals: dict[str, Any] = {}
        self.src: dict[str, str] = {}
        self.raws: dict[str, Any] = {}
        self.params: dict[str, Any] = {}
        self.psrc: dict[str, str] = {}
        self.flags = 0
        self.families: set[str] = set()

    def add(self, key: str, raw: Any, r: Route) -> None:
        """Route one attribute (``key`` is in ROUTES)."""
        slot, prio, conv, flag, is_param = r
        self.flags |= flag
        raws: dict[str, Any] | None
        if is_param:
            store, srcs, raws, c = self.params, self.psrc, None, raw
        else:
            store, srcs, raws = self.vals, self.src, self.raws
            c = raw if conv is None else conv(raw)
            if c is None:
                self.attrs[key] = raw
                return
        if slot not in store:
            store[slot] = c
            srcs[slot] = key
            if raws is not None and c is not raw:
                raws[slot] = raw
            return
        # A second name for a filled slot: the higher priority wins; a loser with another value stays an attribute.
        cur_key = srcs[slot]
        cur = store[slot]
        if prio < ROUTES[cur_key].priority:
            cur_raw = cur if raws is None else raws.pop(slot, cur)
            store[slot] = c
            srcs[slot] = key
            if raws is not None and c is not raw:
                raws[slot] = raw
            if cur != c:
                self.attrs[cur_key] = cur_raw
        elif cur != c:
            self.attrs[key] = raw

    def restore_unused(self) -> None:
        attrs, src, raws = self.attrs, self.src, self.raws
        for slot, c in self.vals.items():
            attrs[src[slot]] = raws.get(slot, c)


def route_dict(attrs: dict[str, Any]) -> Slots:
    """Route the known attributes of a decoded dict, popping them out of it."""
    s = Slots(attrs)
    for k in WATCHED.intersection(attrs):
        r = ROUTES.get(k)
        if r is None:
            s.families.add(MARKERS[k])
        else:
            s.add(k, attrs.pop(k), r)
    return s


def route_more(s: Slots, extra: dict[str, Any]) -> None:
    """Attributes from a second source (an event) that the span did not set itself, routed into ``s``."""
    have = set(s.src.values()) | set(s.psrc.values())
    for k, v in extra.items():
        if k in have or k in s.attrs:
            continue
        r = ROUTES.get(k)
        if r is None:
            s.attrs[k] = v
            if k in MARKERS:
                s.families.add(MARKERS[k])
        else:
            s.add(k, v, r)

"""View models and formatting for the web pages: what a template shows, already shaped, and nothing else.

The routes in ``pages.py`` parse a request, call one query, and hand the result to a builder here. Everything that
reaches a template is plain data; templates escape it (autoescape is on) and never build markup from it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from ..errors import InputError
from ..records import Feedback, Message, Span, SpanKind, Status
from ..store import queries

# ---------------------------------------------------------------------------------------------------------------
# Formatting (registered as template filters)

MAX_SHOWN_CHARS = 200_000  # longer content is cut in the page; the JSON API has all of it


def utc_iso(ns: int | None, *, ms: bool = False) -> str:
    """``2026-01-31T12:00:05Z`` (UTC, seconds; milliseconds when asked)."""
    if ns is None:
        return "—"
    dt = datetime.fromtimestamp(ns / 1e9, tz=UTC)
    if ms:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def age(ns: int | None, now_ns: int | None = None) -> str:
    """How long ago, in the largest sensible unit: ``42s ago``, ``3m ago``, ``5h ago``, ``2d ago``."""
    if ns is None:
        return ""
    now = time.time_ns() if now_ns is None else now_ns
    delta = (now - ns) / 1e9
    future = delta < 0
    s = abs(delta)
    if s < 60:
        text = f"{int(s)}s"
    elif s < 3600:
        text = f"{int(s // 60)}m"
    elif s < 86400:
        text = f"{int(s // 3600)}h"
    else:
        text = f"{int(s // 86400)}d"
    return f"in {text}" if future else f"{text} ago"


def duration(ms: float | None) -> str:
    """A duration for people: ``850µs``, ``12.5ms``, ``340ms``, ``1.24s``, ``2m 05s``, ``1h 02m``."""
    if ms is None:
        return "—"
    if ms < 1:
        return f"{ms * 1000:.0f}µs"
    if ms < 10:
        return f"{ms:.2f}ms"
    if ms < 1000:
        return f"{ms:.0f}ms" if ms >= 100 else f"{ms:.1f}ms"
    s = ms / 1000
    if s < 60:
        return f"{s:.2f}s" if s < 10 else f"{s:.1f}s"
    if s < 3600:
        m, rest = divmod(round(s), 60)
        return f"{m}m {rest:02d}s"
    h, rest = divmod(round(s), 3600)
    return f"{h}h {rest // 60:02d}m"


def compact(n: float | None) -> str:
    """A count in few characters: ``950``, ``1.2k``, ``34k``, ``1.2M``, ``3.4B``; ``—`` for none."""
    if n is None:
        return "—"
    v = float(n)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= limit:
            x = v / limit
            return (f"{x:.1f}".rstrip("0").rstrip(".") if x < 10 else f"{x:.0f}") + suffix
    return f"{int(v)}" if v == int(v) else f"{v:.1f}"


def cost(usd: float | None) -> str:
    """US dollars with enough digits to tell small costs apart: ``$1.23``, ``$0.0042``, ``<$0.0001``."""
    if usd is None or usd == 0:
        return "—"
    if usd < 0.0001:
        return "<$0.0001"
    if usd < 1:
        return f"${usd:.4f}"
    return f"${usd:,.2f}"


def pretty(value: Any) -> str:
    """A JSON value as indented text; a string holding JSON (as tool arguments often are) is parsed first."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped[:1] in ("{", "[") and len(stripped) <= MAX_SHOWN_CHARS:
            try:
                value = json.loads(stripped)
            except ValueError:
                return _cut(value)
        else:
            return _cut(value)
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str, sort_keys=False)
    return _cut(text)


def scalar(value: Any) -> str:
    """An attribute value on one line: strings as they are, everything else as compact JSON."""
    if isinstance(value, str):
        return _cut(value)
    return _cut(json.dumps(value, ensure_ascii=False, default=str))


def _cut(text: str) -> str:
    if len(text) <= MAX_SHOWN_CHARS:
        return text
    return text[:MAX_SHOWN_CHARS] + f"\n… cut at {MAX_SHOWN_CHARS:,} characters; the JSON API has the whole value"


def path_part(value: str) -> str:
    """A value quoted for use as one URL path segment (a slash inside stays inside)."""
    return quote(value, safe="")


FILTERS = {
    "utc": utc_iso,
    "age": age,
    "duration": duration,
    "compact": compact,
    "cost": cost,
    "pretty": pretty,
    "scalar": scalar,
    "path_part": path_part,
}


# ---------------------------------------------------------------------------------------------------------------
# The traces list: filter form → query → rows

RANGES: dict[str, int | None] = {"15m": 900, "1h": 3600, "6h": 21600, "24h": 86400, "7d": 604800, "all": None}
RANGE_LABELS = {
    "15m": "last 15 min",
    "1h": "last hour",
    "6h": "last 6 h",
    "24h": "last 24 h",
    "7d": "last 7 days",
    "all": "all time",
}
DEFAULT_RANGE = "24h"
STATUSES = {"": "any status", "error": "has errors", "ok": "no errors"}
PAGE_SIZE = 50
MAX_PAGE_SIZE = 200

# form field → dimension; each matches traces with at least one span carrying the value
TEXT_FILTERS: dict[str, tuple[str, str]] = {
    "model": ("model", "model"),
    "session": ("session_id", "session"),
    "subject": ("subject_id", "subject"),
    "service": ("service_name", "service"),
    "plan_tier": ("plan_tier", "plan tier"),
    "region": ("region", "region"),
    "client_version": ("client_version", "client version"),
}


@dataclass(slots=True)
class TraceQuery:
    """The traces page's filter form, as sent in the query string."""

    range: str = DEFAULT_RANGE
    status: str = ""
    text: dict[str, str] = field(default_factory=dict)  # TEXT_FILTERS key → value
    tool: str = ""
    attr: str = ""
    cursor: str = ""
    live: bool = False
    limit: int = PAGE_SIZE

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> TraceQuery:
        """Read the form leniently: unknown presets fall back to the default, blanks mean "any"."""
        rng = params.get("range", DEFAULT_RANGE)
        status = params.get("status", "")
        limit = params.get("limit", "")
        return cls(
            range=rng if rng in RANGES else DEFAULT_RANGE,
            status=status if status in STATUSES else "",
            text={k: v.strip() for k in TEXT_FILTERS if (v := params.get(k, ""))},
            tool=params.get("tool", "").strip(),
            attr=params.get("attr", "").strip(),
            cursor=params.get("cursor", "").strip(),
            live=params.get("live", "") in ("1", "on", "true"),
            limit=min(int(limit), MAX_PAGE_SIZE) if limit.isdigit() and int(limit) > 0 else PAGE_SIZE,
        )

    def params(self, **changes: str | bool | None) -> dict[str, str]:
        """The query string of this form (blank fields left out), with some fields changed."""
        d: dict[str, str | bool | None] = {
            "range": self.range,
            "status": self.status,
            **self.text,
            "tool": self.tool,
            "attr": self.attr,
            "cursor": self.cursor,
            "live": self.live,
            "limit": str(self.limit) if self.limit != PAGE_SIZE else None,
        }
        d.update(changes)
        out: dict[str, str] = {}
        for k, v in d.items():
            if v is True:
                out[k] = "1"
            elif isinstance(v, str) and v:
                out[k] = str(v)
        if out.get("range") == DEFAULT_RANGE:
            del out["range"]
        return out

    def url(self, path: str = "/traces", **changes: str | bool | None) -> str:
        qs = urlencode(self.params(**changes))
        return f"{path}?{qs}" if qs else path

    @property
    def clear_url(self) -> str:
        """This form with every filter but the time range and live refresh taken off."""
        return TraceQuery(range=self.range, live=self.live, limit=self.limit).url()

    @property
    def filtered(self) -> bool:
        """Whether anything narrows the list beyond the time range."""
        return bool(self.status or self.text or self.tool or self.attr)

    def criteria(self, now_ns: int) -> queries.TraceCriteria:
        """The query this form asks for; InputError names a field the user must fix."""
        seconds = RANGES[self.range]
        equals = {TEXT_FILTERS[k][0]: v for k, v in self.text.items()}
        attributes: dict[str, str] = {}
        if self.attr:
            key, sep, value = self.attr.partition("=")
            if not sep or not key.strip():
                raise InputError("the attribute filter must look like key=value", field="attr")
            attributes[key.strip()] = value.strip()
        flt = queries.SpanFilter(equals=equals, attributes=attributes)
        flt.validate()  # dimension names, attribute key syntax
        return queries.TraceCriteria(
            start_from_ns=None if seconds is None else now_ns - seconds * 1_000_000_000,
            has_errors={"error": True, "ok": False}.get(self.status),
            equals=equals,
            attributes=attributes,
            tool_query=self.tool or None,
        )


def trace_duration_ms(t: queries.TraceSummary) -> float:
    return (t.end_ns - t.root.start_time_ns) / 1e6


# ---------------------------------------------------------------------------------------------------------------
# One trace: the span tree as waterfall rows, totals, and the selected span's panel


@dataclass(slots=True)
class Row:
    """One line of the waterfall: a span, where it sits in the tree, and where its bar sits in time."""

    span: Span
    depth: int
    offset_pct: float
    width_pct: float
    children: int
    detail: str  # model or tool name shown beside the span name

    @property
    def is_error(self) -> bool:
        return self.span.status is Status.ERROR


@dataclass(slots=True)
class Totals:
    duration_ms: float
    spans: int
    errors: int
    llm_calls: int
    tool_calls: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost_usd: float


@dataclass(slots=True)
class TraceView:
    trace_id: str
    start_ns: int
    end_ns: int
    rows: list[Row]
    totals: Totals
    roots: list[Span]
    facts: list[tuple[str, list[str]]]  # (label, distinct values) for sessions, subjects, versions, ...
    sessions: list[str]
    feedback: list[Feedback]
    selected: SpanPanel
    ticks: list[tuple[float, str]]  # (percent, label) for the time axis


@dataclass(slots=True)
class MessageView:
    role: str
    content: str | None
    name: str | None
    tool_call_id: str | None
    tool_calls: list[tuple[str, str | None, str]]  # (name, id, pretty arguments)


@dataclass(slots=True)
class SpanPanel:
    """Everything the detail panel shows for one span."""

    span: Span
    trace_id: str
    offset_ms: float
    is_error: bool
    input_messages: list[MessageView]
    output_messages: list[MessageView]
    parameters: list[tuple[str, str]]
    account: list[tuple[str, str]]
    versions: list[tuple[str, str]]
    attributes: list[tuple[str, str]]
    tool_arguments: str | None
    tool_result: str | None
    input: str | None
    output: str | None
    feedback: list[Feedback]


def _detail(s: Span) -> str:
    if s.tool is not None and s.tool.name:
        return s.tool.name if not s.tool.mcp_server else f"{s.tool.mcp_server} · {s.tool.name}"
    if s.llm is not None:
        return s.llm.response_model or s.llm.request_model or ""
    return ""


def _flatten(nodes: Iterable[queries.TreeNode], depth: int, out: list[tuple[Span, int, int]]) -> None:
    for n in nodes:
        out.append((n.span, depth, len(n.children)))
        _flatten(n.children, depth + 1, out)


def _ticks(total_ms: float) -> list[tuple[float, str]]:
    return [(pct, duration(total_ms * pct / 100) if pct else "0") for pct in (0.0, 25.0, 50.0, 75.0, 100.0)]


def _messages(msgs: Sequence[Message]) -> list[MessageView]:
    return [
        MessageView(
            role=m.role,
            content=None if m.content is None else _cut(m.content),
            name=m.name,
            tool_call_id=m.tool_call_id,
            tool_calls=[(t.name, t.id, pretty(t.arguments)) for t in m.tool_calls],
        )
        for m in msgs
    ]


def _pairs(items: Iterable[tuple[str, Any]]) -> list[tuple[str, str]]:
    return [(k, scalar(v)) for k, v in items if v is not None]


def span_panel(trace_id: str, trace_start_ns: int, s: Span, feedback: Sequence[Feedback]) -> SpanPanel:
    """The detail panel of one span of a trace."""
    a = s.account
    return SpanPanel(
        span=s,
        trace_id=trace_id,
        offset_ms=(s.start_time_ns - trace_start_ns) / 1e6,
        is_error=s.status is Status.ERROR,
        input_messages=_messages(s.llm.input_messages) if s.llm else [],
        output_messages=_messages(s.llm.output_messages) if s.llm else [],
        parameters=_pairs(sorted(s.llm.parameters.items())) if s.llm else [],
        account=_pairs(
            [
                ("plan tier", a.plan_tier),
                ("region", a.region),
                ("client", a.client_name),
                ("client version", a.client_version),
                ("locale", a.locale),
                ("account created", utc_iso(a.created_at_ns) if a.created_at_ns is not None else None),
            ]
        ),
        versions=_pairs([("model", s.versions.model), ("prompt", s.versions.prompt), ("skill", s.versions.skill)]),
        attributes=_pairs(sorted(s.attributes.items())),
        tool_arguments=None if s.tool is None or s.tool.arguments is None else pretty(s.tool.arguments),
        tool_result=None if s.tool is None or s.tool.result is None else pretty(s.tool.result),
        input=None if s.input is None else pretty(s.input),
        output=None if s.output is None else pretty(s.output),
        feedback=[f for f in feedback if f.span_id == s.span_id],
    )


def default_selection(rows: Sequence[Row]) -> Span:
    """The span to open first: where the first error started (an error span with no failed child), else the root."""
    failed_parents = {r.span.parent_span_id for r in rows if r.is_error}
    for r in rows:
        if r.is_error and r.span.span_id not in failed_parents:
            return r.span
    return rows[0].span


def trace_view(trace: Sequence[Span], feedback: Sequence[Feedback], selected_id: str | None) -> TraceView:
    """The trace page. ``selected_id`` that names no span of the trace falls back to the default selection."""
    start = min(s.start_time_ns for s in trace)
    end = max(s.end_time_ns for s in trace)
    total = max(end - start, 1)
    flat: list[tuple[Span, int, int]] = []
    roots = queries.build_tree(trace)
    _flatten(roots, 0, flat)
    rows = []
    for s, depth, n_children in flat:
        offset = (s.start_time_ns - start) / total * 100
        width = (s.end_time_ns - s.start_time_ns) / total * 100
        rows.append(Row(s, depth, round(offset, 3), round(min(width, 100 - offset), 3), n_children, _detail(s)))
    by_id = {s.span_id: s for s in trace}
    chosen = by_id.get((selected_id or "").lower()) or default_selection(rows)
    llm = [s.llm for s in trace if s.llm is not None]
    totals = Totals(
        duration_ms=(end - start) / 1e6,
        spans=len(trace),
        errors=sum(1 for s in trace if s.status is Status.ERROR),
        llm_calls=sum(1 for s in trace if s.kind is SpanKind.LLM),
        tool_calls=sum(1 for s in trace if s.kind in (SpanKind.TOOL, SpanKind.MCP)),
        input_tokens=sum(c.usage.input_tokens or 0 for c in llm),
        output_tokens=sum(c.usage.output_tokens or 0 for c in llm),
        cached_tokens=sum(c.usage.cached_input_tokens or 0 for c in llm),
        cost_usd=sum(c.cost_usd or 0.0 for c in llm),
    )

    def distinct(values: Iterable[str | None]) -> list[str]:
        return sorted({v for v in values if v})

    facts = [
        ("subject", distinct(s.subject_id for s in trace)),
        ("service", distinct(s.service_name for s in trace)),
        ("models", distinct((c.response_model or c.request_model) for c in llm)),
        ("model version", distinct(s.versions.model for s in trace)),
        ("prompt version", distinct(s.versions.prompt for s in trace)),
        ("skill version", distinct(s.versions.skill for s in trace)),
        ("plan tier", distinct(s.account.plan_tier for s in trace)),
        ("region", distinct(s.account.region for s in trace)),
        ("client", distinct(f"{s.account.client_name or ''} {s.account.client_version or ''}".strip() for s in trace)),
    ]
    return TraceView(
        trace_id=trace[0].trace_id,
        start_ns=start,
        end_ns=end,
        rows=rows,
        totals=totals,
        roots=[n.span for n in roots],
        facts=[(label, values) for label, values in facts if values],
        sessions=distinct(s.session_id for s in trace),
        feedback=list(feedback),
        selected=span_panel(trace[0].trace_id, start, chosen, feedback),
        ticks=_ticks(totals.duration_ms),
    )


def feedback_value(f: Feedback) -> str:
    """A feedback event's value in words: 👍 / 👎 for thumbs, the number for a score, the text otherwise."""
    if f.kind.value == "thumbs":
        return "thumbs up" if f.value == 1 else "thumbs down"
    if f.value is None:
        return ""
    return scalar(f.value)


# ---------------------------------------------------------------------------------------------------------------
# A session as a conversation


@dataclass(slots=True)
class Turn:
    summary: queries.TraceSummary
    user: str | None  # what the user said in this turn
    answer: str | None  # what the application answered


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return _cut(value)
    if isinstance(value, Mapping):
        for key in ("content", "text", "message", "question", "query", "input", "answer", "output"):
            if isinstance(value.get(key), str):
                return _cut(value[key])
    return pretty(value)


def turn(summary: queries.TraceSummary, trace: Sequence[Span]) -> Turn:
    """One trace of a session as a turn of the conversation.

    The user's words are the root's input when it has one, else the last user message the trace's first model call
    was sent (earlier ones repeat previous turns). The answer is the root's output, else the last model call's last
    assistant message with text.
    """
    root = summary.root
    full_root = next((s for s in trace if s.span_id == root.span_id), root)
    calls = [(s.end_time_ns, s.llm) for s in trace if s.llm is not None]
    user = _text(full_root.input)
    if user is None and calls:
        said = [m.content for m in calls[0][1].input_messages if m.role == "user" and m.content]
        user = _cut(said[-1]) if said else None
    answer = _text(full_root.output)
    if answer is None and calls:
        _, last = max(calls, key=lambda c: c[0])
        texts = [m.content for m in last.output_messages if m.content]
        answer = _cut(texts[-1]) if texts else None
    return Turn(summary=summary, user=user, answer=answer)

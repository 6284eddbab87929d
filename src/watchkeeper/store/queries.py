"""Read queries: a trace as a tree, filtered pages of spans, sessions, and aggregates over time buckets.

Lists return metadata only; content (the payload) is read for one trace or one span at a time, so a later access
layer has one narrow place to authorise and audit content reads.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Engine, Select, and_, case, func, literal_column, or_, select, text, tuple_

from ..content import ContentOpener
from ..errors import InputError, NotFound
from ..records import Feedback, RecordError, Span, SpanKind, Status, check_hex_id
from ._codec import feedback_from_row, span_from_row
from .tables import feedback, spans

MAX_PAGE = 500

# Dimensions a user may filter and group by: API name → column.
DIMENSIONS: dict[str, ColumnElement[Any]] = {
    "kind": spans.c.kind,
    "status": spans.c.status,
    "name": spans.c.name,
    "provider": spans.c.provider,
    "model": func.coalesce(spans.c.response_model, spans.c.request_model),
    "request_model": spans.c.request_model,
    "response_model": spans.c.response_model,
    "tool_name": spans.c.tool_name,
    "mcp_server": spans.c.mcp_server,
    "error_type": spans.c.error_type,
    "error_code": spans.c.error_code,
    "finish_reason": spans.c.finish_reason,
    "session_id": spans.c.session_id,
    "subject_id": spans.c.subject_id,
    "plan_tier": spans.c.plan_tier,
    "region": spans.c.region,
    "client_name": spans.c.client_name,
    "client_version": spans.c.client_version,
    "locale": spans.c.locale,
    "model_version": spans.c.model_version,
    "prompt_version": spans.c.prompt_version,
    "skill_version": spans.c.skill_version,
    "service_name": spans.c.service_name,
    "source": spans.c.source,
}

_META_COLS = [c for c in spans.c if c.name != "payload"]
_ATTR_KEY = re.compile(r"^[A-Za-z0-9_.\-:]{1,128}$")
BUCKETS_S = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "6h": 21600, "1d": 86400}


@dataclass(slots=True)
class SpanFilter:
    """What a page of spans must match. Every field is optional; equal fields combine with AND."""

    start_from_ns: int | None = None
    start_to_ns: int | None = None
    trace_id: str | None = None
    equals: dict[str, str] = field(default_factory=dict)  # dimension → value
    attributes: dict[str, str] = field(default_factory=dict)  # attribute key → value (as text)
    tool_query: str | None = None  # substring of the tool name, case-insensitive
    min_duration_ms: float | None = None
    roots_only: bool = False

    def validate(self) -> None:
        for k in self.equals:
            if k not in DIMENSIONS:
                raise InputError(f"unknown filter {k!r}; known: {', '.join(sorted(DIMENSIONS))}", field=k)
        if "kind" in self.equals and self.equals["kind"] not in {k.value for k in SpanKind}:
            raise InputError(f"kind must be one of: {', '.join(k.value for k in SpanKind)}", field="kind")
        if "status" in self.equals and self.equals["status"] not in {s.value for s in Status}:
            raise InputError(f"status must be one of: {', '.join(s.value for s in Status)}", field="status")
        for k in self.attributes:
            if not _ATTR_KEY.match(k):
                raise InputError("attribute keys are 1-128 letters, digits, '_', '.', '-' or ':'", field="attr")
        if self.trace_id is not None:
            try:
                self.trace_id = check_hex_id(self.trace_id, "trace_id", 32)
            except RecordError as e:
                raise InputError(f"trace_id {e.rule}", field="trace_id") from None
        if self.start_from_ns is not None and self.start_to_ns is not None and self.start_from_ns > self.start_to_ns:
            raise InputError("'from' must not be after 'to'", field="from")

    def where(self, engine: Engine) -> list[ColumnElement[bool]]:
        w: list[ColumnElement[bool]] = []
        if self.start_from_ns is not None:
            w.append(spans.c.start_ns >= self.start_from_ns)
        if self.start_to_ns is not None:
            w.append(spans.c.start_ns < self.start_to_ns)
        if self.trace_id is not None:
            w.append(spans.c.trace_id == bytes.fromhex(self.trace_id))
        for k, v in self.equals.items():
            if k == "model":
                w.append(or_(spans.c.response_model == v, spans.c.request_model == v))
            else:
                w.append(DIMENSIONS[k] == v)
        for k, v in self.attributes.items():
            w.append(_attr_expr(engine, k) == v)
        if self.tool_query:
            q = self.tool_query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            w.append(func.lower(spans.c.tool_name).like(f"%{q}%", escape="\\"))
        if self.min_duration_ms is not None:
            w.append(spans.c.end_ns - spans.c.start_ns >= int(self.min_duration_ms * 1e6))
        if self.roots_only:
            w.append(spans.c.parent_span_id.is_(None))
        return w


def _attr_expr(engine: Engine, key: str) -> ColumnElement[Any]:
    if engine.dialect.name == "postgresql":
        # attributes are stored as text; cast to jsonb and take the value as text
        return literal_column("(spans.attributes::jsonb)").op("->>")(key)
    return func.json_extract(spans.c.attributes, f'$."{key}"').cast(spans.c.attributes.type)


def _encode_cursor(start_ns: int, row_id: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([start_ns, row_id])).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[int, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        start_ns, row_id = orjson.loads(raw)
        if not all(isinstance(v, int) and 0 <= v < 2**63 for v in (start_ns, row_id)):
            raise ValueError
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise InputError("cursor is not one this server issued; start again without it", field="cursor") from None
    return start_ns, row_id


@dataclass(slots=True)
class SpanPage:
    spans: list[Span]
    next_cursor: str | None


def list_spans(
    engine: Engine, flt: SpanFilter, *, limit: int = 50, cursor: str | None = None, project_id: int = 1
) -> SpanPage:
    """A page of span metadata, newest first, with a cursor for the next page."""
    flt.validate()
    if not 1 <= limit <= MAX_PAGE:
        raise InputError(f"limit must be between 1 and {MAX_PAGE}", field="limit")
    q = select(*_META_COLS).where(spans.c.project_id == project_id, *flt.where(engine))
    if cursor:
        c_start, c_id = _decode_cursor(cursor)
        q = q.where(tuple_(spans.c.start_ns, spans.c.id) < tuple_(c_start, c_id))
    q = q.order_by(spans.c.start_ns.desc(), spans.c.id.desc()).limit(limit + 1)
    with engine.connect() as conn:
        rows = conn.execute(q).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = _encode_cursor(rows[-1].start_ns, rows[-1].id) if more and rows else None
    return SpanPage([span_from_row(r, with_payload=False) for r in rows], nxt)


def get_trace(
    engine: Engine,
    trace_id: str,
    *,
    project_id: int = 1,
    opener: ContentOpener | None = None,
    content: bool = True,
) -> list[Span]:
    """Every span of a trace, in start order, with its content unless ``content`` is False; NotFound if none.

    Sealed content needs ``opener`` (the server's key ring); without it, reading sealed content raises
    ContentLocked rather than returning anything else. With ``content=False`` the payload is never read.
    """
    try:
        tid = bytes.fromhex(check_hex_id(trace_id, "trace_id", 32))
    except RecordError as e:
        raise InputError(f"trace_id {e.rule}", field="trace_id") from None
    # no ORDER BY: a trace has few spans, and sorting here keeps the planner on the (project, trace) index
    q = select(spans).where(spans.c.project_id == project_id, spans.c.trace_id == tid)
    with engine.connect() as conn:
        rows = sorted(conn.execute(q).fetchall(), key=lambda r: (r.start_ns, r.id))
    if not rows:
        raise NotFound(f"no trace {trace_id.lower()} is stored (it may not have arrived yet, or was purged)")
    return [span_from_row(r, opener=opener, with_payload=content) for r in rows]


def content_profile(engine: Engine, trace_id: str, *, project_id: int = 1) -> tuple[int, int]:
    """(records of the trace that hold content, how many of those are sealed) — for the access log."""
    tid = bytes.fromhex(trace_id)
    with engine.connect() as conn:
        marks = [
            bytes(m or b"")
            for t in (spans, feedback)
            for m in conn.execute(
                select(func.substr(t.c.payload, 1, 1)).where(
                    t.c.project_id == project_id, t.c.trace_id == tid, t.c.payload.isnot(None)
                )
            ).scalars()
        ]
    return len(marks), sum(1 for m in marks if m == b"E")


def trace_feedback(
    engine: Engine,
    trace_id: str,
    *,
    project_id: int = 1,
    opener: ContentOpener | None = None,
    content: bool = True,
) -> list[Feedback]:
    q = (
        select(feedback)
        .where(feedback.c.trace_id == bytes.fromhex(trace_id), feedback.c.project_id == project_id)
        .order_by(feedback.c.time_ns)
    )
    with engine.connect() as conn:
        return [feedback_from_row(r, opener, with_payload=content) for r in conn.execute(q)]


@dataclass(slots=True)
class TreeNode:
    span: Span
    children: list[TreeNode] = field(default_factory=list)


def build_tree(trace: Sequence[Span]) -> list[TreeNode]:
    """The spans of one trace as a forest: roots are spans whose parent is absent (not yet arrived or remote)."""
    nodes = {s.span_id: TreeNode(s) for s in trace}
    roots: list[TreeNode] = []
    for s in trace:
        parent = nodes.get(s.parent_span_id) if s.parent_span_id else None
        (parent.children if parent is not None else roots).append(nodes[s.span_id])
    return roots


@dataclass(slots=True)
class TraceSummary:
    trace_id: str
    root: Span
    span_count: int
    error_count: int
    llm_calls: int
    tool_calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    end_ns: int


def list_traces(
    engine: Engine, flt: SpanFilter, *, limit: int = 50, cursor: str | None = None, project_id: int = 1
) -> tuple[list[TraceSummary], str | None]:
    """Traces (by their root spans) newest first, each with counts over all its spans."""
    flt.roots_only = True
    page = list_spans(engine, flt, limit=limit, cursor=cursor, project_id=project_id)
    if not page.spans:
        return [], None
    return trace_summaries(engine, page.spans, project_id), page.next_cursor


def trace_summaries(engine: Engine, roots: Sequence[Span], project_id: int = 1) -> list[TraceSummary]:
    """One summary per root span, in the same order, with counts and totals over all spans of its trace."""
    if not roots:
        return []
    ids = [bytes.fromhex(s.trace_id) for s in roots]
    q = (
        select(
            spans.c.trace_id,
            func.count().label("n"),
            func.sum(case((spans.c.status == "error", 1), else_=0)).label("errors"),
            func.sum(case((spans.c.kind == "llm", 1), else_=0)).label("llm"),
            func.sum(case((spans.c.kind.in_(("tool", "mcp")), 1), else_=0)).label("tools"),
            func.coalesce(func.sum(spans.c.input_tokens), 0).label("tin"),
            func.coalesce(func.sum(spans.c.output_tokens), 0).label("tout"),
            func.coalesce(func.sum(spans.c.cost_usd), 0.0).label("cost"),
            func.max(spans.c.end_ns).label("end_ns"),
        )
        .where(spans.c.trace_id.in_(ids), spans.c.project_id == project_id)
        .group_by(spans.c.trace_id)
    )
    with engine.connect() as conn:
        stats = {row.trace_id.hex(): row for row in conn.execute(q)}
    return [
        TraceSummary(
            trace_id=s.trace_id,
            root=s,
            span_count=int(stats[s.trace_id].n),
            error_count=int(stats[s.trace_id].errors or 0),
            llm_calls=int(stats[s.trace_id].llm or 0),
            tool_calls=int(stats[s.trace_id].tools or 0),
            input_tokens=int(stats[s.trace_id].tin),
            output_tokens=int(stats[s.trace_id].tout),
            cost_usd=float(stats[s.trace_id].cost),
            end_ns=int(stats[s.trace_id].end_ns),
        )
        for s in roots
    ]


# ---------------------------------------------------------------------------------------------------------------
# Trace search. list_traces filters on root spans only, so "model = X" finds nothing when the model is on a child
# span (it usually is). find_traces asks a different question: traces that *contain* a span matching each
# condition.


@dataclass(slots=True)
class TraceCriteria:
    """Conditions on a trace: each one must hold for at least one of its spans (the window holds for its root)."""

    start_from_ns: int | None = None
    has_errors: bool | None = None
    equals: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)
    tool_query: str | None = None


_ROOT = spans.alias("r")
_ROOT_COLS = [c for c in _ROOT.c if c.name != "payload"]


def find_traces(
    engine: Engine, crit: TraceCriteria, *, limit: int = 50, cursor: str | None = None, project_id: int = 1
) -> tuple[list[TraceSummary], str | None]:
    """Traces newest first (by root span) that contain, for each condition, a span meeting it; with a cursor."""
    r = _ROOT
    q = select(*_ROOT_COLS).where(r.c.project_id == project_id, r.c.parent_span_id.is_(None))
    if crit.start_from_ns is not None:
        q = q.where(r.c.start_ns >= crit.start_from_ns)

    def having(flt: SpanFilter) -> Any:
        # a span of the trace starts no earlier than its root, so the window bounds the inner scan too
        flt.start_from_ns = crit.start_from_ns
        inner = select(spans.c.trace_id).where(spans.c.project_id == project_id, *flt.where(engine))
        return inner.correlate(None).scalar_subquery()

    for key, value in crit.equals.items():
        q = q.where(r.c.trace_id.in_(having(SpanFilter(equals={key: value}))))
    for key, value in crit.attributes.items():
        q = q.where(r.c.trace_id.in_(having(SpanFilter(attributes={key: value}))))
    if crit.tool_query:
        q = q.where(r.c.trace_id.in_(having(SpanFilter(tool_query=crit.tool_query))))
    if crit.has_errors is not None:
        errs = having(SpanFilter(equals={"status": "error"}))
        q = q.where(r.c.trace_id.in_(errs) if crit.has_errors else r.c.trace_id.not_in(errs))
    if cursor:
        c_start, c_id = _decode_cursor(cursor)
        q = q.where(tuple_(r.c.start_ns, r.c.id) < tuple_(c_start, c_id))
    q = q.order_by(r.c.start_ns.desc(), r.c.id.desc()).limit(limit + 1)
    with engine.connect() as conn:
        rows = conn.execute(q).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = _encode_cursor(rows[-1].start_ns, rows[-1].id) if more and rows else None
    roots = [span_from_row(row, with_payload=False) for row in rows]
    return trace_summaries(engine, roots, project_id), nxt


@dataclass(slots=True)
class SessionSummary:
    session_id: str
    subject_id: str | None
    first_ns: int
    last_ns: int
    traces: int
    spans: int
    errors: int
    cost_usd: float


def list_sessions(
    engine: Engine,
    *,
    start_from_ns: int | None = None,
    start_to_ns: int | None = None,
    subject_id: str | None = None,
    limit: int = 50,
    project_id: int = 1,
) -> list[SessionSummary]:
    """Sessions active in the window, most recently active first."""
    if not 1 <= limit <= MAX_PAGE:
        raise InputError(f"limit must be between 1 and {MAX_PAGE}", field="limit")
    w = [spans.c.project_id == project_id, spans.c.session_id.isnot(None)]
    if start_from_ns is not None:
        w.append(spans.c.start_ns >= start_from_ns)
    if start_to_ns is not None:
        w.append(spans.c.start_ns < start_to_ns)
    if subject_id is not None:
        w.append(spans.c.subject_id == subject_id)
    q = (
        select(
            spans.c.session_id,
            func.max(spans.c.subject_id).label("subject_id"),
            func.min(spans.c.start_ns).label("first"),
            func.max(spans.c.end_ns).label("last"),
            func.count(func.distinct(spans.c.trace_id)).label("traces"),
            func.count().label("n"),
            func.sum(case((spans.c.status == "error", 1), else_=0)).label("errors"),
            func.coalesce(func.sum(spans.c.cost_usd), 0.0).label("cost"),
        )
        .where(and_(*w))
        .group_by(spans.c.session_id)
        .order_by(text("last DESC"))
        .limit(limit)
    )
    with engine.connect() as conn:
        return [
            SessionSummary(
                session_id=r.session_id,
                subject_id=r.subject_id,
                first_ns=int(r.first),
                last_ns=int(r.last),
                traces=int(r.traces),
                spans=int(r.n),
                errors=int(r.errors or 0),
                cost_usd=float(r.cost),
            )
            for r in conn.execute(q)
        ]


def session_traces(engine: Engine, session_id: str, *, project_id: int = 1, limit: int = 200) -> list[TraceSummary]:
    """The traces of one session, oldest first (the conversation in order)."""
    flt = SpanFilter(equals={"session_id": session_id})
    traces, _ = list_traces(engine, flt, limit=limit, project_id=project_id)
    if not traces:
        raise NotFound(f"no session {session_id!r} is stored")
    return list(reversed(traces))


# ---------------------------------------------------------------------------------------------------------------
# Aggregates

_BINS_PER_OCTAVE = 16  # latency histogram resolution: bins 2^(1/16) ≈ 4.4% wide


@dataclass(slots=True)
class AggregateRow:
    bucket_start_ns: int
    group: dict[str, str | None]
    count: int
    errors: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost_usd: float
    latency_ms: dict[str, float | None]  # p50, p90, p99


def aggregate(
    engine: Engine,
    flt: SpanFilter,
    *,
    group_by: Sequence[str] = (),
    bucket: str = "1h",
    percentiles: Sequence[float] = (0.5, 0.9, 0.99),
    project_id: int = 1,
    max_groups: int = 10_000,
) -> list[AggregateRow]:
    """Count, errors, tokens, cost and latency percentiles per time bucket and group.

    Percentiles come from a log-spaced latency histogram (16 bins per doubling, so within ~2.2% of the exact
    value), which both engines compute the same way in one pass.
    """
    flt.validate()
    if bucket not in BUCKETS_S:
        raise InputError(f"bucket must be one of: {', '.join(BUCKETS_S)}", field="bucket")
    for g in group_by:
        if g not in DIMENSIONS:
            raise InputError(f"cannot group by {g!r}; known: {', '.join(sorted(DIMENSIONS))}", field="group_by")
    if len(group_by) > 3:
        raise InputError("group by at most 3 dimensions", field="group_by")
    width = BUCKETS_S[bucket] * 1_000_000_000
    bucket_col = _floor_div(engine, width)
    dur_us = (spans.c.end_ns - spans.c.start_ns) / 1000.0
    if engine.dialect.name == "postgresql":
        lbin = func.floor(func.ln(func.greatest(dur_us, 1.0)) * (_BINS_PER_OCTAVE / 0.6931471805599453))
    else:
        lbin = func.floor(func.wk_log2(func.max(dur_us, 1.0)) * _BINS_PER_OCTAVE)
    gcols = [DIMENSIONS[g].label(f"g{i}") for i, g in enumerate(group_by)]
    q: Select[Any] = (
        select(
            bucket_col.label("b"),
            *gcols,
            lbin.label("lbin"),
            func.count().label("n"),
            func.sum(case((spans.c.status == "error", 1), else_=0)).label("errors"),
            func.coalesce(func.sum(spans.c.input_tokens), 0).label("tin"),
            func.coalesce(func.sum(spans.c.output_tokens), 0).label("tout"),
            func.coalesce(func.sum(spans.c.cached_tokens), 0).label("tcached"),
            func.coalesce(func.sum(spans.c.cost_usd), 0.0).label("cost"),
        )
        .where(spans.c.project_id == project_id, *flt.where(engine))
        .group_by(literal_column("b"), *[literal_column(f"g{i}") for i in range(len(group_by))], literal_column("lbin"))
    )
    acc: dict[tuple[Any, ...], dict[str, Any]] = {}
    with engine.connect() as conn:
        for r in conn.execute(q):
            key = (int(r.b), *[getattr(r, f"g{i}") for i in range(len(group_by))])
            a = acc.get(key)
            if a is None:
                if len(acc) >= max_groups:
                    raise InputError(
                        f"more than {max_groups} (bucket, group) cells; narrow the time range or use a larger bucket",
                        field="group_by",
                    )
                a = acc[key] = {"n": 0, "errors": 0, "tin": 0, "tout": 0, "tcached": 0, "cost": 0.0, "hist": {}}
            a["n"] += r.n
            a["errors"] += int(r.errors or 0)
            a["tin"] += int(r.tin)
            a["tout"] += int(r.tout)
            a["tcached"] += int(r.tcached)
            a["cost"] += float(r.cost)
            a["hist"][int(r.lbin)] = a["hist"].get(int(r.lbin), 0) + r.n
    out = []
    for key in sorted(acc, key=lambda k: (k[0], *[("" if x is None else str(x)) for x in k[1:]])):
        a = acc[key]
        out.append(
            AggregateRow(
                bucket_start_ns=key[0] * width,
                group={g: key[i + 1] for i, g in enumerate(group_by)},
                count=a["n"],
                errors=a["errors"],
                input_tokens=a["tin"],
                output_tokens=a["tout"],
                cached_tokens=a["tcached"],
                cost_usd=round(a["cost"], 8),
                latency_ms={f"p{_pname(p)}": _hist_quantile(a["hist"], p) for p in percentiles},
            )
        )
    return out


def _floor_div(engine: Engine, width: int) -> ColumnElement[Any]:
    if engine.dialect.name == "postgresql":
        return func.div(spans.c.start_ns, width)
    # integer division in SQLite truncates toward zero; event times are positive
    return spans.c.start_ns.op("/")(literal_column(str(width)))


def _pname(p: float) -> str:
    s = f"{p * 100:g}"
    return s.replace(".", "_")


def _hist_quantile(hist: dict[int, int], p: float) -> float | None:
    """The p-quantile in ms of a log-binned histogram of durations in µs (bin centre, geometric)."""
    total = sum(hist.values())
    if total == 0:
        return None
    rank = p * total
    seen = 0
    for b in sorted(hist):
        seen += hist[b]
        if seen >= rank:
            us = 2 ** ((b + 0.5) / _BINS_PER_OCTAVE)
            return round(us / 1000.0, 3) if us > 1.0 else 0.001
    return None


def stats(engine: Engine, *, project_id: int = 1) -> dict[str, int]:
    """Stored record counts, for the status line and /readyz."""
    with engine.connect() as conn:
        n_spans = conn.execute(select(func.count()).select_from(spans).where(spans.c.project_id == project_id)).scalar()
        n_fb = conn.execute(
            select(func.count()).select_from(feedback).where(feedback.c.project_id == project_id)
        ).scalar()
    return {"spans": int(n_spans or 0), "feedback": int(n_fb or 0)}


__all__ = [
    "BUCKETS_S",
    "DIMENSIONS",
    "MAX_PAGE",
    "AggregateRow",
    "SessionSummary",
    "SpanFilter",
    "SpanPage",
    "TraceSummary",
    "TreeNode",
    "aggregate",
    "build_tree",
    "get_trace",
    "list_sessions",
    "list_spans",
    "list_traces",
    "session_traces",
    "stats",
    "trace_feedback",
]

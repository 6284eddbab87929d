"""Helpers for the rollup tests: records with varied slice values and labels, ingest through the processor and the
writer, and a naive recount of every metric from the stored spans (the catalogue's SQL conditions)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from hypothesis import strategies as st
from sqlalchemy import Engine, case, func, select

from watchkeeper._rollup import HIST, TPOT, VALUE_COLUMNS, C, RollupConfig, latency_bin, tpot_bin
from watchkeeper.analytics import DIMENSIONS, METRICS
from watchkeeper.analytics.rollups import RollupReader
from watchkeeper.pipeline import Batch, Context, pack, run_chain
from watchkeeper.pipeline.rollup import Rollup
from watchkeeper.records import (
    Account,
    Feedback,
    FeedbackKind,
    LLMCall,
    Span,
    SpanKind,
    Status,
    TokenUsage,
    ToolCall,
    Versions,
)
from watchkeeper.store import RowBatch, Writer
from watchkeeper.store._codec import feedback_row, span_row
from watchkeeper.store.tables import rollups, spans

NS = 1_000_000_000
MIN = 60 * NS
H = 3600 * NS
DAY = 24 * H
# event time: recent (1-minute rollups are kept for a week), on an hour boundary, a day before now
T0 = (time.time_ns() // H - 24) * H

SIGNALS = "watchkeeper.signals"


def labels(**names: str | None) -> dict[str, Any]:
    return {SIGNALS: {k: {"label": v, "score": 1.0, "version": "t-1"} for k, v in names.items() if v is not None}}


@st.composite
def records(draw: st.DrawFn, trace_pool: int = 6, span_pool: int = 40, minutes: int = 240) -> Span:
    """A span with slice values and signal labels drawn from small pools, so slices collide and repeat; starts
    from 3 days before T0 (late records) to ``minutes`` after it; (trace, span) keys repeat across draws."""
    kind = draw(st.sampled_from([SpanKind.LLM, SpanKind.TOOL, SpanKind.MCP, SpanKind.AGENT]))
    trace = draw(st.integers(1, trace_pool))
    root = draw(st.booleans())
    offset = draw(st.integers(-3 * 24 * 60, minutes)) * MIN + draw(st.integers(0, MIN - 1))
    start = T0 + offset
    llm = None
    if kind is SpanKind.LLM or draw(st.booleans()):
        llm = LLMCall(
            provider=draw(st.sampled_from([None, "openai", "anthropic"])),
            request_model=draw(st.sampled_from([None, "gpt-4o", "claude"])),
            response_model=draw(st.sampled_from([None, "gpt-4o-2024"])),
            usage=TokenUsage(
                input_tokens=draw(st.none() | st.integers(0, 900)), output_tokens=draw(st.integers(0, 99))
            ),
        )
    tool = None
    if kind in (SpanKind.TOOL, SpanKind.MCP):
        tool = ToolCall(
            name=draw(st.sampled_from([None, "search", "pay"])), mcp_server=draw(st.sampled_from([None, "m1"]))
        )
    refusal = draw(st.sampled_from([None, "full_refusal", "partial_refusal", "full_compliance", "unknown"]))
    sig = labels(
        language=draw(st.sampled_from([None, "en", "de", "unknown"])),
        refusal=refusal if kind is SpanKind.LLM else None,
        jailbreak=draw(st.sampled_from([None, "jailbreak", "none", "unknown"])),
        prompt_injection=draw(st.sampled_from([None, "prompt_injection", "none"])),
        indirect_injection=draw(st.sampled_from([None, "indirect_injection", "none", "unknown"])),
        tool_error=draw(st.sampled_from([None, "ok", "timeout", "auth", "unknown", "other"])) if tool else None,
    )
    created = draw(st.sampled_from([None, 0, 5, 20, 45, 400]))
    client = draw(st.sampled_from([(None, None), ("ios", "4.13.0"), ("web", None), ("ios", "4.12.0")]))
    return Span(
        trace_id=f"{trace:032x}",
        span_id=f"{trace:08x}{draw(st.integers(1, span_pool)):08x}",
        parent_span_id=None if root else f"{9:016x}",
        name="s",
        kind=kind,
        status=draw(st.sampled_from(list(Status))),
        start_time_ns=start,
        end_time_ns=start + draw(st.sampled_from([0, 400_000, 3 * 10**6, 250 * 10**6, 4 * NS, 30 * NS])),
        llm=llm,
        tool=tool,
        account=Account(
            created_at_ns=None if created is None else start - created * DAY - 1,
            plan_tier=draw(st.sampled_from([None, "free", "pro"])),
            region=draw(st.sampled_from([None, "eu", "us"])),
            client_name=client[0],
            client_version=client[1],
            locale=draw(st.sampled_from([None, "de-DE"])),
        ),
        versions=Versions(model=draw(st.sampled_from([None, "m1", "m2"])), prompt=draw(st.sampled_from([None, "p1"]))),
        service_name=draw(st.sampled_from([None, "agent"])),
        attributes=sig,
    )


@st.composite
def feedbacks(draw: st.DrawFn, trace_pool: int = 6) -> Feedback:
    kind = draw(st.sampled_from([FeedbackKind.CORRECTION, FeedbackKind.ESCALATION, FeedbackKind.THUMBS]))
    return Feedback(
        id=f"fb-{draw(st.integers(1, 30))}",
        trace_id=f"{draw(st.integers(1, trace_pool)):032x}",
        kind=kind,
        time_ns=T0 + draw(st.integers(0, 600)) * MIN,
        value=1 if kind is FeedbackKind.THUMBS else None,
    )


def row_batch(
    spans_: Sequence[Span], fb: Sequence[Feedback] = (), *, project_id: int = 1, config: RollupConfig | None = None
) -> RowBatch:
    """Records as the server prepares them: the rollup processor, then pack, then rows."""
    ctx = Context(project_id=project_id, source="api", received_ns=T0)
    batch = run_chain([Rollup(config), pack], ctx, Batch(spans=list(spans_), feedback=list(fb)))
    fb_rows = [feedback_row(f, project_id, T0, p) for f, p in zip(batch.feedback, batch.feedback_payloads, strict=True)]
    return RowBatch(
        span_rows=[span_row(s, project_id, T0, p) for s, p in zip(batch.spans, batch.payloads, strict=True)],
        feedback_rows=fb_rows,
        rollups=batch.rollups,
    )


def ingest(
    engine: Engine,
    batches: Sequence[tuple[Sequence[Span], Sequence[Feedback]]],
    *,
    project_id: int = 1,
    config: RollupConfig | None = None,
) -> None:
    w = Writer(engine)
    w.start()
    try:
        for s, f in batches:
            w.submit(row_batch(s, f, project_id=project_id, config=config)).result(60)
    finally:
        w.stop()


def unique_spans(spans_: Sequence[Span]) -> list[Span]:
    seen: set[tuple[str, str]] = set()
    out = []
    for s in spans_:
        if (s.trace_id, s.span_id) not in seen:
            seen.add((s.trace_id, s.span_id))
            out.append(s)
    return out


# ---------------------------------------------------------------------------------------------------------------
# The naive recount


def dimension_sets(config: RollupConfig | None = None) -> list[tuple[str, ...]]:
    cfg = config or RollupConfig()
    return [(), *[(d,) for d in DIMENSIONS], *[tuple(p) for p in cfg.pairs]]


def recount(
    engine: Engine, project_id: int, dims: tuple[str, ...], width_ns: int, new_account_days: int = 30
) -> dict[tuple[int, tuple[str, ...]], list[int]]:
    """{(bucket, values): [numerator, denominator of every metric, in METRICS order]} from the spans table."""
    d = engine.dialect.name
    new_ns = new_account_days * DAY
    exprs = [func.coalesce(DIMENSIONS[x].expr(d, new_ns), "(none)") for x in dims]
    bucket = func.div(spans.c.start_ns, width_ns) if d == "postgresql" else spans.c.start_ns.op("/")(width_ns)
    cols: list[Any] = []
    for m in METRICS.values():
        den = m.den(d)
        cols.append(func.sum(case((den & m.num(d), 1), else_=0)))
        cols.append(func.sum(case((den, 1), else_=0)))
    q = select(bucket.label("b"), *[e.label(f"d{i}") for i, e in enumerate(exprs)], *cols).where(
        spans.c.project_id == project_id
    )
    q = q.group_by("b", *[f"d{i}" for i in range(len(dims))])
    out = {}
    with engine.connect() as conn:
        for r in conn.execute(q):
            vals = tuple(str(r[1 + i]) for i in range(len(dims)))
            out[(int(r[0]), vals)] = [int(x or 0) for x in r[1 + len(dims) :]]
    return out


def from_rollups(
    engine: Engine, project_id: int, dims: tuple[str, ...], width_ns: int, start: int, end: int
) -> dict[tuple[int, tuple[str, ...]], list[int]]:
    """The same, read from the rollups (a share counts the slice's turns as its hits of all its turns)."""
    reader = RollupReader(engine, project_id=project_id, minute_days=3650)
    cols = []
    for m in METRICS.values():
        cols += [C["turns"], C["turns"]] if m.share else [C[m.counters[0]], C[m.counters[1]]]
    got = reader.series(dims, start, end, width_ns, cols)
    return {k: v for k, v in got.items() if any(v)}


def stored_rollups(engine: Engine, project_id: int | None = None) -> dict[tuple[Any, ...], tuple[int, ...]]:
    """Every rollup row: primary key → values (None read as 0)."""
    q = select(rollups)
    if project_id is not None:
        q = q.where(rollups.c.project_id == project_id)
    with engine.connect() as conn:
        return {
            tuple(r[:5]): tuple(int(x or 0) for x in r[5:])
            for r in conn.execute(q)
        }  # fmt: skip


def exact_latency(engine: Engine, project_id: int, width_ns: int) -> dict[int, list[int]]:
    """Per bucket: the latency bins of every stored span, the time-per-output-token bins of every successful LLM span
    with output tokens, and the token sums (computed row by row)."""
    out: dict[int, list[int]] = {}
    q = select(
        spans.c.start_ns, spans.c.end_ns, spans.c.input_tokens, spans.c.output_tokens, spans.c.kind, spans.c.status
    ).where(spans.c.project_id == project_id)
    with engine.connect() as conn:
        for s, e, tin, tout, kind, status in conn.execute(q):
            acc = out.setdefault(int(s) // width_ns, [0] * len(VALUE_COLUMNS))
            duration = max(0, int(e) - int(s))
            acc[HIST + latency_bin(duration)] += 1
            acc[C["input_tokens"]] += int(tin or 0)
            acc[C["output_tokens"]] += int(tout or 0)
            if kind == "llm" and status != "error" and tout and duration:
                acc[TPOT + tpot_bin(duration, int(tout))] += 1
    return out


def with_signals(span: Span, **names: str | None) -> Span:
    return replace(span, attributes=labels(**names))

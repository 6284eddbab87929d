"""The store on both engines: durable group commit, idempotent re-sends, back-pressure, and the read queries."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from sqlalchemy import Engine, func, select

from watchkeeper.content import feedback_content, pack_content, span_content
from watchkeeper.errors import InputError, NotFound, Overloaded
from watchkeeper.records import (
    Account,
    Feedback,
    FeedbackKind,
    LLMCall,
    Message,
    Span,
    SpanError,
    SpanKind,
    Status,
    TokenUsage,
    ToolCall,
    Versions,
)
from watchkeeper.store import RowBatch, Writer, queries
from watchkeeper.store._codec import feedback_row, span_from_row, span_row
from watchkeeper.store.tables import spans as spans_table

from ..test_records import spans as span_strategy

T0 = 1_790_000_000_000_000_000  # 2026-09-21, event time used by these tests


def make_span(
    trace: int, span: int, *, parent: int | None = None, start_ms: int = 0, dur_ms: int = 10, **kw: object
) -> Span:
    base = Span(
        trace_id=f"{trace:032x}",
        span_id=f"{span:016x}",
        parent_span_id=None if parent is None else f"{parent:016x}",
        name=str(kw.pop("name", f"span-{span}")),
        start_time_ns=T0 + start_ms * 1_000_000,
        end_time_ns=T0 + (start_ms + dur_ms) * 1_000_000,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def rows(spans: list[Span], fb: list[Feedback] = ()) -> RowBatch:  # type: ignore[assignment]
    return RowBatch(
        span_rows=[span_row(s, 1, T0, pack_content(span_content(s))) for s in spans],
        feedback_rows=[feedback_row(f, 1, T0, pack_content(feedback_content(f))) for f in fb],
    )


def write(engine: Engine, spans: list[Span], fb: list[Feedback] = ()) -> None:  # type: ignore[assignment]
    w = Writer(engine)
    w.start()
    try:
        assert w.submit(rows(spans, fb)).result(30) == len(spans) + len(fb)
    finally:
        w.stop()


def count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(spans_table)).scalar() or 0)


def agent_trace(trace: int = 1) -> list[Span]:
    acc = Account(
        created_at_ns=T0 - 86_400 * 10**9,
        plan_tier="pro",
        region="eu-west",
        client_name="ios",
        client_version="4.13.0",
        locale="de-DE",
    )
    ver = Versions(model="gpt-4o-2024-08-06", prompt="support-v13", skill="refunds-2")
    ctx = {"session_id": "sess-1", "subject_id": "subj_1", "account": acc, "versions": ver}
    return [
        make_span(trace, 1, name="agent.turn", kind=SpanKind.AGENT, dur_ms=900, **ctx),
        make_span(
            trace,
            2,
            parent=1,
            start_ms=10,
            dur_ms=400,
            name="chat gpt-4o",
            kind=SpanKind.LLM,
            llm=LLMCall(
                provider="openai",
                request_model="gpt-4o",
                response_model="gpt-4o-2024-08-06",
                input_messages=[Message("user", "Wo ist meine Bestellung?")],
                output_messages=[Message("assistant", None)],
                finish_reasons=["tool_calls"],
                usage=TokenUsage(1200, 40, 1024),
                cost_usd=0.002,
            ),
            status=Status.OK,
            **ctx,
        ),
        make_span(
            trace,
            3,
            parent=1,
            start_ms=420,
            dur_ms=200,
            name="tools/call lookup_order",
            kind=SpanKind.MCP,
            tool=ToolCall(
                name="lookup_order",
                arguments={"order_id": "A-1"},
                result={"error": "boom"},
                is_error=True,
                mcp_server="crm-mcp",
                jsonrpc_method="tools/call",
                jsonrpc_error_code=-32603,
            ),
            status=Status.ERROR,
            **ctx,
        ),
        make_span(
            trace,
            4,
            parent=1,
            start_ms=630,
            dur_ms=250,
            name="chat gpt-4o",
            kind=SpanKind.LLM,
            llm=LLMCall(
                provider="openai",
                request_model="gpt-4o",
                response_model="gpt-4o-2024-08-06",
                usage=TokenUsage(1300, 80, 0),
                cost_usd=0.004,
            ),
            status=Status.OK,
            **ctx,
        ),
    ]


def test_a_committed_trace_reads_back_as_a_tree_with_its_content(db: Engine) -> None:
    trace = agent_trace()
    write(db, trace)
    got = queries.get_trace(db, trace[0].trace_id)
    assert [s.span_id for s in got] == [s.span_id for s in trace]
    assert got[2].tool is not None and got[2].tool.arguments == {"order_id": "A-1"}
    assert got[2].tool.is_error is True and got[2].tool.jsonrpc_error_code == -32603
    assert got[1].llm is not None and got[1].llm.input_messages[0].content == "Wo ist meine Bestellung?"
    assert got[1].llm.usage.cached_input_tokens == 1024
    assert got[0].account.client_version == "4.13.0" and got[0].versions.prompt == "support-v13"
    roots = queries.build_tree(got)
    assert len(roots) == 1 and [c.span.span_id for c in roots[0].children] == [s.span_id for s in trace[1:]]


def test_resending_a_batch_never_duplicates(db: Engine) -> None:
    trace = agent_trace()
    fb = [Feedback(id="fb-1", trace_id=trace[0].trace_id, kind=FeedbackKind.THUMBS, time_ns=T0, value=-1)]
    write(db, trace, fb)
    write(db, trace, fb)
    write(db, trace[:2])
    assert count(db) == 4
    assert len(queries.trace_feedback(db, trace[0].trace_id)) == 1


def test_an_unknown_trace_is_not_found(db: Engine) -> None:
    with pytest.raises(NotFound):
        queries.get_trace(db, "ab" * 16)
    with pytest.raises(InputError):
        queries.get_trace(db, "not-hex")


def test_spans_filter_by_dimension_attribute_tool_and_time(db: Engine) -> None:
    t1 = agent_trace(1)
    t2 = [
        replace(
            s,
            trace_id=f"{2:032x}",
            start_time_ns=s.start_time_ns + 3_600 * 10**9,
            end_time_ns=s.end_time_ns + 3_600 * 10**9,
            session_id="sess-2",
            account=replace(s.account, region="us-east"),
            attributes={"tenant": "acme", "n": 3},
        )
        for s in agent_trace(1)
    ]
    write(db, t1 + t2)
    f = queries.SpanFilter
    assert len(queries.list_spans(db, f(equals={"kind": "llm"})).spans) == 4
    assert len(queries.list_spans(db, f(equals={"region": "us-east"})).spans) == 4
    assert len(queries.list_spans(db, f(equals={"model": "gpt-4o-2024-08-06", "session_id": "sess-2"})).spans) == 2
    assert len(queries.list_spans(db, f(equals={"status": "error"})).spans) == 2
    assert len(queries.list_spans(db, f(attributes={"tenant": "acme"})).spans) == 4
    assert len(queries.list_spans(db, f(attributes={"tenant": "other"})).spans) == 0
    assert len(queries.list_spans(db, f(tool_query="LOOKUP")).spans) == 2
    assert len(queries.list_spans(db, f(start_from_ns=T0 + 1800 * 10**9)).spans) == 4
    assert len(queries.list_spans(db, f(min_duration_ms=300)).spans) == 4
    page = queries.list_spans(db, f(equals={"subject_id": "subj_1"}), limit=3)
    assert len(page.spans) == 3 and page.next_cursor
    rest = queries.list_spans(db, f(equals={"subject_id": "subj_1"}), limit=10, cursor=page.next_cursor)
    assert len(rest.spans) == 5 and rest.next_cursor is None
    seen = [s.span_id + s.trace_id for s in page.spans + rest.spans]
    assert len(set(seen)) == 8
    starts = [s.start_time_ns for s in page.spans + rest.spans]
    assert starts == sorted(starts, reverse=True)


@pytest.mark.parametrize(
    ("flt", "field"),
    [
        (queries.SpanFilter(equals={"colour": "red"}), "colour"),
        (queries.SpanFilter(equals={"kind": "robot"}), "kind"),
        (queries.SpanFilter(attributes={"a b": "x"}), "attr"),
        (queries.SpanFilter(start_from_ns=5, start_to_ns=1), "from"),
        (queries.SpanFilter(trace_id="xyz"), "trace_id"),
    ],
)
def test_bad_filters_are_named(db: Engine, flt: queries.SpanFilter, field: str) -> None:
    with pytest.raises(InputError) as e:
        queries.list_spans(db, flt)
    assert e.value.field == field


def test_a_forged_cursor_is_rejected(db: Engine) -> None:
    with pytest.raises(InputError, match="cursor"):
        queries.list_spans(db, queries.SpanFilter(), cursor="garbage!!")


def test_traces_and_sessions_summarise_all_their_spans(db: Engine) -> None:
    write(db, agent_trace(1) + agent_trace(2))
    traces, _ = queries.list_traces(db, queries.SpanFilter())
    assert len(traces) == 2
    t = traces[0]
    assert (t.span_count, t.error_count, t.llm_calls, t.tool_calls) == (4, 1, 2, 1)
    assert (t.input_tokens, t.output_tokens) == (2500, 120)
    assert t.cost_usd == pytest.approx(0.006)
    sessions = queries.list_sessions(db)
    assert len(sessions) == 1 and sessions[0].traces == 2 and sessions[0].spans == 8
    assert [x.trace_id for x in queries.session_traces(db, "sess-1")] == [f"{1:032x}", f"{2:032x}"]


def test_aggregates_group_by_dimension_and_bucket_with_percentiles(db: Engine) -> None:
    spans = [
        make_span(
            100 + i,
            1,
            start_ms=i * 1000,
            dur_ms=d,
            kind=SpanKind.LLM,
            llm=LLMCall(request_model=m, usage=TokenUsage(10, 5)),
            status=Status.ERROR if i % 4 == 0 else Status.OK,
        )
        for i, (m, d) in enumerate([("a", 100)] * 50 + [("b", 1000)] * 50)
    ]
    write(db, spans)
    out = queries.aggregate(db, queries.SpanFilter(), group_by=["model"], bucket="1d")
    by = {r.group["model"]: r for r in out}
    assert by["a"].count == 50 and by["b"].count == 50
    assert by["a"].errors + by["b"].errors == 25
    assert by["a"].input_tokens == 500
    assert by["a"].latency_ms["p50"] == pytest.approx(100, rel=0.03)
    assert by["b"].latency_ms["p99"] == pytest.approx(1000, rel=0.03)
    with pytest.raises(InputError):
        queries.aggregate(db, queries.SpanFilter(), group_by=["payload"])
    with pytest.raises(InputError):
        queries.aggregate(db, queries.SpanFilter(), bucket="7s")


def test_a_full_queue_refuses_at_once_and_drops_nothing(db: Engine) -> None:
    w = Writer(db, queue_max_records=6)
    # not started: the queue fills up
    f1 = w.submit(rows(agent_trace(1)))
    with pytest.raises(Overloaded) as e:
        w.submit(rows(agent_trace(2)))
    assert e.value.retry_after_s >= 1
    w.start()
    try:
        assert f1.result(30) == 4
        assert w.submit(rows(agent_trace(2))).result(30) == 4
    finally:
        w.stop()
    assert count(db) == 8


def test_concurrent_batches_are_committed_together(db: Engine) -> None:
    w = Writer(db)
    futures = [w.submit(rows(agent_trace(i))) for i in range(1, 41)]
    w.start()
    try:
        assert sum(f.result(30) for f in futures) == 160
    finally:
        w.stop()
    assert count(db) == 160


def test_two_writers_on_one_store_stay_consistent(db_url: str, db: Engine) -> None:
    from watchkeeper.store import make_engine

    other = make_engine(db_url)
    batches = [agent_trace(i) for i in range(1, 61)]
    errors: list[BaseException] = []

    def run(engine: Engine) -> None:
        w = Writer(engine)
        w.start()
        try:
            for b in batches:  # both send every batch: the overlap must not duplicate
                w.submit(rows(b)).result(60)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)
        finally:
            w.stop()

    threads = [threading.Thread(target=run, args=(e,)) for e in (db, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    other.dispose()
    assert not errors
    assert count(db) == 240


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(span_strategy())
def test_a_row_holds_everything_of_its_span(span: Span) -> None:
    row = span_row(span, 1, T0, pack_content(span_content(span)))
    back = span_from_row(row)
    # an empty part is stored as no part
    expected = replace(
        span,
        llm=None if span.llm == LLMCall() else span.llm,
        tool=None if span.tool == ToolCall() else span.tool,
        error=None if span.error == SpanError() else span.error,
    )
    assert back == expected


def test_writes_do_not_wait_for_readers(db: Engine) -> None:
    write(db, agent_trace(1))
    with db.connect() as reader:
        reader.execute(select(spans_table)).fetchall()
        t0 = time.monotonic()
        write(db, agent_trace(2))
        assert time.monotonic() - t0 < 10
    assert count(db) == 8

"""Canonical records: the JSON form round-trips, old schema versions upcast, bad fields are named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watchkeeper.records import (
    SCHEMA_VERSION,
    Account,
    Feedback,
    FeedbackKind,
    LLMCall,
    Message,
    RecordError,
    Span,
    SpanError,
    SpanKind,
    Status,
    TokenUsage,
    ToolCall,
    ToolCallRequest,
    Versions,
    feedback_from_dict,
    feedback_to_dict,
    span_from_dict,
    span_to_dict,
)

FIXTURES = Path(__file__).parent / "fixtures"

hex_id = lambda n: st.text("0123456789abcdef", min_size=n, max_size=n).filter(lambda s: set(s) != {"0"})  # noqa: E731
text = st.text(max_size=40)
opt_text = st.none() | st.text(min_size=1, max_size=20)
json_leaf = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
opt_count = st.none() | st.integers(0, 10**7)

messages = st.lists(
    st.builds(
        Message,
        role=st.sampled_from(["system", "user", "assistant", "tool"]),
        content=st.none() | text,
        name=opt_text,
        tool_call_id=opt_text,
        tool_calls=st.lists(
            st.builds(ToolCallRequest, name=st.text(min_size=1, max_size=10), id=opt_text, arguments=json_value),
            max_size=2,
        ),
    ),
    max_size=3,
)


@st.composite
def spans(draw: st.DrawFn) -> Span:
    start = draw(st.integers(0, 2**62))
    kind = draw(st.sampled_from(list(SpanKind)))
    llm = draw(
        st.none()
        | st.builds(
            LLMCall,
            provider=opt_text,
            operation=opt_text,
            request_model=opt_text,
            response_model=opt_text,
            input_messages=messages,
            output_messages=messages,
            finish_reasons=st.lists(st.text(min_size=1, max_size=8), max_size=2),
            parameters=st.dictionaries(st.text(min_size=1, max_size=8), json_value, max_size=3),
            usage=st.builds(
                TokenUsage,
                input_tokens=opt_count,
                output_tokens=opt_count,
                cached_input_tokens=opt_count,
                reasoning_tokens=opt_count,
            ),
            cost_usd=st.none() | st.floats(0, 100, allow_nan=False),
            response_id=opt_text,
        )
    )
    tool = draw(
        st.none()
        | st.builds(
            ToolCall,
            name=opt_text,
            call_id=opt_text,
            arguments=json_value,
            result=json_value,
            is_error=st.none() | st.booleans(),
            mcp_server=opt_text,
            jsonrpc_method=opt_text,
            jsonrpc_error_code=st.none() | st.integers(-(2**31), 2**31 - 1),
            http_status=st.none() | st.integers(100, 599),
        )
    )
    return Span(
        trace_id=draw(hex_id(32)),
        span_id=draw(hex_id(16)),
        parent_span_id=draw(st.none() | hex_id(16)),
        name=draw(st.text(min_size=1, max_size=30)),
        kind=kind,
        start_time_ns=start,
        end_time_ns=start + draw(st.integers(0, 10**12)),
        status=draw(st.sampled_from(list(Status))),
        error=draw(st.none() | st.builds(SpanError, type=opt_text, code=opt_text, message=st.none() | text)),
        llm=llm,
        tool=tool,
        input=draw(json_value),
        output=draw(json_value),
        session_id=draw(opt_text),
        subject_id=draw(opt_text),
        account=draw(
            st.builds(
                Account,
                created_at_ns=st.none() | st.integers(0, 2**62),
                plan_tier=opt_text,
                region=opt_text,
                client_name=opt_text,
                client_version=opt_text,
                locale=opt_text,
            )
        ),
        versions=draw(st.builds(Versions, model=opt_text, prompt=opt_text, skill=opt_text)),
        service_name=draw(opt_text),
        attributes=draw(st.dictionaries(st.text(min_size=1, max_size=10), json_value, max_size=4)),
        source=draw(st.sampled_from(["api", "otlp", "sdk"])),
    )


def _normalise(s: Span) -> Span:
    """Fields whose empty and absent forms are one thing in JSON."""
    if s.error is not None and s.error == SpanError():
        s.error = SpanError()
    return s


@settings(max_examples=300)
@given(spans())
def test_a_span_survives_its_json_form(span: Span) -> None:
    wire = json.loads(json.dumps(span_to_dict(span)))
    back = span_from_dict(wire)
    assert back == _normalise(span)


@given(
    st.builds(
        Feedback,
        id=st.text(min_size=1, max_size=20),
        trace_id=hex_id(32),
        kind=st.just(FeedbackKind.THUMBS),
        time_ns=st.integers(0, 2**62),
        span_id=st.none() | hex_id(16),
        value=st.sampled_from([1, -1]),
        comment=st.none() | text,
        session_id=opt_text,
        subject_id=opt_text,
    )
)
def test_feedback_survives_its_json_form(fb: Feedback) -> None:
    assert feedback_from_dict(json.loads(json.dumps(feedback_to_dict(fb)))) == fb


def test_v0_records_are_upcast_to_llm_spans() -> None:
    lines = (FIXTURES / "v0_records.jsonl").read_text().splitlines()
    first = span_from_dict(json.loads(lines[0]))
    assert first.schema_version == SCHEMA_VERSION
    assert first.kind is SpanKind.LLM
    assert first.span_id == "00f067aa0ba902b7"
    assert first.llm is not None
    assert first.llm.request_model == "gpt-3.5-turbo"
    assert first.llm.input_messages == [Message(role="user", content="What is the refund policy?")]
    assert first.llm.output_messages[0].content == "Refunds are possible within 30 days."
    assert (first.llm.usage.input_tokens, first.llm.usage.output_tokens) == (12, 9)
    assert first.end_time_ns - first.start_time_ns == 1_500_000_000
    assert first.session_id == "sess-1"
    assert first.subject_id == "subj_9f"
    assert first.attributes == {"app.route": "/chat"}
    second = span_from_dict(json.loads(lines[1]))
    assert second.status is Status.ERROR
    assert second.error is not None and second.error.message == "upstream timeout"
    assert second.end_time_ns == second.start_time_ns


@pytest.mark.parametrize(
    ("doc", "field", "rule"),
    [
        ({"span_id": "b" * 16, "name": "x", "start_time_ns": 1}, "trace_id", "32 hex"),
        ({"trace_id": "a" * 31, "span_id": "b" * 16, "name": "x", "start_time_ns": 1}, "trace_id", "32 hex"),
        ({"trace_id": "0" * 32, "span_id": "b" * 16, "name": "x", "start_time_ns": 1}, "trace_id", "zeros"),
        ({"trace_id": "a" * 32, "span_id": "g" * 16, "name": "x", "start_time_ns": 1}, "span_id", "16 hex"),
        ({"trace_id": "a" * 32, "span_id": "b" * 16, "start_time_ns": 1}, "name", "required"),
        ({"trace_id": "a" * 32, "span_id": "b" * 16, "name": "x"}, "start_time_ns", "required"),
        ({"trace_id": "a" * 32, "span_id": "b" * 16, "name": "x", "start_time_ns": "1"}, "start_time_ns", "integer"),
        (
            {"trace_id": "a" * 32, "span_id": "b" * 16, "name": "x", "start_time_ns": 5, "end_time_ns": 4},
            "end_time_ns",
            "before",
        ),
        (
            {"trace_id": "a" * 32, "span_id": "b" * 16, "name": "x", "start_time_ns": 1, "kind": "robot"},
            "kind",
            "one of",
        ),
        (
            {
                "trace_id": "a" * 32,
                "span_id": "b" * 16,
                "name": "x",
                "start_time_ns": 1,
                "llm": {"usage": {"input_tokens": -1}},
            },
            "llm.usage.input_tokens",
            "between",
        ),
        (
            {
                "trace_id": "a" * 32,
                "span_id": "b" * 16,
                "name": "x",
                "start_time_ns": 1,
                "llm": {"input_messages": [{"role": "user", "content": 5}]},
            },
            "llm.input_messages[0].content",
            "string",
        ),
        (
            {"trace_id": "a" * 32, "span_id": "b" * 16, "name": "x", "start_time_ns": 1, "schema_version": 9},
            "schema_version",
            "newer",
        ),
        (
            {"trace_id": "a" * 32, "span_id": "b" * 16, "name": "x", "start_time_ns": 1, "tool": {"is_error": "yes"}},
            "tool.is_error",
            "true or false",
        ),
    ],
)
def test_a_bad_span_names_its_field_and_rule(doc: dict[str, object], field: str, rule: str) -> None:
    with pytest.raises(RecordError) as e:
        span_from_dict(doc)
    assert e.value.field == field
    assert rule in e.value.rule


def test_errors_never_quote_the_value() -> None:
    canary = "sk-live-CANARY-4242"
    with pytest.raises(RecordError) as e:
        span_from_dict({"trace_id": canary, "span_id": "b" * 16, "name": "x", "start_time_ns": 1})
    assert canary not in str(e.value)


@pytest.mark.parametrize("value", [True, 0, 2, "1"])
def test_thumbs_must_be_plus_or_minus_one(value: object) -> None:
    with pytest.raises(RecordError, match="1 or -1"):
        feedback_from_dict({"id": "f1", "trace_id": "a" * 32, "kind": "thumbs", "time_ns": 1, "value": value})

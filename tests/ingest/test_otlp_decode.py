"""decode_otlp: the OTLP/JSON encoding, every way a request can be bad, and round-trip properties."""

from __future__ import annotations

import base64
import json
import string
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from watchkeeper.errors import InputError, UnsupportedMediaType
from watchkeeper.ingest.otlp import decode_otlp
from watchkeeper.records import Message, SpanKind, Status, ToolCallRequest

NOW = 1_750_000_000 * 10**9
T0 = NOW - 5 * 10**9
TRACE = "5B8EFFF798038103D269B633813FC60C"
SPAN = "EEE19B7EC3C1B174"
PARENT = "EEE19B7EC3C1B173"
CANARY = "CANARY-sk-live-4f9c2b7e"  # planted in attribute values: must never appear in an error
PB = "application/x-protobuf"
JS = "application/json"


def decode(body: bytes, content_type: str = JS, **kw: Any) -> list[Any]:
    kw.setdefault("now_ns", NOW)
    return decode_otlp(body, content_type, **kw)


# ---------------------------------------------------------------------------------------------------------------
# Builders: OTLP/JSON documents by hand (as the spec writes them) and real protobuf requests


def sv(s: str) -> dict[str, Any]:
    return {"stringValue": s}


def kv(key: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"key": key, "value": value}


def json_span(**over: Any) -> dict[str, Any]:
    span: dict[str, Any] = {
        "traceId": TRACE,
        "spanId": SPAN,
        "parentSpanId": PARENT,
        "name": "chat gpt-4o",
        "kind": 3,
        "startTimeUnixNano": str(T0),
        "endTimeUnixNano": str(T0 + 1_500_000_000),
        "attributes": [kv("app.secret_note", sv(CANARY))],
        "status": {},
    }
    span.update(over)
    return span


def json_doc(*spans: dict[str, Any], resource: list[Any] | None = None) -> bytes:
    doc = {
        "resourceSpans": [
            {
                "resource": {"attributes": resource if resource is not None else [kv("service.name", sv("svc"))]},
                "scopeSpans": [{"scope": {"name": "my.lib", "version": "1.0.0"}, "spans": list(spans)}],
            }
        ]
    }
    return json.dumps(doc).encode()


def set_any(av: AnyValue, v: Any) -> None:
    if isinstance(v, bool):
        av.bool_value = v
    elif isinstance(v, int):
        av.int_value = v
    elif isinstance(v, float):
        av.double_value = v
    elif isinstance(v, str):
        av.string_value = v
    elif isinstance(v, bytes):
        av.bytes_value = v
    elif isinstance(v, list):
        av.array_value.SetInParent()
        for x in v:
            set_any(av.array_value.values.add(), x)
    elif isinstance(v, dict):
        av.kvlist_value.SetInParent()
        for k, x in v.items():
            set_any(av.kvlist_value.values.add(key=k).value, x)
    elif v is not None:
        raise TypeError(type(v))


def pb_request(*spans: dict[str, Any], resource: dict[str, Any] | None = None) -> ExportTraceServiceRequest:
    """A real ExportTraceServiceRequest; span dicts hold bytes ids, ints times and plain attribute values."""
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    for k, v in (resource if resource is not None else {"service.name": "svc"}).items():
        set_any(rs.resource.attributes.add(key=k).value, v)
    ss = rs.scope_spans.add()
    ss.scope.name = "my.lib"
    ss.scope.version = "1.0.0"
    for d in spans:
        sp = ss.spans.add()
        sp.trace_id = d.get("trace_id", bytes.fromhex(TRACE))
        sp.span_id = d.get("span_id", bytes.fromhex(SPAN))
        sp.parent_span_id = d.get("parent_span_id", b"")
        sp.name = d.get("name", "op")
        sp.start_time_unix_nano = d.get("start", T0)
        sp.end_time_unix_nano = d.get("end", T0 + 10**9)
        for k, v in d.get("attributes", {"app.secret_note": CANARY}).items():
            set_any(sp.attributes.add(key=k).value, v)
    return req


def pb(*spans: dict[str, Any], **kw: Any) -> bytes:
    body: bytes = pb_request(*spans, **kw).SerializeToString()
    return body


# ---------------------------------------------------------------------------------------------------------------
# OTLP/JSON


def test_a_hand_written_otlp_json_document_decodes_with_hex_ids_and_string_int64s() -> None:
    body = json_doc(
        json_span(
            attributes=[
                kv("gen_ai.operation.name", sv("chat")),
                kv("gen_ai.provider.name", sv("anthropic")),
                kv("gen_ai.request.model", sv("claude-sonnet")),
                kv("gen_ai.usage.input_tokens", {"intValue": "1200"}),
                kv("gen_ai.usage.output_tokens", {"intValue": 80}),
                kv("gen_ai.request.temperature", {"doubleValue": 0.5}),
                kv("gen_ai.response.finish_reasons", {"arrayValue": {"values": [sv("end_turn")]}}),
                # Structured (not JSON text) messages, as the conventions prefer where the SDK allows it.
                kv(
                    "gen_ai.input.messages",
                    {
                        "arrayValue": {
                            "values": [
                                {
                                    "kvlistValue": {
                                        "values": [
                                            kv("role", sv("user")),
                                            kv(
                                                "parts",
                                                {
                                                    "arrayValue": {
                                                        "values": [
                                                            {
                                                                "kvlistValue": {
                                                                    "values": [
                                                                        kv("type", sv("text")),
                                                                        kv("content", sv("Hi there")),
                                                                    ]
                                                                }
                                                            }
                                                        ]
                                                    }
                                                },
                                            ),
                                        ]
                                    }
                                }
                            ]
                        }
                    },
                ),
                kv("app.ratio", {"doubleValue": "NaN"}),
                kv("app.enabled", {"boolValue": True}),
                kv("app.blob", {"bytesValue": base64.b64encode(b"\x00\x01\xfe").decode()}),
                kv("app.blob_urlsafe", {"bytesValue": "AAH-"}),
                kv(
                    "app.nested",
                    {"kvlistValue": {"values": [kv("a", {"arrayValue": {"values": [{"intValue": "-3"}]}})]}},
                ),
                kv("app.empty", {}),
            ],
            status={"code": 2, "message": "overloaded"},
            events=[
                {
                    "timeUnixNano": str(T0 + 10),
                    "name": "exception",
                    "attributes": [kv("exception.type", sv("RateLimitError"))],
                }
            ],
            links=[{"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331"}],
            traceState="vendor=1",
            unknownFutureField={"ignored": True},
        )
    )
    [s] = decode(body, "Application/JSON; charset=utf-8")
    assert (s.trace_id, s.span_id, s.parent_span_id) == (TRACE.lower(), SPAN.lower(), PARENT.lower())
    assert (s.start_time_ns, s.end_time_ns) == (T0, T0 + 1_500_000_000)
    assert s.kind is SpanKind.LLM and s.service_name == "svc"
    assert (s.llm.usage.input_tokens, s.llm.usage.output_tokens) == (1200, 80)
    assert s.llm.parameters == {"temperature": 0.5}
    assert s.llm.finish_reasons == ["end_turn"]
    assert s.llm.input_messages == [Message(role="user", content="Hi there")]
    assert s.status is Status.ERROR
    assert (s.error.type, s.error.message) == ("RateLimitError", "overloaded")
    a = s.attributes
    assert a["app.ratio"] != a["app.ratio"]  # NaN
    assert a["app.enabled"] is True
    assert a["app.blob"] == base64.b64encode(b"\x00\x01\xfe").decode()
    assert a["app.blob_urlsafe"] == "AAH+"  # URL-safe base64 is accepted and stored in the standard form
    assert a["app.nested"] == {"a": [-3]}
    assert a["app.empty"] is None
    assert a["otel.scope.name"] == "my.lib" and a["otel.scope.version"] == "1.0.0"
    assert a["otel.span.kind"] == "client" and a["otel.trace_state"] == "vendor=1"
    assert a["otel.links"] == [{"trace_id": "0af7651916cd43dd8448eb211c80319c", "span_id": "b7ad6b7169203331"}]


def test_enum_names_are_accepted_in_json_as_well_as_integers() -> None:
    [s] = decode(json_doc(json_span(kind="SPAN_KIND_SERVER", status={"code": "STATUS_CODE_OK"})))
    assert s.status is Status.OK and s.attributes["otel.span.kind"] == "server"


def test_json_and_protobuf_give_the_same_span_for_the_same_content() -> None:
    attrs = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "search",
        "gen_ai.tool.call.arguments": {"q": "x", "n": 3},  # structured, not JSON text
        "app.list": [1, 2, 3],
    }
    from_pb = decode(pb({"attributes": attrs, "parent_span_id": bytes.fromhex(PARENT)}), PB)
    json_attrs = [
        kv("gen_ai.operation.name", sv("execute_tool")),
        kv("gen_ai.tool.name", sv("search")),
        kv(
            "gen_ai.tool.call.arguments",
            {"kvlistValue": {"values": [kv("q", sv("x")), kv("n", {"intValue": "3"})]}},
        ),
        kv("app.list", {"arrayValue": {"values": [{"intValue": "1"}, {"intValue": 2}, {"intValue": "3"}]}}),
    ]
    from_json = decode(
        json_doc(
            json_span(name="op", attributes=json_attrs, kind=0, endTimeUnixNano=str(T0 + 10**9), startTimeUnixNano=T0)
        )
    )
    assert from_pb == from_json
    assert from_pb[0].tool.arguments == {"q": "x", "n": 3}


def test_an_empty_request_decodes_to_no_spans() -> None:
    assert decode(b"{}") == []
    assert decode(b"", PB) == []
    assert decode(json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": []}]}]}).encode()) == []


def test_end_time_zero_means_the_start_time() -> None:
    [s] = decode(pb({"end": 0}), PB)
    assert s.end_time_ns == s.start_time_ns == T0


def test_a_structured_tool_result_with_mcp_is_error_marks_the_tool_call_as_failed() -> None:
    result = {"content": [{"type": "text", "text": "nope"}], "isError": True}
    [s] = decode(pb({"attributes": {"mcp.method.name": "tools/call", "gen_ai.tool.call.result": result}}), PB)
    assert s.kind is SpanKind.MCP and s.tool.is_error is True and s.tool.result == result


def test_unmappable_values_stay_attributes_instead_of_failing_the_request() -> None:
    attrs = {
        "gen_ai.usage.input_tokens": "lots",
        "gen_ai.request.model": ["not", "a", "string"],
        "gen_ai.input.messages": "not json",
        "gen_ai.operation.name": "chat",
    }
    [s] = decode(pb({"attributes": attrs}), PB)
    assert s.kind is SpanKind.LLM
    assert s.llm.usage.input_tokens is None and s.llm.request_model is None and s.llm.input_messages == []
    for k in ("gen_ai.usage.input_tokens", "gen_ai.request.model", "gen_ai.input.messages"):
        assert s.attributes[k] == attrs[k]


def test_message_parts_that_cannot_be_represented_keep_the_original_attribute() -> None:
    messages = [{"role": "user", "parts": [{"type": "text", "content": "see"}, {"type": "blob", "modality": "image"}]}]
    [s] = decode(pb({"attributes": {"gen_ai.input.messages": json.dumps(messages)}}), PB)
    assert s.llm.input_messages == [Message(role="user", content="see")]
    assert json.loads(s.attributes["gen_ai.input.messages"]) == messages


def test_openai_style_tool_calls_in_message_json() -> None:
    prompt = [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
    ]
    [s] = decode(pb({"attributes": {"gen_ai.prompt": json.dumps(prompt), "gen_ai.request.model": "m"}}), PB)
    assert s.llm.input_messages == [
        Message(role="assistant", tool_calls=[ToolCallRequest(name="f", id="c1", arguments={"x": 1})]),
        Message(role="tool", content="42", tool_call_id="c1"),
    ]


def test_http_status_codes_become_the_error_code_of_failed_spans() -> None:
    tool_attrs = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "fetch",
        "http.response.status_code": 503,
    }
    req = pb_request({"attributes": tool_attrs}, {"span_id": b"\x02" * 8, "attributes": {"http.status_code": 500}})
    for sp in req.resource_spans[0].scope_spans[0].spans:
        sp.status.code = 2
    tool, other = decode(req.SerializeToString(), PB)
    assert (tool.tool.http_status, tool.error.code, tool.tool.is_error) == (503, "503", True)
    assert other.error.code == "500" and other.tool is None
    assert other.attributes["http.status_code"] == 500  # not a tool call: the attribute stays as sent


def test_the_inference_details_event_fills_what_the_span_did_not_set() -> None:
    body = json_doc(
        json_span(
            attributes=[kv("gen_ai.operation.name", sv("chat")), kv("gen_ai.request.model", sv("span-model"))],
            events=[
                {
                    "name": "gen_ai.client.inference.operation.details",
                    "timeUnixNano": str(T0),
                    "attributes": [
                        kv("gen_ai.request.model", sv("event-model")),
                        kv("gen_ai.output.messages", sv(json.dumps(OUTPUT))),
                        kv("app.extra", sv("kept")),
                    ],
                }
            ],
        )
    )
    [s] = decode(body)
    assert s.llm.request_model == "span-model"
    assert s.llm.output_messages == [Message(role="assistant", content="done")]
    assert s.attributes["app.extra"] == "kept"
    assert "otel.events" not in s.attributes


OUTPUT = [{"role": "assistant", "parts": [{"type": "text", "content": "done"}], "finish_reason": "stop"}]


def test_session_and_subject_precedence() -> None:
    attrs = {
        "gen_ai.conversation.id": "conv",
        "session.id": "sess",
        "mcp.session.id": "mcp",
        "enduser.id": "alice@example.com",
        "enduser.pseudo.id": "pseudo-1",
    }
    [s] = decode(pb({"attributes": attrs}), PB)
    assert (s.session_id, s.subject_id) == ("sess", "pseudo-1")
    # Lower-priority names with other values are kept, not lost.
    assert s.attributes["gen_ai.conversation.id"] == "conv" and s.attributes["mcp.session.id"] == "mcp"
    assert s.attributes["enduser.id"] == "alice@example.com"
    [t] = decode(pb({"attributes": {"mcp.session.id": "mcp", "mcp.method.name": "ping"}}), PB)
    assert t.session_id == "mcp" and t.kind is SpanKind.MCP


def test_duplicate_names_for_one_field_keep_the_preferred_one_and_drop_equal_duplicates() -> None:
    attrs = {
        "gen_ai.usage.input_tokens": 10,
        "gen_ai.usage.prompt_tokens": 10,
        "llm.usage.prompt_tokens": 11,
        "llm.usage.total_tokens": 15,
        "gen_ai.usage.output_tokens": 5,
    }
    [s] = decode(pb({"attributes": attrs}), PB)
    assert s.llm.usage.input_tokens == 10 and s.llm.usage.total_tokens == 15
    assert "gen_ai.usage.prompt_tokens" not in s.attributes and "llm.usage.total_tokens" not in s.attributes
    assert s.attributes["llm.usage.prompt_tokens"] == 11


# ---------------------------------------------------------------------------------------------------------------
# Bad input: the right error, the field path named, never a value


def rejects(body: bytes, content_type: str, path: str, rule: str, **kw: Any) -> InputError:
    with pytest.raises(InputError) as info:
        decode(body, content_type, **kw)
    e = info.value
    assert e.status == 400
    assert e.field is not None and path in e.field, (e.field, path)
    assert path in e.detail and rule in e.detail, e.detail
    for text in (str(e), e.detail, e.field):
        assert CANARY not in text
        assert "sk-live" not in text
    return e


SPAN0 = "resourceSpans[0].scopeSpans[0].spans[0]"


def test_a_content_type_other_than_protobuf_or_json_is_415() -> None:
    for ct in ("text/plain", "application/grpc", "", "application/jsonl", "multipart/form-data"):
        with pytest.raises(UnsupportedMediaType) as info:
            decode(json_doc(json_span()), ct)
        assert info.value.status == 415
    assert decode(pb({}), "application/protobuf")  # the other protobuf name is accepted


def test_malformed_protobuf_is_a_400_naming_where_it_broke() -> None:
    rejects(b"\x0a\xff\xff\xff\xff\x0f", PB, "resourceSpans[0]", "declares")
    rejects(b"\x0f", PB, "resourceSpans[0]", "wire type 7")
    rejects(b"\x00", PB, "body", "field number 0")
    rejects(b"\x0a\x02\x12", PB, "resourceSpans[0]", "bytes")


def test_truncated_protobuf_is_a_400() -> None:
    body = pb({}, {"span_id": bytes.fromhex(PARENT)})
    for cut in (len(body) - 1, len(body) // 2, 7):
        e = rejects(body[:cut], PB, "resourceSpans[0]", "malformed protobuf")
        assert "byte" in e.detail


def test_invalid_utf8_is_a_400_naming_the_field() -> None:
    body = pb({"name": "NAMEX"}, {"span_id": bytes.fromhex(PARENT), "attributes": {"app.k": "VALUEX", "app.n": CANARY}})
    assert body.count(b"NAMEX") == 1 and body.count(b"VALUEX") == 1
    rejects(body.replace(b"NAMEX", b"NAM\xff\xfe"), PB, SPAN0 + ".name", "UTF-8")
    rejects(
        body.replace(b"VALUEX", b"VAL\xff\xfe\xfd"),
        PB,
        'resourceSpans[0].scopeSpans[0].spans[1].attributes["app.k"]',
        "UTF-8",
    )
    rejects(b'{"resourceSpans": ["\xff"]}', JS, "body", "UTF-8")


def test_invalid_json_is_a_400() -> None:
    rejects(b'{"resourceSpans": [', JS, "body", "is not valid JSON")
    rejects(b"", JS, "body", "is not valid JSON")
    e = rejects(b'{"resourceSpans": [], "x": "' + CANARY.encode() + b'",}', JS, "body", "line 1")
    assert "column" in e.detail
    rejects(b"[]", JS, "body", "must be a JSON object")


@pytest.mark.parametrize(
    ("over", "path", "rule"),
    [
        ({"spanId": 12345}, SPAN0 + ".spanId", "16 hex digits"),
        ({"traceId": None}, SPAN0 + ".traceId", "is required"),
        ({"traceId": TRACE[:-2]}, SPAN0 + ".traceId", "32 hex digits"),
        ({"traceId": "z" * 32}, SPAN0 + ".traceId", "32 hex digits"),
        ({"traceId": "0" * 32}, SPAN0 + ".traceId", "all zeros"),
        ({"spanId": "0" * 16}, SPAN0 + ".spanId", "all zeros"),
        ({"parentSpanId": "abc"}, SPAN0 + ".parentSpanId", "16 hex digits"),
        ({"name": 7}, SPAN0 + ".name", "must be a string"),
        ({"startTimeUnixNano": None}, SPAN0 + ".startTimeUnixNano", "is required"),
        ({"startTimeUnixNano": "12.5"}, SPAN0 + ".startTimeUnixNano", "unsigned 64-bit integer"),
        ({"startTimeUnixNano": -1}, SPAN0 + ".startTimeUnixNano", "unsigned 64-bit integer"),
        ({"endTimeUnixNano": str(T0 - 1)}, SPAN0 + ".endTimeUnixNano", "before startTimeUnixNano"),
        (
            {"startTimeUnixNano": str(NOW + 2 * 3600 * 10**9), "endTimeUnixNano": "0"},
            SPAN0 + ".startTimeUnixNano",
            "future",
        ),
        ({"endTimeUnixNano": str(NOW + 2 * 3600 * 10**9)}, SPAN0 + ".endTimeUnixNano", "future"),
        ({"kind": "sideways"}, SPAN0 + ".kind", "enum"),
        ({"status": {"code": 2, "message": 5}}, SPAN0 + ".status.message", "must be a string"),
        ({"attributes": {"k": "v"}}, SPAN0 + ".attributes", "must be an array"),
        ({"attributes": [{"key": 1, "value": sv(CANARY)}]}, SPAN0 + ".attributes[0].key", "must be a string"),
        ({"attributes": [kv("app.x", {"stringValue": 5})]}, SPAN0 + '.attributes["app.x"]', "stringValue"),
        ({"attributes": [kv("app.x", {"intValue": CANARY})]}, SPAN0 + '.attributes["app.x"]', "intValue"),
        ({"attributes": [kv("app.x", {"intValue": str(2**63)})]}, SPAN0 + '.attributes["app.x"]', "intValue"),
        ({"attributes": [kv("app.x", {"doubleValue": CANARY})]}, SPAN0 + '.attributes["app.x"]', "doubleValue"),
        ({"attributes": [kv("app.x", {"boolValue": "yes"})]}, SPAN0 + '.attributes["app.x"]', "boolValue"),
        ({"attributes": [kv("app.x", {"bytesValue": CANARY + "!"})]}, SPAN0 + '.attributes["app.x"]', "base64"),
        ({"attributes": [kv("app.x", {"arrayValue": {"values": [5]}})]}, SPAN0 + '.attributes["app.x"][0]', "AnyValue"),
        ({"events": [{"name": "e", "timeUnixNano": str(NOW * 2)}]}, SPAN0 + ".events[0].timeUnixNano", "future"),
        ({"links": [{"traceId": TRACE, "spanId": "1"}]}, SPAN0 + ".links[0].spanId", "16 hex digits"),
    ],
)
def test_json_field_errors_name_the_path_and_the_rule(over: dict[str, Any], path: str, rule: str) -> None:
    rejects(json_doc(json_span(**over)), JS, path, rule)


def test_json_structure_errors_name_the_path() -> None:
    rejects(b'{"resourceSpans": {}}', JS, "resourceSpans", "must be an array")
    rejects(b'{"resourceSpans": [{"scopeSpans": 3}]}', JS, "resourceSpans[0].scopeSpans", "must be an array")
    rejects(b'{"resourceSpans": [{"scopeSpans": [{"spans": [7]}]}]}', JS, SPAN0, "must be an object")
    rejects(
        json_doc(json_span(), resource=[kv("service.name", {"intValue": "x" + CANARY})]),
        JS,
        'resourceSpans[0].resource.attributes["service.name"]',
        "intValue",
    )


@pytest.mark.parametrize(
    ("span", "path", "rule"),
    [
        ({"trace_id": b""}, SPAN0 + ".traceId", "is required"),
        ({"span_id": b""}, SPAN0 + ".spanId", "is required"),
        ({"trace_id": b"\x01" * 15}, SPAN0 + ".traceId", "16 bytes"),
        ({"span_id": b"\x01" * 9}, SPAN0 + ".spanId", "8 bytes"),
        ({"trace_id": bytes(16)}, SPAN0 + ".traceId", "all zeros"),
        ({"span_id": bytes(8)}, SPAN0 + ".spanId", "all zeros"),
        ({"parent_span_id": b"\x01\x02"}, SPAN0 + ".parentSpanId", "8 bytes"),
        ({"start": 0}, SPAN0 + ".startTimeUnixNano", "is required"),
        ({"end": T0 - 1}, SPAN0 + ".endTimeUnixNano", "before startTimeUnixNano"),
        ({"start": NOW + 3601 * 10**9, "end": 0}, SPAN0 + ".startTimeUnixNano", "more than 3600 s in the future"),
        ({"end": NOW + 3601 * 10**9}, SPAN0 + ".endTimeUnixNano", "more than 3600 s in the future"),
    ],
)
def test_protobuf_span_errors_name_the_path_and_the_rule(span: dict[str, Any], path: str, rule: str) -> None:
    rejects(pb(span), PB, path, rule)


def test_one_bad_span_rejects_the_request_and_names_its_index() -> None:
    good = [{"span_id": bytes([1] * 7 + [i])} for i in range(1, 4)]
    rejects(pb(*good, {"span_id": b"\x01"}, *good), PB, "resourceSpans[0].scopeSpans[0].spans[3].spanId", "8 bytes")
    spans = [json_span(spanId=f"{i:016x}") for i in range(1, 4)] + [json_span(spanId="0" * 16)]
    rejects(json_doc(*spans), JS, "resourceSpans[0].scopeSpans[0].spans[3].spanId", "all zeros")


def test_timestamps_in_the_future_are_judged_against_now_ns_and_max_future_s() -> None:
    later = {"start": NOW + 1800 * 10**9, "end": 0}
    assert decode(pb(later), PB)  # within the default hour
    rejects(pb(later), PB, SPAN0 + ".startTimeUnixNano", "more than 600 s", max_future_s=600)


def test_over_long_strings_are_rejected_naming_the_field_not_the_value() -> None:
    long = CANARY * 10
    rejects(
        pb({"attributes": {"app.note": long}}),
        PB,
        SPAN0 + '.attributes["app.note"]',
        "longer than 100",
        max_string_chars=100,
    )
    rejects(
        pb({"attributes": {"app.note": [long]}}),
        PB,
        SPAN0 + '.attributes["app.note"]',
        "longer than 100",
        max_string_chars=100,
    )
    rejects(pb({"name": "n" * 101}), PB, SPAN0 + ".name", "longer than 100", max_string_chars=100)
    rejects(
        pb({"attributes": {"k" * 101: "v"}}), PB, SPAN0 + ".attributes", "key longer than 100", max_string_chars=100
    )
    rejects(
        json_doc(json_span(attributes=[kv("app.note", sv(long))])),
        JS,
        SPAN0 + '.attributes["app.note"]',
        "longer than 100",
        max_string_chars=100,
    )
    # A short value passes the same limit, on both encodings.
    assert decode(pb({"attributes": {"app.note": "short"}}), PB, max_string_chars=100)
    assert decode(json_doc(json_span(attributes=[kv("app.note", sv("short"))])), max_string_chars=100)


def nested(depth: int, kind: str) -> Any:
    v: Any = CANARY
    for _ in range(depth):
        v = [v] if kind == "array" else {"k": v}
    return v


def nested_json(depth: int, kind: str) -> dict[str, Any]:
    v: dict[str, Any] = sv(CANARY)
    for _ in range(depth):
        v = {"arrayValue": {"values": [v]}} if kind == "array" else {"kvlistValue": {"values": [kv("k", v)]}}
    return v


@pytest.mark.parametrize("kind", ["array", "kvlist"])
def test_attribute_values_nested_deeper_than_max_depth_are_rejected(kind: str) -> None:
    assert decode(pb({"attributes": {"app.deep": nested(32, kind)}}), PB)
    assert decode(json_doc(json_span(attributes=[kv("app.deep", nested_json(32, kind))])))
    rejects(pb({"attributes": {"app.deep": nested(33, kind)}}), PB, SPAN0 + '.attributes["app.deep"]', "nested")
    rejects(json_doc(json_span(attributes=[kv("app.deep", nested_json(33, kind))])), JS, SPAN0, "nested deeper than 32")
    rejects(pb({"attributes": {"app.deep": nested(5, kind)}}), PB, "app.deep", "nested deeper than 4", max_depth=4)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field, written by hand (the runtime refuses to build messages this deep)."""
    n, length = number << 3 | 2, len(payload)
    out = bytearray([n])
    while True:
        b = length & 0x7F
        length >>= 7
        out.append(b | (0x80 if length else 0))
        if not length:
            return bytes(out) + payload


def test_absurdly_deep_protobuf_nesting_is_a_400_not_a_crash() -> None:
    av = AnyValue(string_value=CANARY).SerializeToString()
    for _ in range(200):
        av = _field(5, _field(1, av))  # AnyValue.array_value -> ArrayValue.values
    attribute = KeyValue(key="app.deep").SerializeToString() + _field(2, av)
    span = pb_request({"attributes": {}}).resource_spans[0].scope_spans[0].spans[0].SerializeToString()
    body = _field(1, _field(2, _field(2, span + _field(9, attribute))))
    rejects(body, PB, 'attributes["app.deep"]', "nested")


# ---------------------------------------------------------------------------------------------------------------
# Properties


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=400), content_type=st.sampled_from([PB, JS]))
def test_arbitrary_bytes_never_raise_anything_but_input_error(body: bytes, content_type: str) -> None:
    error: InputError | None = None
    try:
        spans = decode_otlp(body, content_type, now_ns=NOW)
    except InputError as e:
        error = e
    if error is None:
        assert isinstance(spans, list)
    else:
        assert error.status == 400 and error.field


VALID = pb({"attributes": {"app.a": "x", "app.b": [1, 2.5, True], "app.c": {"d": b"\x00"}}}, {"span_id": b"\x02" * 8})


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_mutated_valid_requests_never_raise_anything_but_input_error(data: st.DataObject) -> None:
    body = bytearray(VALID)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(body) - 1))
        body[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(body)))
    error: InputError | None = None
    try:
        decode_otlp(bytes(body[:cut]), PB, now_ns=NOW)
    except InputError as e:
        error = e
    assert error is None or (error.status == 400 and error.field)


KEYS = st.text(alphabet=string.ascii_letters + string.digits + "._-", min_size=1, max_size=12).map(lambda s: "x." + s)
SCALARS = (
    st.text(max_size=30)
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.booleans()
    | st.binary(max_size=12)
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
SPANS = st.fixed_dictionaries(
    {
        "trace_id": st.binary(min_size=16, max_size=16).filter(any),
        "span_id": st.binary(min_size=8, max_size=8).filter(any),
        "parent_span_id": st.just(b"") | st.binary(min_size=8, max_size=8).filter(any),
        "name": st.text(max_size=40),
        "start": st.integers(1, NOW),
        "duration": st.integers(0, 10**12),
        "attributes": st.dictionaries(KEYS, VALUES, max_size=6),
        "int_as_string": st.booleans(),
    }
)


def expected(v: Any) -> Any:
    """A value as the decoder gives it back: bytes become base64 text."""
    if isinstance(v, bytes):
        return base64.b64encode(v).decode()
    if isinstance(v, list):
        return [expected(x) for x in v]
    if isinstance(v, dict):
        return {k: expected(x) for k, x in v.items()}
    return v


def any_json(v: Any, int_as_string: bool) -> dict[str, Any]:
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v) if int_as_string else v}
    if isinstance(v, float):
        return {"doubleValue": v}
    if isinstance(v, str):
        return {"stringValue": v}
    if isinstance(v, bytes):
        return {"bytesValue": base64.b64encode(v).decode()}
    if isinstance(v, list):
        return {"arrayValue": {"values": [any_json(x, int_as_string) for x in v]}}
    return {"kvlistValue": {"values": [{"key": k, "value": any_json(x, int_as_string)} for k, x in v.items()]}}


def json_of(spans: list[dict[str, Any]]) -> bytes:
    out = []
    for s in spans:
        ias = s["int_as_string"]
        out.append(
            {
                "traceId": s["trace_id"].hex().upper() if ias else s["trace_id"].hex(),
                "spanId": s["span_id"].hex(),
                "parentSpanId": s["parent_span_id"].hex(),
                "name": s["name"],
                "startTimeUnixNano": str(s["start"]) if ias else s["start"],
                "endTimeUnixNano": str(s["start"] + s["duration"]),
                "attributes": [{"key": k, "value": any_json(v, ias)} for k, v in s["attributes"].items()],
            }
        )
    scope = {"name": "my.lib", "version": "1.0.0"}
    return orjson.dumps({"resourceSpans": [{"resource": {}, "scopeSpans": [{"scope": scope, "spans": out}]}]})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spans=st.lists(SPANS, min_size=1, max_size=4))
def test_decode_of_encode_preserves_ids_names_times_and_attributes(spans: list[dict[str, Any]]) -> None:
    req = pb_request(*({**s, "end": s["start"] + s["duration"]} for s in spans), resource={})
    from_pb = decode_otlp(req.SerializeToString(), PB, now_ns=NOW)
    from_json = decode_otlp(json_of(spans), JS, now_ns=NOW)
    assert from_pb == from_json
    assert len(from_pb) == len(spans)
    for s, got in zip(spans, from_pb, strict=True):
        assert got.trace_id == s["trace_id"].hex()
        assert got.span_id == s["span_id"].hex()
        assert got.parent_span_id == (s["parent_span_id"].hex() or None)
        assert got.name == s["name"]
        assert (got.start_time_ns, got.end_time_ns) == (s["start"], s["start"] + s["duration"])
        assert got.kind is SpanKind.UNKNOWN and got.source == "otlp"
        user = {k: v for k, v in got.attributes.items() if k.startswith("x.")}
        assert user == expected(s["attributes"])
        assert set(got.attributes) - set(user) == {"otel.scope.name", "otel.scope.version"}

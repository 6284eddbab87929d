"""The OpenAI wrapper, with the real ``openai`` client talking to a local OpenAI-compatible HTTP server.

Every test calls an unwrapped and a wrapped client with the same request and asserts the caller sees the same thing
(same types, same data, same chunks, same exception) and the server received the same request.
"""

from __future__ import annotations

import asyncio
import gc
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import openai
import pytest

from watchkeeper import sdk
from watchkeeper.records import Span, SpanKind, Status

from .wk_sdk_helpers import QuietHTTPServer

pytestmark = pytest.mark.timeout(60)

MODEL = "gpt-test"
USAGE = {
    "prompt_tokens": 12,
    "completion_tokens": 5,
    "total_tokens": 17,
    "prompt_tokens_details": {"cached_tokens": 4},
    "completion_tokens_details": {"reasoning_tokens": 1},
}
TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {}}}},
    }
]
MESSAGES: list[Any] = [
    {"role": "system", "content": "You are terse."},
    {
        "role": "user",
        "content": [{"type": "text", "text": "Weather in Paris?"}, {"type": "image_url", "image_url": {}}],
    },
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_0", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}
        ],
    },
    {"role": "tool", "tool_call_id": "call_0", "content": "rain"},
]


def _chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-s1",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": f"{MODEL}-2025",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }


def _chat_stream(body: dict[str, Any]) -> list[dict[str, Any]]:
    chunks = [
        _chunk({"role": "assistant", "content": ""}),
        _chunk({"content": "Checking "}),
        _chunk({"content": "now."}),
        _chunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather"}}]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": ' "Paris"}'}}]}),
        _chunk({}, "tool_calls"),
    ]
    if (body.get("stream_options") or {}).get("include_usage"):
        chunks.append({**_chunk({}), "choices": [], "usage": USAGE})
    if body["model"] == "stream-error":
        chunks = [*chunks[:2], {"error": {"message": "upstream exploded", "type": "server_error"}}]
    return chunks


def _chat_completion(body: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": "Hello there", "refusal": None}
    finish = "stop"
    if body.get("tools"):
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        }
        finish = "tool_calls"
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": f"{MODEL}-2025",
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": USAGE,
        "service_tier": "default",
    }


def _response(status: str = "completed") -> dict[str, Any]:
    return {
        "id": "resp_1",
        "object": "response",
        "created_at": 1_700_000_000,
        "model": f"{MODEL}-2025",
        "status": status,
        "output": [
            {
                "type": "message",
                "id": "msg_1",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Hi!", "annotations": []}],
            },
            {
                "type": "function_call",
                "id": "fc_1",
                "call_id": "call_9",
                "name": "lookup",
                "arguments": '{"q": "x"}',
                "status": "completed",
            },
        ],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": 10,
            "input_tokens_details": {"cached_tokens": 3, "cache_write_tokens": 0},
            "output_tokens": 4,
            "output_tokens_details": {"reasoning_tokens": 2},
            "total_tokens": 14,
        },
    }


def _response_events() -> list[dict[str, Any]]:
    return [
        {"type": "response.created", "sequence_number": 0, "response": {**_response("in_progress"), "output": []}},
        {"type": "response.output_text.delta", "sequence_number": 1, "item_id": "msg_1", "output_index": 0,
         "content_index": 0, "delta": "Hi", "logprobs": []},
        {"type": "response.output_text.delta", "sequence_number": 2, "item_id": "msg_1", "output_index": 0,
         "content_index": 0, "delta": "!", "logprobs": []},
        {"type": "response.completed", "sequence_number": 3, "response": _response()},
    ]  # fmt: skip


class FakeOpenAI:
    """Answers /v1/chat/completions and /v1/responses as JSON or SSE; model names choose failures."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.bodies.append(body)
                if body["model"] == "bad-model":
                    error = {"message": "The model does not exist", "type": "invalid_request_error", "code": "nope"}
                    return self._json({"error": error}, 404)
                if self.path.endswith("/chat/completions"):
                    if body.get("stream"):
                        return self._sse(_chat_stream(body))
                    return self._json(_chat_completion(body))
                if self.path.endswith("/responses"):
                    if body.get("stream"):
                        return self._sse(_response_events(), done=False)
                    return self._json(_response())
                return self._json({"error": {"message": "no route"}}, 404)

            def _json(self, doc: dict[str, Any], status: int = 200) -> None:
                data = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _sse(self, events: list[dict[str, Any]], done: bool = True) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for e in events:
                    self.wfile.write(f"data: {json.dumps(e)}\n\n".encode())
                    self.wfile.flush()
                if done:
                    self.wfile.write(b"data: [DONE]\n\n")

        self.httpd = QuietHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    yield fake
    fake.httpd.shutdown()
    fake.httpd.server_close()


def _clients(server: FakeOpenAI) -> tuple[openai.OpenAI, openai.OpenAI]:
    plain = openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0)
    wrapped = sdk.wrap_openai(openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0))
    return plain, wrapped


def _async_clients(server: FakeOpenAI) -> tuple[openai.AsyncOpenAI, openai.AsyncOpenAI]:
    plain = openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0)
    wrapped = sdk.wrap_openai(openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0))
    return plain, wrapped


def _same_request(server: FakeOpenAI) -> None:
    assert server.bodies[-1] == server.bodies[-2]


def _only_span(capture: sdk.CaptureExporter) -> Span:
    assert len(capture.spans) == 1, [s.name for s in capture.spans]
    return capture.spans[0]


def test_chat_completion_is_recorded_and_the_caller_sees_the_same_object(
    server: FakeOpenAI, capture: sdk.CaptureExporter
) -> None:
    plain, wrapped = _clients(server)
    kwargs: dict[str, Any] = {
        "model": MODEL,
        "messages": MESSAGES,
        "temperature": 0.2,
        "max_tokens": 50,
        "tools": TOOLS,
    }
    expected = plain.chat.completions.create(**kwargs)
    got = wrapped.chat.completions.create(**kwargs)
    assert type(got) is type(expected) and got.model_dump() == expected.model_dump()
    _same_request(server)

    s = _only_span(capture)
    assert s.name == "chat gpt-test" and s.kind is SpanKind.LLM and s.status is Status.OK
    llm = s.llm
    assert llm is not None
    assert (llm.provider, llm.operation, llm.request_model, llm.response_model) == (
        "openai",
        "chat",
        MODEL,
        "gpt-test-2025",
    )
    assert llm.parameters == {"temperature": 0.2, "max_tokens": 50, "tools": ["get_weather"]}
    assert [m.role for m in llm.input_messages] == ["system", "user", "assistant", "tool"]
    assert llm.input_messages[1].content == "Weather in Paris?\n[image_url]"
    assert llm.input_messages[2].tool_calls[0].arguments == {"city": "Oslo"}
    assert llm.input_messages[3].tool_call_id == "call_0" and llm.input_messages[3].content == "rain"
    out = llm.output_messages[0]
    assert out.role == "assistant" and out.content is None
    assert [(t.id, t.name, t.arguments) for t in out.tool_calls] == [("call_1", "get_weather", {"city": "Paris"})]
    assert llm.finish_reasons == ["tool_calls"] and llm.response_id == "chatcmpl-1"
    u = llm.usage
    assert (u.input_tokens, u.output_tokens, u.cached_input_tokens, u.reasoning_tokens) == (12, 5, 4, 1)
    assert s.attributes["openai.service_tier"] == "default"


def test_one_shot_message_iterables_still_reach_the_server(server: FakeOpenAI, capture: sdk.CaptureExporter) -> None:
    plain, wrapped = _clients(server)
    plain.chat.completions.create(model=MODEL, messages=iter(MESSAGES[:2]))
    wrapped.chat.completions.create(model=MODEL, messages=iter(MESSAGES[:2]))
    _same_request(server)
    assert len(_only_span(capture).llm.input_messages) == 2  # type: ignore[union-attr]


def test_a_sync_stream_yields_the_same_chunks_and_records_the_assembled_output(
    server: FakeOpenAI, capture: sdk.CaptureExporter
) -> None:
    plain, wrapped = _clients(server)
    expected = [c.model_dump() for c in plain.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)]
    stream = wrapped.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    assert isinstance(stream, openai.Stream)
    assert capture.spans == []  # the span lasts as long as the stream
    got = [c.model_dump() for c in stream]
    assert got == expected
    _same_request(server)
    assert "stream_options" not in server.bodies[-1]

    s = _only_span(capture)
    llm = s.llm
    assert llm is not None
    assert llm.output_messages[0].content == "Checking now."
    assert [(t.id, t.name, t.arguments) for t in llm.output_messages[0].tool_calls] == [
        ("call_1", "get_weather", {"city": "Paris"})
    ]
    assert llm.finish_reasons == ["tool_calls"] and llm.response_id == "chatcmpl-s1"
    assert llm.usage.input_tokens is None  # the caller did not ask for usage, and we did not ask for them
    assert s.attributes["stream"] is True and s.attributes["time_to_first_token_ms"] > 0
    assert llm.parameters == {"stream": True}


def test_stream_usage_is_recorded_when_the_caller_asks_for_it(server: FakeOpenAI, capture: sdk.CaptureExporter) -> None:
    plain, wrapped = _clients(server)
    opts: Any = {"include_usage": True}
    reference = plain.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True, stream_options=opts)
    expected = [c.model_dump() for c in reference]
    with wrapped.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True, stream_options=opts) as stream:
        got = [c.model_dump() for c in stream]
    assert got == expected
    _same_request(server)
    u = _only_span(capture).llm.usage  # type: ignore[union-attr]
    assert (u.input_tokens, u.output_tokens, u.cached_input_tokens) == (12, 5, 4)


def test_a_stream_closed_early_ends_the_span(server: FakeOpenAI, capture: sdk.CaptureExporter) -> None:
    _, wrapped = _clients(server)
    with wrapped.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True) as stream:
        first = next(iter(stream))
    assert first.choices[0].delta.role == "assistant"
    s = _only_span(capture)
    assert s.attributes["stream_closed_early"] is True and s.status is Status.OK


def test_a_stream_dropped_unread_still_ends_its_span(server: FakeOpenAI, capture: sdk.CaptureExporter) -> None:
    _, wrapped = _clients(server)
    stream = wrapped.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    assert capture.spans == []
    del stream
    gc.collect()  # openai's Stream sits in a reference cycle of its own; the collector frees it
    assert _only_span(capture).attributes["stream_closed_early"] is True


def test_an_api_error_is_the_same_exception_and_marks_the_span(
    server: FakeOpenAI, capture: sdk.CaptureExporter
) -> None:
    plain, wrapped = _clients(server)
    with pytest.raises(openai.NotFoundError) as expected:
        plain.chat.completions.create(model="bad-model", messages=MESSAGES)
    with pytest.raises(openai.NotFoundError) as got:
        wrapped.chat.completions.create(model="bad-model", messages=MESSAGES)
    assert type(got.value) is type(expected.value)
    assert (got.value.status_code, str(got.value), got.value.body) == (
        expected.value.status_code,
        str(expected.value),
        expected.value.body,
    )
    assert got.value.__traceback__ is not None
    s = _only_span(capture)
    assert s.status is Status.ERROR and s.error is not None
    assert (s.error.type, s.error.code) == ("openai.NotFoundError", "404")
    assert s.attributes["openai.error_code"] == "nope"


def test_an_error_in_the_middle_of_a_stream_is_raised_as_before(
    server: FakeOpenAI, capture: sdk.CaptureExporter
) -> None:
    plain, wrapped = _clients(server)
    seen: list[list[Any]] = []
    errors: list[BaseException] = []

    def consume(client: openai.OpenAI, into: list[Any]) -> None:
        for c in client.chat.completions.create(model="stream-error", messages=MESSAGES, stream=True):
            into.append(c.model_dump())

    for client in (plain, wrapped):
        chunks: list[Any] = []
        with pytest.raises(openai.APIError) as info:
            consume(client, chunks)
        seen.append(chunks)
        errors.append(info.value)
    assert seen[0] == seen[1] and len(seen[0]) == 2
    assert type(errors[0]) is type(errors[1]) and str(errors[0]) == str(errors[1])
    s = _only_span(capture)
    assert s.status is Status.ERROR and s.error is not None and s.error.message == "upstream exploded"
    assert s.llm is not None and s.llm.output_messages[0].content == "Checking "


def test_async_client_plain_and_streamed(server: FakeOpenAI, capture: sdk.CaptureExporter) -> None:
    async def run() -> None:
        plain, wrapped = _async_clients(server)
        expected = await plain.chat.completions.create(model=MODEL, messages=MESSAGES)
        got = await wrapped.chat.completions.create(model=MODEL, messages=MESSAGES)
        assert type(got) is type(expected) and got.model_dump() == expected.model_dump()

        opts: Any = {"include_usage": True}
        s1 = await plain.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True, stream_options=opts)
        s2 = await wrapped.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True, stream_options=opts)
        assert type(s2) is type(s1) and isinstance(s2, openai.AsyncStream)
        assert [c.model_dump() async for c in s2] == [c.model_dump() async for c in s1]

        with pytest.raises(openai.NotFoundError):
            await wrapped.chat.completions.create(model="bad-model", messages=MESSAGES)
        await plain.close()
        await wrapped.close()

    asyncio.run(run())
    plain_span, stream_span, error_span = capture.spans
    assert plain_span.llm is not None and plain_span.llm.output_messages[0].content == "Hello there"
    assert plain_span.llm.finish_reasons == ["stop"]
    assert stream_span.llm is not None and stream_span.llm.output_messages[0].content == "Checking now."
    assert stream_span.llm.usage.cached_input_tokens == 4
    assert stream_span.attributes["time_to_first_token_ms"] > 0
    assert error_span.status is Status.ERROR


def test_spans_inside_the_call_nest_under_the_callers_span(server: FakeOpenAI, capture: sdk.CaptureExporter) -> None:
    _, wrapped = _clients(server)
    with sdk.span("agent", kind="agent") as agent:
        wrapped.chat.completions.create(model=MODEL, messages=MESSAGES)
    llm_span = capture.spans[0]
    assert llm_span.parent_span_id == agent.span_id and llm_span.trace_id == agent.trace_id


@pytest.mark.skipif(not hasattr(openai.OpenAI, "responses"), reason="this openai has no Responses API")
def test_responses_create_plain_and_streamed(server: FakeOpenAI, capture: sdk.CaptureExporter) -> None:
    plain, wrapped = _clients(server)
    kwargs: dict[str, Any] = {
        "model": MODEL,
        "instructions": "Be brief.",
        "input": [
            {"role": "user", "content": "look up x"},
            {"type": "function_call_output", "call_id": "call_8", "output": "found"},
        ],
        "max_output_tokens": 30,
    }
    expected = plain.responses.create(**kwargs)
    got = wrapped.responses.create(**kwargs)
    assert type(got) is type(expected) and got.model_dump() == expected.model_dump()
    _same_request(server)
    s = capture.spans[0]
    llm = s.llm
    assert llm is not None and s.name == "responses gpt-test"
    assert [(m.role, m.content) for m in llm.input_messages] == [
        ("system", "Be brief."),
        ("user", "look up x"),
        ("tool", "found"),
    ]
    assert llm.output_messages[0].content == "Hi!"
    assert llm.output_messages[1].tool_calls[0].arguments == {"q": "x"}
    assert llm.finish_reasons == ["completed"] and llm.parameters == {"max_output_tokens": 30}
    u = llm.usage
    assert (u.input_tokens, u.output_tokens, u.cached_input_tokens, u.reasoning_tokens) == (10, 4, 3, 2)

    events_expected = [e.model_dump() for e in plain.responses.create(model=MODEL, input="hi", stream=True)]
    events_got = [e.model_dump() for e in wrapped.responses.create(model=MODEL, input="hi", stream=True)]
    assert events_got == events_expected
    streamed = capture.spans[1]
    assert streamed.llm is not None and streamed.llm.output_messages[0].content == "Hi!"
    assert streamed.llm.input_messages[0].content == "hi"
    assert streamed.attributes["time_to_first_token_ms"] > 0


def test_wrapping_twice_records_once(server: FakeOpenAI, capture: sdk.CaptureExporter) -> None:
    _, wrapped = _clients(server)
    assert sdk.wrap_openai(wrapped) is wrapped
    wrapped.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert len(capture.spans) == 1

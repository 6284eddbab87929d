"""OpenAI client instrumentation: each ``chat.completions.create`` / ``responses.create`` call becomes an ``llm`` span.

The wrapper never changes what the caller sees: it returns the very object the client returned (a stream is the
same ``Stream``/``AsyncStream`` object, whose iterator is observed as the caller consumes it), raises the very
exception the client raised, and sends the request unchanged (``stream_options`` are left as the caller set them, so
usage on streams is recorded only when the caller asked for it). ``openai`` itself is imported only when a client
is wrapped.
"""

from __future__ import annotations

import functools
import json
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Final, TypeVar

from watchkeeper.records import Message, SpanKind, TokenUsage, ToolCallRequest
from watchkeeper.sdk._context import CURRENT
from watchkeeper.sdk._tracer import SpanHandle, _count_error, start_span

T = TypeVar("T")

_MARK: Final = "__watchkeeper_wrapped__"
_CHAT_PARAMETERS: Final = (
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "frequency_penalty",
    "presence_penalty",
    "stop",
    "seed",
    "n",
    "stream",
    "stream_options",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "reasoning_effort",
    "logprobs",
    "top_logprobs",
    "service_tier",
    "verbosity",
    "store",
    "modalities",
    "prompt_cache_key",
)
_RESPONSES_PARAMETERS: Final = (
    "temperature",
    "top_p",
    "max_output_tokens",
    "max_tool_calls",
    "tool_choice",
    "parallel_tool_calls",
    "reasoning",
    "text",
    "truncation",
    "store",
    "stream",
    "service_tier",
    "previous_response_id",
    "background",
    "prompt_cache_key",
)


def wrap_openai(client: T) -> T:
    """Instrument an ``openai.OpenAI`` or ``openai.AsyncOpenAI`` client in place and give it back.

    Records ``chat.completions.create`` (plain and ``stream=True``) and ``responses.create`` (when the installed
    ``openai`` has it) as ``llm`` spans. Wrapping twice is harmless. Clients derived later with ``with_options()``
    are not instrumented; wrap them too.
    """
    try:
        import openai

        is_async = isinstance(client, openai.AsyncOpenAI)
        completions = getattr(getattr(client, "chat", None), "completions", None)
        if completions is not None:
            _patch(completions, "create", _ChatCall, is_async)
        responses = getattr(client, "responses", None)
        if responses is not None:
            _patch(responses, "create", _ResponsesCall, is_async)
    except Exception:
        _count_error()
    return client


def _patch(resource: Any, attr: str, call_cls: type[_Call], is_async: bool) -> None:
    original = getattr(resource, attr, None)
    if original is None or getattr(original, _MARK, False):
        return
    wrapper = _async_wrapper(original, call_cls) if is_async else _sync_wrapper(original, call_cls)
    setattr(wrapper, _MARK, True)
    setattr(resource, attr, wrapper)


def _sync_wrapper(original: Callable[..., Any], call_cls: type[_Call]) -> Callable[..., Any]:
    @functools.wraps(original)
    def create(*args: Any, **kwargs: Any) -> Any:
        call = call_cls.begin(kwargs)
        if call is None:
            return original(*args, **kwargs)
        token = CURRENT.set(call.handle)
        try:
            result = original(*args, **kwargs)
        except BaseException as exc:
            _reset(token)
            call.fail(exc)
            raise
        _reset(token)
        if kwargs.get("stream") is True:
            return call.watch_stream(result)
        call.finish(result)
        return result

    return create


def _async_wrapper(original: Callable[..., Any], call_cls: type[_Call]) -> Callable[..., Any]:
    @functools.wraps(original)
    async def create(*args: Any, **kwargs: Any) -> Any:
        call = call_cls.begin(kwargs)
        if call is None:
            return await original(*args, **kwargs)
        token = CURRENT.set(call.handle)
        try:
            result = await original(*args, **kwargs)
        except BaseException as exc:
            _reset(token)
            call.fail(exc)
            raise
        _reset(token)
        if kwargs.get("stream") is True:
            return call.watch_async_stream(result)
        call.finish(result)
        return result

    return create


def _reset(token: Any) -> None:
    try:
        CURRENT.reset(token)
    except (ValueError, RuntimeError):
        _count_error()


# ---------------------------------------------------------------------------------------------------------------
# Conversions (defensive: every field may be missing in another openai version)


def _given(value: Any) -> bool:
    """False for the client's "not given" sentinels (``omit``, ``NOT_GIVEN``) and None."""
    return value is not None and type(value).__name__ not in ("Omit", "NotGiven")


def _as_mapping(value: Any) -> Mapping[str, Any] | None:
    if isinstance(value, Mapping):
        return value
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            out = dump(exclude_none=True)
        except Exception:
            return None
        return out if isinstance(out, Mapping) else None
    return None


def _json_or_text(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _text(content: Any) -> str | None:
    """Message content as text: strings as they are, content parts joined (non-text parts as ``[type]``)."""
    if content is None or isinstance(content, str):
        return content
    if not isinstance(content, Iterable):
        return str(content)
    out = []
    for part in content:
        p = _as_mapping(part)
        if p is None:
            out.append(str(part))
            continue
        kind = p.get("type")
        if kind in ("text", "input_text", "output_text"):
            out.append(str(p.get("text") or ""))
        elif kind == "refusal":
            out.append(str(p.get("refusal") or ""))
        else:
            out.append(f"[{kind}]")
    return "\n".join(out)


def _tool_requests(tool_calls: Any) -> list[ToolCallRequest]:
    out = []
    for tc in tool_calls or ():
        t = _as_mapping(tc)
        if t is None:
            continue
        fn = _as_mapping(t.get("function")) or _as_mapping(t.get("custom")) or {}
        arguments = fn.get("arguments", fn.get("input"))
        out.append(ToolCallRequest(name=str(fn.get("name") or ""), id=t.get("id"), arguments=_json_or_text(arguments)))
    return out


def _chat_message(m: Any) -> Message:
    d = _as_mapping(m)
    if d is None:
        return Message(role="unknown", content=str(m))
    calls = _tool_requests(d.get("tool_calls"))
    legacy = _as_mapping(d.get("function_call"))
    if legacy:
        calls.append(
            ToolCallRequest(name=str(legacy.get("name") or ""), arguments=_json_or_text(legacy.get("arguments")))
        )
    content = _text(d.get("content"))
    if content is None and d.get("refusal"):
        content = str(d["refusal"])
    return Message(
        role=str(d.get("role") or "unknown"),
        content=content,
        name=d.get("name"),
        tool_call_id=d.get("tool_call_id"),
        tool_calls=calls,
    )


def _usage(u: Any) -> TokenUsage:
    """Token counts from chat (prompt/completion) or responses (input/output) usage objects."""
    if u is None:
        return TokenUsage()
    inp = getattr(u, "prompt_tokens", None)
    out = getattr(u, "completion_tokens", None)
    in_details = getattr(u, "prompt_tokens_details", None)
    out_details = getattr(u, "completion_tokens_details", None)
    if inp is None and out is None:
        inp = getattr(u, "input_tokens", None)
        out = getattr(u, "output_tokens", None)
        in_details = getattr(u, "input_tokens_details", None)
        out_details = getattr(u, "output_tokens_details", None)
    return TokenUsage(
        input_tokens=inp,
        output_tokens=out,
        cached_input_tokens=getattr(in_details, "cached_tokens", None),
        reasoning_tokens=getattr(out_details, "reasoning_tokens", None),
    )


def _materialise(kwargs: dict[str, Any], key: str) -> Any:
    """The value of an iterable argument, turned into a list (and passed on as that list) if it is one-shot."""
    value = kwargs.get(key)
    if _given(value) and not isinstance(value, str | Sequence | Mapping) and isinstance(value, Iterable):
        value = list(value)
        kwargs[key] = value
    return value


def _tool_names(tools: Any) -> list[str]:
    names = []
    for t in tools if isinstance(tools, Sequence) else ():
        d = _as_mapping(t) or {}
        fn = _as_mapping(d.get("function")) or d
        names.append(str(fn.get("name") or d.get("type") or "tool"))
    return names


def _openai_error(handle: SpanHandle, exc: BaseException) -> None:
    handle.record_exception(exc)
    err = handle.record.error
    if err is None:
        return
    cls = type(exc)
    if cls.__module__.startswith("openai."):
        err.type = f"openai.{cls.__qualname__}"
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        err.code = str(status)
        handle.set_attribute("http.response.status_code", status)
    code = getattr(exc, "code", None)
    if isinstance(code, str):
        handle.set_attribute("openai.error_code", code)


# ---------------------------------------------------------------------------------------------------------------
# One call


class _Call:
    """One instrumented API call: its span, and how to read its request, response and stream."""

    operation = "chat"
    parameters: tuple[str, ...] = ()

    def __init__(self, handle: SpanHandle) -> None:
        self.handle = handle
        self.t0 = time.perf_counter_ns()
        self.first_token_ns: int | None = None

    @classmethod
    def begin(cls, kwargs: dict[str, Any]) -> _Call | None:
        try:
            model = kwargs.get("model")
            model = model if isinstance(model, str) else None
            handle = start_span(f"{cls.operation} {model}" if model else cls.operation, SpanKind.LLM)
            call = cls(handle)
            llm = handle.llm
            llm.provider = "openai"
            llm.operation = cls.operation
            llm.request_model = model
            llm.parameters = {k: kwargs[k] for k in cls.parameters if _given(kwargs.get(k))}
            tools = _materialise(kwargs, "tools")
            if _given(tools):
                llm.parameters["tools"] = _tool_names(tools)
            call.read_request(kwargs)
            return call
        except Exception:
            _count_error()
            return None

    def read_request(self, kwargs: dict[str, Any]) -> None:
        raise NotImplementedError

    def read_response(self, result: Any) -> None:
        raise NotImplementedError

    def accumulator(self) -> _Accumulator:
        raise NotImplementedError

    def finish(self, result: Any) -> None:
        try:
            self.read_response(result)
        except Exception:
            _count_error()
        self.handle.end()

    def fail(self, exc: BaseException) -> None:
        try:
            _openai_error(self.handle, exc)
        except Exception:
            _count_error()
        self.handle.end()

    def _mark_first_token(self) -> None:
        if self.first_token_ns is None:
            self.first_token_ns = time.perf_counter_ns()
            self.handle.set_attribute("time_to_first_token_ms", (self.first_token_ns - self.t0) / 1e6)

    def _close_stream(self, acc: _Accumulator, *, closed_early: bool) -> None:
        if self.handle.ended:
            return
        try:
            acc.apply(self.handle)
            self.handle.set_attribute("stream", True)
            if closed_early:
                self.handle.set_attribute("stream_closed_early", True)
        except Exception:
            _count_error()
        self.handle.end()

    def _end_when_dropped(self, stream: Any, acc: _Accumulator) -> None:
        """End the span if the caller drops the stream without reading it to the end or closing it."""
        finalizer = weakref.finalize(stream, self._close_stream, acc, closed_early=True)
        finalizer.atexit = False

    def watch_stream(self, stream: Any) -> Any:
        """Observe a sync ``Stream`` in place: same object, same chunks, the span ends with the stream."""
        inner = getattr(stream, "_iterator", None)
        if not isinstance(inner, Iterator):
            self.finish(None)
            return stream
        acc = self.accumulator()

        def observed() -> Iterator[Any]:
            try:
                for item in inner:
                    try:
                        if acc.add(item):
                            self._mark_first_token()
                    except Exception:
                        _count_error()
                    yield item
            except GeneratorExit:
                self._close_stream(acc, closed_early=True)
                raise
            except BaseException as exc:
                try:
                    acc.apply(self.handle)
                except Exception:
                    _count_error()
                self.fail(exc)
                raise
            self._close_stream(acc, closed_early=False)

        class_close = type(stream).close
        stream_ref = weakref.ref(stream)  # no cycle through the stream: it is freed (and the span ended) promptly

        def close() -> None:
            try:
                live = stream_ref()
                if live is not None:
                    class_close(live)
            finally:
                self._close_stream(acc, closed_early=True)

        try:
            stream._iterator = observed()
            stream.close = close
            self._end_when_dropped(stream, acc)
        except Exception:
            _count_error()
            self.finish(None)
        return stream

    def watch_async_stream(self, stream: Any) -> Any:
        """Observe an ``AsyncStream`` in place: same object, same chunks, the span ends with the stream."""
        inner = getattr(stream, "_iterator", None)
        if not isinstance(inner, AsyncIterator):
            self.finish(None)
            return stream
        acc = self.accumulator()

        async def observed() -> AsyncIterator[Any]:
            try:
                async for item in inner:
                    try:
                        if acc.add(item):
                            self._mark_first_token()
                    except Exception:
                        _count_error()
                    yield item
            except GeneratorExit:
                self._close_stream(acc, closed_early=True)
                raise
            except BaseException as exc:
                try:
                    acc.apply(self.handle)
                except Exception:
                    _count_error()
                self.fail(exc)
                raise
            self._close_stream(acc, closed_early=False)

        class_close = type(stream).close
        stream_ref = weakref.ref(stream)

        async def close() -> None:
            try:
                live = stream_ref()
                if live is not None:
                    await class_close(live)
            finally:
                self._close_stream(acc, closed_early=True)

        try:
            stream._iterator = observed()
            stream.close = close
            self._end_when_dropped(stream, acc)
        except Exception:
            _count_error()
            self.finish(None)
        return stream


class _Accumulator:
    def add(self, item: Any) -> bool:
        """Take one streamed item; True when it carries the first output token."""
        raise NotImplementedError

    def apply(self, handle: SpanHandle) -> None:
        raise NotImplementedError


# -- chat.completions -------------------------------------------------------------------------------------------------


class _ChatCall(_Call):
    operation = "chat"
    parameters = _CHAT_PARAMETERS

    def read_request(self, kwargs: dict[str, Any]) -> None:
        messages = _materialise(kwargs, "messages")
        if isinstance(messages, Sequence):
            self.handle.llm.input_messages = [_chat_message(m) for m in messages]

    def read_response(self, result: Any) -> None:
        choices = getattr(result, "choices", None)
        if choices is None:
            return
        llm = self.handle.llm
        llm.response_model = getattr(result, "model", None)
        llm.response_id = getattr(result, "id", None)
        for choice in choices:
            msg = getattr(choice, "message", None)
            if msg is not None:
                out = _chat_message(msg)
                llm.output_messages.append(out)
                if getattr(msg, "refusal", None):
                    self.handle.set_attribute("refusal", True)
            reason = getattr(choice, "finish_reason", None)
            if reason:
                llm.finish_reasons.append(str(reason))
        llm.usage = _usage(getattr(result, "usage", None))
        tier = getattr(result, "service_tier", None)
        if isinstance(tier, str):
            self.handle.set_attribute("openai.service_tier", tier)

    def accumulator(self) -> _Accumulator:
        return _ChatAccumulator()


class _Choice:
    __slots__ = ("content", "finish_reason", "refusal", "role", "tools")

    def __init__(self) -> None:
        self.role = "assistant"
        self.content: list[str] = []
        self.refusal: list[str] = []
        self.tools: dict[int, list[Any]] = {}  # index -> [id, name, argument parts]
        self.finish_reason: str | None = None


class _ChatAccumulator(_Accumulator):
    def __init__(self) -> None:
        self.choices: dict[int, _Choice] = {}
        self.model: str | None = None
        self.id: str | None = None
        self.usage: Any = None

    def add(self, chunk: Any) -> bool:
        self.model = getattr(chunk, "model", None) or self.model
        self.id = getattr(chunk, "id", None) or self.id
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            self.usage = usage
        token = False
        for c in getattr(chunk, "choices", None) or ():
            st = self.choices.get(c.index)
            if st is None:
                st = self.choices[c.index] = _Choice()
            d = getattr(c, "delta", None)
            if d is not None:
                if getattr(d, "role", None):
                    st.role = d.role
                if getattr(d, "content", None):
                    st.content.append(d.content)
                    token = True
                if getattr(d, "refusal", None):
                    st.refusal.append(d.refusal)
                    token = True
                for tc in getattr(d, "tool_calls", None) or ():
                    slot = st.tools.setdefault(getattr(tc, "index", 0), [None, "", []])
                    if getattr(tc, "id", None):
                        slot[0] = tc.id
                    fn = getattr(tc, "function", None)
                    if fn is not None:
                        if getattr(fn, "name", None):
                            slot[1] += fn.name
                        if getattr(fn, "arguments", None):
                            slot[2].append(fn.arguments)
                    token = True
            if getattr(c, "finish_reason", None):
                st.finish_reason = c.finish_reason
        return token

    def apply(self, handle: SpanHandle) -> None:
        llm = handle.llm
        llm.response_model = self.model
        llm.response_id = self.id
        llm.output_messages = []
        llm.finish_reasons = []
        for _, st in sorted(self.choices.items()):
            content = "".join(st.content) if st.content else None
            if content is None and st.refusal:
                content = "".join(st.refusal)
                handle.set_attribute("refusal", True)
            calls = [
                ToolCallRequest(name=name, id=cid, arguments=_json_or_text("".join(parts)))
                for _, (cid, name, parts) in sorted(st.tools.items())
            ]
            llm.output_messages.append(Message(role=st.role, content=content, tool_calls=calls))
            if st.finish_reason:
                llm.finish_reasons.append(str(st.finish_reason))
        if self.usage is not None:
            llm.usage = _usage(self.usage)


# -- responses ------------------------------------------------------------------------------------------------------


def _responses_input(value: Any) -> list[Message]:
    if isinstance(value, str):
        return [Message(role="user", content=value)]
    out: list[Message] = []
    for item in value if isinstance(value, Sequence) else ():
        d = _as_mapping(item)
        if d is None:
            continue
        kind = d.get("type")
        if kind == "function_call":
            call = ToolCallRequest(
                name=str(d.get("name") or ""), id=d.get("call_id"), arguments=_json_or_text(d.get("arguments"))
            )
            out.append(Message(role="assistant", tool_calls=[call]))
        elif kind == "function_call_output":
            output = d.get("output")
            out.append(
                Message(
                    role="tool",
                    tool_call_id=d.get("call_id"),
                    content=output if isinstance(output, str) else _text(output),
                )
            )
        elif "role" in d:
            out.append(Message(role=str(d.get("role")), content=_text(d.get("content"))))
        else:
            out.append(Message(role="unknown", content=f"[{kind}]"))
    return out


def _responses_output(response: Any) -> tuple[list[Message], list[str]]:
    messages: list[Message] = []
    calls: list[ToolCallRequest] = []
    for item in getattr(response, "output", None) or ():
        kind = getattr(item, "type", None)
        if kind == "message":
            messages.append(
                Message(role=str(getattr(item, "role", "assistant")), content=_text(getattr(item, "content", None)))
            )
        elif kind == "function_call":
            calls.append(
                ToolCallRequest(
                    name=str(getattr(item, "name", "") or ""),
                    id=getattr(item, "call_id", None),
                    arguments=_json_or_text(getattr(item, "arguments", None)),
                )
            )
    if calls:
        messages.append(Message(role="assistant", tool_calls=calls))
    status = getattr(response, "status", None)
    details = getattr(response, "incomplete_details", None)
    reason = getattr(details, "reason", None) if details is not None else None
    reasons = [str(reason)] if reason else ([str(status)] if status else [])
    return messages, reasons


class _ResponsesCall(_Call):
    operation = "responses"
    parameters = _RESPONSES_PARAMETERS

    def read_request(self, kwargs: dict[str, Any]) -> None:
        messages: list[Message] = []
        instructions = kwargs.get("instructions")
        if isinstance(instructions, str):
            messages.append(Message(role="system", content=instructions))
        value = _materialise(kwargs, "input")
        if _given(value):
            messages.extend(_responses_input(value))
        self.handle.llm.input_messages = messages

    def read_response(self, result: Any) -> None:
        if getattr(result, "output", None) is None:
            return
        apply_response(self.handle, result)

    def accumulator(self) -> _Accumulator:
        return _ResponsesAccumulator()


def apply_response(handle: SpanHandle, response: Any) -> None:
    llm = handle.llm
    llm.response_model = getattr(response, "model", None)
    llm.response_id = getattr(response, "id", None)
    llm.output_messages, llm.finish_reasons = _responses_output(response)
    llm.usage = _usage(getattr(response, "usage", None))
    error = getattr(response, "error", None)
    if error is not None:
        handle.set_status(
            "error",
            error_type="openai.ResponseError",
            code=getattr(error, "code", None),
            message=getattr(error, "message", None),
        )


class _ResponsesAccumulator(_Accumulator):
    def __init__(self) -> None:
        self.final: Any = None
        self.text: list[str] = []
        self.error: Any = None

    def add(self, event: Any) -> bool:
        kind = getattr(event, "type", None)
        if kind == "response.output_text.delta":
            self.text.append(str(getattr(event, "delta", "") or ""))
            return True
        if kind in ("response.completed", "response.incomplete", "response.failed"):
            self.final = getattr(event, "response", None)
        elif kind == "error":
            self.error = event
        return False

    def apply(self, handle: SpanHandle) -> None:
        if self.final is not None:
            apply_response(handle, self.final)
        elif self.text:
            handle.llm.output_messages = [Message(role="assistant", content="".join(self.text))]
        if self.error is not None:
            handle.set_status(
                "error",
                error_type="openai.StreamError",
                code=getattr(self.error, "code", None),
                message=getattr(self.error, "message", None),
            )

"""Spans, the decorator, context propagation, context fields, feedback and trace context."""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watchkeeper import sdk
from watchkeeper.records import FeedbackKind, SpanKind, Status, span_from_dict, span_to_dict
from watchkeeper.sdk._context import parse_traceparent


def test_nested_spans_form_a_tree_in_one_trace(capture: sdk.CaptureExporter) -> None:
    with sdk.span("root", kind="agent") as root, sdk.span("child", kind=SpanKind.TOOL) as child, sdk.span("grandchild"):
        pass
    with sdk.span("second-root"):
        pass
    spans = {s.name: s for s in capture.spans}
    assert [s.name for s in capture.spans] == ["grandchild", "child", "root", "second-root"]
    assert spans["root"].parent_span_id is None
    assert spans["child"].parent_span_id == root.span_id
    assert spans["grandchild"].parent_span_id == child.span_id
    assert {spans[n].trace_id for n in ("root", "child", "grandchild")} == {root.trace_id}
    assert spans["second-root"].trace_id != root.trace_id
    assert spans["root"].kind is SpanKind.AGENT and spans["child"].kind is SpanKind.TOOL
    assert all(s.status is Status.OK and s.source == "sdk" for s in capture.spans)
    assert all(s.service_name == "test-service" for s in capture.spans)
    assert all(s.end_time_ns >= s.start_time_ns > 0 for s in capture.spans)
    assert len(root.trace_id) == 32 and len(root.span_id) == 16
    int(root.trace_id, 16), int(root.span_id, 16)


def test_spans_round_trip_through_the_wire_form(capture: sdk.CaptureExporter) -> None:
    with sdk.span("r", kind="retrieval", input={"q": "x"}, top_k=3) as s:
        s.set_output(["doc"])
        s.set_llm(provider="p")
        s.set_tool(name="t", arguments={"a": 1})
    d = capture.span_dicts()[0]
    assert d["attributes"] == {"top_k": 3}
    back = span_from_dict(d)
    assert span_to_dict(back) == span_to_dict(capture.spans[0])


def test_asyncio_tasks_inherit_the_span_current_when_they_were_created(capture: sdk.CaptureExporter) -> None:
    async def work(i: int) -> str | None:
        await asyncio.sleep(0)
        with sdk.span(f"task-{i}"):
            await asyncio.sleep(0)
        return sdk.current_trace_id()

    async def main() -> tuple[str, list[str | None]]:
        async with sdk.span("parent") as parent:
            ids = await asyncio.gather(*(asyncio.create_task(work(i)) for i in range(3)))
        return parent.span_id, list(ids)

    parent_id, trace_ids = asyncio.run(main())
    parent = capture.find("parent")
    for i in range(3):
        assert capture.find(f"task-{i}").parent_span_id == parent_id
    assert trace_ids == [parent.trace_id] * 3
    assert sdk.current_trace_id() is None


def test_threads_start_clean_unless_the_context_is_copied(capture: sdk.CaptureExporter) -> None:
    seen: dict[str, str | None] = {}
    with sdk.span("outer") as outer:
        t = threading.Thread(target=lambda: seen.update(plain=sdk.current_trace_id()))
        t.start()
        t.join()
        ctx = contextvars.copy_context()
        t = threading.Thread(target=lambda: ctx.run(lambda: seen.update(copied=sdk.current_trace_id())))
        t.start()
        t.join()
    assert seen == {"plain": None, "copied": outer.trace_id}


def test_an_exception_is_re_raised_unchanged_and_marks_the_span(capture: sdk.CaptureExporter) -> None:
    error = KeyError("missing")
    with pytest.raises(KeyError) as info, sdk.span("failing"):
        raise error
    assert info.value is error
    assert info.value.__cause__ is None and info.value.__context__ is None
    s = capture.find("failing")
    assert s.status is Status.ERROR
    assert s.error is not None and s.error.type == "KeyError" and s.error.message == "'missing'"
    assert sdk.current_span_id() is None


def test_observe_keeps_signature_name_doc_and_return_value(capture: sdk.CaptureExporter) -> None:
    def add(a: int, b: int = 2, *, scale: int = 1) -> int:
        """Add two numbers."""
        return (a + b) * scale

    wrapped = sdk.observe(add)
    assert inspect.signature(wrapped) == inspect.signature(add)
    assert wrapped.__name__ == "add" and wrapped.__doc__ == "Add two numbers."
    assert wrapped(1, scale=3) == 9
    s = capture.spans[-1]
    assert s.name.endswith("add") and s.kind is SpanKind.CHAIN
    assert s.input == {"a": 1, "scale": 3} and s.output == 9


def test_observe_options_and_methods(capture: sdk.CaptureExporter) -> None:
    class Agent:
        @sdk.observe("plan", kind="agent", capture_output=False, team="core")
        def plan(self, goal: str) -> list[str]:
            return [goal]

        @sdk.observe
        @classmethod
        def make(cls) -> Agent:
            return cls()

    agent = Agent.make()
    assert agent.plan("ship") == ["ship"]
    s = capture.find("plan")
    assert s.input == {"goal": "ship"} and s.output is None
    assert s.kind is SpanKind.AGENT and s.attributes == {"team": "core"}
    assert capture.spans[0].name.endswith("Agent.make") and capture.spans[0].input == {}


def test_observe_snapshots_arguments_so_later_mutation_does_not_rewrite_them(capture: sdk.CaptureExporter) -> None:
    @sdk.observe
    def step(messages: list[dict[str, str]]) -> int:
        return len(messages)

    messages = [{"role": "user", "content": "hi"}]
    step(messages)
    messages.append({"role": "assistant", "content": "hello"})
    messages[0]["content"] = "changed"
    assert capture.spans[0].input == {"messages": [{"role": "user", "content": "hi"}]}


def test_observe_on_coroutines_records_errors_and_stays_a_coroutine_function(capture: sdk.CaptureExporter) -> None:
    @sdk.observe(kind="tool")
    async def fetch(url: str) -> str:
        await asyncio.sleep(0)
        if url == "bad":
            raise ConnectionError("refused")
        return "ok"

    assert inspect.iscoroutinefunction(fetch)
    assert asyncio.run(fetch("good")) == "ok"
    with pytest.raises(ConnectionError, match="refused"):
        asyncio.run(fetch("bad"))
    ok, bad = capture.spans
    assert ok.status is Status.OK and ok.output == "ok"
    assert bad.status is Status.ERROR and bad.error is not None and bad.error.type == "ConnectionError"


def test_observe_on_generators_covers_iteration_without_leaking_the_span(capture: sdk.CaptureExporter) -> None:
    @sdk.observe
    def tokens(n: int) -> Iterator[str]:
        for i in range(n):
            with sdk.span("inner"):
                pass
            yield f"t{i}"

    assert inspect.isgeneratorfunction(tokens)
    out = []
    for tok in tokens(3):
        assert sdk.current_span_id() is None  # not current between yields
        out.append(tok)
    assert out == ["t0", "t1", "t2"]
    gen_span = capture.spans[-1]
    assert gen_span.output == "t0t1t2"
    assert [s.parent_span_id for s in capture.spans[:-1]] == [gen_span.span_id] * 3

    capture.clear()
    early = tokens(10)
    assert next(early) == "t0"
    early.close()
    assert capture.spans[-1].status is Status.OK and capture.spans[-1].output == "t0"


def test_observe_on_async_generators(capture: sdk.CaptureExporter) -> None:
    @sdk.observe
    async def stream(n: int) -> AsyncIterator[int]:
        for i in range(n):
            await asyncio.sleep(0)
            yield i
        raise ValueError("end of the line")

    async def consume() -> list[int]:
        got: list[int] = []

        async def drain() -> None:
            async for i in stream(2):
                got.append(i)

        with pytest.raises(ValueError, match="end of the line"):
            await drain()
        return got

    assert asyncio.run(consume()) == [0, 1]
    s = capture.spans[-1]
    assert s.output == [0, 1] and s.status is Status.ERROR


def test_set_context_applies_to_the_current_span_and_those_below(capture: sdk.CaptureExporter) -> None:
    @sdk.observe
    def handle() -> None:
        sdk.set_context(session_id="s-1", subject_id="u-9", account={"plan_tier": "free", "region": "eu"})
        with sdk.span("child"):
            pass

    with sdk.set_context(versions={"model": "m-1", "prompt": "p-3"}):
        handle()
    with sdk.span("outside"):
        pass
    child, root, outside = capture.spans
    for s in (child, root):
        assert (s.session_id, s.subject_id) == ("s-1", "u-9")
        assert s.account.plan_tier == "free" and s.account.region == "eu"
        assert s.versions.model == "m-1" and s.versions.prompt == "p-3"
    assert outside.session_id is None and outside.versions.model is None


def test_span_handle_context_fields_are_inherited_by_children(capture: sdk.CaptureExporter) -> None:
    with sdk.span("root", session_id="s-2") as root:
        root.set_context(subject_id="u-1", versions={"skill": "k-1"})
        with sdk.span("child"):
            pass
    child = capture.find("child")
    assert (child.session_id, child.subject_id, child.versions.skill) == ("s-2", "u-1", "k-1")


def test_setters_after_end_are_ignored(capture: sdk.CaptureExporter) -> None:
    with sdk.span("done") as s:
        pass
    s.set_output("late").set_attribute("k", "v").record_exception(ValueError())
    assert capture.spans[0].output is None and capture.spans[0].attributes == {}
    assert capture.spans[0].status is Status.OK


def test_traceparent_inject_and_continue_across_processes(capture: sdk.CaptureExporter) -> None:
    assert sdk.inject_traceparent() == {}
    with sdk.span("client") as client:
        headers = sdk.inject_traceparent({"x": "1"})
    assert headers["traceparent"] == f"00-{client.trace_id}-{client.span_id}-01"
    remote = sdk.extract_traceparent({"TraceParent": headers["traceparent"], "tracestate": "k=v"})
    assert remote is not None and remote.tracestate == "k=v"
    with sdk.continue_trace(remote), sdk.span("server") as server:
        assert sdk.inject_traceparent()["tracestate"] == "k=v"
    s = capture.find("server")
    assert s.trace_id == client.trace_id and s.parent_span_id == client.span_id
    assert server.trace_id == client.trace_id
    with sdk.continue_trace({"traceparent": "garbage"}), sdk.span("fresh"):
        pass
    assert capture.find("fresh").parent_span_id is None


@pytest.mark.parametrize(
    "value",
    [
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00-future",
    ],
)
def test_valid_traceparents_parse(value: str) -> None:
    ctx = parse_traceparent(value)
    assert ctx is not None and ctx.trace_id == "0af7651916cd43dd8448eb211c80319c"


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
        "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
        "00-0af7651916cd43dd8448eb211c8031-b7ad6b7169203331-01",
    ],
)
def test_invalid_traceparents_are_ignored(value: str | None) -> None:
    assert parse_traceparent(value) is None


@given(st.integers(1, 2**128 - 1), st.integers(1, 2**64 - 1), st.booleans())
def test_traceparent_format_then_parse_is_identity(trace: int, span: int, sampled: bool) -> None:
    ctx = sdk.TraceContext(f"{trace:032x}", f"{span:016x}", sampled)
    assert parse_traceparent(ctx.traceparent) == ctx


def test_feedback_is_validated_and_sent(capture: sdk.CaptureExporter, caplog: pytest.LogCaptureFixture) -> None:
    with sdk.span("answer", session_id="s-7") as s:
        fid = sdk.feedback(None, "thumbs", -1, comment="wrong")
    assert fid is not None
    fb = capture.feedback[0]
    assert (fb.id, fb.trace_id, fb.kind, fb.value, fb.session_id) == (fid, s.trace_id, FeedbackKind.THUMBS, -1, "s-7")
    assert fb.source == "sdk"
    with caplog.at_level(logging.WARNING, logger="watchkeeper.sdk"):
        assert sdk.feedback(s.trace_id, "thumbs", 5) is None
        assert sdk.feedback("nope", "score", 0.5) is None
    assert "value: must be 1 or -1" in caplog.text and "trace_id" in caplog.text
    assert len(capture.feedback) == 1


def test_a_broken_exporter_never_reaches_the_application() -> None:
    class Broken:
        def export(self, record: object) -> None:
            raise RuntimeError("disk on fire")

        def flush(self, timeout: float | None = None) -> bool:
            raise RuntimeError("still on fire")

        def shutdown(self, timeout: float | None = None) -> bool:
            return True

        def stats(self) -> dict[str, int]:
            raise RuntimeError("no stats")

    sdk.configure(exporter=Broken())
    try:
        before = sdk.stats()["sdk_errors"]
        with sdk.span("x"):
            pass
        assert sdk.flush(1) is False
        assert sdk.feedback("0af7651916cd43dd8448eb211c80319c", "comment") is not None
        assert sdk.stats()["sdk_errors"] >= before + 3
    finally:
        sdk.configure(enabled=False)


def test_disabled_sdk_runs_code_and_exports_nothing() -> None:
    exporter = sdk.configure(enabled=False)
    assert isinstance(exporter, sdk.NoopExporter)

    @sdk.observe
    def f() -> int:
        return 1

    assert f() == 1


def test_the_sdk_imports_nothing_but_the_standard_library_and_records() -> None:
    code = (
        "import sys; import watchkeeper.sdk; "
        "ours = sorted(m for m in sys.modules if m.startswith('watchkeeper'));"
        "bad = [m for m in ('openai', 'mcp', 'httpx', 'pydantic', 'opentelemetry', 'requests') if m in sys.modules];"
        "print(ours, bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    modules, bad = out.rsplit("] [", 1)
    assert bad.strip() == "]"
    names = {m.strip("[]' ") for m in modules.split(",")}
    assert names <= {"watchkeeper", "watchkeeper.records", "watchkeeper.sdk"} | {
        n for n in names if n.startswith("watchkeeper.sdk._")
    }
    assert "watchkeeper.records" in names

"""Ingest decodes and prepares request bodies on worker threads, never on the event loop, and still answers bad
input with problem documents naming the field; a full queue is refused before any decoding is spent."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

import watchkeeper.ingest.otlp as otlp
from watchkeeper.config import Settings
from watchkeeper.server import create_app
from watchkeeper.store import RowBatch

PROTOBUF = {"Content-Type": "application/x-protobuf"}


def otlp_body(n: int = 3) -> bytes:
    req = ExportTraceServiceRequest()
    ss = req.resource_spans.add().scope_spans.add()
    now = time.time_ns()
    for i in range(n):
        s = ss.spans.add()
        s.trace_id = bytes.fromhex("ab" * 16)
        s.span_id = (i + 1).to_bytes(8, "big")
        s.name = "chat"
        s.start_time_unix_nano = now - 2_000_000
        s.end_time_unix_nano = now - 1_000_000
        kv = s.attributes.add()
        kv.key = "gen_ai.request.model"
        kv.value.string_value = "gpt-4o"
    return req.SerializeToString()


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(auth=False, data_dir=str(tmp_path), queue_max_records=10))) as c:
        yield c


def test_otlp_bodies_are_decoded_on_a_worker_thread_not_the_event_loop(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[str] = []
    real = otlp.decode_otlp

    def spy(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(otlp, "decode_otlp", spy)
    r = client.post("/v1/traces", content=otlp_body(), headers=PROTOBUF)
    assert r.status_code == 200, r.text
    assert threads and threads[0].startswith("watchkeeper-prepare")
    assert client.get("/api/v1/traces/" + "ab" * 16).json()["span_count"] == 3


def test_a_malformed_body_decoded_off_the_loop_still_gets_a_problem_naming_the_field(client: TestClient) -> None:
    req = ExportTraceServiceRequest()
    s = req.resource_spans.add().scope_spans.add().spans.add()
    s.trace_id = b"\x01" * 15  # one byte short
    s.span_id = b"\x02" * 8
    s.start_time_unix_nano = time.time_ns()
    r = client.post("/v1/traces", content=req.SerializeToString(), headers=PROTOBUF)
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["status"] == 400
    assert "resourceSpans[0].scopeSpans[0].spans[0].traceId" in problem["detail"]

    r = client.post("/v1/traces", content=b"\xff\xff\xff", headers=PROTOBUF)
    assert r.status_code == 400 and "malformed protobuf" in r.json()["detail"]


def test_a_full_queue_answers_429_with_retry_after_before_decoding(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = client.app.state.runtime  # type: ignore[attr-defined]
    rt.writer.stop()  # nothing drains the queue while the test fills it
    rows = RowBatch(span_rows=[{}] * 10)
    rt.writer._stopping = False
    rt.writer.submit(rows)
    calls: list[int] = []
    monkeypatch.setattr(otlp, "decode_otlp", lambda *a, **k: calls.append(1) or [])
    r = client.post("/v1/traces", content=otlp_body(), headers=PROTOBUF)
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) >= 1
    assert r.json()["status"] == 429
    assert calls == []  # refused before any decoding work
    with rt.writer._cond:  # empty the queue again so the app can shut down cleanly
        rt.writer._queue.clear()
        rt.writer._depth = 0


def test_too_many_bodies_waiting_to_be_decoded_answers_429_before_decoding(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from watchkeeper.server._runtime import PREPARE_QUEUE_MAX

    rt = client.app.state.runtime  # type: ignore[attr-defined]
    calls: list[int] = []
    monkeypatch.setattr(otlp, "decode_otlp", lambda *a, **k: calls.append(1) or [])
    rt._preparing = PREPARE_QUEUE_MAX  # as if that many requests were decoding: the pipeline is the bottleneck
    r = client.post("/v1/traces", content=otlp_body(), headers=PROTOBUF)
    assert r.status_code == 429 and r.headers["retry-after"] == "1"
    assert calls == []
    rt._preparing = 0
    assert client.post("/v1/traces", content=otlp_body(), headers=PROTOBUF).status_code == 200

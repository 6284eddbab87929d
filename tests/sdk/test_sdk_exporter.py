"""The background exporter against a real HTTP server on 127.0.0.1 that answers as scripted."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from watchkeeper import sdk
from watchkeeper.records import Span
from watchkeeper.sdk._exporter import _retry_after_s, to_jsonable

from .wk_sdk_helpers import IngestServer, Reply

pytestmark = pytest.mark.timeout(60)


def _exporter(ingest: IngestServer, **settings: object) -> sdk.HttpExporter:
    defaults: dict[str, object] = {"schedule_delay_s": 0.05, "backoff_base_s": 0.01, "max_backoff_s": 0.05}
    defaults.update(settings)
    return sdk.HttpExporter(ingest.endpoint, **defaults)  # type: ignore[arg-type]


def _spans(n: int, prefix: str = "s") -> list[str]:
    names = [f"{prefix}{i}" for i in range(n)]
    for name in names:
        with sdk.span(name, input={"secret": "hunter2"}):
            pass
    return names


def test_batches_are_posted_as_json_with_the_bearer_token(ingest: IngestServer) -> None:
    sdk.configure(endpoint=ingest.endpoint, api_key="wk-test-key", service_name="svc", schedule_delay_s=0.05)
    names = _spans(5)
    fid = sdk.feedback("0af7651916cd43dd8448eb211c80319c", "score", 0.5)
    assert sdk.flush(10)
    got = ingest.spans()
    assert [s["name"] for s in got] == names
    assert all(s["service_name"] == "svc" and s["source"] == "sdk" for s in got)
    assert [f["id"] for f in ingest.feedback()] == [fid]
    first = ingest.received[0]
    assert ingest.paths[0] == "/api/v1/ingest"
    assert first.headers["Authorization"] == "Bearer wk-test-key"
    assert first.headers["Content-Type"] == "application/json"
    stats = sdk.stats()
    assert stats["exported"] == 6 and stats["retries"] == 0


def test_endpoint_path_prefix_is_kept(ingest: IngestServer) -> None:
    exporter = sdk.HttpExporter(ingest.endpoint + "/watchkeeper/", schedule_delay_s=0.05)
    sdk.configure(exporter=exporter)
    _spans(1)
    assert exporter.flush(10)
    assert ingest.paths == ["/watchkeeper/api/v1/ingest"]


def test_large_bodies_are_gzipped(ingest: IngestServer) -> None:
    exporter = _exporter(ingest, gzip_min_bytes=100)
    sdk.configure(exporter=exporter)
    _spans(3)
    assert exporter.flush(10)
    assert ingest.received[0].headers.get("Content-Encoding") == "gzip"
    assert len(ingest.spans()) == 3


def test_429_with_retry_after_is_retried_after_waiting(ingest: IngestServer) -> None:
    ingest.script.append(Reply(429, {"Retry-After": "1"}, b'{"title": "Overloaded"}'))
    exporter = _exporter(ingest)
    sdk.configure(exporter=exporter)
    _spans(2)
    assert exporter.flush(10)
    first, second = ingest.received
    assert second.at - first.at >= 0.9  # honoured Retry-After rather than the 10 ms backoff
    assert second.body == first.body
    stats = exporter.stats()
    assert stats["exported"] == 2 and stats["retries"] == 1


def test_503_and_500_are_retried_with_backoff(ingest: IngestServer) -> None:
    ingest.script.extend([Reply(503), Reply(500), Reply(502)])
    exporter = _exporter(ingest)
    sdk.configure(exporter=exporter)
    _spans(3)
    assert exporter.flush(10)
    assert len(ingest.received) == 4
    stats = exporter.stats()
    assert stats["exported"] == 3 and stats["retries"] == 3 and stats["dropped_retries_exhausted"] == 0


def test_a_server_too_slow_to_answer_times_out_and_is_retried(ingest: IngestServer) -> None:
    release = threading.Event()
    ingest.script.append(Reply(hold=release))  # the first POST gets no answer within the timeout
    exporter = _exporter(ingest, export_timeout_s=0.2)
    sdk.configure(exporter=exporter)
    try:
        _spans(3)
        assert exporter.flush(10)
        stats = exporter.stats()
        assert stats["exported"] == 3 and stats["retries"] >= 1
    finally:
        release.set()


def test_retries_are_limited_then_the_batch_is_dropped_and_counted(ingest: IngestServer) -> None:
    ingest.script.extend([Reply(500)] * 3)
    exporter = _exporter(ingest, max_retries=2)
    sdk.configure(exporter=exporter)
    _spans(4)
    assert exporter.flush(10)
    stats = exporter.stats()
    assert stats["retries"] == 2 and stats["dropped_retries_exhausted"] == 4 and stats["exported"] == 0


def test_network_errors_are_retried_then_counted() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before use: connection refused
    exporter = sdk.HttpExporter(f"http://127.0.0.1:{port}", max_retries=1, backoff_base_s=0.01)
    sdk.configure(exporter=exporter)
    try:
        _spans(2)
        assert exporter.flush(10)
        stats = exporter.stats()
        assert stats["retries"] == 1 and stats["dropped_retries_exhausted"] == 2
    finally:
        sdk.configure(enabled=False)


def test_a_rejected_batch_is_dropped_and_its_problem_detail_logged_without_payload(
    ingest: IngestServer, caplog: pytest.LogCaptureFixture
) -> None:
    problem = {"type": "about:blank", "title": "Invalid record", "status": 400, "detail": "spans[0].name: required"}
    ingest.script.append(Reply(400, {}, json.dumps(problem).encode()))
    exporter = _exporter(ingest)
    sdk.configure(exporter=exporter)
    with caplog.at_level(logging.WARNING, logger="watchkeeper.sdk"):
        _spans(2)
        assert exporter.flush(10)
    stats = exporter.stats()
    assert stats["dropped_rejected"] == 2 and stats["retries"] == 0 and stats["exported"] == 0
    assert "spans[0].name: required" in caplog.text and "HTTP 400" in caplog.text
    assert "hunter2" not in caplog.text


def test_a_too_large_batch_is_split(ingest: IngestServer) -> None:
    ingest.script.append(Reply(413, {}, b'{"detail": "too large"}'))
    exporter = _exporter(ingest)
    sdk.configure(exporter=exporter)
    _spans(4)
    assert exporter.flush(10)
    assert [len(r.body["spans"]) for r in ingest.received] == [4, 2, 2]
    assert exporter.stats()["exported"] == 4


def test_a_full_queue_drops_and_counts_instead_of_blocking(ingest: IngestServer) -> None:
    release = threading.Event()
    ingest.script.append(Reply(hold=release))  # the server sits on the first batch
    exporter = _exporter(ingest, max_queue_size=10, max_batch_size=5)
    sdk.configure(exporter=exporter)
    try:
        _spans(5)
        assert ingest.wait_for_requests(0)
        # If export ever blocked, this would hang here until the test times out: the server is holding.
        _spans(200, prefix="more")
        stats = exporter.stats()
        assert stats["dropped_queue_full"] >= 190 - 10
    finally:
        release.set()
    assert exporter.flush(10)
    stats = exporter.stats()
    assert stats["exported"] + stats["dropped_queue_full"] == 205


def test_shutdown_delivers_everything_queued(ingest: IngestServer) -> None:
    exporter = sdk.HttpExporter(ingest.endpoint, schedule_delay_s=60, max_batch_size=1000)
    sdk.configure(exporter=exporter)
    names = _spans(50)
    assert exporter.shutdown(10)
    assert [s["name"] for s in ingest.spans()] == names
    _spans(1, prefix="late")
    assert exporter.stats()["dropped_shutdown"] == 1


def test_shutdown_is_bounded_when_the_server_keeps_saying_later(ingest: IngestServer) -> None:
    ingest.script.extend([Reply(503, {"Retry-After": "120"})] * 5)
    exporter = _exporter(ingest)
    sdk.configure(exporter=exporter)
    _spans(3)
    assert ingest.wait_for_requests(1)
    started = time.monotonic()
    exporter.shutdown(1.0)
    assert time.monotonic() - started < 5
    assert exporter.stats()["dropped_shutdown"] == 3


def test_the_redact_hook_runs_before_export_and_failures_never_leak(ingest: IngestServer) -> None:
    def redact(d: dict[str, object]) -> dict[str, object] | None:
        if d["name"] == "drop-me":
            return None
        if d["name"] == "explode":
            raise RuntimeError("redactor bug")
        d["input"] = "[redacted]"
        return d

    sdk.configure(endpoint=ingest.endpoint, redact=redact, schedule_delay_s=0.05)
    for name in ("keep", "drop-me", "explode"):
        with sdk.span(name, input={"secret": "hunter2"}):
            pass
    assert sdk.flush(10)
    assert [(s["name"], s["input"]) for s in ingest.spans()] == [("keep", "[redacted]")]
    stats = sdk.stats()
    assert stats["dropped_filtered"] == 1 and stats["dropped_invalid"] == 1


def test_unserialisable_values_are_made_json_safe(ingest: IngestServer) -> None:
    class Thing:
        def __repr__(self) -> str:
            return "<Thing>"

    exporter = _exporter(ingest)
    sdk.configure(exporter=exporter)
    with sdk.span("odd", input={"t": Thing(), "b": b"abc", "n": float("nan"), "s": {1}}):
        pass
    assert exporter.flush(10)
    assert ingest.spans()[0]["input"] == {"t": "<Thing>", "b": "<3 bytes>", "n": None, "s": [1]}
    assert to_jsonable({"deep": [[[1]]]}) == {"deep": [[[1]]]}


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2", 2.0), ("0", 0.0), ("999999", 300.0), ("soon", None), (None, None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)],
)
def test_retry_after_parsing(value: str | None, expected: float | None) -> None:
    assert _retry_after_s(value) == expected


def test_records_are_delivered_at_interpreter_exit(ingest: IngestServer, tmp_path: Path) -> None:
    script = tmp_path / "app.py"
    script.write_text(
        "from watchkeeper import sdk\n"
        "sdk.configure(schedule_delay_s=60)\n"
        "for i in range(20):\n"
        "    with sdk.span(f'exit-{i}'):\n"
        "        pass\n"
        "print('done')\n"
    )
    env = {"WATCHKEEPER_ENDPOINT": ingest.endpoint, "WATCHKEEPER_SERVICE_NAME": "exiting", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "done" and out.stderr == ""
    assert sorted(s["name"] for s in ingest.spans()) == sorted(f"exit-{i}" for i in range(20))
    assert {s["service_name"] for s in ingest.spans()} == {"exiting"}


def test_a_server_that_is_down_never_disturbs_the_application(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    script = tmp_path / "app.py"
    script.write_text(
        "from watchkeeper import sdk\n"
        "@sdk.observe\n"
        "def work(i):\n"
        "    return i * 2\n"
        "print(sum(work(i) for i in range(100)))\n"
    )
    env = {"WATCHKEEPER_ENDPOINT": f"http://127.0.0.1:{port}", "PATH": "/usr/bin:/bin"}
    started = time.monotonic()
    out = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "9900"
    assert time.monotonic() - started < 30


def test_flush_after_shutdown_returns_instead_of_waiting_forever(ingest: IngestServer) -> None:
    exporter = _exporter(ingest)
    sdk.configure(exporter=exporter)
    _spans(1)
    assert exporter.shutdown(10)
    assert exporter.flush() is True


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_exports_through_its_own_thread(ingest: IngestServer, tmp_path: Path) -> None:
    script = tmp_path / "forking.py"
    script.write_text(
        "import os\n"
        "from watchkeeper import sdk\n"
        "sdk.configure(schedule_delay_s=0.05)\n"
        "with sdk.span('parent-before'):\n"
        "    pass\n"
        "sdk.flush(10)\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    with sdk.span('child'):\n"
        "        pass\n"
        "    ok = sdk.flush(10)\n"
        "    os._exit(0 if ok else 3)\n"
        "_, status = os.waitpid(pid, 0)\n"
        "with sdk.span('parent-after'):\n"
        "    pass\n"
        "print(os.waitstatus_to_exitcode(status))\n"
    )
    env = {"WATCHKEEPER_ENDPOINT": ingest.endpoint, "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "0"
    spans = ingest.spans()
    assert sorted(s["name"] for s in spans) == ["child", "parent-after", "parent-before"]
    assert len({s["span_id"] for s in spans}) == 3


def test_capture_exporter_helpers() -> None:
    cap = sdk.CaptureExporter()
    sdk.configure(exporter=cap)
    try:
        with sdk.span("a"):
            pass
        assert cap.wait_for_spans(1, timeout=1)
        assert isinstance(cap.find("a"), Span)
        with pytest.raises(LookupError, match="have: \\['a'\\]"):
            cap.find("b")
        assert cap.stats() == {"exported": 1}
        cap.clear()
        assert cap.spans == [] and not cap.wait_for_spans(1, timeout=0.01)
    finally:
        sdk.configure(enabled=False)

"""Fixtures for OTLP ingest tests: spans made by the real OpenTelemetry SDK, exported by the real OTLP/HTTP exporter
to a tiny receiver on 127.0.0.1 that keeps the exact bytes it was sent."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer


@dataclass(frozen=True)
class Received:
    """One POST as the receiver saw it."""

    path: str
    content_type: str
    content_encoding: str
    raw: bytes  # exactly as sent (compressed if the exporter compressed it)

    @property
    def body(self) -> bytes:
        """The body as the server hands it to the decoder: decompressed."""
        return gzip.decompress(self.raw) if self.content_encoding == "gzip" else self.raw


class OtlpReceiver:
    """An OTLP/HTTP endpoint on a random local port that records every request and answers 200."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        received = self.requests

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                received.append(
                    Received(
                        path=self.path,
                        content_type=self.headers.get("Content-Type", ""),
                        content_encoding=self.headers.get("Content-Encoding", ""),
                        raw=raw,
                    )
                )
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}/v1/traces"

    def export(self, spans: Sequence[ReadableSpan], *, gzip: bool = False) -> Received:
        """Send ``spans`` with the real OTLPSpanExporter and return the request it made."""
        before = len(self.requests)
        exporter = OTLPSpanExporter(
            endpoint=self.endpoint,
            compression=Compression.Gzip if gzip else Compression.NoCompression,
            timeout=10,
        )
        try:
            assert exporter.export(spans) is SpanExportResult.SUCCESS
        finally:
            exporter.shutdown()  # type: ignore[no-untyped-call]  # the SDK leaves it unannotated
        assert len(self.requests) == before + 1
        return self.requests[-1]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def otlp_receiver() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    yield receiver
    receiver.close()


RecordSpans = Callable[..., list[ReadableSpan]]


@pytest.fixture(scope="session")
def record_spans() -> RecordSpans:
    """``record_spans(body, resource={...}, scope="name")``: run ``body(tracer)`` with the real SDK, return spans.

    Each call gets its own TracerProvider (no global state is touched).
    """

    def record(
        body: Callable[[Tracer], None],
        *,
        resource: Mapping[str, Any] | None = None,
        scope: str = "tests.ingest",
        scope_version: str | None = None,
    ) -> list[ReadableSpan]:
        memory = InMemorySpanExporter()
        provider = TracerProvider(resource=Resource.create(dict(resource or {"service.name": "test-service"})))
        provider.add_span_processor(SimpleSpanProcessor(memory))
        body(provider.get_tracer(scope, scope_version))
        provider.shutdown()
        return list(memory.get_finished_spans())

    return record

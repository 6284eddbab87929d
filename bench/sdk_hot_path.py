"""Hot-path cost of a span: Watchkeeper's SDK beside the OpenTelemetry SDK, measured in the same run.

Both SDKs run their real background exporter, posting to the same local HTTP sink (a separate process, so the sink
does not compete for this process's GIL): Watchkeeper's JSON batches to /api/v1/ingest, OpenTelemetry's OTLP/HTTP
protobuf via a BatchSpanProcessor to /v1/traces. Each sample is one empty span, timed with perf_counter_ns; rounds
alternate between the variants so that machine noise falls on all of them alike.

    python bench/sdk_hot_path.py [--spans 50000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

SINK = r"""
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args):
        pass
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path.endswith("/api/v1/ingest"):
            body, kind = b'{"accepted": {"spans": 0, "feedback": 0}}', "application/json"
        else:
            body, kind = b"", "application/x-protobuf"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
"""

QUEUE = 1 << 16
BATCH = 512


def percentiles(samples: list[int]) -> tuple[float, float, float]:
    samples.sort()
    n = len(samples)
    return samples[n // 2], samples[int(n * 0.9)], samples[int(n * 0.99)]


def timed(fn: Callable[[], None], n: int) -> list[int]:
    clock = time.perf_counter_ns
    out = [0] * n
    for i in range(n):
        t = clock()
        fn()
        out[i] = clock() - t
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=50_000, help="spans per variant per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    r = measure(args.spans, args.rounds)
    print(
        f"Python {sys.version.split()[0]}, {args.rounds} rounds x {args.spans} spans per variant, exporters posting to "
        f"{r['endpoint']}"
    )
    print()
    print(f"{'variant':<42} {'p50 ns':>8} {'p90 ns':>8} {'p99 ns':>8} {'mean ns':>8}")
    print("-" * 78)
    for name, (p50, p90, p99, mean) in r["variants"].items():
        print(f"{name:<42} {p50:>8.0f} {p90:>8.0f} {p99:>8.0f} {mean:>8.0f}")
    print()
    wk, otel = r["variants"][WK_SPAN][0], r["variants"][OTEL_SPAN][0]
    print(f"watchkeeper span p50 is {otel / wk:.1f}x faster than opentelemetry's (budget: <= 10000 ns and <= otel)")
    stats = r["exporter"]
    dropped = {k: v for k, v in stats.items() if k.startswith("dropped") and v}
    print(f"watchkeeper exporter: exported={stats['exported']} batches={stats['batches']} dropped={dropped or 0}")


WK_SPAN = "watchkeeper  with span(...)"
OTEL_SPAN = "opentelemetry with start_as_current_span"


def measure(n: int, rounds: int) -> dict[str, Any]:
    """Per-variant (p50, p90, p99, mean) ns per span, with both exporters posting to a local sink process."""
    sink = subprocess.Popen([sys.executable, "-c", SINK], stdout=subprocess.PIPE, text=True)
    try:
        assert sink.stdout is not None
        endpoint = f"http://127.0.0.1:{int(sink.stdout.readline())}"
        return run(endpoint, n, rounds)
    finally:
        sink.terminate()
        sink.wait(10)


def run(endpoint: str, n: int, rounds: int) -> dict[str, Any]:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from watchkeeper import sdk

    exporter = sdk.configure(endpoint=endpoint, service_name="bench", max_queue_size=QUEUE, max_batch_size=BATCH)

    provider = TracerProvider(resource=Resource.create({"service.name": "bench"}))
    provider.add_span_processor(
        BatchSpanProcessor(
            OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces"), max_queue_size=QUEUE, max_export_batch_size=BATCH
        )
    )
    tracer = provider.get_tracer("bench")

    def wk_span() -> None:
        with sdk.span("op"):
            pass

    @sdk.observe
    def wk_observe() -> None:
        pass

    def otel_span() -> None:
        with tracer.start_as_current_span("op"):
            pass

    @tracer.start_as_current_span("op")
    def otel_decorated() -> None:
        pass

    variants: dict[str, Callable[[], None]] = {
        WK_SPAN: wk_span,
        "watchkeeper  @observe": wk_observe,
        OTEL_SPAN: otel_span,
        "opentelemetry @start_as_current_span": otel_decorated,
    }
    samples: dict[str, list[int]] = {name: [] for name in variants}
    for fn in variants.values():  # warm up
        timed(fn, 2000)
    sdk.flush(30)
    provider.force_flush(30_000)
    for _ in range(rounds):
        for name, fn in variants.items():
            gc.collect()
            samples[name] += timed(fn, n)
            # Let both exporters drain between variants, so each is measured with its exporter busy, not backed up.
            sdk.flush(30)
            provider.force_flush(30_000)

    sdk.shutdown(30)
    provider.shutdown()
    stats = exporter.stats()

    variants_out = {}
    for name, values in samples.items():
        p50, p90, p99 = percentiles(values)
        variants_out[name] = (p50, p90, p99, statistics.fmean(values))
    return {"endpoint": endpoint, "variants": variants_out, "exporter": stats}


if __name__ == "__main__":
    main()

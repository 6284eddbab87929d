"""Helpers of the alerting tests: a real local HTTP receiver, a series source fed known counts and a simple
threshold detector (test doubles of the analytics room's protocols: the real ones plug in the same way)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest

from watchkeeper.alerting import AlertRule
from watchkeeper.analytics import Slice

NS = 1_000_000_000
MIN = 60 * NS
T0 = 1_717_200_000 * NS  # 2024-06-01T00:00:00Z, an hour boundary


# ---------------------------------------------------------------------------------------------------------------
# A real HTTP endpoint on a free port


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Receiver:
    """A local HTTP server that records every request and answers with the next scripted status (200 after)."""

    url: str
    requests: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answered in order; "hang" answers after the client gave up
    hang: int = 0  # this many requests get no answer until the server stops
    release: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def http_receiver() -> Iterator[Receiver]:
    state: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            r = state["r"]
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            r.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            if r.hang > 0:
                r.hang -= 1
                r.release.wait(10)  # the client times out long before: a receiver that does not answer
            status = r.statuses.pop(0) if r.statuses else 200
            payload = b'{"status":"success","message":"Event processed"}' if status < 300 else b"nope"
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the client hung up (timed out)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    host, port = server.server_address[:2]
    state["r"] = Receiver(f"http://{host}:{port}")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield state["r"]
    finally:
        state["r"].release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


# ---------------------------------------------------------------------------------------------------------------
# Test doubles of the analytics room's protocols


@dataclass(frozen=True)
class Gate:
    tested: bool = True


@dataclass(frozen=True)
class Verdict:
    fired: bool
    gate: Gate = Gate()
    pageable: bool = True
    p_value: float | None = None
    observed_rate: float | None = None
    expected_rate: float | None = None
    band: tuple[float, float] | None = None
    started_at: datetime | None = None
    since_start: tuple[float, float] | None = None  # observed and expected events since started_at (optional)


@dataclass(frozen=True)
class Stream:
    buckets: list[tuple[int, int, int]]  # (start_ns, numerator, denominator), event time
    at_ns: int


@dataclass
class FakeSource:
    """Counts per (metric, slice) that a test sets, and can change later (late records land in old buckets)."""

    counts: dict[tuple[str, tuple[str, ...], tuple[str, ...]], dict[int, tuple[int, int]]] = field(default_factory=dict)
    calls: int = 0

    def add(self, metric: str, at_ns: int, k: int, n: int, bucket_ns: int = 5 * MIN, **slice_values: str) -> None:
        key = (metric, tuple(slice_values), tuple(slice_values.values()))
        start = at_ns // bucket_ns * bucket_ns
        old = self.counts.setdefault(key, {}).get(start, (0, 0))
        self.counts[key][start] = (old[0] + k, old[1] + n)

    def slices_with_traffic(
        self, *, project_id: int, metric: str, dims: tuple[str, ...], start_ns: int, end_ns: int
    ) -> list[Slice]:
        out = []
        for (m, d, values), buckets in self.counts.items():
            if m == metric and d == dims and any(start_ns <= s < end_ns and n for s, (_k, n) in buckets.items()):
                out.append(Slice(d, values))
        return sorted(out, key=lambda s: s.values)

    def stream(self, *, project_id: int, rule: AlertRule, slice: Slice, parent: Slice | None, at_ns: int) -> Stream:
        self.calls += 1
        buckets = self.counts.get((rule.metric, slice.dims, slice.values), {})
        start = at_ns - rule.lookback_ns
        return Stream(sorted((s, k, n) for s, (k, n) in buckets.items() if start <= s < at_ns), at_ns)


@dataclass
class Doubling:
    """Fires when the rate of the last 15 minutes is at least twice the rate before; below ``gate`` events in
    those 15 minutes the slice is not tested, below ``page`` it may open a ticket only."""

    name: str = "spike"
    gate: int = 10
    page: int = 100
    calls: int = 0

    def evaluate(self, stream: Any, at: datetime, *, sensitivity: float = 1.0) -> Verdict:
        self.calls += 1
        recent = [(k, n) for s, k, n in stream.buckets if s >= stream.at_ns - 15 * MIN]
        before = [(k, n) for s, k, n in stream.buckets if s < stream.at_ns - 15 * MIN]
        k1, n1 = sum(k for k, _ in recent), sum(n for _, n in recent)
        k0, n0 = sum(k for k, _ in before), sum(n for _, n in before)
        if n1 < self.gate or not n0:
            return Verdict(False, Gate(False))
        now, base = k1 / n1, k0 / n0
        fired = now >= 2 * base * sensitivity and k1 > 0
        return Verdict(
            fired,
            Gate(True),
            pageable=n1 >= self.page,
            p_value=1e-6 if fired else 0.5,
            observed_rate=now,
            expected_rate=base,
            band=(base * 0.8, base * 1.2),
        )


def steady(source: FakeSource, metric: str, start_ns: int, end_ns: int, k: int, n: int, **slice_values: str) -> None:
    """k of n events in every 5-minute bucket of [start, end)."""
    t = start_ns
    while t < end_ns:
        source.add(metric, t, k, n, **slice_values)
        t += 5 * MIN

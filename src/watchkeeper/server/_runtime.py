"""What a running server holds: settings, the store's engine, the writer, the pipeline and the metrics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy import Engine

from ..config import Settings
from ..errors import InputError, Overloaded
from ..pipeline import Batch, Context, Processor, default_chain, run_chain
from ..privacy.encryption import KeyRing, check_keys, load_kek
from ..records import Feedback, RecordError, Span
from ..store import CommitStats, RowBatch, Writer, make_engine, migrate, optimize
from ..store._codec import feedback_row, span_row
from ._metrics import Metrics, SliceRates

Decoded = tuple[list[Span], list[Feedback]]
# Threads that decode and prepare request bodies, off the event loop. One: the pipeline is Python and holds the GIL
# nearly all the time, so a second thread only takes turns with the first — and the hand-overs cost (measured on the
# ingest benchmark: 25-30% more CPU per span and fewer spans/s with two; see docs/benchmarks.md). More throughput
# comes from more processes (`serve --workers N`). One thread also bounds how many decoded batches (~10x their
# wire size in memory) exist at once under overload.
PREPARE_THREADS = 1
# Request bodies decoding or waiting for the prepare thread, at most: past it, ingest answers 429 at once. Without a
# bound, a server whose pipeline (not its writer) is the bottleneck would queue bodies in memory without limit.
PREPARE_QUEUE_MAX = 8


@dataclass(frozen=True, slots=True)
class Accepted:
    spans: int
    feedback: int


class Runtime:
    def __init__(self, settings: Settings, *, engine: Engine | None = None, metrics: Metrics | None = None) -> None:
        self.settings = settings
        self.engine = engine or make_engine(settings.url, sqlite_synchronous=settings.sqlite_synchronous)
        self.metrics = metrics or Metrics()
        kek = load_kek(settings)  # a wrong or unreadable key is a ConfigError here, before anything starts
        self.keyring = KeyRing(self.engine, kek) if kek is not None else None
        self.opener = self.keyring.open if self.keyring is not None else None
        self.chain: list[Processor] = default_chain(settings, keyring=self.keyring)
        self.writer = Writer(
            self.engine,
            queue_max_records=settings.queue_max_records,
            commit_max_records=settings.commit_max_records,
            on_commit=self._on_commit,
        )
        self.metrics.bind_queue(lambda: self.writer.depth, lambda: self.writer.capacity)
        self.metrics.bind_slices(
            SliceRates(
                self.engine,
                dimensions=settings.metrics_slice_dimensions.split(","),
                window_s=settings.metrics_slice_window_s,
                new_account_days=settings.new_account_days,
                minute_days=settings.rollup_minute_days,
            )
        )
        self.started_ns = time.time_ns()
        self.ready = False
        self._pool: ThreadPoolExecutor | None = None
        self._preparing = 0  # bodies decoding or waiting for a prepare thread (changed on the event loop only)

    def start(self) -> None:
        """Migrate the schema if needed and start the writer."""
        migrate(self.engine)
        optimize(self.engine)
        check_keys(self.engine, self.keyring)
        self.writer.start()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(PREPARE_THREADS, thread_name_prefix="watchkeeper-prepare")
        self.ready = True

    def stop(self) -> None:
        self.ready = False
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)  # queued bodies were never acknowledged
            self._pool = None
        self.writer.stop()
        self.engine.dispose()

    def _on_commit(self, s: CommitStats) -> None:
        self.metrics.commit_seconds.observe(s.seconds)
        self.metrics.commit_records.inc(s.records)

    def prepare(self, spans: list[Span], feedback: list[Feedback], source: str, project_id: int = 1) -> RowBatch:
        """Run the pipeline over decoded records and turn them into rows (CPU work: call it off the event loop)."""
        now = time.time_ns()
        ctx = Context(project_id=project_id, source=source, received_ns=now)
        try:
            batch = run_chain(self.chain, ctx, Batch(spans=spans, feedback=feedback))
        except RecordError as e:
            raise InputError(f"{e.field}: {e.rule}", field=e.field) from None
        dropped = sum(batch.dropped.values())
        if dropped:
            self.metrics.records.labels(source, "span", "dropped").inc(dropped)
        rows = RowBatch(
            span_rows=[span_row(s, project_id, now, p) for s, p in zip(batch.spans, batch.payloads, strict=True)],
            feedback_rows=[
                feedback_row(f, project_id, now, p)
                for f, p in zip(batch.feedback, batch.feedback_payloads, strict=True)
            ],
            rollups=batch.rollups,
        )
        return rows

    async def ingest(self, spans: list[Span], feedback: list[Feedback], source: str, project_id: int = 1) -> Accepted:
        """Process and durably store records; returns only after the commit (acknowledge after commit)."""
        return await self.ingest_body(lambda: (spans, feedback), source, project_id)

    async def ingest_body(self, decode: Callable[[], Decoded], source: str, project_id: int = 1) -> Accepted:
        """Decode a request body with ``decode``, process and durably store its records; returns after the commit.

        Decoding and the pipeline are CPU work, so both run on a worker thread, never on the event loop. A full
        queue is refused (``Overloaded``) before any of that work is spent.
        """
        self.writer.check_room()
        if self._preparing >= PREPARE_QUEUE_MAX:
            raise Overloaded(
                f"{self._preparing} request bodies are already waiting to be decoded; retry after 1 s",
                retry_after_s=1,
            )
        loop = asyncio.get_running_loop()
        self._preparing += 1
        try:
            spans, rows = await loop.run_in_executor(self._pool, self._decode_and_prepare, decode, source, project_id)
        finally:
            self._preparing -= 1
        fut = self.writer.submit(rows)  # raises Overloaded at once when the queue is full
        await asyncio.wrap_future(fut)
        self.metrics.records.labels(source, "span", "accepted").inc(len(rows.span_rows))
        if rows.feedback_rows:
            self.metrics.records.labels(source, "feedback", "accepted").inc(len(rows.feedback_rows))
        self.metrics.observe_spans(spans)
        return Accepted(spans=len(rows.span_rows), feedback=len(rows.feedback_rows))

    def _decode_and_prepare(
        self, decode: Callable[[], Decoded], source: str, project_id: int
    ) -> tuple[list[Span], RowBatch]:
        spans, feedback = decode()
        try:
            rows = self.prepare(spans, feedback, source, project_id)
        except InputError:
            self.metrics.records.labels(source, "span", "rejected").inc(len(spans))
            self.metrics.records.labels(source, "feedback", "rejected").inc(len(feedback))
            raise
        return spans, rows

    def ingest_sync(self, spans: list[Span], feedback: list[Feedback], source: str, timeout: float = 120.0) -> Accepted:
        """The same as :meth:`ingest` for callers without an event loop (replay, tests)."""
        rows = self.prepare(spans, feedback, source)
        self.writer.submit(rows).result(timeout)
        self.metrics.observe_spans(spans)
        return Accepted(spans=len(rows.span_rows), feedback=len(rows.feedback_rows))

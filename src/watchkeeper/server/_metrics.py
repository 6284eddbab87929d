"""Prometheus metrics: the server's own ingest health and the monitored application's infra metrics.

Label values that come from users (model and tool names) are capped: past ``MAX_LABEL_VALUES`` distinct values per
label, new ones are counted under ``other``, so cardinality stays bounded whatever the traffic sends.

The per-slice rates (``watchkeeper_slice_*``) are read from the rollups in the store, not counted in this process,
so every worker process of a server reports the same numbers: :class:`SliceRates` reads the last few minutes of
1-minute rollups for a few bounded dimensions (at most ``SLICE_LABEL_VALUES`` values each, the rest as ``(other)``)
and caches the families for a few seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, select

from ..analytics import METRICS, OTHER, LatencyBucket, SliceCounts, slice_counts
from ..records import Span, SpanKind, Status
from ..store.tables import projects

log = logging.getLogger("watchkeeper.server")

MAX_LABEL_VALUES = 50
SLICE_LABEL_VALUES = 20  # values per dimension on the per-slice families, largest by spans; the rest are (other)
SLICE_QUANTILES = (0.5, 0.95, 0.99)
ALL = "(all)"  # the dimension and value of the whole traffic
_COMMIT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_LLM_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0)


class _Capped:
    """Maps raw label values onto at most ``limit`` distinct ones plus ``other``."""

    def __init__(self, limit: int = MAX_LABEL_VALUES) -> None:
        self.limit = limit
        self.seen: set[str] = set()
        self.lock = threading.Lock()

    def __call__(self, value: str | None) -> str:
        if not value:
            return "unknown"
        if value in self.seen:
            return value
        with self.lock:
            if len(self.seen) < self.limit:
                self.seen.add(value)
                return value
        return "other"


class Metrics(Collector):
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.break_glass = Counter(
            "watchkeeper_break_glass_total",
            "Break-glass self-grants of access to content; alert on any increase.",
            registry=r,
        )
        self.records = Counter(
            "watchkeeper_ingest_records_total",
            "Records received by ingest, by source, record type and outcome (accepted, rejected, dropped).",
            ["source", "record", "outcome"],
            registry=r,
        )
        self.requests = Counter(
            "watchkeeper_ingest_requests_total",
            "Ingest requests by route and HTTP status code.",
            ["route", "code"],
            registry=r,
        )
        self.commit_seconds = Histogram(
            "watchkeeper_store_commit_seconds",
            "Time to commit one group of batches to the store.",
            buckets=_COMMIT_BUCKETS,
            registry=r,
        )
        self.commit_records = Counter(
            "watchkeeper_store_committed_records_total", "Records committed to the store.", registry=r
        )
        self.llm_latency = Histogram(
            "watchkeeper_llm_request_duration_seconds",
            "Latency of the monitored application's LLM calls, by model.",
            ["model"],
            buckets=_LLM_BUCKETS,
            registry=r,
        )
        self.llm_tokens = Counter(
            "watchkeeper_llm_tokens_total",
            "Tokens used by the monitored application's LLM calls, by model and type (input, output, cached_input).",
            ["model", "type"],
            registry=r,
        )
        self.llm_calls = Counter(
            "watchkeeper_llm_requests_total",
            "LLM calls of the monitored application, by model and status.",
            ["model", "status"],
            registry=r,
        )
        self.tool_calls = Counter(
            "watchkeeper_tool_calls_total",
            "Tool and MCP calls of the monitored application, by tool and outcome (ok, error).",
            ["tool", "outcome"],
            registry=r,
        )
        self.purged_records = Counter(
            "watchkeeper_retention_purged_records_total",
            "Records purged by retention, by data class (payloads: content removed; metadata: rows deleted).",
            ["data_class"],
            registry=r,
        )
        self.purge_runs = Counter(
            "watchkeeper_retention_purge_runs_total",
            "Retention purge runs, by outcome (ok, error).",
            ["outcome"],
            registry=r,
        )
        self._model = _Capped()
        self._tool = _Capped()
        self._depth: Callable[[], int] = lambda: 0
        self._capacity: Callable[[], int] = lambda: 0
        self._log: Callable[[], tuple[float, int]] | None = None
        self._slices: Callable[[], Sequence[Metric]] | None = None
        self._cache_in: dict[str, int] = defaultdict(int)
        self._cache_hit: dict[str, int] = defaultdict(int)
        r.register(self)

    def bind_queue(self, depth: Callable[[], int], capacity: Callable[[], int]) -> None:
        self._depth = depth
        self._capacity = capacity

    def bind_slices(self, families: Callable[[], Sequence[Metric]]) -> None:
        """``families()`` gives the per-slice rate families (a :class:`SliceRates`)."""
        self._slices = families

    def bind_log(self, state: Callable[[], tuple[float, int]]) -> None:
        """``state()`` gives the verifiable log's merge delay (seconds) and size (leaves)."""
        self._log = state

    def collect(self) -> Iterable[Metric]:
        if self._slices is not None:
            try:
                families = self._slices()
            except Exception as e:  # a scrape must not fail because the store is busy; the families are skipped
                log.warning("slice rates skipped: %s", type(e).__name__)
            else:
                yield from families
        if self._log is not None:
            try:
                delay, size = self._log()
            except Exception as e:  # a scrape must not fail because the store is busy; the gauges are skipped
                log.warning("log gauges skipped: %s", type(e).__name__)
            else:
                yield GaugeMetricFamily(
                    "watchkeeper_log_merge_delay_seconds",
                    "Age of the oldest stored span not yet appended to the verifiable log.",
                    value=delay,
                )
                yield GaugeMetricFamily("watchkeeper_log_leaves", "Leaves in the verifiable records log.", value=size)
        yield GaugeMetricFamily(
            "watchkeeper_ingest_queue_depth", "Records waiting for the writer.", value=self._depth()
        )
        yield GaugeMetricFamily(
            "watchkeeper_ingest_queue_capacity",
            "Records the queue holds before ingest answers 429.",
            value=self._capacity(),
        )
        ratio = GaugeMetricFamily(
            "watchkeeper_llm_prompt_cache_hit_ratio",
            "Share of input tokens served from the provider's prompt cache since start, by model.",
            labels=["model"],
        )
        for model, total in list(self._cache_in.items()):
            if total:
                ratio.add_metric([model], self._cache_hit[model] / total)
        yield ratio

    def observe_spans(self, spans: Iterable[Span]) -> None:
        """Count the application's infra metrics from accepted spans (aggregated per batch: cheap)."""
        tokens: dict[tuple[str, str], int] = defaultdict(int)
        calls: dict[tuple[str, str], int] = defaultdict(int)
        tools: dict[tuple[str, str], int] = defaultdict(int)
        for s in spans:
            if s.llm is not None and s.kind in (SpanKind.LLM, SpanKind.EMBEDDING):
                model = self._model(s.llm.response_model or s.llm.request_model)
                calls[(model, s.status.value)] += 1
                self.llm_latency.labels(model).observe((s.end_time_ns - s.start_time_ns) / 1e9)
                u = s.llm.usage
                if u.input_tokens:
                    tokens[(model, "input")] += u.input_tokens
                    self._cache_in[model] += u.input_tokens
                if u.output_tokens:
                    tokens[(model, "output")] += u.output_tokens
                if u.cached_input_tokens:
                    tokens[(model, "cached_input")] += u.cached_input_tokens
                    self._cache_hit[model] += u.cached_input_tokens
            elif s.tool is not None or s.kind in (SpanKind.TOOL, SpanKind.MCP):
                name = self._tool(s.tool.name if s.tool else s.name)
                failed = s.status is Status.ERROR or (s.tool is not None and s.tool.is_error is True)
                tools[(name, "error" if failed else "ok")] += 1
        for (m, t), n in tokens.items():
            self.llm_tokens.labels(m, t).inc(n)
        for (m, st), n in calls.items():
            self.llm_calls.labels(m, st).inc(n)
        for (t, o), n in tools.items():
            self.tool_calls.labels(t, o).inc(n)


class SliceRates:
    """The per-slice families of /metrics, from the rollups of the last ``window_s`` seconds (event time up to now),
    refreshed at most every ``ttl_s`` seconds. One series per metric with a denominator in the window."""

    def __init__(
        self,
        engine: Engine,
        *,
        dimensions: Sequence[str],
        window_s: int = 300,
        new_account_days: int = 30,
        minute_days: int = 7,
        ttl_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        now_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.engine = engine
        self.dimensions = tuple(d.strip() for d in dimensions if d.strip())
        self.window_s = window_s
        self.new_account_days = new_account_days
        self.minute_days = minute_days
        self.ttl_s = ttl_s
        self._clock = clock
        self._now_ns = now_ns
        self._lock = threading.Lock()
        self._at = -float("inf")
        self._families: list[Metric] = []

    def __call__(self) -> Sequence[Metric]:
        with self._lock:
            if self._clock() - self._at >= self.ttl_s:
                self._families = self._read()
                self._at = self._clock()
            return self._families

    def _read(self) -> list[Metric]:
        labels = ["project", "metric", "dimension", "value"]
        num = GaugeMetricFamily(
            "watchkeeper_slice_numerator",
            "Records in a metric's numerator over the last window (event time), per slice (rollups).",
            labels=labels,
        )
        den = GaugeMetricFamily(
            "watchkeeper_slice_denominator",
            "Records in a metric's denominator over the last window (event time), per slice (rollups).",
            labels=labels,
        )
        ratio = GaugeMetricFamily(
            "watchkeeper_slice_ratio", "A metric's numerator over its denominator in the last window.", labels=labels
        )
        latency = GaugeMetricFamily(
            "watchkeeper_slice_latency_seconds",
            "Latency quantiles of every span in the slice over the last window (log-binned, within ~9%).",
            labels=["project", "dimension", "value", "quantile"],
        )
        window = GaugeMetricFamily(
            "watchkeeper_slice_window_seconds",
            "The window the watchkeeper_slice_* families count.",
            value=self.window_s,
        )
        end = self._now_ns()
        start = end - self.window_s * 1_000_000_000
        with self.engine.connect() as conn:
            pids = sorted(int(p) for p in conn.execute(select(projects.c.id)).scalars())
        for pid in pids:
            whole = slice_counts(
                self.engine, project_id=pid, dimensions=(), start=start, end=end,
                new_account_days=self.new_account_days, minute_days=self.minute_days,
            )  # fmt: skip
            rows: list[tuple[str, str, SliceCounts]] = [(ALL, ALL, c) for c in whole]
            for d in self.dimensions:
                got = slice_counts(
                    self.engine, project_id=pid, dimensions=(d,), start=start, end=end,
                    new_account_days=self.new_account_days, minute_days=self.minute_days,
                )  # fmt: skip
                rows += [(d, value, c) for value, c in _capped(d, got)]
            for dim, value, c in rows:
                base = [str(pid), dim, value]
                for name in METRICS:
                    k, n = c.counts[name]
                    if n:
                        num.add_metric([str(pid), name, dim, value], k)
                        den.add_metric([str(pid), name, dim, value], n)
                        ratio.add_metric([str(pid), name, dim, value], k / n)
                for q in SLICE_QUANTILES:
                    v = c.latency.quantile(q)
                    if v is not None:
                        latency.add_metric([*base, f"{q:g}"], v / 1000.0)
        return [num, den, ratio, latency, window]


def _capped(dim: str, counts: list[SliceCounts]) -> list[tuple[str, SliceCounts]]:
    """The ``SLICE_LABEL_VALUES`` largest values of a dimension (``counts`` come largest first), the rest summed
    into ``(other)``."""
    named = [(c.slice[dim], c) for c in counts if c.slice[dim] != OTHER][:SLICE_LABEL_VALUES]
    kept = {v for v, _c in named}
    rest = [c for c in counts if c.slice[dim] not in kept]
    if not rest:
        return named
    summed = {}
    for name, m in METRICS.items():
        k = sum(c.counts[name][0] for c in rest)
        # a share's denominator is the whole traffic, the same for every slice: not summed
        n = rest[0].counts[name][1] if m.share else sum(c.counts[name][1] for c in rest)
        summed[name] = (k, n)
    bins: dict[int, int] = {}
    for c in rest:
        for b, n in c.latency.bins.items():
            bins[b] = bins.get(b, 0) + n
    latency = LatencyBucket(rest[0].latency.start, bins)
    return [*named, (OTHER, SliceCounts({dim: OTHER}, summed, latency))]

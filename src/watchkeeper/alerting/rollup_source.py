"""The alert engine's view of the live store: rate and latency streams per slice read from the rollups, the
analytics room's detectors, and its false-discovery control, behind the engine's small protocols.

    source = RollupSource(engine)
    AlertEngine(rules, source=source, detectors=default_registry(), fdr=fdr_from_detectors(), store=engine)

A thin adapter on purpose: the rollups' read API and the detectors' stream types do the work. A stream's hourly
history depends only on the hour it ends in, so it is read once per hour and slice, however often the engine ticks.
"""

from __future__ import annotations

import dataclasses
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine

from .._rollup import MEASURE_BINS, MINUTE_NS, C
from ..analytics import (
    METRICS,
    NONE,
    OTHER,
    Count,
    LatencyBucket,
    Slice,
    rate_series,
    slices_with_traffic,
)
from ..analytics.detectors import (
    CommonMode,
    HistogramBucket,
    HistogramStream,
    RateStream,
    default_registry,
    select_alerts,
)
from ..analytics.detectors import Verdict as DetectorVerdict
from ..analytics.rollups import RollupReader, utc
from ..config import COMMON_MODES
from ..errors import InputError
from ._labels import NS
from .detection import FalseDiscoveryControl, SliceTest
from .engine import Backtest, backtest
from .rules import AlertRule, RuleSet, slice_key
from .silences import silences_in_force

HOUR_NS = 3600 * NS
DAY_NS = 24 * HOUR_NS
# histogram measures (a rule's metric): read from the rollups' bins, not from a rate; slices with traffic from a rate
# that counts the same spans
SLICES_OF_MEASURE = {"latency": "requests", "time_per_output_token": "errors.llm"}
CANARY = "canary"  # the detector that compares a version with its incumbent
RECENT_HOURS = 5  # fine buckets before the current hour (the spike test pages on windows up to 4 h)
_CACHE_MAX = 4096  # hourly histories kept (one per metric × slice × hour)
_FAMILIES_MAX = 64  # sums of every slice of a rule's dimensions over one window, kept for the next slice's stream
_TURNS = (C["turns"],)


def stream_key(rule: AlertRule, slice: Slice) -> str:
    """The key of ``rule``'s stream for ``slice``: unique within the rule's family, the parent's the same way."""
    labels = ",".join(f"{d}={v}" for d, v in zip(slice.dims, slice.values, strict=True))
    return f"{rule.name}|{labels or slice_key(())}"


class RollupSource:
    """:class:`~watchkeeper.alerting.SeriesSource` over the rollups: hourly buckets over the rule's lookback for the
    baseline, and the last hours in the rule's bucket width (summed from 1-minute rollups) so a spike is seen
    before its hour ends. A canary's reference is the version with the most traffic over the lookback."""

    def __init__(
        self,
        engine: Engine,
        *,
        new_account_days: float = 30.0,
        minute_days: int = 7,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.engine = engine
        self._clock = clock
        self.new_account_days = new_account_days
        self.minute_days = minute_days
        self._hourly: OrderedDict[tuple[Any, ...], list[Any]] = OrderedDict()
        self._families: OrderedDict[tuple[Any, ...], dict[tuple[str, ...], dict[int, list[int]]]] = OrderedDict()
        self._slices: dict[tuple[Any, ...], list[Slice]] = {}
        self._slices_end: int | None = None

    def slices_with_traffic(
        self, *, project_id: int, metric: str, dims: tuple[str, ...], start_ns: int, end_ns: int
    ) -> Sequence[Slice]:
        k = (project_id, metric, dims, start_ns, end_ns)
        if self._slices_end != end_ns:  # one tick's answers: canaries ask again for their incumbents
            self._slices, self._slices_end = {}, end_ns
        if k not in self._slices:
            self._slices[k] = self._read_slices(project_id, metric, dims, start_ns, end_ns)
        return self._slices[k]

    def _read_slices(
        self, project_id: int, metric: str, dims: tuple[str, ...], start_ns: int, end_ns: int
    ) -> list[Slice]:
        found = slices_with_traffic(
            self.engine,
            project_id=project_id,
            metric=SLICES_OF_MEASURE.get(metric, metric),
            dimensions=dims,
            start=start_ns,
            end=end_ns,
            new_account_days=self.new_account_days,
            minute_days=self.minute_days,
        )
        return [Slice(dims, tuple(s[d] for d in dims)) for s in found]

    def stream(self, *, project_id: int, rule: AlertRule, slice: Slice, parent: Slice | None, at_ns: int) -> Any:
        key = stream_key(rule, slice)
        parent_key = stream_key(rule, parent) if parent is not None else None
        step = timedelta(microseconds=rule.bucket_ns // 1000)
        hour_end = at_ns // HOUR_NS * HOUR_NS
        hourly_start = hour_end - rule.lookback_ns
        # fine buckets over the spike test's paging windows, so a change within them is dated to the bucket
        recent_start = hour_end - RECENT_HOURS * HOUR_NS
        # 1-minute rollups are kept `minute_days`: older history (a back-test) is read from hourly buckets only; a
        # canary pools whole hours over its lookback, both versions the same way
        kept = recent_start >= self._clock() - self.minute_days * DAY_NS
        fine = rule.bucket_ns < HOUR_NS and kept and rule.detector != CANARY
        if rule.metric in MEASURE_BINS:
            hourly = self._cached(project_id, rule.metric, slice, hourly_start, hour_end)
            recent = self.buckets(project_id, rule.metric, slice, recent_start, at_ns, rule.bucket_ns) if fine else []
            return HistogramStream(
                key,
                hourly=hourly,
                recent=recent,
                step=step,
                parent=parent_key,
                bins_per_octave=4,  # the rollups' histogram bins: 4 per octave of milliseconds
                unit="ms",
            )
        hourly = self._cached(project_id, rule.metric, slice, hourly_start, hour_end)
        recent = self.buckets(project_id, rule.metric, slice, recent_start, at_ns, rule.bucket_ns) if fine else []
        reference: list[Count] = []
        if rule.detector == CANARY and len(slice.dims) == 1:
            incumbent = self._incumbent(project_id, rule, slice.dims[0], at_ns)
            if incumbent is not None and incumbent != slice.values[0]:
                ref = Slice(slice.dims, (incumbent,))
                reference = self._cached(project_id, rule.metric, ref, hourly_start, hour_end)
        return RateStream(key, hourly=hourly, recent=recent, step=step, parent=parent_key, reference=reference)

    # -- reading: one query per rule's dimensions, metric and window, whatever the number of slices

    def _family(
        self, project_id: int, dims: tuple[str, ...], columns: tuple[int, ...], start: int, end: int, width: int
    ) -> dict[tuple[str, ...], dict[int, list[int]]]:
        """{slice values: {bucket index: sums of ``columns``}} for every slice of ``dims`` in buckets of ``width``
        whose start lies in [start, end) — only buckets with rows; kept while the same window is asked again."""
        k = (project_id, dims, columns, start, end, width)
        got = self._families.get(k)
        if got is not None:
            self._families.move_to_end(k)
            return got
        reader = RollupReader(
            self.engine,
            project_id=project_id,
            new_account_days=self.new_account_days,
            minute_days=self.minute_days,
            now_ns=self._clock(),
        )
        got = {}
        for (index, values), sums in reader.series(dims, start, end, width, columns).items():
            got.setdefault(values, {})[index] = sums
        self._families[k] = got
        while len(self._families) > _FAMILIES_MAX:
            self._families.popitem(last=False)
        return got

    def buckets(self, project_id: int, metric: str, slice: Slice, start: int, end: int, width: int) -> list[Any]:
        """The slice's buckets of ``width`` (1 hour, or whole minutes summed) starting in [start, end), in time
        order, empty ones included: rate counts, or histograms for a measure (``latency``, ...)."""
        first, last = start // width, (_ceil(end, MINUTE_NS) - MINUTE_NS) // width + 1
        if metric in MEASURE_BINS:
            fam = self._family(project_id, slice.dims, tuple(MEASURE_BINS[metric]), start, end, width)
            mine = fam.get(slice.values, {})
            make: Any = LatencyBucket if width == HOUR_NS else HistogramBucket
            out: list[Any] = []
            for b in range(first, last):
                sums = mine.get(b)
                out.append(make(_utc(b * width), {i - 1: n for i, n in enumerate(sums) if n} if sums else {}))
            return out
        m = METRICS[metric]
        if m.share:  # the slice's turns among all turns
            mine = self._family(project_id, slice.dims, _TURNS, start, end, width).get(slice.values, {})
            whole = self._family(project_id, (), _TURNS, start, end, width).get((), {})
            return [
                Count(_utc(b * width), mine[b][0] if b in mine else 0, whole[b][0] if b in whole else 0)
                for b in range(first, last)
            ]
        columns = (C[m.counters[0]], C[m.counters[1]])
        mine = self._family(project_id, slice.dims, columns, start, end, width).get(slice.values, {})
        zero = (0, 0)
        return [Count(_utc(b * width), *mine.get(b, zero)) for b in range(first, last)]

    def _cached(self, project_id: int, metric: str, slice: Slice, start: int, end: int) -> list[Any]:
        """The slice's hourly buckets over [start, end): read once per hour (with the rest of its family)."""
        k = (project_id, metric, slice.dims, slice.values, start, end)
        got = self._hourly.get(k)
        if got is None:
            got = self.buckets(project_id, metric, slice, start, end, HOUR_NS)
            self._hourly[k] = got
            while len(self._hourly) > _CACHE_MAX:
                self._hourly.popitem(last=False)
        else:
            self._hourly.move_to_end(k)
        return got

    def _incumbent(self, project_id: int, rule: AlertRule, dim: str, at_ns: int) -> str | None:
        found = self.slices_with_traffic(
            project_id=project_id, metric=rule.metric, dims=(dim,), start_ns=at_ns - rule.lookback_ns, end_ns=at_ns
        )
        return next((s.values[0] for s in found if s.values[0] not in (NONE, OTHER)), None)

    def forget(self) -> None:
        """Drop the cached hourly histories and slices (after rollups were rebuilt, say)."""
        self._hourly.clear()
        self._families.clear()
        self._slices, self._slices_end = {}, None


def _ceil(ns: int, width_ns: int) -> int:
    return -(-ns // width_ns) * width_ns


_utc = lru_cache(maxsize=16_384)(utc)  # bucket starts repeat across the slices of a family


def common_mode(setting: str) -> CommonMode | None:
    """The common-mode correction the ``alert_common_mode`` setting names: ``off`` (none), ``pages`` (only verdicts
    that may page are decided again against their peers' common rise), ``all`` (every fired verdict),
    ``pages-weighted`` (as ``pages``, the peers' median weighted by their expected events, peers from 10 events)."""
    if setting not in COMMON_MODES:
        raise ValueError(f"alert_common_mode must be one of {', '.join(COMMON_MODES)}, not {setting!r}")
    if setting == "off":
        return None
    if setting == "pages-weighted":
        return CommonMode(pages_only=True, min_expected=10.0, weighted=True)
    return CommonMode(pages_only=setting == "pages")


def fdr_from_detectors(*, q: float = 0.01, common_mode: CommonMode | None = None) -> FalseDiscoveryControl:
    """False-discovery control by the analytics room's :func:`select_alerts` over one rule's slices: Benjamini–
    Hochberg across them, parents first, a child only where it differs from its parent. A verdict that is not one
    of the built-in detectors' (a plugin's) keeps its own ``fired``.

    ``common_mode``: a fired verdict is first decided again against the common rise of its peers — the other slices
    of its dimension set (the other languages; the other language × model pairs) at the same tick — so that a
    holiday or a surge of all traffic pages once, at the slice above the ones that moved together. Its ``group`` is
    set here from each test's slice dimensions."""

    def control(tests: Sequence[SliceTest]) -> Sequence[bool]:
        ours = [t.verdict for t in tests if isinstance(t.verdict, DetectorVerdict)]
        cm = common_mode
        if cm is not None:
            dims = {t.verdict.key: t.slice.dims for t in tests if isinstance(t.verdict, DetectorVerdict)}
            cm = dataclasses.replace(cm, group=lambda v: dims.get(v.key))
        decided = select_alerts(ours, q=q, common_mode=cm)
        out = []
        for t in tests:
            v = t.verdict
            out.append(decided[v.key].alert if isinstance(v, DetectorVerdict) else v.fired)
        return out

    return control


def slice_totals(
    engine: Engine, *, project_id: int, labels: Mapping[str, str], start_ns: int, end_ns: int
) -> tuple[int, int] | None:
    """An alert's counts, (numerator, denominator) of its metric in its slice (from its labels) over minutes starting
    in [start_ns, end_ns) — at most the last day; None for a metric that is not a rate or a slice the rollups lack."""
    metric = labels.get("metric", "")
    dims = [d for d in labels.get("slice", "").split(",") if d and d != slice_key(())]
    if metric not in METRICS or any(d not in labels for d in dims) or end_ns <= start_ns:
        return None
    try:
        got = rate_series(
            engine,
            project_id=project_id,
            metric=metric,
            slice={d: labels[d] for d in dims},
            start=max(start_ns, end_ns - 24 * HOUR_NS),
            end=end_ns,
            bucket="1m",
        )
    except InputError:
        return None
    return sum(c.numerator for c in got), sum(c.denominator for c in got)


def replay(
    engine: Engine,
    rules: RuleSet,
    *,
    start_ns: int,
    end_ns: int,
    step_ns: int,
    new_account_days: float = 30.0,
    minute_days: int = 7,
    common_mode: CommonMode | None = None,
) -> Backtest:
    """A back-test of ``rules`` on the stored history: the live engine ticked every ``step_ns`` over
    ``[start_ns, end_ns)`` on project 1's rollups, with the built-in (and installed) detectors, the stored
    silences and the live engine's common-mode correction (``common_mode``); nothing is stored or sent."""
    return backtest(
        rules,
        source=RollupSource(engine, new_account_days=new_account_days, minute_days=minute_days),
        detectors=default_registry(entry_points=True),
        fdr=fdr_from_detectors(common_mode=common_mode),
        start_ns=start_ns,
        end_ns=end_ns,
        step_ns=step_ns,
        silences=silences_in_force(engine, project_id=1, since_ns=start_ns),
    )


__all__ = ["RollupSource", "common_mode", "fdr_from_detectors", "replay", "slice_totals", "stream_key"]

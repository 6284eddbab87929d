"""The detector contract: the count streams a detector reads, the :class:`Verdict` it answers, the
:class:`Detector` protocol and the :class:`Registry` of detectors by name."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol, runtime_checkable

from ..._registry import PluginRegistry

ENTRY_POINT_GROUP = "watchkeeper.detectors"
HOUR_S = 3600
DAY_H = 24


class CountLike(Protocol):
    """One bucket of a rate: ``numerator`` events of ``denominator`` eligible ones, from ``start`` (event time).

    The rollups' ``Count`` and this package's :class:`Bucket` both satisfy it.
    """

    @property
    def start(self) -> datetime: ...

    @property
    def numerator(self) -> int: ...

    @property
    def denominator(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Bucket:
    """A bucket of counts, for callers without rollups at hand (tests, back-tests, the benchmark)."""

    start: datetime
    numerator: int
    denominator: int


class HistogramLike(Protocol):
    """One bucket of a mergeable histogram: ``bins`` maps a log bin index to a count (see :class:`HistogramStream`)."""

    @property
    def start(self) -> datetime: ...

    @property
    def bins(self) -> Mapping[int, int]: ...


@dataclass(frozen=True, slots=True)
class HistogramBucket:
    """A bucket of a log-binned histogram: bin ``b`` holds values in [2^(b/B), 2^((b+1)/B)) for B bins per octave."""

    start: datetime
    bins: Mapping[int, int]


@dataclass(frozen=True, slots=True)
class RateStream:
    """The counts of one rate in one slice, in event time, as a detector reads them.

    ``hourly`` holds 1-hour buckets, the history the baseline is learnt from (two weeks is ideal; a spike test needs
    at least ``min_history_days``); ``recent`` holds finer buckets of width ``step`` (1 or 5 minutes) for the last
    hours, so a spike is seen before its hour is over. Buckets are in time order, oldest first (as rollups return
    them); only those that have ended by the evaluation time count, and hours missing from ``hourly`` had no traffic.
    ``parent`` names the slice this one defers to when it is too small (and that speaks for it in
    :func:`select_alerts`); ``reference`` holds, for a canary, the incumbent version's buckets on matching traffic.
    """

    key: str
    hourly: Sequence[CountLike]
    recent: Sequence[CountLike] = ()
    step: timedelta = timedelta(minutes=1)
    parent: str | None = None
    reference: Sequence[CountLike] = ()


@dataclass(frozen=True, slots=True)
class HistogramStream:
    """A histogram per bucket of one measure (latency, tokens per second) in one slice; fields as in
    :class:`RateStream`. Bin ``b`` covers [2^(b/B), 2^((b+1)/B)) of ``unit`` with B = ``bins_per_octave`` (the
    store's latency histogram: 16 bins per octave of microseconds)."""

    key: str
    hourly: Sequence[HistogramLike]
    recent: Sequence[HistogramLike] = ()
    step: timedelta = timedelta(minutes=1)
    parent: str | None = None
    bins_per_octave: int = 16
    unit: str = "us"


class Gate(StrEnum):
    """What the volume gate decided for one test."""

    ENOUGH = "enough"  # enough expected events in a short window: the verdict may page
    WIDENED = "widened"  # a small slice, tested over a longer window: may open a ticket, never pages
    DEFERRED = "deferred"  # too small even over the longest window; its parent slice speaks for it: never alerts
    TOO_SMALL = "too_small"  # too small and no parent to defer to: never alerts
    NO_BASELINE = "no_baseline"  # not enough history to know what normal is yet: never alerts

    @property
    def tested(self) -> bool:
        return self in (Gate.ENOUGH, Gate.WIDENED)


def too_small(parent: str | None) -> Gate:
    """The gate of a slice too small for any window: deferred to its parent if it has one."""
    return Gate.DEFERRED if parent is not None else Gate.TOO_SMALL


@dataclass(frozen=True, slots=True)
class WindowStat:
    """Counts over the window of ``minutes`` ending at the evaluation time: ``observed`` events of ``trials``, the
    ``expected`` events if nothing changed, and the squared relative wander of the rate (``dispersion``, the
    negative-binomial c) over such a window. ``tested``: the detector tested this window (it passed the volume gate),
    so the verdict can be decided again against another expectation (the common-mode correction).
    :func:`select_alerts` compares a slice with its parent and with its peers on these."""

    minutes: int
    observed: int
    expected: float
    trials: int
    dispersion: float
    tested: bool = False

    @property
    def ratio(self) -> float:
        return self.observed / self.expected if self.expected > 0 else math.inf if self.observed else 1.0


@dataclass(frozen=True, slots=True)
class Verdict:
    """What one detector says about one stream at one evaluation time.

    ``fired`` is the detector's own decision at its sensitivity; which fired verdicts become alerts across the slices
    of a tick is :func:`select_alerts`' decision. ``p_value`` is 1.0 when nothing was tested. Rates: ``observed_rate``
    over the decisive ``window`` (ending at ``at``), ``expected_rate`` from the baseline, ``band`` the range the
    observed rate stays in 99% of the time when nothing changed (for charts). ``started_at`` dates the change when
    the detector fired. ``windows`` carries the evidence per window for the comparison with the parent slice.
    ``values`` holds detector-specific numbers by name (a quantile in its unit, a CUSUM threshold).
    """

    detector: str
    key: str
    at: datetime
    fired: bool
    gate: Gate
    p_value: float = 1.0
    statistic: float = 0.0
    observed_rate: float | None = None
    expected_rate: float | None = None
    band: tuple[float, float] | None = None
    observed_events: int = 0
    expected_events: float = 0.0
    trials: int = 0
    window: timedelta = timedelta(0)
    started_at: datetime | None = None
    parent: str | None = None
    direction: str = "up"
    windows: tuple[WindowStat, ...] = ()
    values: tuple[tuple[str, float], ...] = ()
    reason: str = ""

    @property
    def pageable(self) -> bool:
        """Fired on a slice with enough volume to page on (a widened window opens tickets only)."""
        return self.fired and self.gate is Gate.ENOUGH

    @property
    def ratio(self) -> float | None:
        """Observed over expected events in the decisive window."""
        if self.expected_events > 0:
            return self.observed_events / self.expected_events
        return None

    def value(self, name: str) -> float | None:
        return dict(self.values).get(name)

    @property
    def since_start(self) -> tuple[float, float] | None:
        """Observed and expected events from the change's estimated start (``started_at``) to ``at``, when the
        detector dated it: the size of the change, undiluted by the part of the window before it began."""
        k, mu = self.value("onset_observed"), self.value("onset_expected")
        return (k, mu) if self.started_at is not None and k is not None and mu is not None else None


@runtime_checkable
class Detector(Protocol):
    """A statistical test run on each stream at each evaluation tick.

    ``evaluate`` reads the stream up to ``at`` only. ``sensitivity`` scales the false-alarm budget the detector was
    tuned for: 1 is the default, 10 tolerates ten times as many false alarms (and catches smaller changes sooner),
    0.1 a tenth. A detector may ignore stream fields it does not need.
    """

    name: str

    def evaluate(self, stream: RateStream | HistogramStream, at: datetime, *, sensitivity: float = 1.0) -> Verdict: ...


class Registry(PluginRegistry[Detector]):
    """Detectors keyed by name, in registration order (entry-point group ``watchkeeper.detectors``)."""

    protocol = Detector
    needs = "a detector needs a name and evaluate(stream, at, *, sensitivity)"
    kind = "detector"
    group = ENTRY_POINT_GROUP


def epoch_s(t: datetime) -> int:
    """Seconds since the epoch; a naive datetime is taken as UTC."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return int(t.timestamp())


def from_epoch_s(s: float) -> datetime:
    return datetime.fromtimestamp(s, UTC)


@dataclass(frozen=True, slots=True)
class Series:
    """Buckets of one stream indexed by start second, ended before the evaluation time, in time order."""

    starts: list[int] = field(default_factory=list)
    k: list[int] = field(default_factory=list)
    n: list[int] = field(default_factory=list)


def series(buckets: Sequence[CountLike], width_s: int, until_s: int, since_s: int | None = None) -> Series:
    """The buckets that ended by ``until_s`` (and start at or after ``since_s``), in time order, buckets with the
    same start merged. ``buckets`` must be in time order (as rollups return them): only the needed tail is read."""
    starts: list[int] = []
    ks: list[int] = []
    ns: list[int] = []
    prev = None
    for i in range(len(buckets) - 1, -1, -1):
        b = buckets[i]
        t = b.start
        s = int((t if t.tzinfo is not None else t.replace(tzinfo=UTC)).timestamp())
        if prev is not None and s > prev:
            raise ValueError("buckets must be in time order (oldest first)")
        prev = s
        if s + width_s > until_s:
            continue
        if since_s is not None and s < since_s:
            break
        if starts and starts[-1] == s:
            ks[-1] += int(b.numerator)
            ns[-1] += int(b.denominator)
            continue
        starts.append(s)
        ks.append(int(b.numerator))
        ns.append(int(b.denominator))
    starts.reverse()
    ks.reverse()
    ns.reverse()
    return Series(starts, ks, ns)

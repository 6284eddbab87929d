"""The demo's traffic: seeded, deterministic production-like traces of an LLM customer-support agent.

    sim = Simulator(seed=7)
    for spans, feedback in sim.traces_between(start_ns, end_ns):
        ...

Every record is synthetic and says so (``attributes["watchkeeper.synthetic"] = True``, ``source="demo"``, services
named ``demo-*``). A trace depends only on the seed, the settings and where it falls in time, so the same range
always gives the same records, ids included, and adjacent ranges join up with no gap and no duplicate.
"""

from __future__ import annotations

import dataclasses
import heapq
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

from watchkeeper.records import Feedback, Span

from ._trace import TurnBuilder
from ._traffic import (
    NS_PER_MIN,
    NS_PER_S,
    SESSION_LOOKBACK_MIN,
    DegradedWindow,
    Incident,
    Session,
    TrafficMix,
    seasonality,
    sessions_in_minute,
)

Trace = tuple[list[Span], list[Feedback]]

_log = logging.getLogger(__name__)
_CACHED_MINUTES: Final = 4 * SESSION_LOOKBACK_MIN
_MAX_CATCH_UP_NS: Final = 3600 * NS_PER_S


class Simulator:
    """Production-like traffic of a customer-support agent, as canonical records.

    ``base_rate_per_min`` is the weekly mean of traces per minute; the actual rate follows the time of day (busiest
    mid-afternoon UTC) and is lower at weekends. ``faults=False`` gives clean traffic: no tool, MCP or model errors,
    no refusals, no jailbreak attempts, no degraded window, no incident. ``incident`` (off by default) injects a
    one-off rise in false refusals at a fixed event time.
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        faults: bool = True,
        base_rate_per_min: float = 60.0,
        mix: TrafficMix | None = None,
        degraded: DegradedWindow | None = DegradedWindow(),  # noqa: B008 - frozen, so a shared default is safe
        incident: Incident | None = None,
    ) -> None:
        if not base_rate_per_min >= 0:
            raise ValueError("base_rate_per_min must be a non-negative number of traces per minute")
        mix = mix if mix is not None else TrafficMix()
        mix.check()
        if not faults:
            mix = dataclasses.replace(mix, jailbreak_share_of_new=0.0)
        self.seed = seed
        self.faults = faults
        self.base_rate_per_min = float(base_rate_per_min)
        self.mix = mix
        self.degraded = degraded if faults else None
        self.incident = incident if faults else None
        self._sessions: OrderedDict[tuple[int, float], list[Session]] = OrderedDict()
        self._lock = threading.Lock()

    def rate_at(self, time_ns: int, rate_per_min: float | None = None) -> float:
        """Expected traces per minute at this event time (``rate_per_min`` overrides the base rate)."""
        base = self.base_rate_per_min if rate_per_min is None else rate_per_min
        return base * seasonality(time_ns)

    def traces_between(self, start_ns: int, end_ns: int, rate_per_min: float | None = None) -> Iterator[Trace]:
        """Each trace that starts in ``[start_ns, end_ns)``, in start order: its spans (root first) and the feedback
        users give on it (which comes later in event time than the trace itself)."""
        if rate_per_min is not None and not rate_per_min >= 0:
            raise ValueError("rate_per_min must be a non-negative number of traces per minute")
        if end_ns <= start_ns:
            return
        first = start_ns // NS_PER_MIN
        last = (end_ns - 1) // NS_PER_MIN
        pending: list[tuple[int, str, int, Session]] = []  # (turn start, session key, turn index, session)
        for minute in range(first - SESSION_LOOKBACK_MIN, last + 1):
            for session in self._minute(minute, rate_per_min):
                for i, t in enumerate(session.turn_starts_ns):
                    if start_ns <= t < end_ns:
                        heapq.heappush(pending, (t, session.key, i, session))
            # Sessions of later minutes start later, so every turn before the next minute is now known.
            horizon = (minute + 1) * NS_PER_MIN
            while pending and pending[0][0] < horizon:
                _, _, i, session = heapq.heappop(pending)
                yield self._trace(session, i)

    def _minute(self, minute: int, rate_per_min: float | None) -> list[Session]:
        rate = self.rate_at(minute * NS_PER_MIN + NS_PER_MIN // 2, rate_per_min)
        key = (minute, rate)
        with self._lock:
            cached = self._sessions.get(key)
            if cached is not None:
                self._sessions.move_to_end(key)
                return cached
        sessions = sessions_in_minute(self.seed, self.mix, minute, rate)
        with self._lock:
            self._sessions[key] = sessions
            while len(self._sessions) > _CACHED_MINUTES:
                self._sessions.popitem(last=False)
        return sessions

    def _trace(self, session: Session, index: int) -> Trace:
        return TurnBuilder(session, index, faults=self.faults, degraded=self.degraded, incident=self.incident).build()


def backfill(
    sim: Simulator, hours: float, now_ns: int, rate_per_min: float | None = None
) -> Iterator[tuple[list[Span], list[Feedback]]]:
    """The traces of the ``hours`` before ``now_ns``, oldest first, with the feedback given by ``now_ns``."""
    start = now_ns - int(hours * 3600 * NS_PER_S)
    for spans, feedback in sim.traces_between(start, now_ns, rate_per_min):
        yield spans, [f for f in feedback if f.time_ns <= now_ns]


@dataclass(slots=True)
class LiveStats:
    """What :func:`run_live` has done so far; it only ever grows."""

    traces: int = 0
    spans: int = 0
    feedback: int = 0
    batches: int = 0
    send_errors: int = 0
    generate_errors: int = 0


def run_live(
    sim: Simulator,
    send: Callable[[list[Span], list[Feedback]], None],
    *,
    stop: threading.Event,
    rate_per_min: float = 60,
    batch_size: int = 50,
    start_ns: int | None = None,
    tick_s: float = 1.0,
    clock: Callable[[], int] = time.time_ns,
    stats: LiveStats | None = None,
) -> LiveStats:
    """Generate traffic as the clock advances and hand it to ``send`` until ``stop`` is set.

    A trace is sent once it has ended by the clock, and each feedback event once its time has come, in batches of
    about ``batch_size`` records (a trace is never split). ``start_ns`` (default: now) lets live traffic continue
    exactly where a :func:`backfill` ended; after a pause longer than an hour (a suspended machine), only the last
    hour is caught up. An exception from ``send`` is counted in ``stats.send_errors`` and the
    batch dropped, so the demo keeps running.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    stats = stats if stats is not None else LiveStats()
    cursor = clock() if start_ns is None else start_ns
    due: list[tuple[int, int, list[Span], list[Feedback]]] = []  # (due time, sequence, spans, feedback)
    seq = 0
    while not stop.is_set():
        now = clock()
        cursor = max(cursor, now - _MAX_CATCH_UP_NS)  # after a suspended laptop, do not replay the whole night
        if now > cursor:
            try:
                for spans, feedback in sim.traces_between(cursor, now, rate_per_min):
                    seq += 1
                    heapq.heappush(due, (max(s.end_time_ns for s in spans), seq, spans, []))
                    for f in feedback:
                        seq += 1
                        heapq.heappush(due, (f.time_ns, seq, [], [f]))
                    stats.traces += 1
            except Exception as e:
                stats.generate_errors += 1
                _log.warning("demo traffic: generating traces failed (%s)", type(e).__name__)
            cursor = now
        batch_spans: list[Span] = []
        batch_feedback: list[Feedback] = []
        while due and due[0][0] <= now:
            _, _, spans, feedback = heapq.heappop(due)
            batch_spans.extend(spans)
            batch_feedback.extend(feedback)
            if len(batch_spans) + len(batch_feedback) >= batch_size:
                _send(send, batch_spans, batch_feedback, stats)
                batch_spans, batch_feedback = [], []
        if batch_spans or batch_feedback:
            _send(send, batch_spans, batch_feedback, stats)
        stop.wait(tick_s)
    return stats


def _send(
    send: Callable[[list[Span], list[Feedback]], None], spans: list[Span], feedback: list[Feedback], stats: LiveStats
) -> None:
    try:
        send(spans, feedback)
    except Exception as e:
        stats.send_errors += 1
        _log.warning("demo traffic: send failed (%s); %d records dropped", type(e).__name__, len(spans) + len(feedback))
        return
    stats.batches += 1
    stats.spans += len(spans)
    stats.feedback += len(feedback)

"""Loading simulated history into a store in batches: the demo's recent hours before its address is printed, and
the older days for the detectors' baselines after."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from watchkeeper.records import Feedback, Span

from .simulator import Simulator

# The older history's rate, as a share of the live rate: the detectors' baselines learn rates, not volumes, so a tenth
# of the traffic is enough for them (their noise shrinks with the events they learn from) at a tenth of the cost.
HISTORY_SHARE: Final = 0.1


@dataclass(frozen=True, slots=True)
class Loaded:
    """What :func:`load` sent, and how long it took (wall clock)."""

    traces: int
    spans: int
    feedback: int
    seconds: float


def load(
    sim: Simulator,
    send: Callable[[list[Span], list[Feedback]], None],
    start_ns: int,
    end_ns: int,
    *,
    now_ns: int,
    rate_per_min: float | None = None,
    batch_spans: int = 2000,
) -> Loaded:
    """Send the traces that start in ``[start_ns, end_ns)``, oldest first, with the feedback given on them by
    ``now_ns``, in batches of about ``batch_spans`` spans; ``rate_per_min`` overrides the simulator's base rate (the
    baselines learn rates, not volumes, so older history may be thinner than live traffic)."""
    began = time.monotonic()
    traces = n_spans = n_feedback = 0
    spans: list[Span] = []
    feedback: list[Feedback] = []
    for trace_spans, trace_feedback in sim.traces_between(start_ns, end_ns, rate_per_min):
        traces += 1
        spans.extend(trace_spans)
        feedback.extend(f for f in trace_feedback if f.time_ns <= now_ns)
        if len(spans) >= batch_spans:
            send(spans, feedback)
            n_spans, n_feedback = n_spans + len(spans), n_feedback + len(feedback)
            spans, feedback = [], []
    if spans or feedback:
        send(spans, feedback)
        n_spans, n_feedback = n_spans + len(spans), n_feedback + len(feedback)
    return Loaded(traces, n_spans, n_feedback, time.monotonic() - began)

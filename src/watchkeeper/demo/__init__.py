"""Synthetic production traffic for the demo: an LLM customer-support agent, its users, its tools and its failures.

    from watchkeeper.demo import Simulator, backfill, run_live

    sim = Simulator(seed=0)
    for spans, feedback in backfill(sim, hours=6, now_ns=time.time_ns()):
        ...

Deterministic for a seed and a time range; every record is marked synthetic. The simulator imports only the standard
library and ``watchkeeper.records``; the private modules behind ``watchkeeper demo`` (``_load``: history into a store,
``_alerting``: the demo's rules file, ``_webhook``: the local receiver of its notifications) import more,
and only when used.
"""

from __future__ import annotations

from watchkeeper.demo._traffic import DegradedWindow, Incident, TrafficMix
from watchkeeper.demo.simulator import LiveStats, Simulator, backfill, run_live

__all__ = ["DegradedWindow", "Incident", "LiveStats", "Simulator", "TrafficMix", "backfill", "run_live"]

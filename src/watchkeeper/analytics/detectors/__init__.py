"""Detectors: statistical tests of rate streams per slice — spikes, slow drifts, canaries, quantile shifts — and the
choice, across all slices tested in one tick, of which verdicts become alerts.

    from watchkeeper.analytics.detectors import RateStream, Spike, select_alerts

    verdict = Spike().evaluate(RateStream("refusals|lang=de", hourly, recent, step), at)
    verdict.fired, verdict.gate, verdict.p_value, verdict.expected_rate, verdict.band, verdict.started_at
    decisions = select_alerts(verdicts_of_this_tick)   # by key: ALERT, MIRRORS_PARENT, EXPLAINED_BY_CHILD, ...

Pure statistics over count buckets ``(start, numerator, denominator)`` in event time: no store, no clock. Each
detector is a plugin (:class:`Detector`: a ``name`` and ``evaluate(stream, at, *, sensitivity)``) kept in a
:class:`Registry`; the built-ins register like third-party ones, which may also come from the entry-point group
``watchkeeper.detectors``. See docs/alerting.md.
"""

from __future__ import annotations

from ._baseline import Baseline, Seasonality, fit_baseline
from ._model import (
    ENTRY_POINT_GROUP,
    Bucket,
    CountLike,
    Detector,
    Gate,
    HistogramBucket,
    HistogramLike,
    HistogramStream,
    RateStream,
    Registry,
    Verdict,
    WindowStat,
)
from .builtin import builtin_detectors, configure, default_registry, evaluate_family
from .canary import Canary
from .changepoint import change_start
from .common_mode import CommonMode
from .cusum import Drift
from .fdr import Decision, Outcome, benjamini_hochberg, select_alerts
from .histograms import QuantileShift
from .spike import Spike

__all__ = [
    "ENTRY_POINT_GROUP",
    "Baseline",
    "Bucket",
    "Canary",
    "CommonMode",
    "CountLike",
    "Decision",
    "Detector",
    "Drift",
    "Gate",
    "HistogramBucket",
    "HistogramLike",
    "HistogramStream",
    "Outcome",
    "QuantileShift",
    "RateStream",
    "Registry",
    "Seasonality",
    "Spike",
    "Verdict",
    "WindowStat",
    "benjamini_hochberg",
    "builtin_detectors",
    "change_start",
    "configure",
    "default_registry",
    "evaluate_family",
    "fit_baseline",
    "select_alerts",
]

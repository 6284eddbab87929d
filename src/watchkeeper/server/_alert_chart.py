"""The chart of one alert: its slice's rate around the episode, the band the seasonal baseline expected, when the
change began (estimated) and when the alert fired and ended.

    chart = alert_chart(engine, project_id=1, labels=row["labels"], start_ns=..., fired_ns=..., end_ns=..., now_ns=...)

The rate is read from the rollups in buckets of 5 minutes to an hour (about 60–150 points); the expected rate and its
95% band come from the spike test's baseline (the same hours on earlier days, the slice's wander) fitted on the three
weeks before the chart ends, so the chart shows what the detector compared against. Rate metrics only: a latency
alert has no chart here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from ..alerting.rollup_source import RollupSource
from ..analytics import METRICS, Slice
from ..analytics.detectors import RateStream, Spike
from ..errors import InputError
from ._slices_view import Frame, Tick, _nice_ceiling, _time, pct

NS = 1_000_000_000
MINUTE_NS = 60 * NS
HOUR_NS = 3600 * NS
DAY_NS = 24 * HOUR_NS
MINUTES_KEPT_NS = 7 * DAY_NS  # 1-minute rollups are kept a week by default: older charts read hours
HISTORY_NS = 21 * DAY_NS  # hourly history the baseline is fitted on
_Z = 1.96


@dataclass(slots=True)
class AlertPoint:
    start_ns: int
    k: int
    n: int
    rate: float | None
    expected: float | None
    band: tuple[float, float] | None


@dataclass(slots=True)
class AlertChart(Frame):
    bucket: str  # "5 min", "15 min", "1 h"
    lines: list[str]  # polyline points of the observed rate, one per run of buckets with traffic
    expected_lines: list[str]
    bands: list[str]  # polygon points of the expected 95% band
    dots: list[tuple[float, float, str]]
    markers: list[tuple[float, str, str]]  # (x, css class, label): estimated start, fired, ended
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    points: list[AlertPoint]
    has_baseline: bool


def _width(span_ns: int, old: bool) -> int:
    if old or span_ns > 2 * DAY_NS:
        return HOUR_NS
    return 5 * MINUTE_NS if span_ns <= 12 * HOUR_NS else 15 * MINUTE_NS


def alert_chart(
    engine: Engine,
    *,
    project_id: int,
    labels: dict[str, str],
    start_ns: int,
    fired_ns: int | None,
    end_ns: int | None,
    now_ns: int,
) -> AlertChart | None:
    """The chart of an alert episode on its labels' metric and slice; None for a metric that is not a rate or a
    slice the rollups cannot answer."""
    metric = labels.get("metric", "")
    dims = [d for d in labels.get("slice", "").split(",") if d in labels]
    if metric not in METRICS:
        return None
    slice = Slice(tuple(dims), tuple(labels[d] for d in dims))
    last = end_ns if end_ns is not None else now_ns
    t1 = min(now_ns, last + HOUR_NS)
    first = min(start_ns, fired_ns or start_ns)
    t0 = first - max(6 * HOUR_NS, (t1 - first) // 2)
    width = _width(t1 - t0, t0 < now_ns - MINUTES_KEPT_NS + HOUR_NS)
    t0, t1 = t0 // width * width, -(-t1 // width) * width
    hist_end = t1 // HOUR_NS * HOUR_NS
    source = RollupSource(engine)  # the engine's own reads: what the detector saw, in the chart's bucket width
    try:
        counts = source.buckets(project_id, metric, slice, t0, t1, width)
        hourly = source.buckets(project_id, metric, slice, hist_end - HISTORY_NS, hist_end, HOUR_NS)
    except InputError:
        return None
    span_h = (t1 - t0) // HOUR_NS + 2
    at = datetime.fromtimestamp(hist_end / NS, UTC)
    base = Spike(max_minutes=int(span_h * 60)).fit(RateStream("chart", hourly=hourly), at)
    minutes = width / MINUTE_NS
    points = []
    for b, count in zip(range(t0, t1, width), counts, strict=True):
        k, n = count.numerator, count.denominator
        expected = band = None
        if base is not None and n:
            r = base.rate_at(b // HOUR_NS)
            mu, c = n * r, base.dispersion(minutes)
            sd = math.sqrt(mu + c * mu * mu)
            expected, band = r, (max(0.0, mu - _Z * sd) / n, min(float(n), mu + _Z * sd) / n)
        points.append(AlertPoint(b, k, n, k / n if n else None, expected, band))
    return _geometry(points, t0, t1, width, start_ns, fired_ns, end_ns, base is not None)


def _geometry(
    points: list[AlertPoint],
    t0: int,
    t1: int,
    width: int,
    start_ns: int,
    fired_ns: int | None,
    end_ns: int | None,
    has_baseline: bool,
) -> AlertChart:
    w, h, left, top, right, bottom = 960, 260, 56, 12, 16, 30
    pw, ph = w - left - right, h - top - bottom

    def x(t: int) -> float:
        return round(left + (min(max(t, t0), t1) - t0) / (t1 - t0) * pw, 1)

    vals: list[float] = [p.rate for p in points if p.rate is not None]
    vals += [p.band[1] for p in points if p.band is not None]
    top_v = _nice_ceiling(max(vals) * 1.1) if vals and max(vals) > 0 else 0.01

    def y(v: float) -> float:
        return round(top + ph - min(v, top_v) / top_v * ph, 1)

    runs: list[list[AlertPoint]] = [[]]
    for p in points:
        if p.n:
            runs[-1].append(p)
        elif runs[-1]:
            runs.append([])
    lines, expected, bands = [], [], []
    for run in (r for r in runs if r):
        mid = [x(p.start_ns + width // 2) for p in run]
        lines.append(" ".join(f"{px},{y(p.rate or 0.0)}" for px, p in zip(mid, run, strict=True)))
        based = [(px, p) for px, p in zip(mid, run, strict=True) if p.band is not None and p.expected is not None]
        if based:
            expected.append(" ".join(f"{px},{y(p.expected or 0.0)}" for px, p in based))
            upper = [f"{px},{y(p.band[1])}" for px, p in based if p.band]
            lower = [f"{px},{y(p.band[0])}" for px, p in reversed(based) if p.band]
            bands.append(" ".join(upper + lower))
    dots = [
        (x(p.start_ns + width // 2), y(p.rate or 0.0), f"{_time(p.start_ns)}: {p.k} of {p.n} ({pct(p.rate)})")
        for p in points
        if p.n
    ]
    markers = [(x(start_ns), "marker-start", "estimated start")]
    if fired_ns is not None:
        markers.append((x(fired_ns), "marker-fired", "fired"))
    if end_ns is not None:
        markers.append((x(end_ns), "marker-end", "ended"))
    n = 6
    long = t1 - t0 > DAY_NS
    x_ticks = [Tick(x(t0 + (t1 - t0) * i // n), _time(t0 + (t1 - t0) * i // n, long)) for i in range(n + 1)]
    y_ticks = [Tick(y(top_v * i / 4), pct(top_v * i / 4)) for i in range(5)]
    bucket = "1 h" if width == HOUR_NS else f"{width // MINUTE_NS} min"
    return AlertChart(w, h, left, top, pw, ph, bucket, lines, expected, bands, dots, markers, x_ticks, y_ticks,
                      points, has_baseline)  # fmt: skip


def chart_for(engine: Engine, row: dict[str, Any], now_ns: int) -> AlertChart | None:
    """:func:`alert_chart` for a stored alert row (rule alerts only)."""
    if row.get("source") != "rule":
        return None
    return alert_chart(
        engine,
        project_id=row["project_id"],
        labels=row["labels"],
        start_ns=row["estimated_start_ns"] or row["starts_ns"],
        fired_ns=row["fired_ns"],
        end_ns=row["ends_ns"],
        now_ns=now_ns,
    )

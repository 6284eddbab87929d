"""What the slice explorer page shows: its query from the URL, and the rate chart as SVG geometry.

The chart is drawn on the server (an inline SVG, no script): the slice's rate per bucket with its 95% interval as a
band, the rest of the traffic as a second line, and the current window shaded.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from ..analytics import (
    DIMENSIONS,
    METRICS,
    Comparison,
    Example,
    Point,
    Slice,
    SliceExplorer,
    Window,
    parse_duration,
)
from ..errors import InputError
from ..store.queries import BUCKETS_S
from ._slices_api import explorer_for as explorer_for  # the page builds its explorer like the API does
from ._slices_api import time_of

WINDOWS = {"15m": "15 min", "30m": "30 min", "1h": "1 hour", "6h": "6 hours", "24h": "24 hours", "7d": "7 days"}
BASELINES = {"1h": "1 hour", "6h": "6 hours", "24h": "24 hours", "7d": "7 days"}
NS = 1_000_000_000


@dataclass(slots=True)
class SliceQuery:
    """The page's parameters, as in the URL (so a view can be bookmarked)."""

    metric: str = "errors"
    dimension: str = ""  # "" = every dimension and pair; "a,b" for a pair
    window: str = "1h"
    baseline: str = "24h"
    to: str = ""
    min_count: int = 30
    slice_dimension: str = ""
    slice_value: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, params: Mapping[str, str], values: Sequence[str]) -> SliceQuery:
        q = cls(
            metric=params.get("metric", "errors") or "errors",
            dimension=params.get("dimension", "").strip(),
            window=params.get("window", "1h") or "1h",
            baseline=params.get("baseline", "24h") or "24h",
            to=params.get("to", "").strip(),
            slice_dimension=params.get("slice_dimension", "").strip(),
            slice_value=list(values),
        )
        if q.metric not in METRICS:
            raise InputError(f"unknown metric {q.metric!r}; known: {', '.join(METRICS)}", field="metric")
        raw = params.get("min_count", "30").strip() or "30"
        if not raw.isdigit() or not 1 <= int(raw) <= 1_000_000:
            raise InputError("min_count must be a whole number from 1 to 1000000", field="min_count")
        q.min_count = int(raw)
        return q

    def params(self, **changes: object) -> list[tuple[str, str]]:
        d: dict[str, object] = {
            "metric": self.metric,
            "dimension": self.dimension,
            "window": self.window,
            "baseline": self.baseline,
            "to": self.to,
            "min_count": "" if self.min_count == 30 else str(self.min_count),
            "slice_dimension": self.slice_dimension,
            "slice_value": self.slice_value,
        }
        d.update(changes)
        out: list[tuple[str, str]] = []
        for k, v in d.items():
            for item in v if isinstance(v, list | tuple) else [v]:
                if item not in ("", None):
                    out.append((k, str(item)))
        return out

    def url(self, **changes: object) -> str:
        qs = urlencode(self.params(**changes))
        return "/slices" + (f"?{qs}" if qs else "")

    def slice_url(self, s: Slice) -> str:
        return self.url(slice_dimension=",".join(s.dims), slice_value=list(s.values))

    def end_ns(self) -> int:
        return time_of(self.to, "to") or time.time_ns()

    def windows(self) -> tuple[Window, Window]:
        end = self.end_ns()
        w, b = parse_duration(self.window, "window"), parse_duration(self.baseline, "baseline")
        return Window(end - w, end), Window(end - w - b, end - w)

    def dims(self) -> list[str] | None:
        return [d for d in self.dimension.split(",") if d] or None

    def selected(self, ex: SliceExplorer) -> Slice | None:
        if not self.slice_dimension:
            return None
        dims = tuple(d for d in self.slice_dimension.split(",") if d)
        if len(self.slice_value) != len(dims):
            raise InputError("give one slice_value per slice dimension", field="slice_value")
        return ex.check_slice(Slice(dims, tuple(self.slice_value)), field="slice_value")


def dimension_choices(ex: SliceExplorer) -> list[tuple[str, str]]:
    """(value, label) for the dimension menu: each dimension, then each configured pair."""
    out = [(d.name, d.title) for d in DIMENSIONS.values()]
    out += [(",".join(p), " × ".join(DIMENSIONS[d].title for d in p)) for p in ex.pairs]
    return out


def auto_bucket(span_ns: int, points: int = 60) -> str:
    """The smallest bucket that draws the span in at most about ``points`` points."""
    for name, seconds in BUCKETS_S.items():
        if span_ns / (seconds * NS) <= points:
            return name
    return "1d"


# ---------------------------------------------------------------------------------------------------------------
# The chart


@dataclass(slots=True)
class Tick:
    pos: float
    label: str


@dataclass(slots=True)
class Frame:
    """An SVG chart's size and plot area (the charts of the slice explorer and of an alert)."""

    width: int
    height: int
    left: int
    top: int
    plot_w: int
    plot_h: int


@dataclass(slots=True)
class Chart(Frame):
    slice_lines: list[str]  # SVG polyline "points" attributes, one per run of buckets with data
    rest_lines: list[str]
    bands: list[str]  # polygon "points" of the slice's 95% interval
    dots: list[tuple[float, float, str]]  # (x, y, tooltip) per slice point
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    shade_x: float  # where the current window starts
    shade_w: float
    empty: bool


def _nice_ceiling(v: float) -> float:
    if v <= 0:
        return 0.01
    exp = math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if m * 10**exp >= v:
            return float(m * 10**exp)
    return float(10 ** (exp + 1))


def pct(v: float | None, digits: int = 1) -> str:
    if v is None:
        return "—"
    p = v * 100
    if p != 0 and abs(p) < 0.1:
        return f"{p:.2f}%"
    return f"{p:.{digits}f}%"


def chart(points: Sequence[Point], window: Window, current: Window, bucket_ns: int) -> Chart:
    """SVG geometry for the slice's and the rest's rate per bucket, over ``window``."""
    width, height, left, top, right, bottom = 960, 260, 56, 12, 16, 30
    pw, ph = width - left - right, height - top - bottom
    t0, t1 = window.start_ns, window.end_ns

    def x(t: int) -> float:
        return round(left + (min(max(t, t0), t1) - t0) / (t1 - t0) * pw, 1)

    vals = [p.slice.value for p in points if p.slice.value is not None]
    vals += [p.rest.value for p in points if p.rest.value is not None]
    top_v = _nice_ceiling(max(vals) * 1.15) if vals and max(vals) > 0 else 0.01

    def y(v: float) -> float:
        return round(top + ph - min(v, top_v) / top_v * ph, 1)

    def mid(p: Point) -> int:
        return p.bucket_start_ns + bucket_ns // 2

    def runs(get: str) -> list[list[Point]]:
        out: list[list[Point]] = [[]]
        for p in points:
            r = getattr(p, get)
            if r.total:
                out[-1].append(p)
            elif out[-1]:
                out.append([])
        return [r for r in out if r]

    slice_lines, bands, rest_lines = [], [], []
    for run in runs("slice"):
        slice_lines.append(" ".join(f"{x(mid(p))},{y(p.slice.value or 0.0)}" for p in run))
        upper = [f"{x(mid(p))},{y(p.slice.interval[1])}" for p in run]
        lower = [f"{x(mid(p))},{y(p.slice.interval[0])}" for p in reversed(run)]
        bands.append(" ".join(upper + lower))
    for run in runs("rest"):
        rest_lines.append(" ".join(f"{x(mid(p))},{y(p.rest.value or 0.0)}" for p in run))
    dots = [
        (x(mid(p)), y(p.slice.value or 0.0), f"{_time(p.bucket_start_ns)}: {p.slice.hits} of {p.slice.total}")
        for p in points
        if p.slice.total
    ]
    y_ticks = [Tick(y(top_v * i / 4), pct(top_v * i / 4)) for i in range(5)]
    n = 6
    x_ticks = [
        Tick(x(t0 + (t1 - t0) * i // n), _time(t0 + (t1 - t0) * i // n, t1 - t0 > 2 * 86400 * NS)) for i in range(n + 1)
    ]
    sx = x(current.start_ns)
    return Chart(
        width, height, left, top, pw, ph, slice_lines, rest_lines, bands, dots, x_ticks, y_ticks,
        sx, round(x(current.end_ns) - sx, 1), not dots,
    )  # fmt: skip


def _time(ns: int, with_date: bool = False) -> str:
    dt = datetime.fromtimestamp(ns / 1e9, UTC)
    return dt.strftime("%m-%d %H:%M" if with_date else "%H:%M")


@dataclass(slots=True)
class Detail:
    """One selected slice: its comparison with the rest over the current window, the chart and examples."""

    slice: Slice
    comparison: Comparison
    bucket: str
    chart: Chart
    examples: list[Example]
    points: list[Point]


def explore(ex: SliceExplorer, q: SliceQuery) -> dict[str, Any]:
    """Everything the page shows for one query: the top changes and, when a slice is picked, its detail."""
    current, baseline = q.windows()
    top = ex.top_changes(q.metric, q.dims(), current=current, baseline=baseline, min_count=q.min_count, limit=25)
    detail = None
    s = q.selected(ex)
    if s is not None:
        whole = Window(baseline.start_ns, current.end_ns)
        bucket = auto_bucket(whole.end_ns - whole.start_ns)
        series = ex.rate_series(q.metric, s, whole, bucket)
        detail = Detail(
            slice=s,
            comparison=ex.compare(q.metric, s, current),
            bucket=bucket,
            chart=chart(series.points, whole, current, BUCKETS_S[bucket] * NS),
            examples=ex.examples(q.metric, s, current, limit=20),
            points=series.points,
        )
    return {
        "top": top,
        "detail": detail,
        "current": current,
        "baseline": baseline,
        "metric": METRICS[q.metric],
        "metrics": METRICS,
    }

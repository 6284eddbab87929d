"""Analytics: rates by slice over time, a slice against the rest, and the slices that changed most.

    from watchkeeper.analytics import SliceExplorer, Slice, Window

    SliceExplorer(engine).compare("refusals", Slice.of(model="gpt-4.1-mini-2025-04-14"), Window(start_ns, end_ns))

Computed from the stored spans and feedback today; maintained rollups will answer the same interface. See
docs/explorer.md.
"""

from __future__ import annotations

from .slices import (
    DEFAULT_PAIRS,
    DIMENSIONS,
    METRICS,
    NONE,
    OTHER,
    Change,
    Comparison,
    Dimension,
    Example,
    Metric,
    Point,
    Rate,
    Series,
    Slice,
    SliceExplorer,
    TopChange,
    Window,
    diff_interval,
    metric,
    parse_duration,
    wilson,
    z_score,
)

__all__ = [
    "DEFAULT_PAIRS",
    "DIMENSIONS",
    "METRICS",
    "NONE",
    "OTHER",
    "Change",
    "Comparison",
    "Dimension",
    "Example",
    "Metric",
    "Point",
    "Rate",
    "Series",
    "Slice",
    "SliceExplorer",
    "TopChange",
    "Window",
    "diff_interval",
    "metric",
    "parse_duration",
    "wilson",
    "z_score",
]

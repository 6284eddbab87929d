"""Analytics: rollups, rates by slice over time, a slice against the rest, and the slices that changed most.

    from watchkeeper.analytics import SliceExplorer, Slice, Window, rate_series

    SliceExplorer(engine).compare("refusals", Slice.of(model="gpt-4.1-mini-2025-04-14"), Window(start_ns, end_ns))
    rate_series(engine, project_id=1, metric="refusals", slice={"language": "de"}, start=a, end=b, bucket="1h")

Every count is read from the rollups the writer maintains with the records (``rollups.py``); ``rebuild_rollups``
recounts them from the stored spans. See docs/explorer.md.
"""

from __future__ import annotations

from .._rollup import RollupConfig
from ._rebuild import RebuildReport, rebuild_rollups
from .catalogue import DEFAULT_PAIRS, DIMENSIONS, METRICS, NONE, OTHER, Dimension, Metric, metric
from .rollups import (
    Count,
    LatencyBucket,
    SliceCounts,
    latency_series,
    rate_series,
    slice_counts,
    slices_with_traffic,
)
from .slices import (
    Change,
    Comparison,
    Example,
    Point,
    Rate,
    Series,
    Slice,
    SliceExplorer,
    TopChange,
    Window,
    diff_interval,
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
    "Count",
    "Dimension",
    "Example",
    "LatencyBucket",
    "Metric",
    "Point",
    "Rate",
    "RebuildReport",
    "RollupConfig",
    "Series",
    "Slice",
    "SliceCounts",
    "SliceExplorer",
    "TopChange",
    "Window",
    "diff_interval",
    "latency_series",
    "metric",
    "parse_duration",
    "rate_series",
    "rebuild_rollups",
    "slice_counts",
    "slices_with_traffic",
    "wilson",
    "z_score",
]

"""The slice explorer's JSON API: the metric catalogue, a slice's rate over time against the rest, the top changed
slices between two windows, and example traces (metadata only). Thin: parse, call analytics.slices, format."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from ..analytics import DIMENSIONS, METRICS, NONE, OTHER, Change, Example, Rate, Slice, SliceExplorer, Window
from ..analytics import parse_duration as _duration
from ..errors import InputError
from ..pipeline.rollup import rollup_config
from ..store.queries import BUCKETS_S
from ..trust.roles import Permission
from ._auth import requires
from ._runtime import Runtime
from .api import QUERY_ERRORS, parse_time

router = APIRouter(prefix="/api/v1/slices", tags=["slices"], dependencies=[requires(Permission.READ_METADATA)])

DEFAULT_RANGE = "24h"
DEFAULT_WINDOW = "1h"
DEFAULT_BASELINE = "24h"

MetricName = Annotated[str, Query(description="a metric name from /api/v1/slices/metrics")]
Dim = Annotated[
    list[str] | None,
    Query(alias="dimension", description="one dimension, or a configured pair as `a,b` (or repeated)"),
]
Value = Annotated[list[str] | None, Query(alias="value", description="the slice's value; one per dimension")]
From = Annotated[str | None, Query(alias="from", description="start (ns or RFC 3339); default: `to` − 24h")]
To = Annotated[str | None, Query(alias="to", description="end, exclusive (ns or RFC 3339); default: now")]
NewDays = Annotated[
    float | None,
    Query(
        gt=0,
        le=3650,
        description="accounts younger than this many days are `new`: 1, 3, 7, 14, 30, 60, 90, 180 or 365 "
        "(default: the new_account_days setting)",
    ),
]


def explorer_for(rt: Runtime, project_id: int, new_account_days: float | None = None) -> SliceExplorer:
    """The explorer of a project with the server's rollup settings (pairs, minute retention, new-account age)."""
    s = rt.settings
    return SliceExplorer(
        rt.engine,
        project_id=project_id,
        new_account_days=new_account_days if new_account_days is not None else s.new_account_days,
        pairs=rollup_config(s).pairs,
        minute_days=s.rollup_minute_days,
    )


def explorer(request: Request, new_account_days: float | None = None) -> SliceExplorer:
    rt: Runtime = request.app.state.runtime
    who = getattr(request.state, "principal", None)  # set by the router's guard
    return explorer_for(rt, who.project_id if who else 1, new_account_days)


def dims_of(raw: Sequence[str] | None, *, required: bool = True) -> list[str]:
    """Dimension names from repeated and/or comma-separated parameters."""
    out = [d.strip() for item in raw or () for d in item.split(",") if d.strip()]
    if required and not out:
        raise InputError("name a dimension (see /api/v1/slices/metrics)", field="dimension")
    return out


def slice_of(ex: SliceExplorer, dims: Sequence[str], values: Sequence[str] | None) -> Slice:
    ex.check_dims(dims)  # an unknown dimension or pair is the first thing to fix
    vals = list(values or ())
    if len(vals) != len(dims):
        raise InputError(f"give one value per dimension ({len(dims)}); `{NONE}` is the absent value", field="value")
    return ex.check_slice(Slice(tuple(dims), tuple(vals)))


def time_of(value: str | None, name: str) -> int | None:
    """Nanoseconds from ``value`` (ns or RFC 3339), within what the store's 64-bit columns hold."""
    ns = parse_time(value, name)
    if ns is not None and not 0 <= ns < 2**63:
        raise InputError(f"{name} must be between 1970 and 2262", field=name)
    return ns


def range_of(start: str | None, end: str | None, default: str = DEFAULT_RANGE) -> Window:
    """The window [from, to): to defaults to now, from to ``default`` before to."""
    to_ns = time_of(end, "to") or time.time_ns()
    from_ns = time_of(start, "from")
    if from_ns is None:
        from_ns = to_ns - _duration(default, "from")
    if from_ns >= to_ns:
        raise InputError("'from' must be before 'to'", field="from")
    return Window(from_ns, to_ns)


def windows_of(window: str, baseline: str, end: str | None) -> tuple[Window, Window]:
    """The current window (the ``window`` before ``to``) and the baseline right before it."""
    to_ns = time_of(end, "to") or time.time_ns()
    w = _duration(window, "window")
    b = _duration(baseline, "baseline")
    return Window(to_ns - w, to_ns), Window(to_ns - w - b, to_ns - w)


def rate_json(r: Rate) -> dict[str, Any]:
    lo, hi = r.interval
    return {"hits": r.hits, "total": r.total, "rate": r.value, "low": round(lo, 6), "high": round(hi, 6)}


def change_json(c: Change) -> dict[str, Any]:
    return {
        "diff": round(c.diff, 6),
        "low": round(c.low, 6),
        "high": round(c.high, 6),
        "z": round(c.z, 3),
        "significant": c.significant,
    }


def slice_json(s: Slice) -> dict[str, Any]:
    return {"dimension": list(s.dims), "value": list(s.values), "label": s.label}


def example_json(e: Example) -> dict[str, Any]:
    return {
        "trace_id": e.trace_id,
        "span_id": e.span_id,
        "name": e.name,
        "kind": e.kind,
        "status": e.status,
        "start_ns": e.start_ns,
        "duration_ms": round(e.duration_ms, 3),
        "service_name": e.service_name,
        "model": e.model,
        "tool_name": e.tool_name,
        "error_type": e.error_type,
        "label": e.label,
        "url": f"/traces/{e.trace_id}?span={e.span_id}",
    }


def catalogue_json(ex: SliceExplorer) -> dict[str, Any]:
    return {
        "metrics": [m.describe() for m in METRICS.values()],
        "dimensions": [{"name": d.name, "title": d.title} for d in DIMENSIONS.values()],
        "pairs": [list(p) for p in ex.pairs],
        "buckets": list(BUCKETS_S),
        "cap": ex.cap,
        "none": NONE,
        "other": OTHER,
    }


@router.get("/metrics", summary="The metrics, dimensions and pairs the explorer slices")
def slice_metrics(request: Request) -> dict[str, Any]:
    """Each metric with its numerator and denominator in words; the dimensions and the configured pairs."""
    return catalogue_json(explorer(request))


@router.get("/series", summary="A slice's rate over time against the rest", responses=QUERY_ERRORS)
def slice_series(
    request: Request,
    metric: MetricName,
    dimension: Dim = None,
    value: Value = None,
    start: From = None,
    end: To = None,
    bucket: Annotated[str, Query(description="1m, 5m, 15m, 1h, 6h or 1d")] = "1h",
    new_account_days: NewDays = None,
) -> dict[str, Any]:
    """Per time bucket: the slice's hits, total, rate and 95% Wilson interval, and the same for the rest."""
    ex = explorer(request, new_account_days)
    s = slice_of(ex, dims_of(dimension), value)
    series = ex.rate_series(metric, s, range_of(start, end), bucket)
    c = series.comparison
    return {
        "metric": metric,
        "slice": slice_json(c.slice),
        "from": c.window.start_ns,
        "to": c.window.end_ns,
        "bucket": bucket,
        "slice_rate": rate_json(c.slice_rate),
        "rest_rate": rate_json(c.rest_rate),
        "change": change_json(c.change),
        "points": [
            {"start_ns": p.bucket_start_ns, "slice": rate_json(p.slice), "rest": rate_json(p.rest)}
            for p in series.points
        ],
    }


@router.get("/top", summary="The slices whose rate changed most surely between two windows", responses=QUERY_ERRORS)
def slice_top(
    request: Request,
    metric: MetricName,
    dimension: Dim = None,
    window: Annotated[str, Query(description="the current window, ending at `to` (15m, 1h, 6h, 7d, …)")] = "1h",
    baseline: Annotated[str, Query(description="the baseline window, right before the current one")] = "24h",
    end: To = None,
    min_count: Annotated[int, Query(ge=1, le=1_000_000, description="records a slice needs to be ranked")] = 30,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    direction: Annotated[str, Query(description="up, down or both")] = "both",
    new_account_days: NewDays = None,
) -> dict[str, Any]:
    """Ranked by the two-proportion z statistic; no `dimension` ranks every dimension and configured pair."""
    ex = explorer(request, new_account_days)
    current, base = windows_of(window, baseline, end)
    dims = dims_of(dimension, required=False)
    rows = ex.top_changes(
        metric, dims or None, current=current, baseline=base, min_count=min_count, limit=limit, direction=direction
    )
    return {
        "metric": metric,
        "current": {"from": current.start_ns, "to": current.end_ns},
        "baseline": {"from": base.start_ns, "to": base.end_ns},
        "min_count": min_count,
        "slices": [
            {
                "slice": slice_json(t.slice),
                "baseline": rate_json(t.baseline),
                "current": rate_json(t.current),
                "baseline_overall": t.baseline_overall,
                "change": change_json(t.change),
            }
            for t in rows
        ],
    }


@router.get("/examples", summary="Example traces of a slice (metadata only)", responses=QUERY_ERRORS)
def slice_examples(
    request: Request,
    metric: MetricName,
    dimension: Dim = None,
    value: Value = None,
    start: From = None,
    end: To = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    new_account_days: NewDays = None,
) -> dict[str, Any]:
    """The newest records of the slice that count in the metric's numerator: ids, names, kinds, models, tools and
    error types, never the content (content is read one trace at a time, at /api/v1/traces/{trace_id})."""
    ex = explorer(request, new_account_days)
    s = slice_of(ex, dims_of(dimension), value)
    found = ex.examples(metric, s, range_of(start, end), limit=limit)
    return {"metric": metric, "slice": slice_json(s), "examples": [example_json(e) for e in found]}

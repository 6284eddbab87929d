"""The alerts pages: what fires now and what fired recently, each alert with its slice, counts, observed against
expected rate and band, its runbook and a link to example traces in the slice explorer.

    /alerts                      firing and pending alerts, then recent history
    /alerts/{fingerprint}        one alert's episodes: the chart (rate, expected band, estimated start, when it
                                 fired), state changes (the alerts' generatorURL)
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from ..alerting import alert_history, list_alerts
from ..alerting._labels import rfc3339
from ..alerting.rollup_source import slice_totals
from ..analytics import METRICS
from ..trust.identity import Principal
from ..trust.roles import Permission
from ._alert_chart import chart_for
from ._auth import requires
from ._runtime import Runtime
from ._slices_view import pct

router = APIRouter(include_in_schema=False)

LIVE = ("firing", "pending")
HISTORY_LIMIT = 50
CHARTED_EPISODES = 3  # the latest episodes of an alert get a chart (each reads three weeks of hourly rollups)
_HIDDEN = ("alertname", "severity", "metric", "slice")  # shown in their own columns


def _view(rt: Runtime, row: dict[str, Any], *, counts: bool) -> dict[str, Any]:
    labels: dict[str, str] = row["labels"]
    dims = [d for d in labels.get("slice", "").split(",") if d in labels]
    end = row["ends_ns"] or row["last_active_ns"]
    start = row["estimated_start_ns"] or row["starts_ns"]
    q: list[tuple[str, str]] = [("to", rfc3339(end)), ("window", "6h")]
    if labels.get("metric") in METRICS:
        q.append(("metric", labels["metric"]))
    if dims:
        q += [("dimension", dims[0]), ("slice_dimension", ",".join(dims))]
        q += [("slice_value", labels[d]) for d in dims]
    total = None
    if counts and row["source"] == "rule":
        total = slice_totals(rt.engine, project_id=row["project_id"], labels=labels, start_ns=start, end_ns=end + 1)
    return {
        **row,
        "slice_text": ", ".join(f"{d}={labels[d]}" for d in dims) or "all traffic",
        "other_labels": {k: v for k, v in labels.items() if k not in _HIDDEN and k not in dims},
        "band": (row["band_low"], row["band_high"]) if row["band_low"] is not None else None,
        "counts": total,
        "examples_url": "/slices?" + urlencode(q),
        "runbook_url": row["annotations"].get("runbook_url", ""),
        "summary": row["annotations"].get("summary", ""),
    }


def _rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


@router.get("/alerts")
def alerts_page(request: Request, who: Principal = requires(Permission.READ_ALERTS, page=True)) -> HTMLResponse:
    from .pages import render

    rt = _rt(request)
    live = list_alerts(rt.engine, project_id=who.project_id, states=LIVE)
    past = list_alerts(rt.engine, project_id=who.project_id, states=("resolved", "inactive"), limit=HISTORY_LIMIT)
    return render(
        request,
        "alerts.html",
        live=[_view(rt, r, counts=True) for r in live],
        past=[_view(rt, r, counts=False) for r in past],
        now=time.time_ns(),
        one=None,
        pct=pct,
    )


@router.get("/alerts/{fingerprint}")
def alert_page(
    request: Request,
    fingerprint: str = Path(pattern="^[0-9a-f]{16}$"),
    who: Principal = requires(Permission.READ_ALERTS, page=True),
) -> HTMLResponse:
    from .pages import render

    rt = _rt(request)
    rows = [r for r in list_alerts(rt.engine, project_id=who.project_id, limit=500) if r["fingerprint"] == fingerprint]
    now = time.time_ns()
    episodes = [
        {
            **_view(rt, r, counts=r["state"] in LIVE),
            "events": alert_history(rt.engine, r["id"], project_id=r["project_id"]),
            "chart": chart_for(rt.engine, r, now) if i < CHARTED_EPISODES else None,
        }
        for i, r in enumerate(rows)
    ]
    status = 200 if episodes else 404
    return render(request, "alerts.html", status, live=[], past=episodes, now=now, one=fingerprint, pct=pct)

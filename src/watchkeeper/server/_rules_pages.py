"""The rules page: every rule of the rule set the server runs, and a back-test of one rule over the stored history.

    /rules                          every rule: metric, slices, detector, severity, timings, labels, runbook
    /rules/{name}/backtest          that rule replayed over [from, to) every step: its episodes and the
                                    notifications that would have been sent (nothing is stored or sent)

A back-test runs in the request, so it is bounded: at most MAX_RANGE of history and MAX_TICKS engine ticks, and
at most BUSY_MAX back-tests at a time per process. The CLI (`watchkeeper backtest`) has no such limits.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from typing import Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse

from ..alerting import AlertRule, Backtest, RuleSet, rules_from_settings
from ..alerting._labels import GLOBAL, format_duration, parse_duration, parse_rfc3339, rfc3339
from ..alerting.rollup_source import common_mode, replay
from ..alerting.rules import SENSITIVITIES
from ..errors import InputError, WatchkeeperError
from ..trust.identity import Principal
from ..trust.roles import Permission
from ._auth import requires
from ._runtime import Runtime

router = APIRouter(include_in_schema=False)

NS = 10**9
MINUTE = 60 * NS
DAY_NS = 86400 * NS
MAX_RANGE_NS = 7 * DAY_NS  # a week of history per page request
MAX_TICKS = 700  # a week at the default 15-minute step is 672 ticks
BUSY_MAX = 2  # back-tests running at once in this process; more are refused, not queued
DEFAULTS = {"from": "24h", "to": "", "step": "15m"}
ALERTING_PROJECT = 1  # the project the live engine watches and a back-test reads (alerting/rollup_source.replay)
_HIDDEN = ("alertname", "severity", "metric", "slice")  # shown in their own columns


def _rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def _busy(request: Request) -> threading.BoundedSemaphore:
    """The back-tests running in this app (at most ``BUSY_MAX``): kept on the app, so each app counts its own."""
    sem: threading.BoundedSemaphore | None = getattr(request.app.state, "backtests_busy", None)
    if sem is None:
        sem = request.app.state.backtests_busy = threading.BoundedSemaphore(BUSY_MAX)
    return sem


def _rule_set(request: Request) -> RuleSet:
    """The rule set the server runs (``alert_rules_file``, else the built-in rules): the live engine's, or read once
    per app where this process runs no engine (the other workers of ``serve --workers N``, alerting off)."""
    service = getattr(request.app.state, "alerts", None)
    if service is not None:
        running: RuleSet = service.engine.rules
        return running
    rs: RuleSet | None = getattr(request.app.state, "alert_rule_set", None)
    if rs is None:
        rs = rules_from_settings(_rt(request).settings)
        request.app.state.alert_rule_set = rs
    return rs


def _sensitivity(value: float) -> str:
    word = next((w for w, v in SENSITIVITIES.items() if v == value), None)
    return f"{value:g} ({word})" if word else f"{value:g}"


def _link(url: str) -> str:
    """A runbook URL safe to put in an href (http or https), else empty: it is shown as text instead."""
    return url if url.lower().startswith(("https://", "http://")) else ""


def rule_view(rule: AlertRule) -> dict[str, Any]:
    """What the page shows of a rule, in the rules file's own words (durations as ``10m``, slices as listed)."""
    runbook = rule.annotations.get("runbook_url", "")
    return {
        "name": rule.name,
        "metric": rule.metric,
        "slices": [" × ".join(s) if s else GLOBAL for s in rule.slices],
        "detector": rule.detector,
        "sensitivity": _sensitivity(rule.sensitivity),
        "severity": rule.severity,
        "for": format_duration(rule.for_ns),
        "for_unless_factor": f"{rule.for_unless_factor:g}" if rule.for_unless_factor is not None else "",
        "keep_firing_for": format_duration(rule.keep_firing_for_ns),
        "bucket": format_duration(rule.bucket_ns),
        "lookback": format_duration(rule.lookback_ns),
        "labels": dict(rule.labels),
        "summary": rule.annotations.get("summary", ""),
        "runbook": runbook,
        "runbook_href": _link(runbook),
        "enabled": rule.enabled,
    }


def _when(text: str, name: str, now_ns: int) -> int:
    """An RFC 3339 time, or a duration ago (``24h``); InputError naming the field."""
    try:
        ns = parse_rfc3339(text)
    except ValueError:
        pass
    else:
        if ns is None:
            raise InputError(f"{name} must be a real time, not the zero time", field=name)
        return ns
    try:
        return now_ns - parse_duration(text)
    except ValueError:
        raise InputError(
            f"{name} must be a duration ago such as 24h or 3d, or an RFC 3339 time such as 2024-05-01T12:00:00Z",
            field=name,
        ) from None


def backtest_window(frm: str, to: str, step: str, now_ns: int) -> tuple[int, int, int]:
    """(start, end, step) of a page's back-test; InputError when a field is wrong or the work is over the limits."""
    start = _when(frm.strip() or DEFAULTS["from"], "from", now_ns)
    end = _when(to.strip(), "to", now_ns) if to.strip() else now_ns
    try:
        step_ns = parse_duration(step.strip() or DEFAULTS["step"])
    except ValueError as e:
        raise InputError(f"step {e}", field="step") from None
    if step_ns <= 0:
        raise InputError("step must be longer than 0s", field="step")
    if end <= start:
        raise InputError("to must be after from", field="to")
    if end - start > MAX_RANGE_NS:
        raise InputError(
            f"a back-test on this page covers at most {MAX_RANGE_NS // DAY_NS} days (asked: "
            f"{(end - start) / DAY_NS:.1f} days); choose a later from, or use `watchkeeper backtest` for longer",
            field="from",
        )
    ticks = math.ceil((end - start) / step_ns)
    if ticks > MAX_TICKS:
        raise InputError(
            f"a back-test on this page runs at most {MAX_TICKS} ticks (asked: {ticks}); choose a longer step "
            f"(at least {format_duration(math.ceil((end - start) / MAX_TICKS / MINUTE) * MINUTE)}) or a shorter range",
            field="step",
        )
    return start, end, step_ns


def _delay(ep: Any) -> str:
    if ep.fired_ns is None or ep.estimated_start_ns is None:
        return "—"
    return format_duration(max(0, ep.fired_ns - ep.estimated_start_ns) // NS * NS)


def _report(report: Backtest) -> dict[str, Any]:
    def dims(labels: dict[str, str]) -> list[str]:
        return [d for d in labels.get("slice", "").split(",") if d in labels]

    def slice_text(labels: dict[str, str]) -> str:
        return ", ".join(f"{d}={labels[d]}" for d in dims(labels)) or "all traffic"

    episodes = [
        {
            "fingerprint": ep.fingerprint,
            "state": ep.state,
            "severity": ep.labels.get("severity", ""),
            "slice_text": slice_text(ep.labels),
            "other_labels": {k: v for k, v in ep.labels.items() if k not in _HIDDEN and k not in dims(ep.labels)},
            "estimated_start": rfc3339(ep.estimated_start_ns) if ep.estimated_start_ns is not None else "—",
            "pending": rfc3339(ep.starts_ns),
            "fired": rfc3339(ep.fired_ns) if ep.fired_ns is not None else "",
            "delay": _delay(ep),
            "ended": rfc3339(ep.ends_ns) if ep.ends_ns is not None else "",
        }
        for ep in report.episodes
    ]
    notifications = [
        {
            "at": rfc3339(n.at_ns),
            "receiver": n.receiver,
            "status": n.status,
            "group_key": n.group_key,
            "alerts": [f"{a.status}: {slice_text(dict(a.labels))}" for a in n.alerts],
        }
        for n in report.notifications
    ]
    fired = sum(1 for ep in report.episodes if ep.fired_ns is not None)
    return {"ticks": report.ticks, "episodes": episodes, "notifications": notifications, "fired": fired}


def _render(request: Request, status: int = 200, **context: Any) -> HTMLResponse:
    from .pages import render

    limits = {"range": f"{MAX_RANGE_NS // DAY_NS} days", "ticks": MAX_TICKS}
    context.setdefault("error", None)
    context.setdefault("one", None)
    context.setdefault("result", None)
    context.setdefault("form", dict(DEFAULTS))
    return render(request, "rules.html", status, limits=limits, defaults=DEFAULTS, **context)


@router.get("/rules")
def rules_page(request: Request, who: Principal = requires(Permission.READ_ALERTS, page=True)) -> HTMLResponse:
    try:
        rs = _rule_set(request)
    except WatchkeeperError as e:
        return _render(request, 500, rules=[], file="", error=str(e))
    return _render(request, rules=[rule_view(r) for r in rs.rules], file=rs.file)


@router.get("/rules/{name}/backtest")
def rule_backtest_page(
    request: Request,
    name: str = Path(max_length=256),
    frm: str = Query("", alias="from", max_length=64),
    to: str = Query("", max_length=64),
    step: str = Query("", max_length=32),
    who: Principal = requires(Permission.READ_ALERTS, page=True),
) -> HTMLResponse:
    """One rule replayed over the stored history: its episodes and the notifications it would have sent."""
    try:
        rs = _rule_set(request)
    except WatchkeeperError as e:
        return _render(request, 500, rules=[], file="", error=str(e))
    rule = next((r for r in rs.rules if r.name == name), None)
    if rule is None:
        return _render(request, 404, rules=[], file=rs.file, error=f"no rule {name!r} in {rs.file}; see /rules")
    view = rule_view(rule)
    form = {"from": frm or DEFAULTS["from"], "to": to, "step": step or DEFAULTS["step"]}
    page: dict[str, Any] = {"rules": [view], "file": rs.file, "one": view, "form": form}
    if who.project_id != ALERTING_PROJECT:
        msg = f"alert rules run on project {ALERTING_PROJECT}'s traffic; this project's history cannot be back-tested"
        return _render(request, 400, **page, error=msg)
    now = time.time_ns() // NS * NS
    try:
        start, end, step_ns = backtest_window(frm, to, step, now)
    except InputError as e:
        return _render(request, e.status, **page, error=str(e))
    busy = _busy(request)
    if not busy.acquire(blocking=False):
        return _render(request, 503, **page, error="other back-tests are running; try again in a moment")
    try:
        one = dataclasses.replace(rs, rules=(dataclasses.replace(rule, enabled=True),))
        s = _rt(request).settings
        report = replay(
            _rt(request).engine,
            one,
            start_ns=start,
            end_ns=end,
            step_ns=step_ns,
            new_account_days=s.new_account_days,
            minute_days=s.rollup_minute_days,
            common_mode=common_mode(s.alert_common_mode),
        )
    finally:
        busy.release()
    result = {**_report(report), "start": rfc3339(start), "end": rfc3339(end), "step": format_duration(step_ns)}
    return _render(request, **page, result=result)


__all__ = ["backtest_window", "router", "rule_view"]

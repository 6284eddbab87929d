"""The alerting API: alerts (Watchkeeper's and those relayed by a Prometheus Alertmanager), silences, the
notification log, and the Alertmanager webhook receiver. Thin: parse, authorise, call alerting, format."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError

from ..alerting import (
    AlertmanagerWebhook,
    Matcher,
    Silence,
    add_silence,
    alert_history,
    expire_silence,
    get_silence,
    list_alerts,
    list_notifications,
    list_silences,
    receive,
)
from ..alerting._labels import parse_rfc3339, rfc3339
from ..errors import InputError, NotFound
from ..trust.identity import Principal
from ..trust.roles import Permission
from ._auth import requires
from ._runtime import Runtime
from .api import PROBLEM, QUERY_ERRORS, read_body

router = APIRouter(tags=["alerts"])

_ACTIONS = {
    "read": Permission.READ_ALERTS,  # alerts, silences, notifications
    "write": Permission.WRITE_ALERTS,  # create and expire silences
    "receive": Permission.INGEST,  # an Alertmanager pushing its alerts (a service key with the ingest scope)
}


def guard(action: Literal["read", "write", "receive"]) -> Any:
    """The one place that says who may do what here (swap it and every route follows)."""
    return requires(_ACTIONS[action])


READ, WRITE, RECEIVE = guard("read"), guard("write"), guard("receive")

WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or unknown credentials", **PROBLEM},
    403: {"description": "The credentials lack the permission", **PROBLEM},
    422: {"description": "Invalid body; the problem names the field", **PROBLEM},
}
SilenceId = Annotated[str, Path(max_length=64, description="The silence's id")]


def _rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


# ---------------------------------------------------------------------------------------------------------------
# Alerts


def _alert_out(d: dict[str, Any]) -> dict[str, Any]:
    suppressed = bool(d["silenced_by"] or d["inhibited_by"])
    band = [d["band_low"], d["band_high"]] if d["band_low"] is not None and d["band_high"] is not None else None
    return {
        "id": d["id"],
        "fingerprint": d["fingerprint"],
        "source": d["source"],
        "alertname": d["alertname"],
        "severity": d["severity"],
        "state": d["state"],
        "labels": d["labels"],
        "annotations": d["annotations"],
        "startsAt": rfc3339(d["starts_ns"]),
        "firedAt": rfc3339(d["fired_ns"]) if d["fired_ns"] is not None else None,
        "endsAt": rfc3339(d["ends_ns"]),
        "generatorURL": d["generator_url"] or "",
        "status": {
            "state": "suppressed" if suppressed and d["state"] == "firing" else "active",
            "silencedBy": d["silenced_by"],
            "inhibitedBy": d["inhibited_by"],
        },
        "observed": d["observed"],
        "expected": d["expected"],
        "band": band,
        "p_value": d["p_value"],
        "estimatedStart": rfc3339(d["estimated_start_ns"]) if d["estimated_start_ns"] is not None else None,
    }


@router.get("/api/v1/alerts", responses=QUERY_ERRORS)
async def alerts_list(
    request: Request,
    state: Annotated[list[Literal["pending", "firing", "resolved", "inactive"]] | None, Query()] = None,
    source: Annotated[Literal["rule", "alertmanager"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    who: Principal = READ,
) -> dict[str, Any]:
    """Alert episodes, newest first: Watchkeeper's rule alerts and those an Alertmanager relayed."""
    rows = await asyncio.to_thread(
        list_alerts,
        _rt(request).engine,
        project_id=who.project_id,
        states=tuple(state or ()),
        source=source,
        limit=limit,
    )
    return {"alerts": [_alert_out(r) for r in rows]}


@router.get("/api/v1/alerts/{alert_id}/history", responses={404: {"description": "No such alert", **PROBLEM}})
async def alerts_history(
    request: Request, alert_id: Annotated[int, Path(ge=1, lt=2**63)], who: Principal = READ
) -> dict[str, Any]:
    """An alert episode's state changes (pending, firing, resolved, inactive) with what the detector saw."""
    events = await asyncio.to_thread(alert_history, _rt(request).engine, alert_id, project_id=who.project_id)
    if not events:
        raise NotFound(f"no alert {alert_id} (or it has no history); see /api/v1/alerts")
    return {
        "alert_id": alert_id,
        "events": [
            {
                "at": rfc3339(e["at_ns"]),
                "state": e["state"],
                "previous": e["previous"],
                "observed": e["observed"],
                "expected": e["expected"],
                "p_value": e["p_value"],
            }
            for e in events
        ],
    }


@router.get("/api/v1/notifications", responses=QUERY_ERRORS)
async def notifications_list(
    request: Request,
    status: Annotated[Literal["sent", "retry", "failed", "duplicate"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    who: Principal = READ,
) -> dict[str, Any]:
    """Every notification attempt, newest first (``status=failed``: the visible delivery failures). No message text."""
    rows = await asyncio.to_thread(
        list_notifications, _rt(request).engine, project_id=who.project_id, status=status, limit=limit
    )
    keep = ("id", "group_key", "receiver", "integration", "kind", "status", "attempt", "http_status", "error")
    return {
        "notifications": [
            {
                **{k: r[k] for k in keep},
                "alertStatus": r["alert_status"],
                "firing": r["firing"],
                "resolved": r["resolved"],
                "at": rfc3339(r["at_ns"]),
                "sentAt": rfc3339(r["sent_ns"]),
            }
            for r in rows
        ]
    }


# ---------------------------------------------------------------------------------------------------------------
# Silences (Alertmanager API v2 shapes)


class MatcherIn(BaseModel):
    name: str = Field(min_length=1, max_length=256)
    value: str = Field(max_length=4096)
    isRegex: bool = False
    isEqual: bool = True


class SilenceIn(BaseModel):
    matchers: list[MatcherIn] = Field(min_length=1, max_length=64)
    startsAt: str | None = Field(None, description="RFC 3339; default: now")
    endsAt: str = Field(description="RFC 3339, in the future")
    createdBy: str = Field(min_length=1, max_length=256)
    comment: str = Field(min_length=1, max_length=1000)


def _time(value: str, name: str) -> int:
    try:
        ns = parse_rfc3339(value)
    except ValueError as e:
        raise InputError(f"{name} {e}", field=name) from None
    if ns is None:
        raise InputError(f"{name} must be a real time, not the zero time", field=name)
    return ns


def _matchers(items: list[MatcherIn]) -> list[Matcher]:
    out = []
    for i, m in enumerate(items):
        try:
            out.append(Matcher.from_api(m.model_dump()))
        except ValueError as e:
            raise InputError(f"matchers[{i}]: {e}", field=f"matchers.{i}") from None
    return out


def _silence_out(s: Silence) -> dict[str, Any]:
    return s.as_api(time.time_ns())


@router.get("/api/v1/silences", responses=QUERY_ERRORS)
async def silences_list(
    request: Request,
    state: Annotated[Literal["pending", "active", "expired"] | None, Query()] = None,
    who: Principal = READ,
) -> dict[str, Any]:
    """Silences, oldest start first, with their state now."""
    found = await asyncio.to_thread(list_silences, _rt(request).engine, project_id=who.project_id, state=state)
    return {"silences": [_silence_out(s) for s in found]}


@router.post("/api/v1/silences", status_code=201, responses=WRITE_ERRORS)
async def silences_create(request: Request, body: SilenceIn, who: Principal = WRITE) -> dict[str, Any]:
    """Create a silence: the alerts its matchers match send no notification between startsAt and endsAt."""
    matchers = _matchers(body.matchers)
    starts = _time(body.startsAt, "startsAt") if body.startsAt else None
    ends = _time(body.endsAt, "endsAt")
    s = await asyncio.to_thread(
        add_silence,
        _rt(request).engine,
        matchers=matchers,
        starts_ns=starts,
        ends_ns=ends,
        created_by=body.createdBy,
        comment=body.comment,
        project_id=who.project_id,
    )
    return _silence_out(s)


@router.get("/api/v1/silences/{silence_id}", responses={404: {"description": "No such silence", **PROBLEM}})
async def silences_get(request: Request, silence_id: SilenceId, who: Principal = READ) -> dict[str, Any]:
    """One silence."""
    found = await asyncio.to_thread(get_silence, _rt(request).engine, silence_id, project_id=who.project_id)
    return _silence_out(found)


@router.delete(
    "/api/v1/silences/{silence_id}",
    responses={
        **WRITE_ERRORS,
        404: {"description": "No such silence", **PROBLEM},
        409: {"description": "Already expired", **PROBLEM},
    },
)
async def silences_expire(request: Request, silence_id: SilenceId, who: Principal = WRITE) -> dict[str, Any]:
    """Expire a silence now (a pending one never starts); the silence stays listed as expired."""
    gone = await asyncio.to_thread(expire_silence, _rt(request).engine, silence_id, project_id=who.project_id)
    return _silence_out(gone)


# ---------------------------------------------------------------------------------------------------------------
# The Alertmanager webhook receiver


@router.post(
    "/api/v1/alertmanager/webhook",
    responses={**WRITE_ERRORS, 413: {"description": "Body over the configured limit", **PROBLEM}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "Prometheus Alertmanager's webhook payload, version 4 (unknown fields are ignored)",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def alertmanager_webhook(request: Request, who: Principal = RECEIVE) -> dict[str, int]:
    """Receive a Prometheus Alertmanager notification (webhook payload version 4) and store its alerts beside
    Watchkeeper's own. Idempotent: repeated deliveries change nothing. Point a ``webhook_configs`` URL here."""
    rt = _rt(request)
    raw = await read_body(request, rt.settings.max_body_bytes)
    try:
        body = AlertmanagerWebhook.model_validate_json(raw)
    except ValidationError as e:  # answered like any invalid body: a problem document naming the field
        raise RequestValidationError(e.errors(include_url=False, include_input=False)) from None
    got = await asyncio.to_thread(receive, rt.engine, body, project_id=who.project_id)
    return {"alerts": got.alerts, "stored": got.stored, "duplicates": got.duplicates}

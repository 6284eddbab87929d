"""Alerts from a Prometheus Alertmanager: its webhook (payload version 4) is accepted and each alert stored beside
Watchkeeper's own, so infrastructure and behavioural alerts meet in one list.

Point an Alertmanager receiver at ``POST /api/v1/alertmanager/webhook`` (``webhook_configs: [{url: ...}]``).
Delivery is at least once and HA pairs send duplicates, so storing is idempotent: an alert is keyed by its
fingerprint (computed from its labels, as Alertmanager does) and ``startsAt``; the same alert again changes
nothing, a resolution updates it, and a late ``firing`` never reopens a resolved alert. Unknown fields (Grafana
sends a superset) are ignored.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Engine

from . import _store
from ._labels import ZERO_TIME, fingerprint, parse_rfc3339
from .lifecycle import Alert, AlertState

SOURCE = "alertmanager"
MAX_ALERTS = 10_000
MAX_LABELS = 200
MAX_TEXT = 16_384


def _check_labels(v: dict[str, str]) -> dict[str, str]:
    if len(v) > MAX_LABELS:
        raise ValueError(f"at most {MAX_LABELS} labels")
    for k in v:
        if not k or any(ord(c) < 0x20 for c in k):
            raise ValueError("label names must be non-empty and printable")
    return v


def _check_time(v: str) -> str:
    parse_rfc3339(v)
    return v


class AlertmanagerAlert(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: Literal["firing", "resolved"]
    labels: dict[str, Annotated[str, Field(max_length=MAX_TEXT)]] = Field(min_length=1)
    annotations: dict[str, Annotated[str, Field(max_length=MAX_TEXT)]] = Field(default_factory=dict)
    startsAt: str
    endsAt: str = ZERO_TIME
    generatorURL: str = Field("", max_length=MAX_TEXT)
    fingerprint: str | None = None

    _labels = field_validator("labels")(_check_labels)
    _times = field_validator("startsAt", "endsAt")(_check_time)


class AlertmanagerWebhook(BaseModel):
    """Prometheus Alertmanager's webhook payload, version 4."""

    model_config = ConfigDict(extra="ignore")

    version: Literal["4"]
    groupKey: str = Field(max_length=MAX_TEXT)
    truncatedAlerts: int = Field(0, ge=0)
    status: Literal["firing", "resolved"]
    receiver: str = Field(max_length=MAX_TEXT)
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""
    alerts: list[AlertmanagerAlert] = Field(max_length=MAX_ALERTS)


@dataclass(frozen=True, slots=True)
class Received:
    alerts: int
    stored: int
    duplicates: int


def to_alert(a: AlertmanagerAlert, now_ns: int) -> Alert:
    starts = parse_rfc3339(a.startsAt) or now_ns
    ends = parse_rfc3339(a.endsAt)
    resolved = a.status == "resolved"
    return Alert(
        fingerprint=fingerprint(a.labels),
        rule=a.labels.get("alertname", ""),
        labels=dict(a.labels),
        annotations=dict(a.annotations),
        state=AlertState.RESOLVED if resolved else AlertState.FIRING,
        starts_ns=starts,
        last_active_ns=(ends or now_ns) if resolved else now_ns,
        fired_ns=starts,
        ends_ns=(ends or now_ns) if resolved else None,
        generator_url=a.generatorURL,
        source=SOURCE,
    )


def receive(
    engine: Engine, payload: AlertmanagerWebhook, *, project_id: int = 1, now_ns: int | None = None
) -> Received:
    """Store the alerts of one Alertmanager notification; how many were new or changed, and how many repeats."""
    now = time.time_ns() if now_ns is None else now_ns
    stored = 0
    with engine.begin() as conn:
        for item in payload.alerts:
            if _store.upsert_external(conn, project_id, to_alert(item, now), now):
                stored += 1
    return Received(alerts=len(payload.alerts), stored=stored, duplicates=len(payload.alerts) - stored)


__all__ = ["SOURCE", "AlertmanagerAlert", "AlertmanagerWebhook", "Received", "receive", "to_alert"]

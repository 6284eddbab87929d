"""PagerDuty Events API v2: ``trigger`` while the group has firing alerts, ``resolve`` when all resolved, with the
group key's sha256 as ``dedup_key`` (as Alertmanager does), so PagerDuty keeps one incident per group."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import BaseModel, Field, field_validator, model_validator

from .._labels import rfc3339
from . import IntegrationConfig, NotifierEnv, check_url, describe, post_json
from ._message import FIRING, Notification

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
MAX_SUMMARY = 1024  # characters PagerDuty keeps of payload.summary
SEVERITIES = ("critical", "error", "warning", "info")
_BY_LABEL = {"page": "critical", "ticket": "warning"}


class PagerDutyConfig(IntegrationConfig):
    routing_key: str | None = Field(None, repr=False)
    routing_key_file: str | None = None
    url: str = EVENTS_URL
    severity: str | None = None  # default: critical for severity=page, warning for ticket
    client: str = "Watchkeeper"
    client_url: str | None = None  # default: the server's external URL

    _url = field_validator("url")(check_url)

    @model_validator(mode="after")
    def _check(self) -> PagerDutyConfig:
        if (self.routing_key is None) == (self.routing_key_file is None):
            raise ValueError("give exactly one of routing_key or routing_key_file")
        if self.severity is not None and self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}")
        return self


def pagerduty_event(n: Notification, config: PagerDutyConfig, routing_key: str) -> dict[str, Any]:
    """The Events v2 body for one notification."""
    firing = n.status == FIRING
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger" if firing else "resolve",
        "dedup_key": n.group_key_hash,
    }
    if not firing:
        return event
    common = n.common_labels
    severity = config.severity or _BY_LABEL.get(common.get("severity", ""), "error")
    summary = n.title()
    if len(summary) > MAX_SUMMARY:
        summary = summary[: MAX_SUMMARY - 1] + "…"
    payload: dict[str, Any] = {
        "summary": summary,
        "source": config.client,
        "severity": severity,
        "timestamp": rfc3339(n.at_ns),
        "custom_details": {
            "firing": "\n".join(describe(n.firing)),
            "num_firing": len(n.firing),
            "num_resolved": len(n.resolved),
        },
    }
    if common.get("metric"):
        payload["class"] = common["metric"]
    if common.get("slice"):
        payload["group"] = common["slice"]
    event["payload"] = payload
    runbooks = sorted({a.annotations["runbook_url"] for a in n.firing if a.annotations.get("runbook_url")})
    event["links"] = [{"href": url, "text": "Runbook"} for url in runbooks]
    event["client"] = config.client
    client_url = config.client_url or n.external_url
    if client_url:
        event["client_url"] = client_url
    return event


@dataclass(frozen=True, slots=True)
class PagerDutySender:
    config: PagerDutyConfig
    env: NotifierEnv
    kind: str = "pagerduty"

    @property
    def send_resolved(self) -> bool:
        return self.config.send_resolved

    def send(self, notification: Notification) -> int | None:
        key = self.config.routing_key or self.env.read_secret(str(self.config.routing_key_file))
        body = orjson.dumps(pagerduty_event(notification, self.config, key))
        return post_json(self.env.http, self.config.url, body)


class _PagerDuty:
    name = "pagerduty"
    config: type[BaseModel] = PagerDutyConfig

    def build(self, config: Any, env: NotifierEnv) -> PagerDutySender:
        return PagerDutySender(config, env)


PAGERDUTY = _PagerDuty()

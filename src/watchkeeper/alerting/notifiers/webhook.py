"""The generic webhook: Alertmanager's webhook payload version 4, byte-for-byte the shape existing receivers
parse (prometheus/alertmanager ``notify/webhook``, ``template.Data``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import BaseModel, Field, field_validator

from . import IntegrationConfig, NotifierEnv, check_url, post_json
from ._message import Notification

_GO_REGEX_META = re.compile(r"([\\.+*?()|\[\]{}^$])")


class WebhookConfig(IntegrationConfig):
    url: str
    max_alerts: int = Field(0, ge=0, description="At most this many alerts per message; 0: all.")

    _url = field_validator("url")(check_url)


def quote_meta(s: str) -> str:
    """Go's ``regexp.QuoteMeta``: Alertmanager quotes the receiver name this way in the payload."""
    return _GO_REGEX_META.sub(r"\\\1", s)


def webhook_payload(n: Notification, max_alerts: int = 0) -> dict[str, Any]:
    """The webhook v4 JSON object for one notification (``truncatedAlerts`` counts what ``max_alerts`` cut)."""
    alerts = list(n.alerts)
    truncated = 0
    if max_alerts and len(alerts) > max_alerts:
        truncated = len(alerts) - max_alerts
        alerts = alerts[:max_alerts]
    return {
        "receiver": quote_meta(n.receiver),
        "status": n.status,
        "alerts": [a.as_webhook() for a in alerts],
        "groupLabels": dict(n.group_labels),
        "commonLabels": n.common_labels,
        "commonAnnotations": n.common_annotations,
        "externalURL": n.external_url,
        "version": "4",
        "groupKey": n.group_key,
        "truncatedAlerts": truncated,
    }


@dataclass(frozen=True, slots=True)
class WebhookSender:
    config: WebhookConfig
    env: NotifierEnv
    kind: str = "webhook"

    @property
    def send_resolved(self) -> bool:
        return self.config.send_resolved

    def send(self, notification: Notification) -> int | None:
        body = orjson.dumps(webhook_payload(notification, self.config.max_alerts))
        return post_json(self.env.http, self.config.url, body, {"Idempotency-Key": notification.key})


class _Webhook:
    name = "webhook"
    config: type[BaseModel] = WebhookConfig

    def build(self, config: Any, env: NotifierEnv) -> WebhookSender:
        return WebhookSender(config, env)


WEBHOOK = _Webhook()

"""Notifiers: the kinds of receiver integration an alert can be sent through.

A notifier kind is a plugin: a ``name`` (the rules file's ``<name>_configs`` key under a receiver), a pydantic
``config`` model that validates one entry, and ``build(config, env)`` that returns a sender. Built-in kinds —
``webhook`` (Alertmanager webhook v4), ``slack`` (incoming webhooks), ``email`` (SMTP), ``pagerduty`` (Events API
v2) — register exactly as third-party ones do (entry-point group ``watchkeeper.notifiers``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import httpx
from pydantic import BaseModel, ConfigDict

from ..._registry import PluginRegistry
from ._delivery import (
    DUPLICATE,
    FAILED,
    RETRY,
    SENT,
    AlertMetrics,
    Attempt,
    Backoff,
    Deliverer,
    DeliveryError,
    Sender,
    http_error,
)
from ._message import FIRING, RESOLVED, AlertView, Notification


@dataclass(frozen=True, slots=True)
class NotifierEnv:
    """What senders share: the HTTP client (with its timeout), the SMTP timeout, the server's external URL, and the
    folder that relative ``*_file`` paths of the rules file are read from."""

    http: httpx.Client
    timeout_s: float = 10.0
    external_url: str = ""
    base_dir: Path | None = None

    def read_secret(self, path: str) -> str:
        p = Path(path)
        if not p.is_absolute() and self.base_dir is not None:
            p = self.base_dir / p
        return p.read_text(encoding="utf-8").strip()


@runtime_checkable
class NotifierKind(Protocol):
    name: str
    config: type[BaseModel]

    def build(self, config: Any, env: NotifierEnv) -> Sender: ...


class NotifierRegistry(PluginRegistry[NotifierKind]):
    protocol: ClassVar[Any] = NotifierKind
    needs: ClassVar[str] = "a notifier kind needs a name, a pydantic config model and build(config, env)"
    kind: ClassVar[str] = "notifier"
    group: ClassVar[str] = "watchkeeper.notifiers"


class IntegrationConfig(BaseModel):
    """Fields every integration config has."""

    model_config = ConfigDict(extra="forbid", strict=True)
    send_resolved: bool = True


def check_url(value: str) -> str:
    """A pydantic field check: an absolute http(s) URL (the value is never echoed: it may hold a token)."""
    u = httpx.URL(value) if isinstance(value, str) else None
    if u is None or u.scheme not in ("http", "https") or not u.host:
        raise ValueError("must be an absolute http:// or https:// URL")
    return value


def default_notifiers() -> NotifierRegistry:
    """A registry of the built-in notifier kinds (a new one per call: nothing global is mutated)."""
    from .email import EMAIL
    from .pagerduty import PAGERDUTY
    from .slack import SLACK
    from .webhook import WEBHOOK

    return NotifierRegistry([WEBHOOK, SLACK, EMAIL, PAGERDUTY])


def post_json(http: httpx.Client, url: str, body: bytes, headers: Mapping[str, str] | None = None) -> int:
    """POST JSON; the HTTP status on 2xx, DeliveryError otherwise (never with the URL or any body text)."""
    h = {"Content-Type": "application/json", "User-Agent": "Watchkeeper", **(headers or {})}
    try:
        r = http.post(url, content=body, headers=h)
    except httpx.TimeoutException:
        raise DeliveryError("timed out", retryable=True) from None
    except httpx.TransportError as e:
        raise DeliveryError(f"connection failed ({type(e).__name__})", retryable=True) from None
    if not 200 <= r.status_code < 300:
        raise http_error(r.status_code)
    return r.status_code


def describe(alerts: Iterable[AlertView]) -> list[str]:
    """One line per alert for chat and e-mail bodies: its summary (or name), where, and the runbook."""
    lines = []
    for a in alerts:
        summary = a.annotations.get("summary") or a.labels.get("alertname", a.fingerprint)
        where = ", ".join(f"{k}={v}" for k, v in sorted(a.labels.items()) if k not in ("alertname",))
        line = f"{summary} [{where}]" if where else summary
        if a.annotations.get("runbook_url"):
            line += f" — runbook: {a.annotations['runbook_url']}"
        lines.append(line)
    return lines


__all__ = [
    "DUPLICATE",
    "FAILED",
    "FIRING",
    "RESOLVED",
    "RETRY",
    "SENT",
    "AlertMetrics",
    "AlertView",
    "Attempt",
    "Backoff",
    "Deliverer",
    "DeliveryError",
    "IntegrationConfig",
    "Notification",
    "NotifierEnv",
    "NotifierKind",
    "NotifierRegistry",
    "Sender",
    "check_url",
    "default_notifiers",
    "describe",
    "http_error",
    "post_json",
]

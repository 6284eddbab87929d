"""Delivery: retries with exponential backoff and full jitter, idempotent keys, and a record of every attempt.

A notifier raises :class:`DeliveryError` saying whether a retry may help (a timeout, a refused connection, HTTP
429 or 5xx) or not (HTTP 400: the receiver will refuse the same message again). Each attempt is recorded — receiver,
integration, status, attempt number, HTTP status, a short error — never the message itself. A notification whose key
was already delivered is not sent again, so a re-run of a tick or a restart after a crash does not page twice.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter

from ._message import Notification

SENT = "sent"
RETRY = "retry"  # this attempt failed, another follows
FAILED = "failed"  # the last attempt failed, or the failure is permanent: a visible delivery failure
DUPLICATE = "duplicate"  # already delivered under the same key: not sent again


class DeliveryError(Exception):
    """A failed delivery. ``reason`` is short and never holds message or response text."""

    def __init__(self, reason: str, *, retryable: bool, http_status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.http_status = http_status


def http_error(status: int) -> DeliveryError:
    """The error for an HTTP answer that is not 2xx: 429 and 5xx may pass on retry, the rest will not."""
    return DeliveryError(f"HTTP {status}", retryable=status == 429 or status >= 500, http_status=status)


class Sender(Protocol):
    @property
    def kind(self) -> str: ...  # webhook | slack | email | pagerduty | ...

    def send(self, notification: Notification) -> int | None: ...


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try at delivering one notification."""

    notification: Notification
    kind: str  # webhook | slack | email | pagerduty | ...
    attempt: int  # 1, 2, ...
    status: str  # sent | retry | failed | duplicate
    sent_ns: int  # wall-clock time of the attempt
    http_status: int | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with full jitter: before retry n the wait is uniform in [0, min(cap, base·2^(n−1))]."""

    attempts: int = 5
    base_s: float = 1.0
    cap_s: float = 60.0

    def delay(self, retry: int, rng: random.Random) -> float:
        return rng.uniform(0.0, min(self.cap_s, self.base_s * 2 ** (retry - 1)))


class AlertMetrics:
    """The alerting room's Prometheus counters, on an explicit registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.notifications = Counter(
            "watchkeeper_alert_notifications_total",
            "Notification attempts by receiver, integration kind and outcome (sent, retry, failed, duplicate).",
            ["receiver", "integration", "outcome"],
            registry=self.registry,
        )
        self.delivery_failures = Counter(
            "watchkeeper_alert_delivery_failures_total",
            "Notifications given up after their last attempt (or a permanent error), by receiver and integration.",
            ["receiver", "integration"],
            registry=self.registry,
        )
        self.transitions = Counter(
            "watchkeeper_alert_transitions_total",
            "Alert state changes by the state entered (pending, firing, resolved, inactive).",
            ["state"],
            registry=self.registry,
        )


class Deliverer:
    """Sends notifications through their integration with retries, recording every attempt."""

    def __init__(
        self,
        *,
        backoff: Backoff | None = None,
        record: Callable[[Attempt], None] = lambda _a: None,
        delivered: Callable[[str], bool] = lambda _k: False,
        sleep: Callable[[float], None] = time.sleep,
        wall_clock: Callable[[], int] = time.time_ns,
        rng: random.Random | None = None,
        metrics: AlertMetrics | None = None,
    ) -> None:
        self.backoff = backoff or Backoff()
        self.record = record
        self.delivered = delivered
        self.sleep = sleep
        self.wall_clock = wall_clock
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not secrecy
        self.metrics = metrics

    def deliver(self, sender: Sender, notification: Notification) -> str:
        """Deliver once (unless already delivered); returns ``sent``, ``failed`` or ``duplicate``."""
        n = notification if notification.key else notification.keyed()
        if self.delivered(n.key):
            self._note(Attempt(n, sender.kind, 0, DUPLICATE, self.wall_clock()))
            return DUPLICATE
        for attempt in range(1, self.backoff.attempts + 1):
            try:
                code = sender.send(n)
            except DeliveryError as e:
                last = attempt == self.backoff.attempts or not e.retryable
                status = FAILED if last else RETRY
                self._note(Attempt(n, sender.kind, attempt, status, self.wall_clock(), e.http_status, e.reason))
                if last:
                    if self.metrics is not None:
                        self.metrics.delivery_failures.labels(n.receiver, sender.kind).inc()
                    return FAILED
                self.sleep(self.backoff.delay(attempt, self.rng))
                continue
            self._note(Attempt(n, sender.kind, attempt, SENT, self.wall_clock(), code))
            return SENT
        raise AssertionError("unreachable: the loop returns on its last attempt")  # pragma: no cover

    def _note(self, a: Attempt) -> None:
        if self.metrics is not None:
            self.metrics.notifications.labels(a.notification.receiver, a.kind, a.status).inc()
        self.record(a)

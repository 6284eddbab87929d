"""What a notifier sends: one aggregation group's alerts at one flush, shaped like Alertmanager's template data."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .._labels import rfc3339

FIRING = "firing"
RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class AlertView:
    """One alert as receivers see it (Alertmanager's template ``Alert``)."""

    fingerprint: str
    status: str  # firing | resolved
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_ns: int
    ends_ns: int | None  # None while firing (sent as Go's zero time)
    generator_url: str = ""

    def as_webhook(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "startsAt": rfc3339(self.starts_ns),
            "endsAt": rfc3339(self.ends_ns),
            "generatorURL": self.generator_url,
            "fingerprint": self.fingerprint,
        }


def _common(maps: Sequence[Mapping[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    out = dict(maps[0])
    for m in maps[1:]:
        out = {k: v for k, v in out.items() if m.get(k) == v}
    return out


@dataclass(frozen=True, slots=True)
class Notification:
    """One message to one receiver integration. ``key`` is its idempotency key: the same flush of the same group
    to the same integration always has the same key, so a re-run never sends it twice."""

    receiver: str
    integration: str  # "webhook[0]": the receiver's first webhook config
    group_key: str
    group_labels: Mapping[str, str]
    alerts: tuple[AlertView, ...]
    at_ns: int  # the event time of the flush
    external_url: str = ""
    reason: str = ""
    key: str = field(default="")

    @property
    def status(self) -> str:
        return FIRING if any(a.status == FIRING for a in self.alerts) else RESOLVED

    @property
    def firing(self) -> list[AlertView]:
        return [a for a in self.alerts if a.status == FIRING]

    @property
    def resolved(self) -> list[AlertView]:
        return [a for a in self.alerts if a.status == RESOLVED]

    @property
    def common_labels(self) -> dict[str, str]:
        return _common([a.labels for a in self.alerts])

    @property
    def common_annotations(self) -> dict[str, str]:
        return _common([a.annotations for a in self.alerts])

    @property
    def group_key_hash(self) -> str:
        """sha256 of the group key in hex: Alertmanager's ``Key.Hash``, the PagerDuty ``dedup_key``."""
        return hashlib.sha256(self.group_key.encode()).hexdigest()

    def keyed(self) -> Notification:
        """This notification with its idempotency key filled in."""
        parts = [
            self.receiver,
            self.integration,
            self.group_key,
            str(self.at_ns),
            ",".join(sorted(a.fingerprint for a in self.firing)),
            ",".join(sorted(a.fingerprint for a in self.resolved)),
        ]
        return replace(self, key=hashlib.sha256("\x1f".join(parts).encode()).hexdigest())

    def title(self) -> str:
        """``[FIRING:2] RefusalRateSpike (language=fr)``, as Alertmanager's default title reads."""
        n = len(self.firing) if self.status == FIRING else len(self.resolved)
        labels = dict(self.group_labels) or self.common_labels
        name = labels.pop("alertname", "") or self.common_labels.get("alertname", "")
        rest = " ".join(f"{k}={labels[k]}" for k in sorted(labels))
        head = f"[{self.status.upper()}:{n}]"
        return " ".join(x for x in (head, name, f"({rest})" if rest else "") if x)

"""Grouping: alerts that share a route and its ``group_by`` labels travel in one notification, on Alertmanager's
timers (``dispatch/dispatch.go``, ``notify/notify.go``):

- a new group waits ``group_wait`` for more alerts before its first notification — unless its alert started more
  than ``group_wait`` ago, when it is sent at once;
- then every ``group_interval`` it notifies again if alerts were added (or resolved, for integrations that send
  resolved alerts); with nothing new it repeats only after ``repeat_interval``;
- an alert that resolves before its group was ever notified is never sent; muted alerts (silenced or inhibited)
  are left out of the notification.

Each integration of the receiver keeps what it was last told (the notification log), so an integration whose
delivery failed is tried again at the group's next interval while the others are not repeated. Flushes happen at
their scheduled event time, so a replay of history notifies exactly when the live run would have.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .lifecycle import Alert, AlertState
from .notifiers import DUPLICATE, FIRING, RESOLVED, SENT, AlertView, Notification, Sender
from .routing import Route

FIRST = "first notification"
ADDED = "new alerts added"
SOME_RESOLVED = "some alerts resolved"
ALL_RESOLVED = "all alerts resolved"
REPEAT = "repeat interval elapsed"


@dataclass(frozen=True, slots=True)
class Integration:
    """One configured integration of a receiver: ``webhook[0]``, ``pagerduty[1]``, ..."""

    id: str
    sender: Sender
    send_resolved: bool = True

    @property
    def kind(self) -> str:
        return self.sender.kind


@dataclass(frozen=True, slots=True)
class Notified:
    """What an integration was last told about a group (an entry of Alertmanager's notification log)."""

    at_ns: int
    firing: frozenset[str]
    resolved: frozenset[str]

    def as_json(self) -> dict[str, Any]:
        return {"at_ns": self.at_ns, "firing": sorted(self.firing), "resolved": sorted(self.resolved)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Notified:
        return cls(int(d["at_ns"]), frozenset(d.get("firing", ())), frozenset(d.get("resolved", ())))


def needs_update(
    entry: Notified | None, firing: set[str], resolved: set[str], *, repeat_ns: int, now_ns: int, send_resolved: bool
) -> str:
    """Why an integration should be notified now (Alertmanager's ``DedupStage.needsUpdate``); "" when it should not."""
    if entry is None:
        return FIRST if firing else ""
    if not firing <= entry.firing:
        return FIRST if not entry.firing else ADDED
    if not firing:
        return ALL_RESOLVED if entry.firing else ""
    if send_resolved and not resolved <= entry.resolved:
        return SOME_RESOLVED
    return REPEAT if now_ns - entry.at_ns >= repeat_ns else ""


@dataclass(slots=True)
class Group:
    route: Route
    key: str
    labels: dict[str, str]
    created_ns: int
    next_flush_ns: int
    fingerprints: set[str] = field(default_factory=set)
    notified: dict[str, Notified] = field(default_factory=dict)
    flushed: bool = False

    @property
    def receiver(self) -> str:
        return self.route.opts.receiver

    def as_row(self) -> dict[str, Any]:
        return {
            "route_id": self.route.id,
            "group_key": self.key,
            "receiver": self.receiver,
            "labels": self.labels,
            "fingerprints": sorted(self.fingerprints),
            "notified": {"flushed": self.flushed, "integrations": {k: v.as_json() for k, v in self.notified.items()}},
            "next_flush_ns": self.next_flush_ns,
            "created_ns": self.created_ns,
        }


@dataclass(frozen=True, slots=True)
class Sent:
    """One notification decision of a flush: the message and the delivery outcome (sent, failed, duplicate)."""

    notification: Notification
    kind: str
    outcome: str


Deliver = Callable[[Integration, Notification], str]
Muted = Callable[[Alert, int], bool]


class Dispatcher:
    """Aggregation groups, their timers and their notifications, for one routing tree."""

    def __init__(
        self,
        route: Route,
        receivers: Mapping[str, Iterable[Integration]],
        deliver: Deliver,
        *,
        external_url: str = "",
        generator_url: Callable[[Alert], str] | None = None,
    ) -> None:
        self.route = route
        self.receivers = {name: list(integs) for name, integs in receivers.items()}
        self.deliver = deliver
        self.external_url = external_url
        self.generator_url = generator_url or (lambda a: a.generator_url)
        self.groups: dict[tuple[str, str], Group] = {}
        self._routes = {r.id: r for r in route.walk()}

    # -- state

    def restore(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Groups saved by :meth:`rows` (those of routes that no longer exist are dropped)."""
        for row in rows:
            route = self._routes.get(row["route_id"])
            if route is None:
                continue
            notified = row["notified"].get("integrations", {})
            flushed = bool(row["notified"].get("flushed", False))
            g = Group(
                route=route,
                key=row["group_key"],
                labels=dict(row["labels"]),
                created_ns=row["created_ns"],
                next_flush_ns=row["next_flush_ns"],
                fingerprints=set(row["fingerprints"]),
                notified={k: Notified.from_json(v) for k, v in notified.items()},
                flushed=flushed,
            )
            self.groups[(route.id, g.key)] = g

    def rows(self) -> list[dict[str, Any]]:
        return [g.as_row() for g in self.groups.values()]

    def next_flush_ns(self) -> int | None:
        return min((g.next_flush_ns for g in self.groups.values()), default=None)

    # -- alerts in, notifications out

    def insert(self, alert: Alert, now_ns: int) -> None:
        """Put a firing alert into the groups of every route it matches."""
        for route in self.route.match(alert.labels):
            key = route.group_key(alert.labels)
            g = self.groups.get((route.id, key))
            if g is None:
                g = Group(route, key, route.group_labels(alert.labels), now_ns, now_ns + route.opts.group_wait_ns)
                self.groups[(route.id, key)] = g
            g.fingerprints.add(alert.fingerprint)
            if not g.flushed and alert.starts_ns + route.opts.group_wait_ns <= now_ns:
                # the alert has waited group_wait already (while pending): no reason to hold it back
                g.next_flush_ns = min(g.next_flush_ns, now_ns)

    def flush_due(self, now_ns: int, alerts: Mapping[str, Alert], muted: Muted) -> list[Sent]:
        """Flush every group due at or before ``now_ns``, in time order, each at its scheduled time."""
        out: list[Sent] = []
        while True:
            due = [g for g in self.groups.values() if g.next_flush_ns <= now_ns]
            if not due:
                return out
            g = min(due, key=lambda x: (x.next_flush_ns, x.route.id, x.key))
            out += self._flush(g, g.next_flush_ns, alerts, muted)

    def _flush(self, g: Group, at_ns: int, alerts: Mapping[str, Alert], muted: Muted) -> list[Sent]:
        members = [alerts[fp] for fp in sorted(g.fingerprints) if fp in alerts]
        firing = [a for a in members if a.state is AlertState.FIRING and not muted(a, at_ns)]
        ended = [a for a in members if a.state is not AlertState.FIRING]
        out: list[Sent] = []
        for integ in self.receivers.get(g.receiver, []):
            entry = g.notified.get(integ.id)
            told = entry.firing if entry else frozenset()
            resolved = [a for a in ended if a.fingerprint in told and a.state is AlertState.RESOLVED]
            f_fps, r_fps = {a.fingerprint for a in firing}, {a.fingerprint for a in resolved}
            reason = needs_update(
                entry,
                f_fps,
                r_fps,
                repeat_ns=g.route.opts.repeat_interval_ns,
                now_ns=at_ns,
                send_resolved=integ.send_resolved,
            )
            if not reason:
                continue
            views = [self._view(a, FIRING) for a in firing]
            if integ.send_resolved:
                views += [self._view(a, RESOLVED) for a in resolved]
            if not views:  # all resolved, but this integration does not send resolved alerts: just forget them
                g.notified[integ.id] = Notified(at_ns, frozenset(), frozenset(r_fps))
                continue
            n = Notification(
                receiver=g.receiver,
                integration=integ.id,
                group_key=g.key,
                group_labels=dict(g.labels),
                alerts=tuple(views),
                at_ns=at_ns,
                external_url=self.external_url,
                reason=reason,
            ).keyed()
            outcome = self.deliver(integ, n)
            out.append(Sent(n, integ.kind, outcome))
            if outcome in (SENT, DUPLICATE):
                g.notified[integ.id] = Notified(at_ns, frozenset(f_fps), frozenset(r_fps))
        # alerts no integration still believes firing leave the group; an empty group is done
        still_told = set().union(*(e.firing for e in g.notified.values())) if g.notified else set()
        g.fingerprints = {
            fp for fp in g.fingerprints if fp in alerts and (alerts[fp].state is AlertState.FIRING or fp in still_told)
        }
        g.flushed = True
        g.next_flush_ns = at_ns + g.route.opts.group_interval_ns
        if not g.fingerprints:
            del self.groups[(g.route.id, g.key)]
        return out

    def _view(self, a: Alert, status: str) -> AlertView:
        return AlertView(
            fingerprint=a.fingerprint,
            status=status,
            labels=dict(a.labels),
            annotations=dict(a.annotations),
            starts_ns=a.starts_ns,
            ends_ns=a.ends_ns if status == RESOLVED else None,
            generator_url=self.generator_url(a),
        )


__all__ = [
    "ADDED",
    "ALL_RESOLVED",
    "FIRST",
    "REPEAT",
    "SOME_RESOLVED",
    "Dispatcher",
    "Group",
    "Integration",
    "Notified",
    "Sent",
    "needs_update",
]

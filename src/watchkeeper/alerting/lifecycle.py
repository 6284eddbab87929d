"""The life of one alert, as Prometheus evaluates its alerting rules: pending → firing → resolved.

An alert is the pair (rule, slice), identified by the fingerprint of its labels. At each tick the detector says
whether the slice is *active* (it fired, passed the volume gate and survived false-discovery control):

    not known, active       → pending (starts now); firing at once when ``for`` is 0 or the evidence is urgent
    pending,   active       → firing once it has been active for ``for``, or at once on urgent evidence
    pending,   not active   → inactive (the pending state is cleared, nothing was sent)
    firing,    not active   → resolved, unless it was active less than ``keep_firing_for`` ago
    resolved,  active       → a new episode: pending again, with a new start

*Urgent* evidence is the rule's choice (``for_unless_factor``: the rate changed by that factor or more, counted
from the change's estimated start when the detector dates it): ``for`` is there to let a short excess just past the
detector's level pass unpaged; a doubled rate does not wait for it.

Everything runs on event time: ``now`` is the tick's time, never the wall clock, so a replay of history makes
the same transitions as the live run did. A tick repeated at the same time (a re-evaluation after late records)
changes nothing that was already decided, except that an alert it had just ended and that late records show
still active is reopened (the same episode) rather than started again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class AlertState(StrEnum):
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"
    INACTIVE = "inactive"  # pending, then no longer active: never fired


LIVE = (AlertState.PENDING, AlertState.FIRING)


@dataclass(frozen=True, slots=True)
class Reading:
    """What the detector reported for the alert's slice at one tick (kept with the alert, shown with it)."""

    observed: float | None = None
    expected: float | None = None
    band_low: float | None = None
    band_high: float | None = None
    p_value: float | None = None
    estimated_start_ns: int | None = None


@dataclass(slots=True)
class Alert:
    """One alert episode, owned by the engine (mutable: the engine updates it tick by tick)."""

    fingerprint: str
    rule: str
    labels: dict[str, str]
    annotations: dict[str, str]
    state: AlertState
    starts_ns: int  # the tick it became active
    last_active_ns: int
    fired_ns: int | None = None
    ends_ns: int | None = None  # resolved, or the pending state cleared
    reading: Reading = field(default_factory=Reading)
    silenced_by: tuple[str, ...] = ()
    inhibited_by: tuple[str, ...] = ()
    generator_url: str = ""
    source: str = "rule"

    @property
    def severity(self) -> str | None:
        return self.labels.get("severity")

    @property
    def suppressed(self) -> bool:
        return bool(self.silenced_by or self.inhibited_by)


@dataclass(frozen=True, slots=True)
class Transition:
    fingerprint: str
    previous: AlertState | None
    state: AlertState
    at_ns: int


def step(
    alert: Alert | None,
    active: bool,
    now_ns: int,
    *,
    for_ns: int,
    keep_firing_for_ns: int = 0,
    new: Alert | None = None,
    urgent: bool = False,
) -> tuple[Alert | None, list[Transition]]:
    """Advance one alert by one tick; returns the alert (a new episode when one starts) and what changed.
    ``urgent``: the tick's verdict is strong enough to fire without waiting ``for``.

    ``new`` is the alert to start when the slice becomes active and no live episode exists (the caller builds it
    with the tick's labels, annotations and reading; its state and times are set here).
    """
    live = alert is not None and alert.state in LIVE
    if active and alert is not None and not live and alert.ends_ns == now_ns:
        # the same tick again, now with late records that keep the slice active: undo the ending, do not start
        # a second episode (which would page twice)
        back = AlertState.FIRING if alert.fired_ns is not None else AlertState.PENDING
        previous, alert.state, alert.ends_ns = alert.state, back, None
        alert.last_active_ns = now_ns
        return alert, [Transition(alert.fingerprint, previous, back, now_ns)]
    if active:
        if not live:
            if new is None:
                raise ValueError("an active slice without a live alert needs the new alert to start")
            a = new
            a.state, a.starts_ns, a.last_active_ns, a.fired_ns, a.ends_ns = (
                AlertState.PENDING,
                now_ns,
                now_ns,
                None,
                None,
            )
            out = [Transition(a.fingerprint, None, AlertState.PENDING, now_ns)]
            if for_ns == 0 or urgent:
                a.state, a.fired_ns = AlertState.FIRING, now_ns
                out.append(Transition(a.fingerprint, AlertState.PENDING, AlertState.FIRING, now_ns))
            return a, out
        assert alert is not None
        alert.last_active_ns = max(alert.last_active_ns, now_ns)
        if alert.state is AlertState.PENDING and (urgent or now_ns - alert.starts_ns >= for_ns):
            alert.state, alert.fired_ns = AlertState.FIRING, now_ns
            return alert, [Transition(alert.fingerprint, AlertState.PENDING, AlertState.FIRING, now_ns)]
        return alert, []
    if not live:
        return alert, []
    assert alert is not None
    if alert.state is AlertState.PENDING:
        alert.state, alert.ends_ns = AlertState.INACTIVE, now_ns
        return alert, [Transition(alert.fingerprint, AlertState.PENDING, AlertState.INACTIVE, now_ns)]
    if now_ns - alert.last_active_ns < keep_firing_for_ns:
        return alert, []  # keep firing a little while after the slice recovers, so a flapping rate pages once
    alert.state, alert.ends_ns = AlertState.RESOLVED, now_ns
    return alert, [Transition(alert.fingerprint, AlertState.FIRING, AlertState.RESOLVED, now_ns)]


__all__ = ["LIVE", "Alert", "AlertState", "Reading", "Transition", "step"]

"""Grouping on Alertmanager's timers, driven by an explicit clock: group_wait, group_interval, repeat_interval,
resolved notifications, muting, and an integration that failed tried again while the others are not repeated."""

from __future__ import annotations

from dataclasses import dataclass, field

from watchkeeper.alerting import Alert, AlertState, Dispatcher, Integration, Notification, RouteSpec, build_route
from watchkeeper.alerting.grouping import ADDED, ALL_RESOLVED, FIRST, REPEAT, SOME_RESOLVED, Notified, needs_update
from watchkeeper.alerting.notifiers import FAILED, SENT

S = 1_000_000_000
T = 1_717_200_000 * S


@dataclass
class Out:
    kind: str = "webhook"
    sent: list[Notification] = field(default_factory=list)

    def send(self, n: Notification) -> int | None:  # pragma: no cover - the dispatcher's deliver is used
        return None


def alert(name: str, at: int, *, lang: str = "fr", state: AlertState = AlertState.FIRING) -> Alert:
    labels = {"alertname": name, "language": lang, "severity": "page"}
    return Alert(f"{name}-{lang}", name, labels, {"summary": name}, state, at, at, fired_ns=at)


class Harness:
    def __init__(self, *, send_resolved: bool = True, fail: set[str] | None = None, integrations: int = 1) -> None:
        self.log: list[tuple[str, int, str, list[str], list[str]]] = []
        self.fail = fail or set()
        spec = RouteSpec(
            receiver="oncall",
            group_by=("alertname",),
            group_wait_ns=30 * S,
            group_interval_ns=300 * S,
            repeat_interval_ns=4 * 3600 * S,
        )
        integs = [Integration(f"webhook[{i}]", Out(), send_resolved) for i in range(integrations)]
        self.d = Dispatcher(build_route(spec), {"oncall": integs}, self.deliver)
        self.alerts: dict[str, Alert] = {}
        self.muted: set[str] = set()

    def deliver(self, integ: Integration, n: Notification) -> str:
        firing = sorted(a.fingerprint for a in n.firing)
        resolved = sorted(a.fingerprint for a in n.resolved)
        self.log.append((integ.id, (n.at_ns - T) // S, n.reason, firing, resolved))
        return FAILED if integ.id in self.fail else SENT

    def add(self, a: Alert, now: int) -> None:
        self.alerts[a.fingerprint] = a
        self.d.insert(a, now)

    def flush(self, now: int) -> list[tuple[str, int, str, list[str], list[str]]]:
        before = len(self.log)
        self.d.flush_due(now, self.alerts, lambda a, _t: a.fingerprint in self.muted)
        return self.log[before:]


def test_group_wait_collects_alerts_into_one_first_notification() -> None:
    h = Harness()
    h.add(alert("A", T), T)
    h.add(alert("A", T + 10 * S, lang="de"), T + 10 * S)
    assert h.flush(T + 29 * S) == []
    assert h.flush(T + 30 * S) == [("webhook[0]", 30, FIRST, ["A-de", "A-fr"], [])]


def test_group_interval_sends_only_what_is_new_and_repeat_interval_the_rest() -> None:
    h = Harness()
    h.add(alert("A", T), T)
    h.flush(T + 30 * S)
    h.add(alert("A", T + 60 * S, lang="de"), T + 60 * S)
    assert h.flush(T + 329 * S) == []
    assert h.flush(T + 330 * S) == [("webhook[0]", 330, ADDED, ["A-de", "A-fr"], [])]
    assert h.flush(T + 3 * 3600 * S) == []  # every interval until then: nothing new
    (repeat,) = h.flush(T + 5 * 3600 * S)
    assert repeat[2] == REPEAT and repeat[1] == 330 + 4 * 3600  # the first interval tick at or past 4 h


def test_resolved_alerts_are_notified_then_the_group_is_done() -> None:
    h = Harness()
    a, b = alert("A", T), alert("A", T, lang="de")
    h.add(a, T)
    h.add(b, T)
    h.flush(T + 30 * S)
    a.state, a.ends_ns = AlertState.RESOLVED, T + 100 * S
    assert h.flush(T + 330 * S) == [("webhook[0]", 330, SOME_RESOLVED, ["A-de"], ["A-fr"])]
    b.state, b.ends_ns = AlertState.RESOLVED, T + 400 * S
    assert h.flush(T + 630 * S) == [("webhook[0]", 630, ALL_RESOLVED, [], ["A-de"])]
    assert h.d.groups == {}


def test_an_alert_that_resolves_within_group_wait_is_never_sent() -> None:
    h = Harness()
    a = alert("A", T)
    h.add(a, T)
    a.state, a.ends_ns = AlertState.RESOLVED, T + 10 * S
    assert h.flush(T + 30 * S) == [] and h.d.groups == {}


def test_an_alert_that_already_waited_while_pending_is_sent_at_once() -> None:
    h = Harness()
    h.add(alert("A", T - 10 * 60 * S), T)  # pending for ten minutes (its rule's ``for``), firing now
    assert h.flush(T) == [("webhook[0]", 0, FIRST, ["A-fr"], [])]


def test_muted_alerts_are_left_out_and_a_fully_muted_group_sends_nothing() -> None:
    h = Harness()
    h.add(alert("A", T), T)
    h.add(alert("A", T, lang="de"), T)
    h.muted = {"A-de"}
    assert h.flush(T + 30 * S) == [("webhook[0]", 30, FIRST, ["A-fr"], [])]
    h.muted = {"A-de", "A-fr"}
    assert h.flush(T + 330 * S) == []  # muted is not resolved: no "resolved" message either
    h.muted = set()
    assert h.flush(T + 630 * S)[0][2] == FIRST


def test_without_send_resolved_a_resolution_is_not_sent_but_forgotten() -> None:
    h = Harness(send_resolved=False)
    a = alert("A", T)
    h.add(a, T)
    h.flush(T + 30 * S)
    a.state, a.ends_ns = AlertState.RESOLVED, T + 100 * S
    assert h.flush(T + 330 * S) == []
    assert h.d.groups == {}


def test_a_failed_integration_is_tried_again_next_interval_the_others_are_not_repeated() -> None:
    h = Harness(fail={"webhook[1]"}, integrations=2)
    h.add(alert("A", T), T)
    first = h.flush(T + 30 * S)
    assert [(i, r) for i, _, r, _, _ in first] == [("webhook[0]", FIRST), ("webhook[1]", FIRST)]
    h.fail = set()
    assert [(i, r) for i, _, r, _, _ in h.flush(T + 330 * S)] == [("webhook[1]", FIRST)]
    assert h.flush(T + 630 * S) == []


def test_groups_survive_a_restart_through_their_rows() -> None:
    h = Harness()
    h.add(alert("A", T), T)
    h.flush(T + 30 * S)
    rows = h.d.rows()
    again = Harness()
    again.alerts = h.alerts
    again.d.restore(rows)
    assert again.flush(T + 330 * S) == []  # it remembers it already told the receiver
    assert again.d.groups.keys() == h.d.groups.keys()


def test_needs_update_follows_alertmanagers_dedup_stage() -> None:
    e = Notified(0, frozenset({"a"}), frozenset())
    kw = {"repeat_ns": 100, "send_resolved": True}
    assert needs_update(None, set(), set(), now_ns=5, **kw) == ""  # nothing firing, never told: nothing
    assert needs_update(None, {"a"}, set(), now_ns=5, **kw) == FIRST
    assert needs_update(e, {"a", "b"}, set(), now_ns=5, **kw) == ADDED
    assert needs_update(e, {"a"}, set(), now_ns=99, **kw) == ""
    assert needs_update(e, {"a"}, set(), now_ns=100, **kw) == REPEAT
    assert needs_update(e, set(), {"a"}, now_ns=5, **kw) == ALL_RESOLVED
    assert needs_update(Notified(0, frozenset(), frozenset({"a"})), {"b"}, set(), now_ns=5, **kw) == FIRST

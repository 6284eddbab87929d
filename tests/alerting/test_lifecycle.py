"""The alert lifecycle as Prometheus runs it: pending → firing → resolved, ``for``, ``keep_firing_for``, new
episodes, and ticks repeated at the same time."""

from __future__ import annotations

from watchkeeper.alerting import Alert, AlertState
from watchkeeper.alerting.lifecycle import Transition, step

MIN = 60 * 1_000_000_000
FOR = 10 * MIN


def new() -> Alert:
    return Alert("fp", "R", {"alertname": "R"}, {}, AlertState.PENDING, 0, 0)


def run(
    seq: list[tuple[int, bool]], *, for_ns: int = FOR, keep: int = 0, urgent_at: tuple[int, ...] = ()
) -> tuple[Alert | None, list[Transition]]:
    alert: Alert | None = None
    out: list[Transition] = []
    for at, active in seq:
        alert, trs = step(
            alert, active, at, for_ns=for_ns, keep_firing_for_ns=keep, new=new() if active else None,
            urgent=at in urgent_at,
        )  # fmt: skip
        out += trs
    return alert, out


def states(trs: list[Transition]) -> list[tuple[int, str]]:
    return [(t.at_ns // MIN, t.state.value) for t in trs]


def test_an_alert_is_pending_until_it_has_been_active_for_its_for_duration() -> None:
    a, trs = run([(0, True), (5 * MIN, True), (10 * MIN, True), (15 * MIN, True)])
    assert states(trs) == [(0, "pending"), (10, "firing")]
    assert a is not None and (a.starts_ns, a.fired_ns, a.state) == (0, 10 * MIN, AlertState.FIRING)


def test_a_pending_alert_that_stops_is_cleared_without_ever_firing() -> None:
    a, trs = run([(0, True), (5 * MIN, False)])
    assert states(trs) == [(0, "pending"), (5, "inactive")]
    assert a is not None and a.fired_ns is None


def test_urgent_evidence_fires_without_waiting_for_whether_new_or_already_pending() -> None:
    _, trs = run([(0, True), (5 * MIN, True)], urgent_at=(0,))
    assert states(trs) == [(0, "pending"), (0, "firing")]
    a, trs = run([(0, True), (5 * MIN, True), (10 * MIN, True)], urgent_at=(5 * MIN,))
    assert states(trs) == [(0, "pending"), (5, "firing")]
    assert a is not None and (a.starts_ns, a.fired_ns) == (0, 5 * MIN)  # the episode still starts when it began


def test_for_zero_fires_at_once_and_recovery_resolves() -> None:
    a, trs = run([(0, True), (5 * MIN, False)], for_ns=0)
    assert states(trs) == [(0, "pending"), (0, "firing"), (5, "resolved")]
    assert a is not None and a.ends_ns == 5 * MIN


def test_keep_firing_for_holds_a_flapping_alert_in_one_episode() -> None:
    seq = [(0, True), (5 * MIN, False), (10 * MIN, True), (15 * MIN, False), (20 * MIN, False), (35 * MIN, False)]
    _, trs = run(seq, for_ns=0, keep=15 * MIN)
    assert states(trs) == [(0, "pending"), (0, "firing"), (35, "resolved")]


def test_activity_after_resolution_starts_a_new_episode() -> None:
    a, trs = run([(0, True), (5 * MIN, False), (20 * MIN, True)], for_ns=0)
    assert states(trs)[-2:] == [(20, "pending"), (20, "firing")]
    assert a is not None and a.starts_ns == 20 * MIN


def test_the_same_tick_again_changes_nothing() -> None:
    alert, _ = step(None, True, 0, for_ns=FOR, new=new())
    again, trs = step(alert, True, 0, for_ns=FOR)
    assert trs == [] and again is alert and alert is not None and alert.state is AlertState.PENDING


def test_late_records_at_the_same_tick_reopen_the_episode_instead_of_starting_another() -> None:
    alert, _ = run([(0, True), (5 * MIN, False)], for_ns=0)
    assert alert is not None and alert.state is AlertState.RESOLVED
    again, trs = step(alert, True, 5 * MIN, for_ns=0, new=new())
    assert again is alert and alert.state is AlertState.FIRING and alert.starts_ns == 0 and alert.ends_ns is None
    assert states(trs) == [(5, "firing")]

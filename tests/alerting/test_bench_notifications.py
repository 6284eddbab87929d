"""The detection benchmark counts notifications as the engine sends them: an alert muted by an alert on an ancestor
slice is sent once that ancestor's alert has ended, if it is still firing then (Alertmanager's inhibition, which the
engine follows), and not at all if it ended first; a page is muted by an ancestor's page only while that page's
change is detected; a muted ticket and page due at the same moment are one page."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("numpy")
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import _alert_sim as sim
import alerting_detectors as bench

HIER = sim.hierarchy()
ROOT = 0
CHILD = next(s for s in range(HIER.size) if HIER.parent[s] == ROOT)
HOUR = sim.PER_HOUR  # ticks


def alert(s: int, tick: int, *, page: bool = False, detector: str = "spike") -> bench.Alert:
    return bench.Alert("refusals", s, detector, tick, page, 1e-9, "enough", 100.0, 2400.0)


def notes(eps: list[bench.Episode], s: int) -> list[tuple[int, bool, bool]]:
    (e,) = [e for e in eps if e.slice == s]
    return [(n.tick, n.page, n.unmuted) for n in e.notified]


def test_a_muted_alert_still_firing_when_its_parents_alert_ends_is_notified_then() -> None:
    parent = [alert(ROOT, t, page=True) for t in range(100, 106)]  # its group holds to 105 + an hour
    child = [alert(CHILD, t) for t in range(103, 103 + 3 * HOUR)]  # firing for three hours
    eps = bench.episodes(parent + child, HIER)
    assert notes(eps, ROOT) == [(100, True, False)]
    assert notes(eps, CHILD) == [(105 + HOUR + 1, False, True)]


def test_a_muted_alert_that_ends_before_its_parents_alert_is_never_notified() -> None:
    parent = [alert(ROOT, t, page=True) for t in range(100, 100 + 3 * HOUR)]
    child = [alert(CHILD, t) for t in range(110, 120)]
    eps = bench.episodes(parent + child, HIER)
    assert notes(eps, CHILD) == []


def test_a_page_muted_by_its_parents_page_goes_out_once_when_that_page_is_no_longer_detected() -> None:
    """The child's group opens with a page while its parent's page is detected and goes on with tickets; it is
    notified once, as a page, at the first tick its parent's change is not detected, and a later page of the parent
    (a new group) does not notify it again."""
    parent = [alert(ROOT, t, page=True) for t in range(100, 106)]
    child = [alert(CHILD, 103, page=True)] + [alert(CHILD, t) for t in range(104, 104 + 3 * HOUR)]
    eps = bench.episodes([*parent, alert(ROOT, 120, page=True), *child], HIER)
    assert notes(eps, CHILD) == [(106, True, True)]


def test_a_childs_page_is_muted_only_while_its_parents_page_is_detected() -> None:
    """As the engine's parent-slice inhibition: once the parent's change is no longer detected (its alert is only
    kept firing), the child's page, which says where the change is, goes out; its earlier ticket, muted by the
    parent's open group, is then covered by that page."""
    parent = [alert(ROOT, t, page=True) for t in range(100, 106)]
    child = [alert(CHILD, 103)] + [alert(CHILD, t, page=True) for t in range(104, 104 + 3 * HOUR)]
    eps = bench.episodes(parent + child, HIER)
    assert notes(eps, ROOT) == [(100, True, False)]
    assert notes(eps, CHILD) == [(106, True, True)]
    detected_throughout = [alert(ROOT, t, page=True) for t in range(100, 104 + 5 * HOUR)]  # past the child's end
    eps = bench.episodes(detected_throughout + child, HIER)
    assert notes(eps, CHILD) == []  # the parent speaks for it while its own change is detected
    ticket_parent = [alert(ROOT, t) for t in range(100, 106)]  # a parent's ticket never mutes a child's page
    eps = bench.episodes(ticket_parent + child, HIER)
    assert notes(eps, CHILD) == [(104, True, False)]


def test_the_hold_decides_how_long_a_parents_alert_mutes_its_children() -> None:
    parent = [alert(ROOT, 100, detector="drift")]
    child = [alert(CHILD, t, detector="drift") for t in range(100 + 2 * HOUR, 100 + 10 * HOUR, HOUR)]
    hour = bench.episodes(parent + child, HIER, bench.parse_hold("hour"))
    six_hours = bench.episodes(parent + child, HIER, bench.parse_hold("60/60/360"))
    assert notes(hour, CHILD) == [(100 + 2 * HOUR, False, False)]  # the parent's group closed an hour after it
    assert notes(six_hours, CHILD) == [(100 + 6 * HOUR, False, True)]  # held six hours: sent when it ends


def test_a_hold_that_is_not_a_name_or_three_durations_is_refused() -> None:
    for bad in ("2h", "60/60", "60/x/360", "60/60/0"):
        with pytest.raises(ValueError, match="PAGE/TICKET/DRIFT"):
            bench.parse_hold(bad)


# the rules' `for`: an alert is pending, and sends nothing, until it has been active at every tick for that long


def ticks(alerts: list[bench.Alert]) -> list[tuple[int, bool]]:
    return [(a.tick, a.page) for a in alerts]


def test_without_a_pending_time_every_alert_fires_at_once() -> None:
    alerts = [alert(CHILD, 100, page=True), alert(CHILD, 103)]
    assert ticks(bench.firing(alerts, bench.parse_for("none"))) == [(100, True), (103, False)]


def test_a_page_fires_only_once_active_for_its_for_at_every_tick() -> None:
    wait = bench.parse_for("10/15/60")  # a page: active at three ticks in a row, the first and 10 minutes later
    short = [alert(CHILD, t, page=True) for t in (100, 101)]
    broken = [alert(CHILD, t, page=True) for t in (100, 101, 103, 104)]
    steady = [alert(CHILD, t, page=True) for t in range(100, 105)]
    assert bench.firing(short, wait) == []
    assert bench.firing(broken, wait) == []  # a tick without it clears the pending alert: it starts again at 103
    assert ticks(bench.firing(steady, wait)) == [(102, True), (103, True), (104, True)]


def test_a_pending_alert_outlives_as_many_quiet_ticks_in_a_row_as_its_gap() -> None:
    broken = [alert(CHILD, t, page=True) for t in (100, 101, 103, 104)]
    twice = [alert(CHILD, t, page=True) for t in (100, 103, 104)]
    gapped = bench.parse_for("10/15/60g1")
    assert set(gapped.gap.values()) == {1} and gapped.ticks == bench.parse_for("10/15/60").ticks
    # pending since 100 through the quiet 102: fires at 103, 10 minutes after it started pending
    assert ticks(bench.firing(broken, gapped)) == [(103, True), (104, True)]
    assert bench.firing(twice, gapped) == []  # two quiet ticks in a row clear it: pending again from 103
    assert ticks(bench.firing(twice, bench.parse_for("10/15/60g2"))) == [(103, True), (104, True)]
    assert bench.parse_for("shippedg1") == replace(bench.parse_for("shipped"), gap=gapped.gap)


def test_a_firing_alert_keeps_firing_through_a_gap_within_its_hold() -> None:
    wait, hold = bench.parse_for("10/15/60"), bench.parse_hold("15/30/360")  # a page held 15 minutes
    alerts = [alert(CHILD, t, page=True) for t in (100, 101, 102, 105, 109)]
    # 105: two quiet ticks, still firing (resolved only at the third); 109: three quiet ticks, a new pending alert
    assert ticks(bench.firing(alerts, wait, hold)) == [(102, True), (105, True)]


def test_a_rate_changed_by_the_factor_fires_at_once_and_a_smaller_change_waits() -> None:
    wait = bench.parse_for("10/15/60x2")
    doubled = [replace(alert(CHILD, t, page=True), observed=40, expected=20.0) for t in (100, 101)]
    smaller = [replace(alert(CHILD, t, page=True), observed=39, expected=20.0) for t in (100, 101)]
    assert ticks(bench.firing(doubled, wait)) == [(100, True), (101, True)]
    assert bench.firing(smaller, wait) == []  # ×1.95: pending, and the slice recovered before its 10 minutes
    assert bench.firing(doubled, bench.parse_for("10/15/60")) == []  # without a factor every verdict waits


def test_the_factor_can_be_read_since_the_changes_start_or_on_any_window_of_up_to_an_hour() -> None:
    diluted = replace(alert(CHILD, 100, page=True), observed=30, expected=20.0, onset=(25.0, 10.0), fresh=((9, 5.0),))
    assert not bench.parse_for("10/15/60x2").urgent(diluted)  # ×1.5 over the decision window
    assert bench.parse_for("10/15/60s2").urgent(diluted)  # ×2.5 since the change began
    assert not bench.parse_for("10/15/60w2").urgent(diluted)  # ×1.8 over the freshest window
    assert bench.parse_for("10/15/60w1.8").urgent(diluted)
    assert not bench.parse_for("10/15/60s2").urgent(replace(diluted, onset=None))  # not dated: waits


def test_a_verdict_too_small_to_page_continues_a_live_page_and_is_otherwise_a_ticket() -> None:
    wait = bench.parse_for("10/15/60")
    dipping = [alert(CHILD, 100, page=True), alert(CHILD, 101), alert(CHILD, 102, page=True)]
    assert ticks(bench.firing(dipping, wait)) == [(102, True)]  # one page alert, pending since 100
    tickets = [alert(CHILD, t) for t in range(100, 104)]  # a ticket waits 15 minutes: three ticks after its first
    assert ticks(bench.firing(tickets, wait)) == [(103, False)]


def test_the_drift_tests_hourly_verdict_fires_after_an_hour_when_the_next_hour_still_drifts() -> None:
    wait = bench.parse_for("10/15/60")
    one_hour = [alert(CHILD, t, detector="drift") for t in range(100, 100 + HOUR)]  # one verdict, held its hour
    two_hours = [alert(CHILD, t, detector="drift") for t in range(100, 100 + 2 * HOUR)]
    assert bench.firing(one_hour, wait) == []
    assert ticks(bench.firing(two_hours, wait))[0] == (100 + HOUR, False)


def test_the_shipped_pending_times_are_the_default_rules_for() -> None:
    shipped = bench.parse_for("shipped")
    assert shipped.ticks[("spike", True)] == 2  # the shipped spike pages wait 10 minutes: two 5-minute ticks
    assert shipped.ticks[("drift", False)] == HOUR
    assert shipped.factor == 2.0 and shipped.basis == "s"  # unless the rate doubled since the change began


def test_a_pending_time_that_is_not_a_name_or_three_durations_is_refused() -> None:
    for bad in (
        "10m",
        "10/15",
        "10/x/60",
        "10/15/-5",
        "7/15/60",
        "10/15/60x1",
        "10/15/60xtwo",
        "10/15/60x",
        "10/15/60s0.5",
        "10/15/60g",
        "g1",
    ):
        with pytest.raises(ValueError, match="PAGE/TICKET/DRIFT"):
            bench.parse_for(bad)
    assert list(bench.columns("off", "hour", "none,shipped")) == ["for none", "for shipped"]

"""Which verdicts of one tick become alerts: the volume gate, Benjamini–Hochberg across slices, and the slice
hierarchy (a child that mirrors its parent stays quiet; a parent whose excess is all in one child lets the child
speak)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watchkeeper.analytics.detectors import (
    Decision,
    Gate,
    Outcome,
    Verdict,
    WindowStat,
    benjamini_hochberg,
    select_alerts,
)

AT = datetime(2026, 4, 1, 12, tzinfo=UTC)
LADDER = (15, 30, 60, 120, 240)


def verdict(
    key: str,
    parent: str | None,
    observed: dict[int, int],
    expected: dict[int, float],
    *,
    fired: bool,
    p: float,
    window: int = 60,
    gate: Gate = Gate.ENOUGH,
    c: float = 0.002,
) -> Verdict:
    """A spike verdict with the given counts per window (minutes → events)."""
    stats = tuple(WindowStat(m, observed[m], expected[m], int(expected[m] * 50), c) for m in LADDER)
    return Verdict(
        "spike", key, AT, fired, gate, p_value=p, parent=parent, window=timedelta(minutes=window), windows=stats,
        observed_events=observed[window], expected_events=expected[window],
    )  # fmt: skip


def scaled(per_hour: float, ratio: float = 1.0) -> tuple[dict[int, int], dict[int, float]]:
    expected = {m: per_hour * m / 60 for m in LADDER}
    return {m: round(e * ratio) for m, e in expected.items()}, expected


def add(a: tuple[dict[int, int], dict[int, float]], b: tuple[dict[int, int], dict[int, float]]) -> tuple[
    dict[int, int], dict[int, float]
]:  # fmt: skip
    return {m: a[0][m] + b[0][m] for m in LADDER}, {m: a[1][m] + b[1][m] for m in LADDER}


def outcomes(decisions: dict[str, Decision]) -> dict[str, Outcome]:
    return {k: d.outcome for k, d in decisions.items()}


def test_a_child_that_mirrors_its_parents_spike_does_not_alert_separately() -> None:
    # the whole language doubles: both models double with it
    a, b = scaled(300, 2.0), scaled(200, 2.0)
    parent = add(a, b)
    out = select_alerts([
        verdict("lang=de", None, *parent, fired=True, p=1e-30),
        verdict("lang=de/model=a", "lang=de", *a, fired=True, p=1e-20),
        verdict("lang=de/model=b", "lang=de", *b, fired=True, p=1e-15),
    ])  # fmt: skip
    assert outcomes(out) == {
        "lang=de": Outcome.ALERT,
        "lang=de/model=a": Outcome.MIRRORS_PARENT,
        "lang=de/model=b": Outcome.MIRRORS_PARENT,
    }
    assert out["lang=de/model=a"].related == "lang=de"


def test_a_child_with_its_own_spike_alerts_and_its_parent_is_explained_by_it() -> None:
    a, b = scaled(300, 2.0), scaled(2000, 1.0)
    parent = add(a, b)
    out = select_alerts([
        verdict("lang=de", None, *parent, fired=True, p=1e-9),
        verdict("lang=de/model=a", "lang=de", *a, fired=True, p=1e-20),
        verdict("lang=de/model=b", "lang=de", *b, fired=False, p=0.4),
    ])  # fmt: skip
    assert outcomes(out) == {
        "lang=de": Outcome.EXPLAINED_BY_CHILD,
        "lang=de/model=a": Outcome.ALERT,
        "lang=de/model=b": Outcome.QUIET,
    }
    assert out["lang=de"].related == "lang=de/model=a"


def test_a_change_two_levels_down_is_reported_once_for_the_leaf() -> None:
    leaf, sibling, other = scaled(300, 2.5), scaled(600, 1.0), scaled(3000, 1.0)
    mid = add(leaf, sibling)
    top = add(mid, other)
    out = select_alerts([
        verdict("*", None, *top, fired=True, p=1e-8),
        verdict("de", "*", *mid, fired=True, p=1e-12),
        verdict("de/a", "de", *leaf, fired=True, p=1e-25),
        verdict("de/b", "de", *sibling, fired=False, p=0.5),
        verdict("fr", "*", *other, fired=False, p=0.6),
    ])  # fmt: skip
    assert [k for k, d in out.items() if d.alert] == ["de/a"]
    assert out["de"].outcome is Outcome.EXPLAINED_BY_CHILD and out["*"].outcome is Outcome.EXPLAINED_BY_CHILD


def test_when_both_a_child_and_the_rest_of_its_parent_changed_both_alert() -> None:
    a, b = scaled(300, 3.0), scaled(600, 1.6)
    out = select_alerts([
        verdict("lang=de", None, *add(a, b), fired=True, p=1e-30),
        verdict("lang=de/model=a", "lang=de", *a, fired=True, p=1e-30),
        verdict("lang=de/model=b", "lang=de", *b, fired=True, p=1e-12),
    ])  # fmt: skip
    assert out["lang=de"].alert and out["lang=de/model=a"].alert
    assert out["lang=de/model=b"].outcome is Outcome.MIRRORS_PARENT  # b moved less than its parent


def test_a_siblings_own_incident_does_not_hide_a_second_childs_incident() -> None:
    # model a's refusals triple (one incident) while model b's rise by 60% (another); model c is normal. Against the
    # rest of the parent including a, b looks no worse than its parent; against the rest without a, it clearly is.
    a, b, c = scaled(300, 3.0), scaled(300, 1.6), scaled(300, 1.0)
    vs = [
        verdict("lang=en", None, *add(add(a, b), c), fired=True, p=1e-40),
        verdict("lang=en/model=a", "lang=en", *a, fired=True, p=1e-60),
        verdict("lang=en/model=b", "lang=en", *b, fired=True, p=1e-12),
        verdict("lang=en/model=c", "lang=en", *c, fired=False, p=0.5),
    ]
    out = select_alerts(vs)
    assert out["lang=en/model=a"].alert and out["lang=en/model=b"].alert
    assert out["lang=en/model=c"].outcome is Outcome.QUIET
    # a child that only moved with its parent still mirrors it, whatever its siblings do
    mirrored = scaled(300, 1.3)
    out = select_alerts([
        verdict("lang=en", None, *add(add(a, mirrored), scaled(300, 1.3)), fired=True, p=1e-40),
        verdict("lang=en/model=a", "lang=en", *a, fired=True, p=1e-60),
        verdict("lang=en/model=b", "lang=en", *mirrored, fired=True, p=1e-5),
        verdict("lang=en/model=c", "lang=en", *scaled(300, 1.3), fired=True, p=1e-5),
    ])  # fmt: skip
    assert out["lang=en/model=a"].alert
    assert out["lang=en/model=b"].outcome is Outcome.MIRRORS_PARENT


def test_slices_below_the_volume_gate_never_alert_and_a_child_of_an_untested_parent_does_not_either() -> None:
    a = scaled(2, 10.0)
    out = select_alerts([
        verdict("tiny", "mid", *a, fired=False, p=1.0, gate=Gate.DEFERRED),
        verdict("mid", None, *a, fired=False, p=1.0, gate=Gate.TOO_SMALL),
        verdict("odd", "mid", *scaled(300, 3.0), fired=True, p=1e-20),
    ])  # fmt: skip
    assert out["tiny"].outcome is Outcome.NOT_TESTED and out["mid"].outcome is Outcome.NOT_TESTED
    assert out["odd"].outcome is Outcome.PARENT_UNTESTED
    assert out["tiny"].q_value is None


def test_a_slice_whose_parent_was_not_evaluated_is_tested_as_a_root() -> None:
    out = select_alerts([verdict("de/a", "de", *scaled(300, 3.0), fired=True, p=1e-20)])
    assert out["de/a"].alert


def test_a_verdict_that_fired_alone_among_many_tested_slices_can_lose_to_false_discovery_control() -> None:
    v = verdict("a", None, *scaled(300, 1.3), fired=True, p=1e-5)
    assert select_alerts([v]).get("a", Decision(v, Outcome.QUIET)).alert
    assert select_alerts([v], family_size=3000)["a"].outcome is Outcome.NOT_SIGNIFICANT


def test_benjamini_hochberg_matches_a_hand_worked_example() -> None:
    p = [0.01, 0.04, 0.03, 0.005]
    assert benjamini_hochberg(p) == pytest.approx([0.02, 0.04, 0.04, 0.02])
    by = benjamini_hochberg(p, dependent=True)
    assert by == pytest.approx([x * (1 + 1 / 2 + 1 / 3 + 1 / 4) for x in [0.02, 0.04, 0.04, 0.02]])


@given(st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=50), st.integers(0, 100))
def test_q_values_are_at_least_the_p_values_and_keep_their_order(p: list[float], extra: int) -> None:
    q = benjamini_hochberg(p, family_size=len(p) + extra)
    assert all(qi >= pi - 1e-12 and qi <= 1.0 for pi, qi in zip(p, q, strict=True))
    order = sorted(range(len(p)), key=lambda i: p[i])
    assert all(q[order[i]] <= q[order[i + 1]] + 1e-12 for i in range(len(p) - 1))

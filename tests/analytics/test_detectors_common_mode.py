"""The common-mode correction: a slice that rose no more than the other slices of its dimension set (a holiday, a
surge of all traffic) does not alert; a slice that rose on its own still does, and the correction never lowers an
expectation nor raises a verdict."""

from __future__ import annotations

import statistics
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watchkeeper.analytics.detectors import (
    Bucket,
    CommonMode,
    Decision,
    Gate,
    Outcome,
    Spike,
    Verdict,
    WindowStat,
    select_alerts,
)
from watchkeeper.analytics.detectors.common_mode import decide_again, median_without, weighted_median_without

from .test_detectors import ONSET, Traffic, hourly, step_at, stream_at

AT = datetime(2026, 4, 1, 12, tzinfo=UTC)
LADDER = (15, 30, 60, 120, 240)
SPIKE = Spike()
LEVEL = (
    ("alpha", SPIKE.alpha),
    ("min_ratio", SPIKE.min_ratio),
    ("min_excess", SPIKE.min_excess),
    ("tail", 1.0),
)


def select(verdicts: list[Verdict], **kw: Any) -> dict[str, Decision]:
    """select_alerts with the correction on (``CommonMode()``), unless ``common_mode`` says otherwise."""
    return select_alerts(verdicts, **{"common_mode": CommonMode(), **kw})


def spike_verdict(
    key: str, parent: str | None, per_hour: float, ratio: float, *, c: float = 0.0002, tail: float = 1.0
) -> Verdict:
    """A verdict as the spike test gives it for a slice expecting ``per_hour`` events an hour whose count is
    ``ratio`` times that over every window: decided by the same rule (windows over the volume gate, Bonferroni,
    effect floors, level)."""
    stats = tuple(
        WindowStat(m, round(per_hour * m / 60 * ratio), per_hour * m / 60, int(per_hour * m / 60 * 50), c,
                   per_hour * m / 60 >= SPIKE.min_expected)
        for m in LADDER
    )  # fmt: skip
    level = tuple((name, tail) if name == "tail" else (name, value) for name, value in LEVEL)
    raw = Verdict("spike", key, AT, True, Gate.ENOUGH, parent=parent, windows=stats, values=level)
    return decide_again(raw, {})  # the spike test's own decision on these counts


def whole(children: list[Verdict], key: str = "*") -> Verdict:
    """The verdict of the slice the children partition (their counts summed, not fired)."""
    stats = tuple(
        WindowStat(ws[0].minutes, sum(w.observed for w in ws), sum(w.expected for w in ws),
                   sum(w.trials for w in ws), ws[0].dispersion, True)
        for ws in zip(*(c.windows for c in children), strict=True)
    )  # fmt: skip
    return Verdict("spike", key, AT, False, Gate.ENOUGH, p_value=0.5, windows=stats, values=LEVEL)


def languages(ratios: dict[str, float], sizes: dict[str, float] | None = None, *, tail: float = 1.0) -> list[Verdict]:
    """The verdicts of languages with these ratios, and of the global slice above them (first). A language expects
    600 events an hour (``sizes`` says otherwise); Italian, the slice under test, 3,000: big enough that a 30% rise
    where the others rose 10% differs from the rest of the traffic."""
    size = {"it": 3000.0, **(sizes or {})}
    langs = [spike_verdict(f"lang={k}", "*", size.get(k, 600.0), r, tail=tail) for k, r in ratios.items()]
    return [whole(langs), *langs]


def test_a_slice_that_rose_no_more_than_all_its_peers_does_not_alert() -> None:
    # a holiday: every language's rate is 10% above its usual hour; Italian's noise takes it to 30%
    vs = languages({"en": 1.1, "de": 1.12, "fr": 1.08, "es": 1.1, "pt": 1.1, "it": 1.3})
    assert vs[-1].fired
    assert select(vs, common_mode=None)["lang=it"].alert  # without the correction: a false page
    out = select(vs)
    assert out["lang=it"].outcome is Outcome.COMMON_MODE and not out["lang=it"].alert
    corrected = out["lang=it"].verdict
    assert corrected.value("common_mode") == pytest.approx(1.1, abs=0.02)
    assert corrected.expected_events == pytest.approx(1.1 * vs[-1].expected_events, rel=0.02)
    assert "common" in corrected.reason


def test_the_correction_is_off_unless_asked_for() -> None:
    vs = languages({"en": 1.1, "de": 1.12, "fr": 1.08, "es": 1.1, "pt": 1.1, "it": 1.3})
    assert select_alerts(vs)["lang=it"].alert
    assert select(vs)["lang=it"].outcome is Outcome.COMMON_MODE


def test_a_slice_that_doubled_while_its_peers_stayed_flat_still_alerts() -> None:
    vs = languages({"en": 1.0, "de": 0.98, "fr": 0.97, "es": 1.01, "pt": 0.99, "it": 2.0})
    out = select(vs)
    assert out["lang=it"].alert
    assert out["lang=it"].verdict == vs[-1]  # no common move: the verdict is untouched


def test_a_slice_doubling_on_a_holiday_still_alerts_against_its_peers_rise() -> None:
    vs = languages({"en": 1.1, "de": 1.1, "fr": 1.1, "es": 1.1, "pt": 1.1, "it": 2.2})
    out = select(vs)
    assert out["lang=it"].alert
    assert out["lang=it"].verdict.value("common_mode") == pytest.approx(1.1, abs=0.01)


def test_the_change_since_its_estimated_start_is_measured_against_the_peers_rise_too() -> None:
    # what a rule's for_unless_factor reads: ×2.2 from the change's start is ×2 once the peers' common ×1.1 is counted
    vs = languages({"en": 1.1, "de": 1.1, "fr": 1.1, "es": 1.1, "pt": 1.1, "it": 2.2})
    onset = (("onset_observed", 440.0), ("onset_expected", 200.0))
    vs[-1] = replace(vs[-1], started_at=AT - timedelta(minutes=30), values=(*vs[-1].values, *onset))
    assert vs[-1].since_start == (440.0, 200.0)
    corrected = select(vs)["lang=it"].verdict
    assert corrected.since_start == pytest.approx((440.0, 220.0), rel=0.01)
    # a verdict the correction no longer fires is not dated, so it reports no change since a start
    flat = languages({"en": 1.3, "de": 1.3, "fr": 1.3, "es": 1.3, "pt": 1.3, "it": 1.35})
    flat[-1] = replace(flat[-1], started_at=AT - timedelta(minutes=30), values=(*flat[-1].values, *onset))
    assert flat[-1].fired and not select(flat)["lang=it"].alert
    assert select(flat)["lang=it"].verdict.since_start is None


def test_the_slice_itself_is_left_out_of_its_peers_median() -> None:
    # three of five peers are flat and the slice tripled: with itself counted, the median of six would be above 1
    vs = languages({"en": 1.0, "de": 1.0, "fr": 1.0, "es": 1.3, "pt": 1.3, "it": 3.0})
    factors = CommonMode().factors(vs)
    assert "lang=it" not in factors
    assert CommonMode().factors(vs[1:], peers=[vs[0]]) == factors  # peers passed apart count the same


def test_with_too_few_peers_over_the_volume_gate_nothing_is_corrected() -> None:
    four = {"en": 1.1, "de": 1.1, "fr": 1.1, "es": 1.1, "it": 1.3}
    assert select(languages(four))["lang=it"].alert
    # a fifth peer, but too small to say anything over any window
    assert select(languages({**four, "sv": 1.1}, {"sv": 5.0}))["lang=it"].alert
    assert select(languages({**four, "pt": 1.1}))["lang=it"].outcome is Outcome.COMMON_MODE
    assert select(languages(four), common_mode=CommonMode(min_peers=4))["lang=it"].outcome is (Outcome.COMMON_MODE)


def test_a_fall_of_the_peers_never_lowers_the_expectation_of_an_upward_test() -> None:
    vs = languages({"en": 0.8, "de": 0.85, "fr": 0.8, "es": 0.9, "pt": 0.85, "it": 1.5})
    assert CommonMode().factors(vs) == {}
    assert select(vs)["lang=it"].verdict == vs[-1]


def test_a_downward_test_is_corrected_only_by_a_common_fall() -> None:
    falls = languages({"en": 0.9, "de": 0.9, "fr": 0.88, "es": 0.92, "pt": 0.9, "it": 0.75}, tail=-1.0)
    assert falls[-1].fired
    assert select(falls)["lang=it"].outcome is Outcome.COMMON_MODE
    rises = languages({"en": 1.2, "de": 1.2, "fr": 1.2, "es": 1.2, "pt": 1.2, "it": 0.6}, tail=-1.0)
    assert rises[-1].fired
    assert CommonMode().factors(rises) == {}


def test_peers_are_the_slices_of_one_depth_and_a_depth_holding_two_dimension_sets_is_left_alone() -> None:
    # languages and model versions both sit under the global slice: the languages rose together, model d on its own
    vs = [
        *languages({"en": 1.1, "de": 1.1, "fr": 1.1, "es": 1.1, "pt": 1.1, "it": 1.3}),
        *[spike_verdict(f"model={m}", "*", 600.0, 1.0) for m in ("a", "b", "c")],
        spike_verdict("model=d", "*", 3000.0, 1.5),
    ]
    out = select(vs)  # the traffic of that depth is twice the parent's: two sets, no peers by default
    assert out["lang=it"].alert and out["model=d"].alert
    by_dimension = CommonMode(group=lambda v: v.key.split("=")[0])
    out = select(vs, common_mode=by_dimension)
    assert out["lang=it"].outcome is Outcome.COMMON_MODE and out["model=d"].alert


def test_without_their_parent_the_slices_of_a_depth_have_no_peers_by_default() -> None:
    vs = languages({"en": 1.1, "de": 1.1, "fr": 1.1, "es": 1.1, "pt": 1.1, "it": 1.3})[1:]
    assert CommonMode().factors(vs) == {}
    assert "lang=it" in CommonMode(group=lambda v: 1).factors(vs)


def test_peers_passed_apart_count_as_peers_but_are_not_decided() -> None:
    *others, it = languages({"en": 1.1, "de": 1.1, "fr": 1.1, "es": 1.1, "pt": 1.1, "it": 1.3})
    out = select([it], peers=others)
    assert set(out) == {"lang=it"} and out["lang=it"].outcome is Outcome.COMMON_MODE


def test_a_verdict_without_tested_windows_or_a_level_is_left_alone() -> None:
    plain = Verdict("drift", "lang=it", AT, True, Gate.ENOUGH, p_value=1e-9, parent="*",
                    windows=(WindowStat(60, 780, 600.0, 30_000, 0.002),))  # fmt: skip
    vs = [*languages({"en": 1.1, "de": 1.1, "fr": 1.1, "es": 1.1, "pt": 1.1}), plain]
    assert CommonMode().factors(vs) == {}
    assert select(vs)["lang=it"].alert


def test_with_pages_only_a_widened_window_verdict_is_left_as_it_fired_and_a_pageable_one_is_corrected() -> None:
    *others, it = languages({"en": 1.1, "de": 1.12, "fr": 1.08, "es": 1.1, "pt": 1.1, "it": 1.3})
    ticket = replace(it, gate=Gate.WIDENED)  # a small slice's test over a widened window: a ticket, never a page
    pages_only = CommonMode(pages_only=True)
    assert select([*others, ticket])["lang=it"].outcome is Outcome.COMMON_MODE  # by default a ticket is corrected
    assert pages_only.factors([*others, ticket]) == {}
    out = select([*others, ticket], common_mode=pages_only)
    assert out["lang=it"].alert and out["lang=it"].verdict == ticket
    assert select([*others, it], common_mode=pages_only)["lang=it"].outcome is Outcome.COMMON_MODE


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="min_peers"):
        CommonMode(min_peers=0)
    with pytest.raises(ValueError, match="min_expected"):
        CommonMode(min_expected=-1)


ratios = st.floats(min_value=0.3, max_value=3.0)


@given(st.lists(ratios, min_size=1, max_size=12), st.floats(min_value=1.0, max_value=3.0))
def test_the_correction_never_lowers_an_expectation_nor_raises_a_verdict(peers: list[float], own: float) -> None:
    *vs, me = languages({**{f"p{i}": r for i, r in enumerate(peers)}, "me": own})
    for k, f in CommonMode().factors([*vs, me]).items():
        assert all(x > 1.0 for x in f.values()), k
    out = select([*vs, me])["lang=me"]
    assert out.verdict.expected_events >= me.expected_events * (1 - 1e-9) or out.verdict.window != me.window
    assert me.fired or not out.verdict.fired
    assert out.verdict.p_value >= me.p_value * (1 - 1e-9)


@given(st.lists(ratios, min_size=2, max_size=30), st.data())
def test_the_median_without_a_slice_is_the_median_of_the_others(values: list[float], data: st.DataObject) -> None:
    own = data.draw(st.sampled_from(values))
    rest = list(values)
    rest.remove(own)
    assert median_without(sorted(values), own) == pytest.approx(statistics.median(rest))
    assert median_without(sorted(values), None) == pytest.approx(statistics.median(values))


def test_on_a_surge_of_all_traffic_the_global_slice_pages_and_the_languages_stay_quiet() -> None:
    """The real spike test on six languages whose rates all rise by half (a change of the whole traffic): every
    language fires, rose no more than the others, and is quieted; the global slice, which has no peers, pages."""
    langs = {
        name: Traffic(8_000 * (i + 2), 0.02, days=31, seed=10 + i, change=step_at(ONSET, 1.5)).buckets()
        for i, name in enumerate(("en", "de", "fr", "es", "it", "pt"))
    }
    everything = [
        Bucket(parts[0].start, sum(b.numerator for b in parts), sum(b.denominator for b in parts))
        for parts in zip(*langs.values(), strict=True)
    ]
    at = ONSET + timedelta(minutes=60)
    vs = [SPIKE.evaluate(stream_at(everything, hourly(everything), at, "*"), at)]
    for name, buckets in langs.items():
        vs.append(SPIKE.evaluate(stream_at(buckets, hourly(buckets), at, f"lang={name}", parent="*"), at))
    fired = [v for v in vs[1:] if v.fired]
    assert vs[0].fired and len(fired) >= 5
    assert all(any(w.tested for w in v.windows) and v.value("tail") == 1.0 for v in vs)
    out = select(vs)
    assert [k for k, d in out.items() if d.alert] == ["*"]
    assert all(out[v.key].outcome is Outcome.COMMON_MODE for v in fired)


def test_on_a_quiet_holiday_the_weighted_median_reads_the_small_peers_the_plain_one_cannot() -> None:
    """A holiday at a fraction of ordinary traffic: every language's rate is 10% up, but each expects only 80 events
    an hour, so no peer reaches 100 events in the windows up to an hour and the plain median corrects only the
    longer ones — Italian still fires on its short windows. Weighted by volume, with peers from 10 expected events,
    every window is corrected and the page goes away."""
    peers = dict.fromkeys(("en", "de", "fr", "es", "pt", "nl", "pl"), 80.0)
    vs = languages({**dict.fromkeys(peers, 1.1), "it": 1.3}, peers)
    assert select(vs, common_mode=None)["lang=it"].alert
    assert select(vs)["lang=it"].alert  # CommonMode(): no peer over 100 events where Italian fires
    out = select(vs, common_mode=CommonMode(min_expected=10, weighted=True))
    assert out["lang=it"].outcome is Outcome.COMMON_MODE and not out["lang=it"].alert
    assert out["lang=it"].verdict.value("common_mode") == pytest.approx(1.1, abs=0.03)


def test_weighted_a_doubling_slice_still_alerts_and_a_dominant_peer_is_never_corrected_by_itself() -> None:
    vs = languages({"en": 1.0, "de": 0.98, "fr": 0.97, "es": 1.01, "pt": 0.99, "it": 2.0})
    weighted = CommonMode(min_expected=10, weighted=True)
    assert select(vs, common_mode=weighted)["lang=it"].alert
    # English holds most of the traffic and doubles: it is its own incident, never corrected by itself
    big = languages({"en": 2.0, "de": 1.0, "fr": 1.0, "es": 1.0, "pt": 1.0, "it": 1.0}, {"en": 20_000.0})
    assert select(big, common_mode=weighted)["lang=en"].alert


@given(st.lists(st.tuples(ratios, st.integers(min_value=1, max_value=20)), min_size=2, max_size=30), st.data())
def test_the_weighted_median_without_a_slice_is_the_median_of_the_others_counted_by_weight(
    pairs: list[tuple[float, int]], data: st.DataObject
) -> None:
    own = data.draw(st.sampled_from(pairs))
    rest = list(pairs)
    rest.remove(own)
    expanded = sorted(r for r, w in rest for _ in range(w))
    want = expanded[(len(expanded) + 1) // 2 - 1]  # the lower median of the ratios repeated by weight
    assert weighted_median_without(sorted(pairs), own[0], own[1]) == want
    everything = sorted(r for r, w in pairs for _ in range(w))
    assert weighted_median_without(sorted(pairs), None, 0.0) == everything[(len(everything) + 1) // 2 - 1]

"""Invariants of the detectors on arbitrary counts: exact tails that add up, verdicts that are self-consistent and
monotonic in sensitivity, change-point dating that finds a planted change, and fast paths equal to naive ones."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watchkeeper.analytics.detectors import (
    Bucket,
    Canary,
    Drift,
    Gate,
    RateStream,
    Spike,
    Verdict,
    change_start,
)
from watchkeeper.analytics.detectors._model import series
from watchkeeper.analytics.detectors._tails import (
    binom_sf,
    nbinom_cdf,
    nbinom_sf,
    pln_cdf,
    pln_sf,
    poisson_cdf,
    poisson_sf,
)

T0 = datetime(2026, 3, 2, tzinfo=UTC)

counts = st.integers(min_value=0, max_value=400)
means = st.floats(min_value=0.01, max_value=500.0)
wanders = st.floats(min_value=0.0, max_value=2.0)


@given(st.integers(min_value=0, max_value=600), means, wanders)
def test_the_two_tails_of_the_negative_binomial_add_up_to_one(k: int, mu: float, c: float) -> None:
    assert math.isclose(nbinom_sf(k, mu, c) + nbinom_cdf(k - 1, mu, c), 1.0, abs_tol=1e-9)


@given(st.integers(min_value=0, max_value=300), means, wanders)
def test_tails_fall_as_the_count_rises_and_widen_with_the_wander(k: int, mu: float, c: float) -> None:
    assert nbinom_sf(k + 1, mu, c) <= nbinom_sf(k, mu, c) + 1e-15
    if k >= mu + 2 * math.sqrt(mu) + 2 and c > 0:
        # well beyond the mean, wander fattens the tail (just above it, it need not: a very wandering rate puts more
        # of its mass near zero, e.g. P(K ≥ 26) is 0.346 against Poisson's 0.368 at mean 24 and c = 1)
        assert nbinom_sf(k, mu, c) >= poisson_sf(k, mu) - 1e-12


def lognormal_tail_by_brute_force(k: int, mu: float, c: float, upper: bool, steps: int = 8_000) -> float:
    """The Poisson tail averaged over a lognormal rate by the trapezoid rule on a fine, wide grid of z."""
    s2 = math.log1p(c)
    s, m0 = math.sqrt(s2), math.log(mu) - s2 / 2
    tail = poisson_sf if upper else poisson_cdf
    a, b = -38.0, 38.0
    h = (b - a) / steps
    total = 0.0
    for i in range(steps + 1):
        z = a + i * h
        f = tail(k, math.exp(m0 + s * z)) * math.exp(-z * z / 2) / math.sqrt(2 * math.pi)
        total += f / 2 if i in (0, steps) else f
    return total * h


def assert_lognormal_tails_match_brute_force(k: int, mu: float, c: float) -> None:
    for upper in (True, False):
        if upper and k == 0:
            continue
        exact = lognormal_tail_by_brute_force(k, mu, c, upper)
        got = pln_sf(k, mu, c) if upper else pln_cdf(k, mu, c)
        if exact > 1e-250:
            assert math.isclose(got, exact, rel_tol=1e-5), (k, mu, c, upper, got, exact)


@settings(max_examples=12, deadline=None)
@given(st.floats(min_value=0.3, max_value=500.0), st.floats(min_value=1e-4, max_value=1.0), st.data())
def test_the_lognormal_tail_equals_a_brute_force_integral_deep_into_the_tails(
    mu: float, c: float, data: st.DataObject
) -> None:
    sd = math.sqrt(mu + c * mu * mu)
    assert_lognormal_tails_match_brute_force(data.draw(st.integers(0, int(mu + 12 * sd) + 3)), mu, c)


@pytest.mark.parametrize(
    ("k", "mu", "c"),
    [
        (8684, 5508.0, 0.09112),  # a peak 0.04 wide next to φ's shoulder: panels must follow both scales
        (5600, 4000.0, 0.002),  # a busy slice, 8 standard deviations up: p ≈ 2e-13
        (2900, 4000.0, 0.002),
        (1400, 1000.0, 0.001),
        (3, 20.0, 0.3),
    ],
)
def test_the_lognormal_tail_of_busy_slices_equals_a_brute_force_integral(k: int, mu: float, c: float) -> None:
    assert_lognormal_tails_match_brute_force(k, mu, c)


@pytest.mark.parametrize(("mu", "c"), [(4.0, 0.5), (40.0, 0.05), (300.0, 0.01), (25.0, 1.0)])
def test_the_lognormal_counts_have_the_mean_and_variance_they_are_given(mu: float, c: float) -> None:
    # E[K] = Σ_{k≥1} P(K ≥ k) and E[K²] = Σ_{k≥1} (2k − 1)·P(K ≥ k)
    tails = [pln_sf(k, mu, c) for k in range(1, int(mu + 60 * math.sqrt(mu + c * mu * mu)) + 200)]
    mean = sum(tails)
    second = sum((2 * k - 1) * p for k, p in enumerate(tails, start=1))
    assert math.isclose(mean, mu, rel_tol=1e-4)
    assert math.isclose(second - mean * mean, mu + c * mu * mu, rel_tol=2e-3)


@given(st.integers(min_value=0, max_value=600), means, wanders)
def test_the_two_tails_of_the_lognormal_add_up_to_one(k: int, mu: float, c: float) -> None:
    assert math.isclose(pln_sf(k, mu, c) + pln_cdf(k - 1, mu, c), 1.0, abs_tol=1e-6)


def test_at_the_same_variance_the_lognormal_tail_is_heavier_far_out() -> None:
    # 100 expected, relative wander 0.2: 2.5× the mean is about 6 standard deviations out
    assert pln_sf(250, 100.0, 0.04) > 3 * nbinom_sf(250, 100.0, 0.04)
    # without wander both are Poisson
    assert pln_sf(150, 100.0, 0.0) == poisson_sf(150, 100.0) == nbinom_sf(150, 100.0, 0.0)


@given(st.integers(min_value=1, max_value=60), st.floats(min_value=0.001, max_value=0.999), st.data())
def test_the_binomial_tail_equals_the_sum_of_its_terms(n: int, p: float, data: st.DataObject) -> None:
    k = data.draw(st.integers(min_value=0, max_value=n))
    exact = sum(math.comb(n, j) * p**j * (1 - p) ** (n - j) for j in range(k, n + 1))
    assert math.isclose(binom_sf(k, n, p), exact, rel_tol=1e-9, abs_tol=1e-14)


def hourly_stream(draws: list[tuple[int, int]], key: str = "s", parent: str | None = "p") -> RateStream:
    return RateStream(
        key, [Bucket(T0 + timedelta(hours=i), min(k, n), n) for i, (k, n) in enumerate(draws)], parent=parent
    )


hours = st.lists(st.tuples(counts, counts), min_size=24 * 4, max_size=24 * 6)


def check(v: Verdict) -> None:
    assert 0.0 <= v.p_value <= 1.0
    if not v.gate.tested:
        assert not v.fired and v.p_value == 1.0
    if v.fired:
        assert v.gate.tested
    assert v.pageable == (v.fired and v.gate is Gate.ENOUGH)
    if v.band is not None:
        assert 0.0 <= v.band[0] <= v.band[1]
    if v.started_at is not None:
        assert v.fired and v.started_at <= v.at


@settings(max_examples=60, deadline=None)
@given(hours, st.floats(min_value=0.01, max_value=100.0))
def test_verdicts_are_consistent_and_never_fire_less_at_a_higher_sensitivity(
    draws: list[tuple[int, int]], sensitivity: float
) -> None:
    s = hourly_stream(draws)
    at = T0 + timedelta(hours=len(draws))
    for det in (Spike(), Drift(lookback_hours=24, season=Drift().season)):
        low = det.evaluate(s, at, sensitivity=sensitivity)
        high = det.evaluate(s, at, sensitivity=sensitivity * 10)
        check(low)
        check(high)
        assert high.p_value == low.p_value and high.gate is low.gate
        assert not low.fired or high.fired


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(counts, counts, counts, counts), min_size=1, max_size=30), st.floats(0.01, 100.0))
def test_the_canary_is_consistent_and_monotonic_in_sensitivity(
    draws: list[tuple[int, int, int, int]], sensitivity: float
) -> None:
    new = [Bucket(T0 + timedelta(hours=i), min(a, b), b) for i, (a, b, _, _) in enumerate(draws)]
    old = [Bucket(T0 + timedelta(hours=i), min(c, d), d) for i, (_, _, c, d) in enumerate(draws)]
    s = RateStream("v2", new, reference=old)
    at = T0 + timedelta(hours=len(draws))
    low = Canary().evaluate(s, at, sensitivity=sensitivity)
    high = Canary().evaluate(s, at, sensitivity=sensitivity * 10)
    check(low)
    assert not low.fired or high.fired


@given(
    st.lists(st.floats(min_value=20.0, max_value=200.0), min_size=4, max_size=60),
    st.data(),
    st.floats(min_value=1.5, max_value=4.0),
)
def test_change_point_dating_finds_a_planted_step_in_noiseless_counts(
    mus: list[float], data: st.DataObject, ratio: float
) -> None:
    at = data.draw(st.integers(min_value=1, max_value=len(mus) - 1))
    ks = [round(m * (ratio if i >= at else 1.0)) for i, m in enumerate(mus)]
    found = change_start(ks, mus, ratio)
    assert found is not None and abs(found - at) <= 1


@given(st.lists(st.tuples(counts, counts), min_size=1, max_size=80), st.integers(0, 100), st.integers(0, 100))
def test_reading_only_the_tail_of_a_series_equals_filtering_all_of_it(
    draws: list[tuple[int, int]], since_h: int, until_h: int
) -> None:
    buckets = [Bucket(T0 + timedelta(hours=i), k, n) for i, (k, n) in enumerate(draws)]
    t0 = int(T0.timestamp())
    until, since = t0 + until_h * 3600, t0 + since_h * 3600
    full = series(buckets, 3600, until)
    tail = series(buckets, 3600, until, since)
    keep = [i for i, s in enumerate(full.starts) if s >= since]
    assert tail.starts == [full.starts[i] for i in keep]
    assert tail.k == [full.k[i] for i in keep] and tail.n == [full.n[i] for i in keep]

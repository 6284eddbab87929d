"""The spike and drift detectors on seeded synthetic traffic: they fire on clear changes, date them, stay quiet on a
month of normal (seasonal, overdispersed) traffic, respect the volume gate, and answer precisely on bad input."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from watchkeeper.analytics.detectors import (
    Bucket,
    Drift,
    Gate,
    RateStream,
    Spike,
    Verdict,
)

T0 = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
STEP = timedelta(minutes=5)
PER_HOUR = 12


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw: inversion for small means, a rounded normal for large ones (plenty for these tests)."""
    if lam <= 0:
        return 0
    if lam > 60:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


@dataclass
class Traffic:
    """Five-minute buckets of one slice: requests with a daily and weekly cycle, a rate with a daily cycle, an hourly
    wander of the rate (gamma, sd ``wander``) and clustered events (each event brings 0–2 more with ``cluster``)."""

    requests_per_hour: float
    rate: float
    days: int = 42
    wander: float = 0.06
    cluster: float = 0.2
    seed: int = 0
    change: Callable[[datetime], float] | None = None  # multiplier of the rate at a time

    def buckets(self) -> list[Bucket]:
        rng = random.Random(self.seed)
        out = []
        hour_factor = 1.0
        for i in range(self.days * 24 * PER_HOUR):
            t = T0 + i * STEP
            if i % PER_HOUR == 0:
                shape = 1 / self.wander**2 if self.wander > 0 else 0.0
                hour_factor = rng.gammavariate(shape, 1 / shape) if shape else 1.0
            hod = t.hour + t.minute / 60
            volume = self.requests_per_hour / PER_HOUR * (1 + 0.5 * math.cos(2 * math.pi * (hod - 15) / 24))
            volume *= 0.6 if t.weekday() >= 5 else 1.0
            n = poisson(rng, volume)
            p = self.rate * (1 + 0.1 * math.cos(2 * math.pi * (hod - 3) / 24)) * hour_factor
            if self.change is not None:
                p *= self.change(t)
            seeds = poisson(rng, n * p / (1 + self.cluster))
            k = seeds + sum(poisson(rng, self.cluster) for _ in range(seeds)) if self.cluster else seeds
            out.append(Bucket(t, min(k, n), n))
        return out


def hourly(buckets: list[Bucket]) -> list[Bucket]:
    out: list[Bucket] = []
    for i in range(0, len(buckets), PER_HOUR):
        part = buckets[i : i + PER_HOUR]
        out.append(Bucket(part[0].start, sum(b.numerator for b in part), sum(b.denominator for b in part)))
    return out


def stream_at(buckets: list[Bucket], hours: list[Bucket], at: datetime, key: str = "s", **kw: object) -> RateStream:
    """What the alerting engine would pass at ``at``: complete hours, and the last 5 hours of 5-minute buckets."""
    h_end = int((at - T0).total_seconds()) // 3600
    b_end = int((at - T0).total_seconds()) // 300
    recent_from = max(0, (h_end - 5) * PER_HOUR)
    return RateStream(key, hours[:h_end], buckets[recent_from:b_end], STEP, **kw)  # type: ignore[arg-type]


def step_at(start: datetime, factor: float) -> Callable[[datetime], float]:
    return lambda t: factor if t >= start else 1.0


def first_fire(
    buckets: list[Bucket], detector: Spike | Drift, start: datetime, ticks: int, every: timedelta
) -> Verdict:
    hours = hourly(buckets)
    for j in range(ticks + 1):
        at = start + j * every
        v = detector.evaluate(stream_at(buckets, hours, at), at)
        if v.fired:
            return v
    return v


ONSET = T0 + timedelta(days=30, hours=14, minutes=10)


def test_a_doubling_on_a_busy_slice_fires_within_minutes_and_dates_its_start_to_a_bucket() -> None:
    buckets = Traffic(20_000, 0.02, days=31, seed=1, change=step_at(ONSET, 2.0)).buckets()
    v = first_fire(buckets, Spike(), ONSET, 12, STEP)
    assert v.fired and v.gate is Gate.ENOUGH and v.pageable
    assert v.at - ONSET <= timedelta(minutes=20)
    assert v.started_at is not None and abs(v.started_at - ONSET) <= 2 * STEP
    assert v.observed_rate is not None and v.expected_rate is not None and v.band is not None
    assert v.observed_rate > v.band[1] > v.expected_rate > v.band[0] >= 0
    assert 1.7 < (v.ratio or 0) < 2.5


def test_a_change_seen_through_a_window_that_began_before_it_is_measured_from_its_estimated_start() -> None:
    """90 minutes after the rate doubled the decisive window is 2 hours long, half of it from before: it shows ×1.7.
    Counted from the start the detector dates, the change is the doubling it is (what ``for_unless_factor`` reads)."""
    buckets = Traffic(2_000, 0.05, days=31, seed=1, change=step_at(ONSET, 2.0)).buckets()
    at = ONSET + timedelta(minutes=90)
    v = Spike().evaluate(stream_at(buckets, hourly(buckets), at), at)
    assert v.fired and v.window == timedelta(hours=2) and 1.6 < (v.ratio or 0) < 1.8
    assert v.started_at == ONSET and v.since_start is not None
    observed, expected = v.since_start
    assert 1.95 < observed / expected < 2.15
    assert observed < v.observed_events  # the window's older, unchanged part left out
    quiet = Traffic(2_000, 0.05, days=31, seed=1).buckets()
    assert Spike().evaluate(stream_at(quiet, hourly(quiet), at), at).since_start is None  # nothing fired, nothing dated


def test_an_incident_at_the_same_hours_last_week_neither_raises_the_baseline_nor_blunts_the_test() -> None:
    """Last week the rate was ten times its usual for 12 hours around this hour (the seeds' refusal spike on a
    1.5% rate). That day is left out of the hours pooled for the baseline, and out of the wander learnt from the
    past week, so this week's doubling is caught within the hour as on a clean history. Measured against the other
    days' pooled rate, the incident day raised that rate so far that every normal day looked low beside it; with most
    days flagged none was left out, and the doubling read as within the wander the incident had taught."""
    last_week = ONSET - timedelta(days=7, hours=6)

    def change(t: datetime) -> float:
        return 10.0 if last_week <= t < last_week + timedelta(hours=12) else 2.0 if t >= ONSET else 1.0

    buckets = Traffic(10_000, 0.015, days=31, seed=3, change=change).buckets()
    hours = hourly(buckets)
    spike = Spike()
    base = spike.fit(stream_at(buckets, hours, ONSET), ONSET)
    assert base is not None and base.dispersion(60) < 0.05  # the wander of a clean history, not the incident's
    v = first_fire(buckets, spike, ONSET, 12, STEP)
    assert v.fired and v.pageable and v.at - ONSET <= timedelta(hours=1)
    assert v.expected_rate is not None and 0.012 < v.expected_rate < 0.02


def test_a_fall_is_caught_only_by_a_detector_watching_downwards() -> None:
    buckets = Traffic(20_000, 0.05, days=31, seed=2, change=step_at(ONSET, 0.3)).buckets()
    assert not first_fire(buckets, Spike(), ONSET, 12, STEP).fired
    v = first_fire(buckets, Spike(direction="down"), ONSET, 12, STEP)
    assert v.fired and v.direction == "down" and (v.ratio or 1) < 0.8


@pytest.mark.parametrize("seed", [11, 12])
def test_a_month_of_normal_seasonal_overdispersed_traffic_raises_no_alarm(seed: int) -> None:
    buckets = Traffic(8_000, 0.03, days=44, wander=0.08, cluster=0.5, seed=seed).buckets()
    hours = hourly(buckets)
    spike, drift = Spike(), Drift()
    fired = []
    base = None
    for j in range(30 * 24 * 3):  # every 20 minutes for 30 days, after two weeks of history
        at = T0 + timedelta(days=14) + j * timedelta(minutes=20)
        s = stream_at(buckets, hours, at)
        if j % 3 == 0:
            base = spike.fit(s, at)
            d = drift.evaluate(s, at)
            if d.fired:
                fired.append(d)
        v = spike.evaluate(s, at, baseline=base)
        assert v.gate is Gate.ENOUGH
        if v.fired:
            fired.append(v)
    assert fired == []


def test_a_tiny_slice_is_never_paged_even_when_its_rate_jumps_tenfold() -> None:
    buckets = Traffic(30, 0.02, days=31, seed=3, change=step_at(ONSET, 10.0)).buckets()
    hours = hourly(buckets)
    for j in range(0, 24 * PER_HOUR, 3):
        at = ONSET + j * STEP
        for key, parent in (("tiny", "lang=de"), ("root", None)):
            v = Spike().evaluate(stream_at(buckets, hours, at, key, parent=parent), at)
            assert not v.pageable
            assert v.gate in (Gate.WIDENED, Gate.DEFERRED, Gate.TOO_SMALL)
            if v.gate is not Gate.WIDENED:
                assert not v.fired and v.gate is (Gate.DEFERRED if parent else Gate.TOO_SMALL)


def test_a_small_slice_widens_its_window_and_may_open_a_ticket_but_not_a_page() -> None:
    buckets = Traffic(400, 0.02, days=31, seed=4, change=step_at(ONSET, 4.0)).buckets()
    v = first_fire(buckets, Spike(), ONSET, 48, STEP)
    assert v.fired and v.gate is Gate.WIDENED and not v.pageable
    assert v.window > timedelta(hours=1)


def test_a_slow_ramp_is_caught_by_the_drift_test_within_a_day_and_no_later_than_the_spike_test() -> None:
    def ramp(t: datetime) -> float:
        return 1.0 + 0.5 * min(max((t - ONSET) / timedelta(hours=24), 0.0), 1.0)

    buckets = Traffic(3_000, 0.03, days=32, wander=0.03, cluster=0.0, seed=5, change=ramp).buckets()
    hours = hourly(buckets)
    drift_hit: Verdict | None = None
    spike_hit: Verdict | None = None
    for h in range(0, 25):
        at = ONSET.replace(minute=0) + timedelta(hours=h + 1)
        s = stream_at(buckets, hours, at)
        v = Spike().evaluate(s, at)
        spike_hit = spike_hit or (v if v.fired else None)
        d = Drift().evaluate(s, at)
        drift_hit = drift_hit or (d if d.fired else None)
    assert drift_hit is not None and drift_hit.at - ONSET <= timedelta(hours=24)
    assert spike_hit is None or drift_hit.at <= spike_hit.at
    assert drift_hit.started_at is not None and drift_hit.started_at >= ONSET - timedelta(hours=6)


def drift_states(traffic: Traffic, hours_after_onset: int) -> list[bool]:
    """Whether the drift test fires at each whole hour from 1 to ``hours_after_onset`` after the onset."""
    buckets = traffic.buckets()
    hours = hourly(buckets)
    states = []
    for h in range(1, hours_after_onset):
        at = ONSET.replace(minute=0) + timedelta(hours=h)
        states.append(Drift().evaluate(stream_at(buckets, hours, at), at).fired)
    return states


def test_the_drift_alert_resolves_soon_after_the_rate_comes_back() -> None:
    end = ONSET + timedelta(hours=8)
    traffic = Traffic(20_000, 0.03, days=32, wander=0.03, seed=6, change=lambda t: 2.0 if ONSET <= t < end else 1.0)
    states = drift_states(traffic, 30)
    assert any(states[:8])
    assert not any(states[11:])  # within 3 hours of recovery, though the excursion is still in the 48-hour look-back


def test_a_drift_alert_stays_on_for_the_whole_excursion_instead_of_flapping() -> None:
    end = ONSET + timedelta(hours=20)
    traffic = Traffic(2_000, 0.03, days=32, wander=0.05, seed=13, change=lambda t: 1.6 if ONSET <= t < end else 1.0)
    states = drift_states(traffic, 40)
    on = [i for i, s in enumerate(states) if s]
    assert on, "the drift was not caught"
    assert on == list(range(on[0], on[-1] + 1)), f"the alert flapped: {states}"
    assert on[0] < 20 and on[-1] < 28


def test_a_slice_without_enough_history_is_not_tested() -> None:
    buckets = Traffic(20_000, 0.02, days=2, seed=7).buckets()
    at = T0 + timedelta(days=1, hours=20)
    v = Spike().evaluate(stream_at(buckets, hourly(buckets), at), at)
    assert v.gate is Gate.NO_BASELINE and not v.fired and v.p_value == 1.0
    assert "history" in v.reason


def test_a_spike_resolves_when_the_newest_buckets_are_back_to_normal() -> None:
    end = ONSET + timedelta(minutes=40)
    buckets = Traffic(20_000, 0.02, days=31, seed=8, change=lambda t: 3.0 if ONSET <= t < end else 1.0).buckets()
    hours = hourly(buckets)
    at = end + timedelta(minutes=30)
    v = Spike().evaluate(stream_at(buckets, hours, at), at)
    assert v.p_value < 1e-9  # the 4-hour window still holds the excess ...
    assert not v.fired and "back to normal" in v.reason  # ... but the rate has come back


def test_buckets_out_of_time_order_are_refused_with_a_precise_error() -> None:
    buckets = Traffic(1_000, 0.02, days=4, seed=9).buckets()
    hours = hourly(buckets)
    hours[-3], hours[-2] = hours[-2], hours[-3]
    with pytest.raises(ValueError, match="time order"):
        Spike().evaluate(RateStream("s", hours), T0 + timedelta(days=4))


def test_bad_parameters_are_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="direction"):
        Spike(direction="sideways")
    with pytest.raises(ValueError, match="look-back"):
        Drift(lookback_hours=96)
    with pytest.raises(ValueError, match="ratio"):
        Drift(ratio=1.0)


def test_a_fitted_baseline_can_be_kept_for_the_hour_with_the_same_verdict() -> None:
    buckets = Traffic(5_000, 0.02, days=31, seed=10, change=step_at(ONSET, 2.0)).buckets()
    hours = hourly(buckets)
    spike = Spike()
    at0 = ONSET.replace(minute=0)
    base = spike.fit(stream_at(buckets, hours, at0), at0)
    for minutes in (5, 20, 35, 55):
        at = at0 + timedelta(minutes=minutes)
        s = stream_at(buckets, hours, at)
        assert spike.evaluate(s, at, baseline=base) == spike.evaluate(s, at)

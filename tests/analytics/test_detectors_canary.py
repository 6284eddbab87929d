"""The canary comparison of a new version against the incumbent on the same traffic, the quantile-shift test on
latency histograms, and the registry of detectors."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from watchkeeper.analytics.detectors import (
    Bucket,
    Canary,
    Detector,
    Gate,
    HistogramBucket,
    HistogramStream,
    QuantileShift,
    RateStream,
    Registry,
    Spike,
    Verdict,
    builtin_detectors,
    configure,
    default_registry,
)

from .test_detectors import poisson

T0 = datetime(2026, 3, 2, tzinfo=UTC)
AT = T0 + timedelta(days=30, hours=12)


def versions(new_rate: float, *, share: float, hours: int, seed: int, per_hour: float = 2000, rate: float = 0.04):
    """Hourly buckets of the incumbent and of a new version taking ``share`` of the traffic, over the last ``hours``
    (the rate of both follows the same daily cycle)."""
    rng = random.Random(seed)
    new, old = [], []
    for h in range(hours):
        t = AT - timedelta(hours=hours - h)
        cycle = 1 + 0.3 * math.cos(2 * math.pi * (t.hour - 15) / 24)
        n = poisson(rng, per_hour * cycle)
        n_new = sum(1 for _ in range(n) if rng.random() < share)
        n_old = n - n_new
        r = rate * cycle
        new.append(Bucket(t, min(n_new, poisson(rng, n_new * r * new_rate / rate)), n_new))
        old.append(Bucket(t, min(n_old, poisson(rng, n_old * r)), n_old))
    return new, old


def canary(new: list[Bucket], old: list[Bucket]) -> Verdict:
    return Canary().evaluate(RateStream("tool_error|client=4.13.0", new, reference=old), AT)


def test_a_new_version_that_fails_more_often_is_flagged_and_dated_to_its_first_traffic() -> None:
    new, old = versions(0.07, share=0.1, hours=12, seed=1)
    v = canary(new, old)
    assert v.fired and v.gate is Gate.ENOUGH
    assert v.started_at == new[0].start
    assert v.observed_rate is not None and v.expected_rate is not None and v.observed_rate > 1.4 * v.expected_rate
    assert v.band is not None and v.observed_rate > v.band[1]


@pytest.mark.parametrize("seed", range(8))
def test_a_new_version_as_good_as_the_incumbent_is_not_flagged(seed: int) -> None:
    new, old = versions(0.04, share=0.3, hours=48, seed=seed)
    v = canary(new, old)
    assert v.gate is Gate.ENOUGH and not v.fired and v.p_value > 1e-4


def test_a_canary_with_a_handful_of_requests_says_nothing_yet() -> None:
    new, old = versions(0.5, share=0.002, hours=3, seed=2)
    v = canary(new, old)
    assert v.gate is Gate.TOO_SMALL and not v.fired and "new version" in v.reason


def test_small_counts_use_the_exact_test() -> None:
    # 9 of 60 on the new version against 30 of 6,000 on the incumbent, in one bucket: the exact conditional binomial
    t = AT - timedelta(hours=1)
    v = Canary(min_expected=0.1).evaluate(RateStream("x", [Bucket(t, 9, 60)], reference=[Bucket(t, 30, 6000)]), AT)
    share = 60 / 6060
    exact = sum(math.comb(39, j) * share**j * (1 - share) ** (39 - j) for j in range(9, 40))
    assert v.p_value == pytest.approx(exact, rel=1e-9)
    assert v.fired


@dataclass
class Latency:
    """Hourly histograms of log-normal latencies (16 bins per octave of µs), and 5-minute ones for the last hours:
    each bin's count is a Poisson draw around its share."""

    per_hour: int
    median_ms: float
    seed: int

    def _bins(self, rng: random.Random, requests: float, scale: float) -> dict[int, int]:
        mu = math.log(self.median_ms * 1000 * scale)
        out = {}
        for b in range(200, 400):
            lo, hi = 2 ** (b / 16), 2 ** ((b + 1) / 16)
            share = 0.5 * (
                math.erf((math.log(hi) - mu) / (0.6 * math.sqrt(2)))
                - math.erf((math.log(lo) - mu) / (0.6 * math.sqrt(2)))
            )
            if share * requests > 1e-3:
                c = poisson(rng, share * requests)
                if c:
                    out[b] = c
        return out

    def stream(self, slower_from: datetime | None = None, factor: float = 1.3) -> HistogramStream:
        """What the engine passes at AT: complete hours, and the last 5 hours of 5-minute histograms."""
        rng = random.Random(self.seed)
        end_h = int((AT - T0).total_seconds()) // 3600

        def scale(t: datetime) -> float:
            return factor if slower_from is not None and t >= slower_from else 1.0

        hourly = [
            HistogramBucket(T0 + timedelta(hours=h), self._bins(rng, self.per_hour, scale(T0 + timedelta(hours=h))))
            for h in range(end_h)
        ]
        recent_from = T0 + timedelta(hours=end_h - 5)
        fine = []
        t = recent_from
        while t < AT:
            fine.append(HistogramBucket(t, self._bins(rng, self.per_hour / 12, scale(t))))
            t += timedelta(minutes=5)
        return HistogramStream("latency|model=a", hourly, fine, timedelta(minutes=5))


def test_a_30_percent_slower_latency_distribution_is_flagged_with_both_quantiles() -> None:
    onset = AT - timedelta(minutes=40)
    v = QuantileShift().evaluate(Latency(6000, 800, seed=3).stream(slower_from=onset), AT)
    assert v.fired and v.detector == "quantile_shift"
    base, now = v.value("baseline_p90"), v.value("observed_p90")
    assert base is not None and now is not None and 1.15 < now / base < 1.5
    assert 0.05 < (v.expected_rate or 0) < 0.15  # the share above the baseline's p90 is about 10% normally


def test_an_unchanged_latency_distribution_is_not_flagged_and_a_drop_needs_the_downward_test() -> None:
    assert not QuantileShift().evaluate(Latency(6000, 800, seed=4).stream(), AT).fired
    faster = Latency(6000, 800, seed=5).stream(slower_from=AT - timedelta(minutes=40), factor=0.6)
    assert not QuantileShift().evaluate(faster, AT).fired
    assert QuantileShift(direction="down").evaluate(faster, AT).fired


def test_each_detector_refuses_the_other_kind_of_stream() -> None:
    with pytest.raises(TypeError, match="HistogramStream"):
        QuantileShift().evaluate(RateStream("x", []), AT)
    with pytest.raises(TypeError, match="RateStream"):
        Spike().evaluate(HistogramStream("x", []), AT)


def test_the_built_ins_register_like_plugins_and_a_third_party_detector_joins_them() -> None:
    reg = default_registry()
    assert reg.names() == ["spike", "drift", "canary", "quantile_shift"]
    assert all(isinstance(d, Detector) for d in builtin_detectors())

    class Always:
        name = "always"

        def evaluate(self, stream: object, at: datetime, *, sensitivity: float = 1.0) -> Verdict:
            return Verdict(self.name, "k", at, True, Gate.ENOUGH, p_value=0.0)

    reg.register(Always())
    assert reg.get("always").evaluate(RateStream("k", []), AT).fired
    with pytest.raises(ValueError, match="already registered"):
        reg.register(Always())
    with pytest.raises(TypeError, match="a detector needs"):
        Registry().register(object())  # type: ignore[arg-type]


def test_configure_makes_a_copy_and_names_unknown_parameters() -> None:
    spike = Spike()
    down = configure(spike, {"direction": "down", "alpha": 1e-6})
    assert down.direction == "down" and down.alpha == 1e-6 and spike.direction == "up"
    with pytest.raises(ValueError, match=r"unknown parameter 'alpah' for detector 'spike'; known: alpha"):
        configure(spike, {"alpah": 1e-6})

"""What normal looks like for one rate stream: the expected rate for each hour, learnt from the same hour on previous
days, and how far the rate wanders around it, learnt from how well that expectation predicted the past week.

The expected rate of hour t pools the counts of the same hour (± ``smooth_hours``) on the ``days`` most recent
previous days of the same kind (weekdays with weekdays, weekends with weekends), starting ``lag_days`` back: pooling
numerators and denominators, never averaging rates; shrunk toward those days' whole-day rate by ``shrink_events``
events' worth, so a small slice is compared with its daily rate rather than with a noisy hourly profile.
The wander is the negative-binomial c (variance mu + c·mu²,
c the squared relative wander of the rate) at three scales — 1, 4 and 24 hours — each estimated by the method of
moments from the residuals of that same prediction on the hours before the test region, so the estimate includes
everything the prediction gets wrong (overdispersion, mix shifts, weekly effects, its own sampling error). Windows
shorter than an hour are assumed to wander independently within the hour (c grows as 60/minutes); longer windows
keep the largest wander any scale shows. Past incidents are kept out of both: a pooled day whose counts for the hour
are far from what the pooled days' median rate expects (×1.5 and 4 Poisson sd) is left out of the expected rate, as
Farrington's method leaves out past outbreaks, and residual blocks beyond 3.5 sd of a robust first guess are left
out of the wander — so last week's outage neither raises this week's baseline nor blunts its test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import accumulate

from ._model import DAY_H, HOUR_S, Series

_SCALES_H = (1, 4, 24)
# Prior wander per scale (squared relative sd) and its weight in pseudo-blocks: a stream with little history tests
# as if its rate wandered by ~10% per hour rather than not at all.
_PRIOR_C = {1: 0.01, 4: 0.005, 24: 0.003}
_PRIOR_BLOCKS = {1: 12.0, 4: 6.0, 24: 3.0}
_C_FLOOR = 1e-4  # 1% relative wander: nothing real is steadier than that
_C_CEIL = 4.0
_TRIM_Z = 3.5
_CHI2_MEDIAN = 0.4549364


@dataclass(frozen=True, slots=True)
class Seasonality:
    """How a baseline is learnt.

    ``days``: previous days of the same kind pooled per hour; ``lag_days``: the most recent day used (a drift test
    uses 3, so a change that began within its 48-hour look-back is not in its own baseline); ``smooth_hours``: hours
    either side of the same hour pooled with it; ``day_types``: pool weekdays and weekends separately (UTC days);
    ``fit_days``: days of residuals the wander is learnt from; ``min_history_days``: less history than this and the
    stream is not tested (``Gate.NO_BASELINE``); ``shrink_events``: each hour's rate is shrunk toward the same days'
    whole-day rate by this many events' worth (a busy slice keeps its hourly profile, a small one's noise is damped).
    """

    days: int = 7
    lag_days: int = 1
    smooth_hours: int = 1
    day_types: bool = True
    fit_days: int = 7
    min_history_days: float = 3.0
    shrink_events: float = 20.0

    @property
    def max_lag_days(self) -> int:
        return self.lag_days + (2 * self.days if self.day_types else self.days) - 1


@dataclass(frozen=True, slots=True)
class Baseline:
    """Expected rates for the hours ``first_hour`` .. ``first_hour + len(rates) − 1`` (epoch hours) and the wander
    of the rate at each scale."""

    first_hour: int
    rates: tuple[float, ...]
    wander: tuple[tuple[int, float], ...]  # (scale in minutes, c)
    mean_rate: float
    history_hours: int

    def rate_at(self, hour: int) -> float:
        i = hour - self.first_hour
        if 0 <= i < len(self.rates):
            return self.rates[i]
        return self.mean_rate

    def dispersion(self, minutes: float) -> float:
        """The squared relative wander c of the rate over a window of ``minutes``."""
        minutes = max(minutes, 1.0)
        c = 0.0
        for scale, cs in self.wander:
            c = max(c, cs * min(1.0, scale / minutes))
        finest_scale, finest = self.wander[0]
        if minutes < finest_scale:
            c = max(c, finest * finest_scale / minutes)
        return c


def _lag_offsets(season: Seasonality) -> list[list[int]]:
    """Per weekday of the target hour (0 = Monday), the hour offsets of the days pooled, most recent first."""
    out = []
    for w in range(7):
        lags = [
            d
            for d in range(season.lag_days, season.max_lag_days + 1)
            if not season.day_types or (((w - d) % 7) >= 5) == (w >= 5)
        ]
        out.append([d * DAY_H for d in lags[: season.days]])
    return out


class _Hours:
    """Dense hourly counts from ``h0``, with the counts of ±s hours summed at each hour."""

    __slots__ = ("h0", "k", "n", "sk", "sn")

    def __init__(self, hourly: Series, h0: int, h1: int, smooth: int) -> None:
        size = h1 - h0
        k = [0] * size
        n = [0] * size
        for s, kk, nn in zip(hourly.starts, hourly.k, hourly.n, strict=True):
            i = s // HOUR_S - h0
            if 0 <= i < size:
                k[i] += kk
                n[i] += nn
        self.h0, self.k, self.n = h0, k, n
        if smooth <= 0:
            self.sk, self.sn = k, n
            return
        # sums over [i - smooth, i + smooth] (clipped to the range) from prefix sums padded at both ends
        self.sk = _window_sums(k, smooth, smooth)
        self.sn = _window_sums(n, smooth, smooth)


def _median_rate(js: list[int], n: list[int], rate: list[float], total_n: int) -> float | None:
    """The rate of the pooled days ``js`` weighted by their traffic ``n`` (``rate[j]`` infinite without traffic;
    ``total_n`` the days' summed ``n``): the rate below which half the trials fall, robust to a few days of past
    incidents however extreme; None without traffic. (``common_mode.weighted_median_without`` computes the same on
    sorted pairs; here, run for every hour of every fit, the day indices are sorted by a rate list computed once.)"""
    if total_n <= 0:
        return None
    seen = 0
    for j in sorted(js, key=rate.__getitem__):
        seen += n[j]
        if 2 * seen >= total_n:
            return rate[j]
    raise AssertionError("unreachable: the days' traffic adds up to the total")


def _outlier_day(k: int, n: int, rate: float) -> bool:
    """Whether one pooled day's counts for an hour are far from what the pooled days' median ``rate`` expects (×1.5
    and 4 Poisson sd beyond): a past incident, left out of the baseline as Farrington's method leaves out past
    outbreaks. Measured against the median, not the other days' pooled rate: one day of an incident that multiplied
    the rate by ten would otherwise raise that pooled rate so far that every normal day looked low beside it, and
    with most days flagged none would be left out (the incident day stayed in the baseline, inflating it ×2)."""
    e = n * rate
    slack = 4.0 * math.sqrt(e) + 2.0
    return k > 1.5 * e + slack or 1.5 * k + slack < e


def _window_sums(xs: list[int], before: int, after: int) -> list[int]:
    """Sums over [i − before, i + after] for every i, clipped to the list."""
    size = len(xs)
    c = [0, *accumulate(xs)]
    hi = [c[min(size, i + after + 1)] for i in range(size)]
    lo = [c[max(0, i - before)] for i in range(size)]
    return [a - b for a, b in zip(hi, lo, strict=True)]


def fit_baseline(hourly: Series, at_s: int, *, test_hours: int, season: Seasonality) -> Baseline | None:
    """The baseline of a stream evaluated at ``at_s``, whose tests look at most ``test_hours`` back; None when there
    is not enough history (``season.min_history_days``) or no traffic at all in it."""
    if not hourly.starts:
        return None
    at_hour = at_s // HOUR_S
    history_hours = at_hour - hourly.starts[0] // HOUR_S
    if history_hours < season.min_history_days * DAY_H:
        return None
    test_start = at_hour - test_hours  # hours ≥ this are tested, never fitted
    fit_start = test_start - season.fit_days * DAY_H
    reach = season.max_lag_days * DAY_H + season.smooth_hours
    h0 = max(fit_start - reach, hourly.starts[0] // HOUR_S - season.smooth_hours)
    hours = _Hours(hourly, h0, at_hour + 1, season.smooth_hours)
    total_k = sum(hours.k[: max(0, test_start - h0)])
    total_n = sum(hours.n[: max(0, test_start - h0)])
    if total_n <= 0:
        return None
    mean_rate = (total_k + 0.5) / (total_n + 1.0)
    prior_n = 1.0 / mean_rate  # one expected event's worth of trials
    prior_k = 1.0

    offsets = _lag_offsets(season)
    sk, sn = hours.sk, hours.sn
    s_rate = [k / n if n > 0 else math.inf for k, n in zip(sk, sn, strict=True)]
    # each hour's whole day: the 24 hours centred on it
    dk = _window_sums(hours.k, DAY_H // 2, DAY_H // 2 - 1)
    dn = _window_sums(hours.n, DAY_H // 2, DAY_H // 2 - 1)
    shrink = season.shrink_events

    def expected_rate(t: int) -> float:
        i = t - h0
        js = []
        k = n = 0
        for off in offsets[(t // DAY_H + 3) % 7]:
            j = i - off
            if j < 0:
                break
            js.append(j)
            k += sk[j]
            n += sn[j]
        rate = _median_rate(js, sn, s_rate, n) if len(js) >= 3 else None
        if rate is not None:
            kept = [j for j in js if not _outlier_day(sk[j], sn[j], rate)]
            if 2 <= len(kept) < len(js):
                js = kept
                k = n = 0
                for j in js:
                    k += sk[j]
                    n += sn[j]
        fk = fn = 0
        for j in js:
            fk += dk[j]
            fn += dn[j]
        flat = (fk + prior_k) / (fn + prior_n)
        # the hour's own rate, shrunk toward its days' flat rate by ``shrink`` events' worth: a small slice's hourly
        # profile is mostly noise, its daily rate much less so
        return (k + shrink) / (n + shrink / flat)

    first = max(fit_start, h0 + 1)
    rates = tuple(expected_rate(t) for t in range(first, at_hour + 1))
    # residuals of the hours before the test region, in blocks of each scale
    fit_k: list[int] = []
    fit_mu: list[float] = []
    for t in range(first, test_start):
        i = t - h0
        n = hours.n[i]
        fit_k.append(hours.k[i])
        fit_mu.append(n * rates[t - first])
    wander = tuple((scale * 60, _fit_wander(fit_k, fit_mu, scale)) for scale in _SCALES_H)
    return Baseline(first, rates, wander, mean_rate, history_hours)


def _fit_wander(ks: list[int], mus: list[float], scale: int) -> float:
    """Method-of-moments c over blocks of ``scale`` hours (aligned to the end), shrunk to a prior, with blocks that
    look like incidents left out."""
    blocks: list[tuple[int, float]] = []
    i = len(ks)
    while i >= scale:
        blocks.append((sum(ks[i - scale : i]), sum(mus[i - scale : i])))
        i -= scale
    blocks = [(k, m) for k, m in blocks if m > 0]
    prior_c, prior_w = _PRIOR_C[scale], _PRIOR_BLOCKS[scale]
    if not blocks:
        return prior_c
    mean_m2 = sum(m * m for _, m in blocks) / len(blocks)

    def estimate(bs: list[tuple[int, float]]) -> float:
        num = sum((k - m) ** 2 - m for k, m in bs) + prior_c * prior_w * mean_m2
        den = sum(m * m for _, m in bs) + prior_w * mean_m2
        return min(_C_CEIL, max(_C_FLOOR, num / den))

    # Trim blocks that look like incidents against a robust first guess — the c at which half the blocks' squared
    # Pearson residuals are below the median of χ²₁ — so an outage in the fitted week cannot hide behind the wander
    # it inflates itself.
    need = sorted(max(0.0, ((k - m) ** 2 / _CHI2_MEDIAN - m) / (m * m)) for k, m in blocks)
    c0 = need[len(need) // 2]
    kept = [(k, m) for k, m in blocks if (k - m) ** 2 <= _TRIM_Z**2 * (m + c0 * m * m)]
    return estimate(kept if len(kept) >= len(blocks) // 2 else blocks)

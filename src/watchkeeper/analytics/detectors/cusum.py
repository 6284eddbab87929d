"""The drift test: a CUSUM on hourly counts, for changes too slow for the spike test (a rate that creeps up by half
over a day).

Page's CUSUM accumulates, hour by hour, the log-likelihood ratio of "the rate is ``ratio`` times its baseline" against
"the rate is at its baseline", never letting the sum fall below zero, and fires when it reaches ``h``. Each hour's
ratio uses the negative binomial with the wander the baseline measured (:mod:`._baseline`), so a noisy slice moves
the sum less. Because it is a likelihood ratio, e^(−h) bounds the chance that one excursion of an unchanged stream
reaches ``h``, whatever the slice's volume: ``h = ln(arl_hours / sensitivity)`` gives about one false alarm per
``arl_hours`` hours per stream when the baseline is right (the benchmark measures what it gives when it is not).

The test is stateless: each evaluation replays the last ``lookback_hours`` from zero, against a baseline that
starts ``lag_days`` back so the drift being measured is never part of its own baseline. The hour after the sum
last stood at zero dates the start of the drift. Once the sum has reached ``h`` (with the effect floors met over the
excursion) the alert stays on — no flapping while the sum hovers around ``h`` — until the sum falls ``resolve_drop``
below its peak: the data say the rate came back, which resolves the alert within the hour on a busy slice rather
than when a large excursion has decayed, which can take days.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ._baseline import Baseline, Seasonality, fit_baseline
from ._model import (
    HOUR_S,
    Gate,
    HistogramStream,
    RateStream,
    Series,
    Verdict,
    WindowStat,
    epoch_s,
    from_epoch_s,
    series,
)
from ._model import too_small as _too_small
from ._tails import nbinom_band, normal_isf

_BAND_Z = normal_isf(0.005)
_STAT_HOURS = (1, 3, 6, 12, 24, 48)


def nb_llr(k: int, mu: float, c: float, ratio: float) -> float:
    """log P(k | mean ratio·mu) − log P(k | mean mu) for a negative binomial with shape 1/c (Poisson when c = 0)."""
    if mu <= 0:
        return 0.0
    if c * mu < 1e-9:
        return k * math.log(ratio) - mu * (ratio - 1.0)
    r = 1.0 / c
    return k * math.log(ratio * (mu + r) / (ratio * mu + r)) + r * math.log((r + mu) / (r + ratio * mu))


@dataclass(slots=True)
class Drift:
    """The CUSUM drift test (see the module docstring)."""

    name: str = "drift"
    ratio: float = 1.4
    arl_hours: float = 3e5
    lookback_hours: int = 48
    resolve_drop: float = 4.0
    min_expected: float = 24.0
    min_ratio: float = 1.25
    min_excess: float = 10.0
    season: Seasonality = field(default_factory=lambda: Seasonality(lag_days=3))

    def __post_init__(self) -> None:
        if self.ratio <= 0 or self.ratio == 1.0:
            raise ValueError(f"ratio must be positive and not 1 (above 1 watches for rises, below for falls), "
                             f"not {self.ratio}")  # fmt: skip
        if self.lookback_hours > self.season.lag_days * 24:
            raise ValueError(
                f"the look-back ({self.lookback_hours} h) must not reach into the baseline, which starts "
                f"{self.season.lag_days} days back"
            )

    def _effect(self, k: int, mu: float) -> bool:
        """Effect floors over an excursion, as in the spike test: a real but small shift (a baseline a few percent
        off for two days) is not a drift worth a ticket."""
        if self.ratio > 1:
            return k >= self.min_ratio * mu and k - mu >= self.min_excess
        return k * self.min_ratio <= mu and mu - k >= self.min_excess

    @property
    def direction(self) -> str:
        return "up" if self.ratio > 1 else "down"

    def threshold(self, sensitivity: float = 1.0) -> float:
        return math.log(max(self.arl_hours / sensitivity, 1.0 + 1e-9))

    def fit(self, stream: RateStream, at: datetime, hourly: Series | None = None) -> Baseline | None:
        """The stream's baseline as this test uses it at ``at`` (the same for every ``at`` within one hour)."""
        at_s = epoch_s(at)
        if hourly is None:
            hourly = series(stream.hourly, HOUR_S, at_s)
        return fit_baseline(hourly, at_s, test_hours=self.lookback_hours, season=self.season)

    def evaluate(
        self,
        stream: RateStream | HistogramStream,
        at: datetime,
        *,
        sensitivity: float = 1.0,
        baseline: Baseline | None = None,
    ) -> Verdict:
        """The verdict of the drift test on ``stream``'s complete hours before ``at``."""
        if not isinstance(stream, RateStream):
            raise TypeError("the drift test reads a RateStream of counts")
        at_s = epoch_s(at)
        if baseline is None:
            hourly = series(stream.hourly, HOUR_S, at_s)
            baseline = self.fit(stream, at, hourly)
        else:
            hourly = series(stream.hourly, HOUR_S, at_s, at_s - (self.lookback_hours + 2) * HOUR_S)
        base = baseline
        if base is None:
            return Verdict(
                self.name, stream.key, at, False, Gate.NO_BASELINE, parent=stream.parent, direction=self.direction,
                reason=f"less than {self.season.min_history_days:g} days of history: nothing to compare with",
            )  # fmt: skip
        end_h = at_s // HOUR_S
        first_h = end_h - self.lookback_hours
        ks = [0] * self.lookback_hours
        ns = [0] * self.lookback_hours
        for s, k, n in zip(hourly.starts, hourly.k, hourly.n, strict=True):
            i = s // HOUR_S - first_h
            if 0 <= i < self.lookback_hours:
                ks[i] += k
                ns[i] += n
        mus = [ns[i] * base.rate_at(first_h + i) for i in range(self.lookback_hours)]
        return self.judge(stream.key, stream.parent, at, first_h, ks, ns, mus, base, sensitivity)

    def judge(
        self,
        key: str,
        parent: str | None,
        at: datetime,
        first_h: int,
        ks: list[int],
        ns: list[int],
        mus: list[float],
        base: Baseline,
        sensitivity: float,
    ) -> Verdict:
        """The verdict on hourly counts and their expected values from ``first_h`` (epoch hours) on."""
        hours = len(ks)
        stats: list[WindowStat] = []
        for h in _STAT_HOURS:
            if h <= hours:
                mu_w = sum(mus[hours - h :])
                stats.append(
                    WindowStat(h * 60, sum(ks[hours - h :]), mu_w, sum(ns[hours - h :]), base.dispersion(h * 60))
                )
        total_mu = sum(mus)
        if total_mu < self.min_expected:
            return Verdict(
                self.name, key, at, False, _too_small(parent), parent=parent, direction=self.direction,
                windows=tuple(stats), observed_events=sum(ks), expected_events=total_mu, trials=sum(ns),
                window=timedelta(hours=hours),
                reason=f"fewer than {self.min_expected:g} expected events in {hours} hours",
            )  # fmt: skip
        c = base.dispersion(60)
        limit = self.threshold(sensitivity)
        s = peak = 0.0
        run_from = 0  # first hour of the current excursion
        k_run = n_run = 0
        mu_run = 0.0
        firing = False  # latched: from the hour the sum reached ``limit`` (floors met) until it resolves
        resolved_at = 0.0  # the peak at the last resolution: firing again needs new evidence beyond it
        for i in range(hours):
            s += nb_llr(ks[i], mus[i], c, self.ratio)
            if s <= 0.0:
                s = peak = resolved_at = 0.0
                run_from = i + 1
                k_run = n_run = 0
                mu_run = 0.0
                firing = False
                continue
            k_run += ks[i]
            n_run += ns[i]
            mu_run += mus[i]
            peak = max(peak, s)
            if firing and peak - s >= self.resolve_drop:
                # the sum fell ``resolve_drop`` below its peak: the rate came back (within the hour on a busy slice,
                # rather than when a large excursion has decayed below ``limit``, which can take days)
                firing, resolved_at = False, peak
            elif not firing and s >= limit and s > resolved_at and self._effect(k_run, mu_run):
                firing = True
        fired = firing
        run = range(min(run_from, hours - 1), hours)
        if run_from >= hours:  # no excursion: describe the last hour
            k_run, n_run, mu_run = ks[-1], ns[-1], mus[-1]
        effect = self._effect(k_run, mu_run)
        c_run = base.dispersion(60 * len(run))
        lo, hi = nbinom_band(mu_run, c_run, _BAND_Z)
        return Verdict(
            self.name, key, at, fired, Gate.ENOUGH,
            # the excursion's evidence until the rate came back (whatever the sensitivity: the same p at any h)
            p_value=min(1.0, math.exp(-(peak if peak - s < self.resolve_drop else s))),
            statistic=s,
            observed_rate=k_run / n_run if n_run else None,
            expected_rate=mu_run / n_run if n_run else None,
            band=(lo / n_run, hi / n_run) if n_run else None,
            observed_events=k_run, expected_events=mu_run, trials=n_run,
            window=timedelta(hours=len(run)),
            started_at=from_epoch_s((first_h + run.start) * HOUR_S) if fired else None,
            parent=parent, direction=self.direction, windows=tuple(stats),
            values=(("threshold", limit), ("dispersion", c)),
            reason=(
                f"CUSUM reached {peak:.1f} ≥ {limit:.1f}: {k_run} events where {mu_run:.1f} were expected since "
                f"{from_epoch_s((first_h + run.start) * HOUR_S):%Y-%m-%d %H:%M}"
                if fired
                else f"CUSUM {s:.1f}, down {peak - s:.1f} from its peak {peak:.1f}: the rate came back"
                if peak >= limit and effect
                else f"CUSUM {s:.1f} ≥ {limit:.1f}, but {k_run} events where {mu_run:.1f} were expected is below the "
                "effect floors"
                if s >= limit
                else f"CUSUM {s:.1f} below {limit:.1f}"
            ),
        )  # fmt: skip

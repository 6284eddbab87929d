"""The canary comparison: is a new model, prompt, skill or client version worse than the one it replaces, on the
same traffic at the same time?

Comparing the two versions bucket by bucket over the same hours sidesteps seasonality (both see the same hour of the
same day), so no baseline is learnt. Within each bucket where both versions served traffic, condition on the events
of both: under "no difference", each event falls on the new version with the probability of its share of the
bucket's traffic. Summed over buckets that is a sum of binomials, tested with the single binomial of the same mean
— exact for small counts, and conservative (Hoeffding: the binomial with the average share has the heavier tails).
Effect floors as in the spike test; fewer than ``min_expected`` expected events on the new version and there is
nothing to say yet (``Gate.TOO_SMALL``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from ._model import HOUR_S, Gate, HistogramStream, RateStream, Verdict, WindowStat, epoch_s, from_epoch_s, series
from ._tails import binom_cdf, binom_sf, normal_isf

_BAND_Z = normal_isf(0.005)


@dataclass(frozen=True, slots=True)
class CanaryResult:
    """The pooled comparison: events and trials of each version over matched buckets, and the expected events of the
    new version if it behaved like the incumbent."""

    k_new: int
    n_new: int
    k_ref: int
    n_ref: int
    expected: float  # of k_new under "no difference", given the events of both
    share: float  # the new version's average share of the events' traffic
    first_s: int | None


def match(new: RateStream, at_s: int, max_hours: float) -> CanaryResult:
    """Pool the buckets of ``new`` and of its ``reference`` that share a start, within ``max_hours`` before
    ``at_s``."""
    width = int(new.step.total_seconds()) if new.recent else HOUR_S
    ours = series(new.recent or new.hourly, width, at_s)
    theirs = series(new.reference, width, at_s)
    ref = {s: (k, n) for s, k, n in zip(theirs.starts, theirs.k, theirs.n, strict=True)}
    since = at_s - max_hours * HOUR_S
    k_new = n_new = k_ref = n_ref = 0
    expected = 0.0
    first = None
    for s, k, n in zip(ours.starts, ours.k, ours.n, strict=True):
        if s < since or n <= 0 or s not in ref:
            continue
        kr, nr = ref[s]
        if nr <= 0:
            continue
        first = s if first is None else first
        k_new += k
        n_new += n
        k_ref += kr
        n_ref += nr
        expected += (k + kr) * n / (n + nr)
    events = k_new + k_ref
    return CanaryResult(k_new, n_new, k_ref, n_ref, expected, expected / events if events else 0.0, first)


@dataclass(slots=True)
class Canary:
    """The canary comparison (see the module docstring). The stream holds the new version's buckets (``recent`` at
    ``step``, or ``hourly``) and ``reference`` the incumbent's at the same width."""

    name: str = "canary"
    alpha: float = 1e-4
    direction: str = "up"
    min_expected: float = 10.0
    min_ratio: float = 1.25
    min_excess: float = 5.0
    max_hours: float = 7 * 24

    def evaluate(self, stream: RateStream | HistogramStream, at: datetime, *, sensitivity: float = 1.0) -> Verdict:
        if not isinstance(stream, RateStream):
            raise TypeError("the canary comparison reads a RateStream with a reference")
        m = match(stream, epoch_s(at), self.max_hours)
        p_ref = m.k_ref / m.n_ref if m.n_ref else 0.0
        gate = Gate.ENOUGH if m.n_new * p_ref >= self.min_expected else Gate.TOO_SMALL
        window = timedelta(seconds=epoch_s(at) - m.first_s) if m.first_s is not None else timedelta(0)
        base = {
            "parent": stream.parent,
            "direction": self.direction,
            "observed_events": m.k_new,
            "expected_events": m.expected,
            "trials": m.n_new,
            "window": window,
            "observed_rate": m.k_new / m.n_new if m.n_new else None,
            "expected_rate": p_ref if m.n_ref else None,
            "values": (("reference_events", float(m.k_ref)), ("reference_trials", float(m.n_ref))),
        }
        if gate is not Gate.ENOUGH:
            return Verdict(
                self.name, stream.key, at, False, gate, **base,  # type: ignore[arg-type]
                reason=f"fewer than {self.min_expected:g} expected events on the new version yet",
            )  # fmt: skip
        events = m.k_new + m.k_ref
        up = binom_sf(m.k_new, events, m.share)
        down = binom_cdf(m.k_new, events, m.share)
        p = up if self.direction == "up" else down if self.direction == "down" else min(1.0, 2 * min(up, down))
        excess = m.k_new - m.expected
        ratio = m.k_new / m.expected if m.expected > 0 else math.inf
        worse_up = self.direction == "up" or (self.direction == "both" and excess > 0)
        if worse_up:
            effect = ratio >= self.min_ratio and excess >= self.min_excess
        else:
            effect = ratio <= 1 / self.min_ratio and -excess >= self.min_excess
        fired = effect and p <= self.alpha * sensitivity
        sd = math.sqrt(events * m.share * (1 - m.share))
        lo, hi = max(0.0, m.expected - _BAND_Z * sd), m.expected + _BAND_Z * sd
        stat = WindowStat(window.seconds // 60 + window.days * 1440, m.k_new, m.expected, m.n_new, 0.0)
        return Verdict(
            self.name, stream.key, at, fired, gate, **base,  # type: ignore[arg-type]
            p_value=p, statistic=-math.log10(max(p, 1e-300)),
            band=(lo / m.n_new, hi / m.n_new) if m.n_new else None,
            started_at=from_epoch_s(m.first_s) if fired and m.first_s is not None else None,
            windows=(stat,),
            reason=(
                f"new version: {m.k_new} events of {m.n_new} where {m.expected:.1f} were expected from the incumbent "
                f"({m.k_ref} of {m.n_ref}); p = {p:.2g}"
            ),
        )  # fmt: skip

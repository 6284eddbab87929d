"""Latency and throughput regressions on mergeable histograms: the quantile-shift test.

A shift of the q-quantile is a change in the share of requests beyond the baseline's q-quantile. So the test takes
the q-quantile of the histograms merged over the previous days (the bin where the cumulative count reaches q), turns
every bucket's histogram into a count — requests beyond that bin, of all requests — and runs the spike test on that
rate, with its seasonal baseline, wander and volume gate. ``direction="up"`` watches the upper tail (latency got
slower: the share above the baseline's p90 rises); ``"down"`` the lower tail (throughput dropped: the share below the
baseline's p10 rises). Histograms merge by adding bin counts, so any slice and any window can be tested.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from ._model import HOUR_S, Bucket, HistogramLike, HistogramStream, RateStream, Verdict, epoch_s
from .spike import Spike


def merge(histograms: Sequence[HistogramLike]) -> dict[int, int]:
    """The bin-wise sum of histograms."""
    out: dict[int, int] = {}
    for h in histograms:
        for b, c in h.bins.items():
            out[b] = out.get(b, 0) + c
    return out


def quantile_bin(bins: Mapping[int, int], q: float) -> int | None:
    """The bin holding the q-quantile of a histogram; None when it is empty."""
    total = sum(bins.values())
    if total <= 0:
        return None
    rank = q * total
    seen = 0
    for b in sorted(bins):
        seen += bins[b]
        if seen >= rank:
            return b
    return max(bins)


def bin_value(b: int, bins_per_octave: int) -> float:
    """The geometric centre of bin ``b``."""
    return float(2 ** ((b + 0.5) / bins_per_octave))


def exceedances(histograms: Sequence[HistogramLike], threshold_bin: int, direction: str) -> list[Bucket]:
    """Per bucket: requests beyond the threshold bin (above it for "up", below it for "down"), of all requests."""
    out = []
    for h in histograms:
        total = sum(h.bins.values())
        if direction == "up":
            k = sum(c for b, c in h.bins.items() if b > threshold_bin)
        else:
            k = sum(c for b, c in h.bins.items() if b < threshold_bin)
        out.append(Bucket(h.start, k, total))
    return out


@dataclass(slots=True)
class QuantileShift:
    """The quantile-shift test (see the module docstring); ``spike`` holds the volume gate, windows and floors."""

    name: str = "quantile_shift"
    quantile: float = 0.9
    direction: str = "up"
    baseline_days: int = 7
    spike: Spike = field(default_factory=Spike)

    def __post_init__(self) -> None:
        if self.direction not in ("up", "down"):
            raise ValueError(f"direction must be up or down, not {self.direction!r}")
        if not 0 < self.quantile < 1:
            raise ValueError(f"quantile must be between 0 and 1, not {self.quantile}")

    def evaluate(self, stream: RateStream | HistogramStream, at: datetime, *, sensitivity: float = 1.0) -> Verdict:
        if not isinstance(stream, HistogramStream):
            raise TypeError("the quantile-shift test reads a HistogramStream")
        at_s = epoch_s(at)
        test_from = at_s - (self.spike.max_minutes * 60 + HOUR_S)
        since = test_from - self.baseline_days * 86_400
        history = [h for h in stream.hourly if since <= epoch_s(h.start) < test_from]
        q = self.quantile if self.direction == "up" else 1.0 - self.quantile
        t_bin = quantile_bin(merge(history), q)
        spike = replace(self.spike, name=self.name, direction="up")
        counts = RateStream(
            stream.key,
            exceedances(stream.hourly, t_bin, self.direction) if t_bin is not None else [],
            exceedances(stream.recent, t_bin, self.direction) if t_bin is not None else [],
            stream.step,
            stream.parent,
        )
        v = spike.evaluate(counts, at, sensitivity=sensitivity)
        if t_bin is None:
            return v
        values = [*v.values, (f"baseline_p{round(self.quantile * 100)}", bin_value(t_bin, stream.bins_per_octave))]
        recent = [h for h in (stream.recent or stream.hourly) if epoch_s(h.start) >= at_s - v.window.total_seconds()]
        now_bin = quantile_bin(merge(recent), q)
        if now_bin is not None:
            values.append((f"observed_p{round(self.quantile * 100)}", bin_value(now_bin, stream.bins_per_octave)))
        return replace(v, direction=self.direction, values=tuple(values))

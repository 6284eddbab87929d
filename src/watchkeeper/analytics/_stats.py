"""Rates with their uncertainty: Wilson score intervals, the difference of two rates and its interval, and the
two-proportion z statistic that ranks changes by evidence rather than by size."""

from __future__ import annotations

import math
from dataclasses import dataclass

Z95 = 1.959963984540054  # two-sided 95%


def wilson(hits: int, total: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of hits/total; (0, 1) when total is 0."""
    if total <= 0:
        return 0.0, 1.0
    p = hits / total
    z2 = z * z
    centre = (p + z2 / (2 * total)) / (1 + z2 / total)
    half = z * math.sqrt(p * (1 - p) / total + z2 / (4 * total * total)) / (1 + z2 / total)
    # exact at the edges: no hits gives a lower bound of exactly 0, all hits an upper bound of exactly 1
    return (0.0 if hits == 0 else max(0.0, centre - half)), (1.0 if hits >= total else min(1.0, centre + half))


def diff_interval(k1: int, n1: int, k2: int, n2: int, z: float = Z95) -> tuple[float, float, float]:
    """p2 − p1 and its 95% interval by Newcombe's hybrid score method (from the two Wilson intervals)."""
    p1 = k1 / n1 if n1 else 0.0
    p2 = k2 / n2 if n2 else 0.0
    l1, u1 = wilson(k1, n1, z)
    l2, u2 = wilson(k2, n2, z)
    d = p2 - p1
    return d, d - math.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2), d + math.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)


def z_score(k1: int, n1: int, k2: int, n2: int) -> float:
    """The pooled two-proportion z statistic of p2 − p1 (0 when either side is empty or both rates are 0 or 1)."""
    if n1 <= 0 or n2 <= 0:
        return 0.0
    p = (k1 + k2) / (n1 + n2)
    se = math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    return 0.0 if se == 0 else (k2 / n2 - k1 / n1) / se


@dataclass(frozen=True, slots=True)
class Rate:
    """hits of total, with the rate and its 95% Wilson interval (rate is None when total is 0)."""

    hits: int
    total: int

    @property
    def value(self) -> float | None:
        return self.hits / self.total if self.total else None

    @property
    def interval(self) -> tuple[float, float]:
        return wilson(self.hits, self.total)

    def __add__(self, other: Rate) -> Rate:
        return Rate(self.hits + other.hits, self.total + other.total)


@dataclass(frozen=True, slots=True)
class Change:
    """From ``before`` to ``after``: the difference of rates, its 95% interval and the z statistic."""

    before: Rate
    after: Rate
    diff: float
    low: float
    high: float
    z: float

    @classmethod
    def between(cls, before: Rate, after: Rate) -> Change:
        d, lo, hi = diff_interval(before.hits, before.total, after.hits, after.total)
        return cls(before, after, d, lo, hi, z_score(before.hits, before.total, after.hits, after.total))

    @property
    def significant(self) -> bool:
        """The interval excludes no change."""
        return self.low > 0 or self.high < 0

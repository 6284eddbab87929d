"""Dating a change: the moment a detected shift most likely began.

Page's CUSUM estimator: with the shift's size r̂ known from the detecting window, the start is where the suffix sum of
the Poisson log-likelihood ratio k·ln r̂ − mu·(r̂ − 1), taken from now backwards, peaks — the last time a CUSUM
tuned for r̂ stood at zero. It needs counts and their expected values per bucket, nothing else, so every detector
uses it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def change_start(ks: Sequence[int], mus: Sequence[float], ratio: float) -> int | None:
    """The index of the bucket where a shift of ``ratio`` (observed/expected) most likely began, in buckets given
    oldest first; None when no suffix of the buckets supports a shift in that direction."""
    if ratio <= 0 or ratio == 1.0 or not ks:
        return None
    log_r = math.log(ratio)
    best, best_i, total = 0.0, None, 0.0
    for i in range(len(ks) - 1, -1, -1):
        total += ks[i] * log_r - mus[i] * (ratio - 1.0)
        if total > best:
            best, best_i = total, i
    return best_i

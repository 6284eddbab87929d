"""Exact tail probabilities of counts — Poisson, binomial, negative binomial, Poisson-lognormal — from the
regularised incomplete gamma and beta functions, accurate far into the tails (p-values of 1e-12 are as precise as
1e-2), in pure Python.

The negative binomial and the Poisson-lognormal are parametrised as a rate detectors think of it: mean ``mu`` and the
squared relative wander of the rate ``c`` (variance mu + c·mu²); c = 0 is Poisson. At the same mean and variance the
two differ in the far tail: a rate that wanders by a lognormal factor (multiplicative noise, correlated from bucket to
bucket) puts more mass there than the gamma wander of the negative binomial, which is why the spike test uses it.
"""

from __future__ import annotations

import itertools
import math

_EPS = 1e-15
_TINY = 1e-300
_MAX_ITER = 10_000


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def _beta_cf(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    if abs(d) < _TINY:
        d = _TINY
    d = 1.0 / d
    h = d
    for m in range(1, _MAX_ITER):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = _TINY if abs(d) < _TINY else d
        c = 1.0 + aa / c
        c = _TINY if abs(c) < _TINY else c
        d = 1.0 / d
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = _TINY if abs(d) < _TINY else d
        c = 1.0 + aa / c
        c = _TINY if abs(c) < _TINY else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b), for a, b > 0 and 0 ≤ x ≤ 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = a * math.log(x) + b * math.log1p(-x) - _log_beta(a, b)
    if x < (a + 1.0) / (a + b + 2.0):
        return min(1.0, math.exp(log_front) * _beta_cf(a, b, x) / a)
    return max(0.0, 1.0 - math.exp(log_front) * _beta_cf(b, a, 1.0 - x) / b)


def betainc_upper(a: float, b: float, x: float) -> float:
    """1 − I_x(a, b), computed without cancellation (the small side stays precise)."""
    return betainc(b, a, 1.0 - x)


def gammainc_lower(a: float, x: float) -> float:
    """The regularised lower incomplete gamma function P(a, x), for a > 0, x ≥ 0."""
    if x <= 0.0:
        return 0.0
    log_front = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1.0:
        term = total = 1.0 / a
        ap = a
        for _ in range(_MAX_ITER):
            ap += 1.0
            term *= x / ap
            total += term
            if abs(term) < abs(total) * _EPS:
                break
        return min(1.0, total * math.exp(log_front))
    return max(0.0, 1.0 - _gamma_cf(a, x, log_front))


def gammainc_upper(a: float, x: float) -> float:
    """The regularised upper incomplete gamma function Q(a, x) = 1 − P(a, x), precise when small."""
    if x <= 0.0:
        return 1.0
    log_front = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1.0:
        return max(0.0, 1.0 - gammainc_lower(a, x))
    return min(1.0, _gamma_cf(a, x, log_front))


def _gamma_cf(a: float, x: float, log_front: float) -> float:
    b = x + 1.0 - a
    c = 1.0 / _TINY
    d = 1.0 / b
    h = d
    for i in range(1, _MAX_ITER):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = _TINY if abs(d) < _TINY else d
        c = b + an / c
        c = _TINY if abs(c) < _TINY else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    return math.exp(log_front) * h


def poisson_sf(k: float, mu: float) -> float:
    """P(K ≥ k) for K ~ Poisson(mu)."""
    if k <= 0:
        return 1.0
    if mu <= 0:
        return 0.0
    return gammainc_lower(k, mu)


def poisson_cdf(k: float, mu: float) -> float:
    """P(K ≤ k) for K ~ Poisson(mu)."""
    if k < 0:
        return 0.0
    if mu <= 0:
        return 1.0
    return gammainc_upper(math.floor(k) + 1.0, mu)


def binom_sf(k: float, n: float, p: float) -> float:
    """P(X ≥ k) for X ~ Binomial(n, p); n may be fractional (a variance-scaled count)."""
    if k <= 0:
        return 1.0
    if k > n or p <= 0:
        return 0.0
    if p >= 1:
        return 1.0
    return betainc(k, n - k + 1.0, p)


def binom_cdf(k: float, n: float, p: float) -> float:
    """P(X ≤ k) for X ~ Binomial(n, p)."""
    if k < 0:
        return 0.0
    if k >= n or p <= 0:
        return 1.0
    if p >= 1:
        return 0.0
    k = math.floor(k)
    return betainc_upper(k + 1.0, n - k, p)


# Below this c·mu the wander is negligible next to Poisson noise, and the beta continued fraction (which needs
# about sqrt(1/c) steps) is slow for no gain: the Poisson tail is used.
_POISSON_CUTOFF = 1e-6


def _settled_sf(k: float, mu: float, c: float) -> float | None:
    """P(K ≥ k) where the wander plays no part (k ≤ 0, nothing expected, a wander too small to matter), else None."""
    if k <= 0:
        return 1.0
    if mu <= 0:
        return 0.0
    return poisson_sf(k, mu) if c * mu < _POISSON_CUTOFF else None


def _settled_cdf(k: float, mu: float, c: float) -> float | None:
    """P(K ≤ k) where the wander plays no part, else None."""
    if k < 0:
        return 0.0
    if mu <= 0:
        return 1.0
    return poisson_cdf(k, mu) if c * mu < _POISSON_CUTOFF else None


def nbinom_sf(k: float, mu: float, c: float) -> float:
    """P(K ≥ k) for K negative binomial with mean ``mu`` and variance mu + c·mu²."""
    if (settled := _settled_sf(k, mu, c)) is not None:
        return settled
    r = 1.0 / c
    # K ≥ k  ⇔  fewer than r "successes" before the k-th event: I_{1-q}(k, r) with q = r / (r + mu)
    return betainc(k, r, mu / (r + mu))


def nbinom_cdf(k: float, mu: float, c: float) -> float:
    """P(K ≤ k) for K negative binomial with mean ``mu`` and variance mu + c·mu²."""
    if (settled := _settled_cdf(k, mu, c)) is not None:
        return settled
    r = 1.0 / c
    return betainc(r, math.floor(k) + 1.0, r / (r + mu))


def _gauss_legendre(n: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Nodes and weights of the n-point Gauss–Legendre rule on [−1, 1] (Newton on the Legendre polynomial)."""
    nodes: list[float] = []
    weights: list[float] = []
    for i in range(1, n + 1):
        x = math.cos(math.pi * (i - 0.25) / (n + 0.5))
        for _ in range(100):
            p0, p1 = 1.0, x
            for j in range(2, n + 1):
                p0, p1 = p1, ((2 * j - 1) * x * p1 - (j - 1) * p0) / j
            dp = n * (x * p1 - p0) / (x * x - 1.0)
            step = p1 / dp
            x -= step
            if abs(step) < 1e-15:
                break
        nodes.append(x)
        weights.append(2.0 / ((1.0 - x * x) * dp * dp))
    return tuple(nodes), tuple(weights)


_GL_NODES, _GL_WEIGHTS = _gauss_legendre(8)
_PLN_DROP = 25.0  # nats below the integrand's peak where the integration stops (e^-25 of the peak is left out)
_PLN_PANEL = 4.0  # the panels next to the peak are this many peak widths wide
_PLN_GROWTH = 2.0  # and each next one this much wider
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def _pln_tail(k: float, mu: float, c: float, upper: bool) -> float:
    """P(K ≥ k) (``upper``) or P(K ≤ k) for K Poisson with a lognormal rate of mean ``mu`` and squared relative
    spread ``c``: the Poisson tail averaged over the rate, E_Z[tail(k, mu·exp(s·Z − s²/2))] with s² = ln(1 + c).

    The average is an integral over z of tail(λ(z))·φ(z), a single smooth bump: its peak and width are found from the
    Chernoff bound of the Poisson tail, exp(−(k·ln(k/λ) − k + λ)), whose log is concave in z, and the exact integrand
    is summed by Gauss–Legendre panels over the range where the bound is within e^-25 of its peak."""
    s2 = math.log1p(c)
    s = math.sqrt(s2)
    m0 = math.log(mu) - s2 / 2.0

    def chernoff(z: float) -> float:
        """The log of the bound on the integrand (up to the constant of φ)."""
        lam = math.exp(m0 + s * z)
        if not ((lam < k) if upper else (lam > k)):
            return -z * z / 2.0
        return -(lam - k + (k * math.log(k / lam) if k > 0 else 0.0)) - z * z / 2.0

    # the peak: s·(k − λ(z)) = z where the bound is below 1 (its derivative is zero there); bisection on the sign
    lam0 = math.exp(m0)
    at_k = (math.log(k) - m0) / s if k > 0 else -math.inf  # where λ(z) = k: the peak lies between it and 0
    lo, hi = (0.0, min(s * k, at_k)) if k > lam0 else (max(-s * lam0, at_k) - 1.0, 0.0)
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if s * (k - math.exp(m0 + s * mid)) > mid:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12 * (1.0 + abs(mid)):
            break
    peak = (lo + hi) / 2.0
    lam_peak = math.exp(m0 + s * peak)
    if (lam_peak >= k) if upper else (lam_peak <= k):
        peak = 0.0  # the bound is 1 there: k is on the near side of the mean and φ's own peak leads
    top = chernoff(peak)
    width = 1.0 / math.sqrt(1.0 + s2 * math.exp(m0 + s * peak))

    def edge(direction: float) -> float:
        near, far = peak, peak + direction * (math.sqrt(2.0 * _PLN_DROP) + 1.0)
        for _ in range(60):
            mid = (near + far) / 2.0
            if top - chernoff(mid) < _PLN_DROP:
                near = mid
            else:
                far = mid
        return far

    # panels a few peak widths wide at the peak, growing away from it (beyond where λ passes k the integrand is
    # φ's own shoulder, whose scale is 1, not the peak's)
    cuts = [peak]
    for direction, end in ((-1.0, edge(-1.0)), (1.0, edge(1.0))):
        at, step = peak, _PLN_PANEL * width
        while (end - at) * direction > 0:
            at = end if (end - at - direction * step) * direction <= 0 else at + direction * step
            cuts.append(at)
            step *= _PLN_GROWTH
    cuts.sort()
    total = 0.0
    tail = poisson_sf if upper else poisson_cdf
    for lo_z, hi_z in itertools.pairwise(cuts):
        centre, half = (lo_z + hi_z) / 2.0, (hi_z - lo_z) / 2.0
        part = 0.0
        for x, w in zip(_GL_NODES, _GL_WEIGHTS, strict=True):
            z = centre + x * half
            part += w * tail(k, math.exp(m0 + s * z)) * math.exp(-z * z / 2.0 - _LOG_SQRT_2PI)
        total += part * half
    return min(1.0, max(0.0, total))


def pln_sf(k: float, mu: float, c: float) -> float:
    """P(K ≥ k) for K Poisson-lognormal with mean ``mu`` and variance mu + c·mu²."""
    if (settled := _settled_sf(k, mu, c)) is not None:
        return settled
    k = math.ceil(k)
    if k <= mu:  # the large side: one minus the small one, which the integral gets to a relative precision
        return max(0.0, 1.0 - _pln_tail(k - 1, mu, c, upper=False))
    return _pln_tail(k, mu, c, upper=True)


def pln_cdf(k: float, mu: float, c: float) -> float:
    """P(K ≤ k) for K Poisson-lognormal with mean ``mu`` and variance mu + c·mu²."""
    if (settled := _settled_cdf(k, mu, c)) is not None:
        return settled
    k = math.floor(k)
    if k >= mu:
        return max(0.0, 1.0 - _pln_tail(k + 1, mu, c, upper=True))
    return _pln_tail(k, mu, c, upper=False)


def normal_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def normal_isf(p: float) -> float:
    """The z with P(Z ≥ z) = p (Acklam's rational approximation, refined by one Halley step)."""
    if p <= 0.0:
        return math.inf
    if p >= 1.0:
        return -math.inf
    q = min(p, 1.0 - p)
    if q > 0.02425:
        t = q - 0.5
        r = t * t
        x = (
            (((((-39.69683028665376 * r + 220.9460984245205) * r - 275.9285104469687) * r + 138.3577518672690) * r
              - 30.66479806614716) * r + 2.506628277459239) * t
            / (((((-54.47609879822406 * r + 161.5858368580409) * r - 155.6989798598866) * r + 66.80131188771972) * r
                - 13.28068155288572) * r + 1.0)
        )  # fmt: skip
    else:
        t = math.sqrt(-2.0 * math.log(q))
        x = (
            (((((-0.007784894002430293 * t - 0.3223964580411365) * t - 2.400758277161838) * t - 2.549732539343734) * t
              + 4.374664141464968) * t + 2.938163982698783)
            / ((((0.007784695709041462 * t + 0.3224671290700398) * t + 2.445134137142996) * t + 3.754408661907416) * t
               + 1.0)
        )  # fmt: skip
    # x is now the lower-tail quantile of q; one Halley step on the exact erfc
    e = 0.5 * math.erfc(-x / math.sqrt(2.0)) - q
    u = e * math.sqrt(2.0 * math.pi) * math.exp(x * x / 2.0)
    x = x - u / (1.0 + x * u / 2.0)
    return -x if p == q else x


def nbinom_band(mu: float, c: float, z: float) -> tuple[float, float]:
    """A display band of counts around mu: ±z standard deviations on the square-root scale, which keeps the band
    skewed like the counts (and never below 0)."""
    sd = math.sqrt(mu + c * mu * mu)
    # variance-stabilised: sqrt(K) has sd ≈ sd / (2·sqrt(mu))
    if mu <= 0:
        return 0.0, 0.0
    root, half = math.sqrt(mu), z * sd / (2.0 * math.sqrt(mu))
    return max(0.0, root - half) ** 2, (root + half) ** 2

"""Count-level traffic for the detector benchmark: slices in a hierarchy, six rates, seasonality, overdispersion, and
injected incidents with a known onset and slice.

Two simulators that share nothing but the slice hierarchy and the incident injection:

- ``A`` (tuning): one daily peak per language (time zones), weekends at 65% volume, rates with a mild daily cycle and
  weekend effect, a slow benign random walk of each rate, beta-binomial overdispersion per 5-minute bucket
  (intra-class correlation 0, 1e-4 or 1e-3) and a lognormal wander of each rate per hour (sd up to 8%, plus 2% shared
  by all slices of a rate).
- ``B`` (report only, never tuned on): two daily peaks (morning, evening) of different heights, weekends at half
  volume with a later peak, three holidays (40% volume, rates +10%: a different crowd), rates higher at night and
  ±15% at weekends, Poisson-lognormal counts with AR(1) noise from bucket to bucket (sd 5–20%, correlation 0.7 per
  5 minutes) plus a wander shared by a language per hour, and benign ±5% level shifts.

Counts are 5-minute buckets, numerators and denominators per leaf slice; parents are sums of their leaves. Both the
incident-free run and the run with incidents are produced from the same draws (incidents add events by thinning), so
the two differ only where incidents are.

numpy is used for speed; it is installed with the ``dev`` extra (through py3langid).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

BUCKET_MIN = 5
PER_HOUR = 60 // BUCKET_MIN
PER_DAY = 24 * PER_HOUR
T0_S = 1_767_571_200  # 2026-01-05 00:00 UTC, a Monday

LANGS = ("en", "es", "de", "fr", "pt", "ja", "hi", "it", "nl", "pl", "tr", "ko", "ar", "sv")
MODELS = ("gpt-4o", "claude-sonnet", "gpt-4.1-mini", "llama-70b", "mistral-large")
CLIENTS = ("web", "ios", "android", "api", "slack", "cli")
# rate name: (base rate, denominator per request)
METRICS: dict[str, tuple[float, float]] = {
    "refusal": (0.02, 1.0),
    "tool_error": (0.05, 1.6),
    "jailbreak_attempt": (0.01, 1.0),
    "injection_in_tool_result": (0.004, 1.6),
    "task_failure": (0.08, 0.35),
    "escalation": (0.03, 0.35),
}
LANG_SHARE = np.array([0.30, 0.14, 0.10, 0.09, 0.07, 0.06, 0.05, 0.045, 0.035, 0.03, 0.025, 0.02, 0.015, 0.01])
MODEL_SHARE = np.array([0.45, 0.25, 0.15, 0.10, 0.05])
CLIENT_SHARE = np.array([0.40, 0.22, 0.18, 0.12, 0.05, 0.03])
LANG_PEAK_UTC = np.array([17, 16, 13, 13, 18, 4, 8, 13, 13, 12, 11, 4, 10, 13], dtype=float)
TOTAL_REQUESTS_PER_HOUR = 150_000.0


@dataclass(frozen=True)
class Hierarchy:
    """Slices: the global root, languages, language × model, language × model × client (the leaves)."""

    keys: list[str]
    parent: np.ndarray  # index of the parent slice, -1 for the root
    depth: np.ndarray
    leaf_index: np.ndarray  # slice index of each leaf, leaves in (lang, model, client) order

    @property
    def size(self) -> int:
        return len(self.keys)

    def ancestors(self, s: int) -> list[int]:
        out = []
        p = int(self.parent[s])
        while p >= 0:
            out.append(p)
            p = int(self.parent[p])
        return out

    def related(self, a: int, b: int) -> bool:
        """a is b, or an ancestor or a descendant of it."""
        return a == b or a in self.ancestors(b) or b in self.ancestors(a)


def hierarchy() -> Hierarchy:
    keys = ["*"]
    parent = [-1]
    depth = [0]
    leaf_index = []
    for li, lang in enumerate(LANGS):
        lk = len(keys)
        keys.append(f"lang={lang}")
        parent.append(0)
        depth.append(1)
        for model in MODELS:
            mk = len(keys)
            keys.append(f"lang={lang}/model={model}")
            parent.append(lk)
            depth.append(2)
            for client in CLIENTS:
                leaf_index.append(len(keys))
                keys.append(f"lang={lang}/model={model}/client={client}")
                parent.append(mk)
                depth.append(3)
        del li
    return Hierarchy(keys, np.array(parent), np.array(depth), np.array(leaf_index))


def aggregate(h: Hierarchy, leaves: np.ndarray) -> np.ndarray:
    """Counts of every slice (S × T) from the leaves' (L × T), parents summed."""
    nl, nm, nc = len(LANGS), len(MODELS), len(CLIENTS)
    t = leaves.shape[1]
    out = np.zeros((h.size, t), dtype=np.int64)
    x = leaves.reshape(nl, nm, nc, t)
    out[h.leaf_index] = leaves
    lm = x.sum(axis=2)  # (nl, nm, t)
    lang = lm.sum(axis=1)
    out[0] = lang.sum(axis=0)
    i = 1
    for li in range(nl):
        out[i] = lang[li]
        i += 1
        for mi in range(nm):
            out[i] = lm[li, mi]
            i += 1 + nc
    return out


@dataclass
class Incident:
    id: int
    kind: str  # step1.5, step2, step3, ramp50, refusal+12pt
    metric: str
    slice: int
    onset: int  # bucket index
    end: int  # bucket index (exclusive) when the rate returns to normal
    band: float  # the slice's expected events per hour (mean over the week before onset): its volume band
    depth: int
    detected_at: int | None = None
    localised: bool | None = None
    localised_top3: bool | None = None
    notifications: int = 0


@dataclass
class Traffic:
    """One simulated month: per rate, counts of every slice (S × T) without and with incidents."""

    sim: str
    seed: int
    hier: Hierarchy
    days: int
    warm_days: int
    n: dict[str, np.ndarray]
    k_free: dict[str, np.ndarray]
    k_inc: dict[str, np.ndarray]
    mu_hour: dict[str, np.ndarray]  # true expected events per hour (S × H), incident-free
    incidents: list[Incident] = field(default_factory=list)
    holidays: tuple[int, ...] = ()  # days (from the start) of simulator B's holidays

    @property
    def buckets(self) -> int:
        return self.days * PER_DAY


def _hour_of_day(t: np.ndarray) -> np.ndarray:
    return (t % PER_DAY) / PER_HOUR


def _weekend(t: np.ndarray) -> np.ndarray:
    day = t // PER_DAY  # T0 is a Monday
    return (day % 7) >= 5


def _leaf_grid(values_lang: np.ndarray) -> np.ndarray:
    return np.repeat(values_lang, len(MODELS) * len(CLIENTS))


def _volume_a(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    """Requests per 5 minutes per leaf (L × T), expected."""
    share = np.einsum("i,j,k->ijk", LANG_SHARE, MODEL_SHARE, CLIENT_SHARE).ravel()
    share = share * rng.lognormal(0, 0.3, share.size)
    share /= share.sum()
    base = TOTAL_REQUESTS_PER_HOUR * share / PER_HOUR
    amp = _leaf_grid(rng.uniform(0.45, 0.65, len(LANGS)))
    peak = _leaf_grid(LANG_PEAK_UTC)
    hod = _hour_of_day(t)
    daily = 1 + amp[:, None] * np.cos(2 * np.pi * (hod[None, :] - peak[:, None]) / 24)
    weekly = np.where(_weekend(t), 0.65, 1.0)[None, :]
    return base[:, None] * daily * weekly


def _volume_b(rng: np.random.Generator, t: np.ndarray, holidays: np.ndarray) -> np.ndarray:
    share = np.einsum("i,j,k->ijk", LANG_SHARE[::-1].copy(), MODEL_SHARE, CLIENT_SHARE[::-1].copy()).ravel()
    share = share * rng.lognormal(0, 0.5, share.size)
    share /= share.sum()
    base = TOTAL_REQUESTS_PER_HOUR * share / PER_HOUR
    tz = _leaf_grid(LANG_PEAK_UTC - 14)  # local noon in UTC, roughly
    weekend = _weekend(t)
    local = (_hour_of_day(t)[None, :] - tz[:, None]) % 24
    shift = np.where(weekend, 1.5, 0.0)[None, :]  # later mornings at weekends
    morning = np.exp(-0.5 * ((local - 9.5 - shift) / 2.0) ** 2)
    evening = 0.7 * np.exp(-0.5 * ((local - 20.5) / 1.5) ** 2)
    shape = 0.15 + morning + evening
    shape /= shape.mean()
    vol = base[:, None] * shape * np.where(weekend, 0.5, 1.0)[None, :]
    day = t // PER_DAY
    return vol * np.where(np.isin(day, holidays), 0.4, 1.0)[None, :]


def _rates_a(rng: np.random.Generator, t: np.ndarray, base_rate: float) -> np.ndarray:
    nl = len(LANGS) * len(MODELS) * len(CLIENTS)
    mult = rng.lognormal(0, 0.35, nl)
    b = rng.uniform(0, 0.15, nl)
    peak_r = rng.uniform(0, 24, nl)
    w = rng.uniform(-0.08, 0.08, nl)
    hod = _hour_of_day(t)
    p = base_rate * mult[:, None] * (1 + b[:, None] * np.cos(2 * np.pi * (hod[None, :] - peak_r[:, None]) / 24))
    p = p * (1 + w[:, None] * _weekend(t)[None, :])
    # benign slow random walk of the level: 2% per day, interpolated per bucket
    days = t[-1] // PER_DAY + 2
    walk = np.cumsum(rng.normal(0, 0.02, (nl, days)), axis=1)
    day_f = t / PER_DAY
    lo = np.floor(day_f).astype(int)
    frac = day_f - lo
    p = p * np.exp(walk[:, lo] * (1 - frac) + walk[:, lo + 1] * frac)
    # hourly wander: per leaf (sd up to 8%) and shared by the rate (2%)
    hours = len(t) // PER_HOUR
    sd = rng.uniform(0, 0.08, nl)
    own = rng.normal(0, 1, (nl, hours)) * sd[:, None] - sd[:, None] ** 2 / 2
    shared = rng.normal(0, 0.02, hours) - 0.0002
    p = p * np.exp(np.repeat(own + shared[None, :], PER_HOUR, axis=1))
    return np.clip(p, 1e-6, 0.9)


def _rates_b(rng: np.random.Generator, t: np.ndarray, base_rate: float, holidays: np.ndarray) -> np.ndarray:
    nl = len(LANGS) * len(MODELS) * len(CLIENTS)
    mult = rng.lognormal(0, 0.5, nl)
    tz = _leaf_grid(LANG_PEAK_UTC - 14)
    local = (_hour_of_day(t)[None, :] - tz[:, None]) % 24
    night = 1 + 0.2 * np.exp(-0.5 * ((local - 3) / 2.5) ** 2)
    w = rng.uniform(-0.15, 0.15, nl)
    p = base_rate * mult[:, None] * night * (1 + w[:, None] * _weekend(t)[None, :])
    p = p * np.where(np.isin(t // PER_DAY, holidays), 1.1, 1.0)[None, :]
    # benign level shifts of ±5%, two per leaf over the run
    for _ in range(2):
        at = rng.integers(0, len(t), nl)
        size = rng.choice([-0.05, 0.05], nl)
        p = p * np.where(t[None, :] >= at[:, None], 1 + size[:, None], 1.0)
    return np.clip(p, 1e-6, 0.9)


def _counts_a(rng: np.random.Generator, n: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Beta-binomial counts with an intra-class correlation per leaf of 0, 1e-4 or 1e-3."""
    rho = rng.choice([0.0, 1e-4, 1e-3], size=n.shape[0], p=[0.3, 0.4, 0.3])
    k = np.empty(n.shape, dtype=np.int64)
    for i in range(n.shape[0]):
        if rho[i] == 0:
            k[i] = rng.binomial(n[i], p[i])
        else:
            s = 1 / rho[i] - 1
            q = rng.beta(p[i] * s, (1 - p[i]) * s)
            k[i] = rng.binomial(n[i], q)
    return k


def _counts_b(rng: np.random.Generator, n: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Poisson-lognormal counts with AR(1) noise (0.7 per bucket), sd 5–20% per leaf, plus a per-language hourly
    wander (3%)."""
    nl, tt = n.shape
    sd = rng.choice([0.05, 0.1, 0.2], size=nl)
    a = 0.7
    eps = np.empty((nl, tt))
    eps[:, 0] = rng.normal(0, 1, nl)
    z = rng.normal(0, 1, (nl, tt))
    root = np.sqrt(1 - a * a)
    for j in range(1, tt):
        eps[:, j] = a * eps[:, j - 1] + root * z[:, j]
    lang_h = rng.normal(0, 0.03, (len(LANGS), tt // PER_HOUR))
    lang = np.repeat(np.repeat(lang_h, len(MODELS) * len(CLIENTS), axis=0), PER_HOUR, axis=1)
    lam = n * p * np.exp(eps * sd[:, None] - sd[:, None] ** 2 / 2 + lang)
    return np.minimum(rng.poisson(lam), n)


KINDS = {  # kind: (share of incidents, duration in hours)
    "step1.5": (0.22, 6),
    "step2": (0.24, 6),
    "step3": (0.14, 6),
    "ramp50": (0.28, 30),
    "refusal+12pt": (0.12, 12),
}
BANDS = (1.0, 10.0, 30.0, 100.0, np.inf)  # expected events per hour (daily mean): incidents are spread over these


def multiplier(kind: str, t_rel: np.ndarray, p: np.ndarray) -> np.ndarray:
    """The incident's rate at ``t_rel`` buckets after onset, from the normal rate ``p``."""
    if kind.startswith("step"):
        return p * float(kind[4:])
    if kind == "ramp50":
        return p * (1 + 0.5 * np.minimum(t_rel / (24 * PER_HOUR), 1.0))
    return np.minimum(p + 0.12, 0.95)


def _plan_incidents(
    rng: np.random.Generator, h: Hierarchy, mu_hour: dict[str, np.ndarray], warm_days: int, days: int, count: int
) -> list[Incident]:
    """Incidents spread over rates, slices of every volume band and depth 1–3, never overlapping (with two days of
    margin: a drift test looks back 48 hours) in related slices of the same rate."""
    out: list[Incident] = []
    busy: list[tuple[str, int, int, int]] = []  # metric, slice, from, to
    kinds = list(KINDS)
    shares = np.array([KINDS[k][0] for k in kinds])
    metrics = list(METRICS)
    start_min, end_max = warm_days * PER_DAY, days * PER_DAY
    tries = 0
    while len(out) < count and tries < count * 200:
        tries += 1
        kind = kinds[rng.choice(len(kinds), p=shares / shares.sum())]
        metric = "refusal" if kind == "refusal+12pt" else metrics[rng.integers(len(metrics))]
        band_i = rng.integers(len(BANDS) - 1)
        depth = int(rng.choice([1, 2, 3], p=[0.2, 0.3, 0.5]))
        mean_mu = mu_hour[metric].mean(axis=1)
        pool = np.flatnonzero((h.depth == depth) & (mean_mu >= BANDS[band_i]) & (mean_mu < BANDS[band_i + 1]))
        if pool.size == 0:
            continue
        s = int(pool[rng.integers(pool.size)])
        dur = KINDS[kind][1] * PER_HOUR
        onset = int(rng.integers(start_min, end_max - dur - 2 * PER_HOUR))
        lo, hi = onset - 2 * PER_HOUR, onset + dur + 48 * PER_HOUR
        if any(m == metric and h.related(s, s2) and lo < b and a < hi for m, s2, a, b in busy):
            continue
        busy.append((metric, s, lo, hi))
        week = mu_hour[metric][s, max(0, onset // PER_HOUR - 7 * 24) : onset // PER_HOUR]
        out.append(Incident(len(out), kind, metric, s, onset, onset + dur, float(week.mean()), depth))
    return out


def simulate(sim: str, seed: int, *, warm_days: int = 14, test_days: int = 28, incidents: int = 200) -> Traffic:
    """One seeded month of traffic from simulator ``sim`` ("A" or "B"), with and without ``incidents``."""
    rng = np.random.default_rng([seed, 0 if sim == "A" else 1])
    h = hierarchy()
    days = warm_days + test_days
    t = np.arange(days * PER_DAY)
    holidays = np.sort(rng.choice(np.arange(3, days), size=3, replace=False)) if sim == "B" else np.array([], int)
    vol = _volume_a(rng, t) if sim == "A" else _volume_b(rng, t, holidays)
    n_leaf: dict[str, np.ndarray] = {}
    p_leaf: dict[str, np.ndarray] = {}
    mu_hour: dict[str, np.ndarray] = {}
    n_all: dict[str, np.ndarray] = {}
    for metric, (rate, per_request) in METRICS.items():
        n = rng.poisson(vol * per_request)
        p = _rates_a(rng, t, rate) if sim == "A" else _rates_b(rng, t, rate, holidays)
        n_leaf[metric], p_leaf[metric] = n, p
        n_all[metric] = aggregate(h, n)
        exp_leaf = (vol * per_request * p).reshape(n.shape[0], -1, PER_HOUR).sum(axis=2)
        mu_hour[metric] = aggregate(h, exp_leaf)
    plan = _plan_incidents(rng, h, mu_hour, warm_days, days, incidents) if incidents else []
    k_free: dict[str, np.ndarray] = {}
    k_inc: dict[str, np.ndarray] = {}
    leaf_pos = {int(s): i for i, s in enumerate(h.leaf_index)}
    for metric in METRICS:
        n, p = n_leaf[metric], p_leaf[metric]
        k = _counts_a(rng, n, p) if sim == "A" else _counts_b(rng, n, p)
        k_free[metric] = aggregate(h, k)
        k2 = k.copy()
        for inc in plan:
            if inc.metric != metric:
                continue
            leaves = [leaf_pos[s] for s in h.leaf_index if inc.slice == s or inc.slice in h.ancestors(int(s))]
            sl = slice(inc.onset, inc.end)
            t_rel = np.arange(inc.end - inc.onset)
            for li in leaves:
                p0 = p[li, sl]
                p1 = multiplier(inc.kind, t_rel, p0)
                base_k = k[li, sl]
                room = n[li, sl] - base_k
                extra = rng.binomial(np.maximum(room, 0), np.clip((p1 - p0) / (1 - p0), 0, 1))
                k2[li, sl] = base_k + extra
        k_inc[metric] = aggregate(h, k2)
    return Traffic(sim, seed, h, days, warm_days, n_all, k_free, k_inc, mu_hour, plan, tuple(int(d) for d in holidays))

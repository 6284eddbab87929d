"""Who uses the simulated product and when: cohort shares, accounts, sessions and the daily traffic curve.

Everything is a pure function of the seed and a position in time, so any time range can be generated on its own and
two adjacent ranges join up exactly: the sessions of a minute come from a random generator keyed by
(seed, minute, index), accounts from one keyed by (seed, pool, period, index).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, TypeVar

from ._phrases import FIRST_NAMES, INTENTS, LANGUAGE_OF_LOCALE, SYSTEM_PROMPTS

NS_PER_S: Final = 1_000_000_000
NS_PER_MIN: Final = 60 * NS_PER_S
NS_PER_DAY: Final = 86_400 * NS_PER_S
NS_PER_WEEK: Final = 7 * NS_PER_DAY
NEW_ACCOUNT_AGE_NS: Final = 7 * NS_PER_DAY

# The agent starts no new plan step after TURN_BUDGET_NS. The slowest step after that (a model call that times out
# at 8 s, a back-off, a retry: 17.5 s; tools: 6 s MCP timeout, back-off, retry: 13 s) and the final answer (17.5 s)
# end a turn by about 63 s, before the next turn of its session can start, so turns of a session never overlap.
TURN_BUDGET_NS: Final = 15 * NS_PER_S
MIN_TURN_GAP_NS: Final = 65 * NS_PER_S
MAX_THINK_NS: Final = 180 * NS_PER_S
MAX_TURNS: Final = 5
# How far back a session may start and still have a turn in a later minute.
SESSION_LOOKBACK_MIN: Final = math.ceil((MAX_TURNS - 1) * (MIN_TURN_GAP_NS + MAX_THINK_NS) / NS_PER_MIN) + 1

_OLD_POOL_SIZE: Final = 6000  # returning accounts per week
_NEW_POOL_SIZE: Final = 400  # sign-ups per day that use support


@dataclass(frozen=True, slots=True)
class ModelSpec:
    provider: str
    request_model: str
    response_model: str
    ttft_ms: float  # median time to first token
    tokens_per_s: float
    refusal_rate: float  # share of ordinary requests the model wrongly refuses


MODELS: Final[dict[str, ModelSpec]] = {
    m.response_model: m
    for m in (
        ModelSpec("openai", "gpt-4o", "gpt-4o-2024-08-06", 480.0, 85.0, 0.006),
        ModelSpec("openai", "gpt-4.1-mini", "gpt-4.1-mini-2025-04-14", 320.0, 120.0, 0.035),
        ModelSpec("anthropic", "claude-sonnet-4-0", "claude-sonnet-4-20250514", 650.0, 70.0, 0.004),
    )
}

# Skill (name, {version: share}) that serves each intent; refunds is mid-rollout.
SKILLS: Final[dict[str, tuple[str, dict[str, float]]]] = {
    "order_status": ("orders", {"1.8.0": 1.0}),
    "refund": ("refunds", {"2.3.1": 0.6, "2.4.0": 0.4}),
    "password_reset": ("account-access", {"3.1.2": 1.0}),
    "billing": ("billing", {"1.4.0": 0.8, "1.5.0": 0.2}),
    "product_question": ("product-faq", {"5.0.3": 1.0}),
    "cancel_subscription": ("subscriptions", {"1.2.0": 1.0}),
}


def _d(**kw: float) -> dict[str, float]:
    return dict(kw)


@dataclass(frozen=True, slots=True)
class TrafficMix:
    """Who uses the simulated product: each mapping gives shares that sum to 1 (they are normalised)."""

    new_account_share: float = 0.15  # accounts created within the last 7 days
    regions: Mapping[str, float] = field(
        default_factory=lambda: {
            "us-east": 0.36,
            "us-west": 0.10,
            "eu-west": 0.25,
            "ap-south": 0.11,
            "ap-northeast": 0.07,
            "sa-east": 0.11,
        }
    )
    locales_by_region: Mapping[str, Mapping[str, float]] = field(
        default_factory=lambda: {
            "us-east": {"en-US": 0.88, "es-ES": 0.08, "fr-FR": 0.04},
            "us-west": {"en-US": 0.86, "es-ES": 0.09, "ja-JP": 0.05},
            "eu-west": {"en-GB": 0.30, "de-DE": 0.30, "fr-FR": 0.24, "es-ES": 0.16},
            "ap-south": {"en-IN": 0.55, "hi-IN": 0.45},
            "ap-northeast": {"ja-JP": 0.85, "en-US": 0.15},
            "sa-east": {"pt-BR": 0.80, "es-ES": 0.20},
        }
    )
    plan_tiers: Mapping[str, float] = field(default_factory=lambda: _d(free=0.62, pro=0.28, enterprise=0.10))
    clients: Mapping[str, float] = field(default_factory=lambda: _d(web=0.45, ios=0.25, android=0.20, api=0.10))
    client_versions: Mapping[str, Mapping[str, float]] = field(
        default_factory=lambda: {
            "web": {"2025.06.2": 0.8, "2025.06.1": 0.2},
            "ios": {"4.12.0": 0.55, "4.13.0": 0.45},
            "android": {"4.12.1": 0.70, "4.13.0": 0.30},
            "api": {"v2": 0.85, "v1": 0.15},
        }
    )
    intents: Mapping[str, float] = field(
        default_factory=lambda: _d(
            order_status=0.30,
            refund=0.18,
            password_reset=0.14,
            billing=0.16,
            product_question=0.14,
            cancel_subscription=0.08,
        )
    )
    models: Mapping[str, float] = field(
        default_factory=lambda: {
            "gpt-4o-2024-08-06": 0.80,
            "gpt-4.1-mini-2025-04-14": 0.10,  # the canary
            "claude-sonnet-4-20250514": 0.10,
        }
    )
    prompts: Mapping[str, float] = field(default_factory=lambda: {"support-v12": 0.70, "support-v13": 0.30})
    jailbreak_share_of_new: float = 0.05  # of sessions from new accounts

    def check(self) -> None:
        """Raise ValueError naming the first share that cannot be simulated."""
        for name in ("new_account_share", "jailbreak_share_of_new"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"TrafficMix.{name} must be between 0 and 1")
        _check_shares("regions", self.regions)
        _check_shares("plan_tiers", self.plan_tiers)
        _check_shares("clients", self.clients)
        _check_shares("intents", self.intents, allowed=INTENTS)
        _check_shares("models", self.models, allowed=tuple(MODELS))
        _check_shares("prompts", self.prompts, allowed=tuple(SYSTEM_PROMPTS))
        for region in self.regions:
            if region not in self.locales_by_region:
                raise ValueError(f"TrafficMix.locales_by_region has no entry for region {region!r}")
            _check_shares(
                f"locales_by_region[{region!r}]", self.locales_by_region[region], allowed=tuple(LANGUAGE_OF_LOCALE)
            )
        for client in self.clients:
            if client not in self.client_versions:
                raise ValueError(f"TrafficMix.client_versions has no entry for client {client!r}")
            _check_shares(f"client_versions[{client!r}]", self.client_versions[client])


def _check_shares(name: str, shares: Mapping[str, float], allowed: Sequence[str] | None = None) -> None:
    if not shares or any(not (v >= 0 and math.isfinite(v)) for v in shares.values()) or sum(shares.values()) <= 0:
        raise ValueError(f"TrafficMix.{name} must map names to non-negative shares with a positive sum")
    if allowed is not None:
        unknown = sorted(set(shares) - set(allowed))
        if unknown:
            raise ValueError(f"TrafficMix.{name} names unknown entries {unknown}; known: {sorted(allowed)}")


@dataclass(frozen=True, slots=True)
class DegradedWindow:
    """A recurring window in which one MCP server fails often, for one client version only.

    The default story: every 6 hours, for 40 minutes, iOS 4.13.0 sends locale-formatted amounts that the agent
    passes on, and billing-mcp rejects them with JSON-RPC -32602 (invalid params), and answers slowly.
    """

    every_s: float = 6 * 3600.0
    offset_s: float = 3 * 3600.0 + 20 * 60.0
    duration_s: float = 40 * 60.0
    mcp_server: str = "billing-mcp"
    client_name: str = "ios"
    client_version: str = "4.13.0"
    error_rate: float = 0.45

    def active(self, time_ns: int) -> bool:
        """Whether the window is open at this event time."""
        period = int(self.every_s * NS_PER_S)
        if period <= 0:
            return False
        phase = (time_ns - int(self.offset_s * NS_PER_S)) % period
        return phase < int(self.duration_s * NS_PER_S)

    def hits(self, time_ns: int, mcp_server: str, client_name: str | None, client_version: str | None) -> bool:
        """Whether a call to this server from this client falls in the window."""
        return (
            mcp_server == self.mcp_server
            and client_name == self.client_name
            and client_version == self.client_version
            and self.active(time_ns)
        )


@dataclass(frozen=True, slots=True)
class Incident:
    """A one-off fault for the alert engine to find: from ``start_ns``, for ``duration_s``, the model wrongly refuses
    ``extra_refusal_rate`` more of the ordinary requests written in one language.

    The default story: a silent safety-filter update makes the model refuse ordinary English support requests (15
    percentage points more of them; it usually refuses about 1 in 100) for 45 minutes, until it is rolled back.
    English carries about half the traffic: enough expected refusals for the spike test to page on that slice.
    """

    start_ns: int
    duration_s: float = 45 * 60.0
    language: str = "en"
    extra_refusal_rate: float = 0.15

    def __post_init__(self) -> None:
        if not (self.duration_s >= 0 and math.isfinite(self.duration_s)):
            raise ValueError("Incident.duration_s must be a non-negative number of seconds")
        if not 0.0 <= self.extra_refusal_rate <= 1.0:
            raise ValueError("Incident.extra_refusal_rate must be between 0 and 1")

    @property
    def end_ns(self) -> int:
        return self.start_ns + int(self.duration_s * NS_PER_S)

    def active(self, time_ns: int) -> bool:
        """Whether the incident is under way at this event time."""
        return self.start_ns <= time_ns < self.end_ns

    def hits(self, time_ns: int, language: str) -> bool:
        """Whether a request in this language at this time meets the faulty filter."""
        return language == self.language and self.active(time_ns)

    def refusal_rate(self, usual: float, time_ns: int, language: str) -> float:
        """The share of ordinary requests refused at this time in this language, given the model's usual share."""
        return min(1.0, usual + self.extra_refusal_rate) if self.hits(time_ns, language) else usual


def seasonality(time_ns: int) -> float:
    """Traffic at this time relative to the weekly mean (1.0): busiest mid-afternoon UTC, quieter at weekends."""
    hour = (time_ns % NS_PER_DAY) / (3600 * NS_PER_S)
    daily = 1.0 + 0.45 * math.cos(2 * math.pi * (hour - 15.0) / 24.0)
    weekday = (time_ns // NS_PER_DAY + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
    return daily * (0.8 if weekday >= 5 else 1.08)


_K = TypeVar("_K")


def pick(rng: random.Random, shares: Mapping[_K, float]) -> _K:
    """One key, drawn with probability proportional to its share (insertion order makes it deterministic)."""
    total = sum(shares.values())
    x = rng.random() * total
    last = None
    for key, w in shares.items():
        last = key
        x -= w
        if x < 0 and w > 0:
            return key
    assert last is not None
    return last


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw: exact for small means, a rounded normal for large ones."""
    if lam <= 0:
        return 0
    if lam > 40:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def seeded(key: str) -> random.Random:
    """The random generator for one decision key; string seeds hash the same on every run and platform."""
    return random.Random(key)  # noqa: S311 - simulated traffic needs reproducibility, not secrecy


def hex_id(rng: random.Random, digits: int) -> str:
    """Lowercase hex of the given length from the generator, never all zeros."""
    while True:
        v = rng.getrandbits(4 * digits)
        if v:
            return f"{v:0{digits}x}"


@dataclass(frozen=True, slots=True)
class Subject:
    """A pseudonymous end user and their account's cohort attributes."""

    subject_id: str
    customer_id: str
    created_at_ns: int
    plan_tier: str
    region: str
    locale: str
    client_name: str
    client_version: str
    email: str


def _subject(seed: int, mix: TrafficMix, key: str, created_at_ns: int) -> Subject:
    rng = seeded(f"wk-demo:{seed}:subject:{key}")
    region = pick(rng, mix.regions)
    client = pick(rng, mix.clients)
    first = rng.choice(FIRST_NAMES)
    return Subject(
        subject_id="subj_" + hex_id(rng, 16),
        customer_id="cus_" + hex_id(rng, 14),
        created_at_ns=created_at_ns,
        plan_tier=pick(rng, mix.plan_tiers),
        region=region,
        locale=pick(rng, mix.locales_by_region[region]),
        client_name=client,
        client_version=pick(rng, mix.client_versions[client]),
        email=f"{first}.{rng.randrange(10, 99)}@example.com",
    )


def old_subject(seed: int, mix: TrafficMix, time_ns: int, rng: random.Random) -> Subject:
    """A returning account (older than 7 days); frequent users come back more often."""
    week = time_ns // NS_PER_WEEK
    i = int(_OLD_POOL_SIZE * rng.random() ** 2)
    age_rng = seeded(f"wk-demo:{seed}:age:{week}:{i}")
    # Old enough for every time in this week: created before the week started, minus seven days.
    created = week * NS_PER_WEEK - NEW_ACCOUNT_AGE_NS - int(age_rng.uniform(0.1, 700.0) * NS_PER_DAY)
    return _subject(seed, mix, f"old:{week}:{i}", max(created, 0))


def new_subject(seed: int, mix: TrafficMix, time_ns: int, rng: random.Random) -> Subject:
    """An account created within the 7 days before ``time_ns`` (and at least a minute before it)."""
    for _ in range(32):
        age = rng.uniform(0, NEW_ACCOUNT_AGE_NS)
        day = int((time_ns - age) // NS_PER_DAY)
        j = rng.randrange(_NEW_POOL_SIZE)
        created = day * NS_PER_DAY + seeded(f"wk-demo:{seed}:signup:{day}:{j}").randrange(NS_PER_DAY)
        if time_ns - NEW_ACCOUNT_AGE_NS < created < time_ns - NS_PER_MIN:
            return _subject(seed, mix, f"new:{day}:{j}", created)
    created = time_ns - NS_PER_DAY  # practically unreachable; still a valid new account
    return _subject(seed, mix, f"new-at:{created}", created)


@dataclass(frozen=True, slots=True)
class Session:
    """A conversation: one subject, one task, one to five turns (one trace each)."""

    key: str  # seeds every random choice inside the session
    session_id: str
    subject: Subject
    is_new_account: bool
    model: ModelSpec
    prompt: str
    intent: str
    jailbreak: bool
    turn_starts_ns: tuple[int, ...]


_TURN_COUNTS: Final = {1: 0.45, 2: 0.25, 3: 0.15, 4: 0.10, 5: 0.05}
MEAN_TURNS: Final = sum(k * w for k, w in _TURN_COUNTS.items())


def sessions_in_minute(seed: int, mix: TrafficMix, minute: int, traces_per_min: float) -> list[Session]:
    """The sessions that start in this minute (``minute`` counts from the epoch), in start order."""
    count_rng = seeded(f"wk-demo:{seed}:count:{minute}")
    n = poisson(count_rng, traces_per_min / MEAN_TURNS)
    out = []
    for i in range(n):
        key = f"wk-demo:{seed}:session:{minute}:{i}"
        rng = seeded(key)
        start = minute * NS_PER_MIN + rng.randrange(NS_PER_MIN)
        is_new = rng.random() < mix.new_account_share
        subject = (new_subject if is_new else old_subject)(seed, mix, start, rng)
        jailbreak = is_new and subject.client_name != "api" and rng.random() < mix.jailbreak_share_of_new
        turns = rng.choice((1, 1, 2)) if jailbreak else pick(rng, _TURN_COUNTS)
        starts = [start]
        for _ in range(turns - 1):
            think = min(int(rng.lognormvariate(math.log(20.0), 0.7) * NS_PER_S), MAX_THINK_NS)
            starts.append(starts[-1] + MIN_TURN_GAP_NS + think)
        # Feature flags are per user, so a user stays on one model and one prompt across sessions.
        flags = seeded(f"wk-demo:{seed}:flags:{subject.subject_id}")
        out.append(
            Session(
                key=key,
                session_id="sess_" + hex_id(rng, 20),
                subject=subject,
                is_new_account=is_new,
                model=MODELS[pick(flags, mix.models)],
                prompt=pick(flags, mix.prompts),
                intent=pick(rng, mix.intents),
                jailbreak=jailbreak,
                turn_starts_ns=tuple(starts),
            )
        )
    out.sort(key=lambda s: s.turn_starts_ns[0])
    return out

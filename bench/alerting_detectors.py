"""How well the detectors catch injected incidents and how quiet they stay without them, on simulated traffic.

    .venv/bin/python bench/alerting_detectors.py                 # report: seeds 5–9 on both simulators (~10 min)
    .venv/bin/python bench/alerting_detectors.py --seeds 0-4 --sims A   # tuning seeds (never the reported ones)
    .venv/bin/python bench/alerting_detectors.py --quick         # one seed, one simulator: a smoke test

505 slices (global, 14 languages, 70 language × model, 420 language × model × client) × 6 rates = 3,030 streams,
5-minute buckets, 14 days of warm-up then 28 days of test per seed; ~200 incidents per seed (steps ×1.5, ×2, ×3,
ramps of +50% over 24 h, refusals +12 points), and the same month without them. Simulator A is the one thresholds
were tuned on (seeds 0–4); simulator B (different seasonality, overdispersion and noise model) is reported, never
tuned on. See bench/_alert_sim.py.

The alerting engine's loop is replayed on event time: every 5 minutes the spike test runs on every stream (1-hour
history plus the last 5 hours of 5-minute buckets) and, every hour, the drift test; each tick's verdicts of one rate
go through ``select_alerts``. A spike alert on a slice with enough volume is a page; a widened-window spike or a drift
alert is a ticket. Notifications are counted after merging an alert's consecutive ticks into a group (``--hold``:
an hour of quiet ends it by default; ``shipped`` holds it as the default rules' ``keep_firing_for`` does) and after
the inhibition the alerting room applies (an alert on an ancestor slice of the same rate inhibits a child's; a page
inhibits a ticket on the same slice). ``--hold hour,60/60/360`` compares holds on the same runs, one column each.
``--for shipped`` counts an alert only once it has been active for the shipped rules' ``for`` at every tick, as the
engine's lifecycle does (pending, then firing); the default, ``none``, counts the detectors' own delays.

To replay 24 million stream-evaluations per run in minutes, a vectorised screen (numpy: the same seasonal baseline,
Poisson bounds instead of the exact negative-binomial tails, a 100× margin) picks the evaluations that could fire,
and the real detectors decide those. The screen is audited in every run: the unflagged evaluations closest to its
threshold are run through the real detectors too, and any that fires is reported ("screen misses").

The common-mode correction of ``select_alerts`` (off by default, as in the engine) reads, for each fired verdict,
its peers: the other slices of its depth (the other languages, language × model pairs, or leaves) over the same
windows. The replay tests only the screened slices, so it passes the others as peers with their counts and the
screen's expected counts (the same seasonal baseline, computed in numpy). ``--common-mode off,default,3:30`` compares
settings on the same runs, one column each (``default``: ``CommonMode()``, 5 peers over 100 expected events).
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import json
import math
import pickle
import re
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import _alert_sim as sim
from watchkeeper.alerting import load_rules
from watchkeeper.alerting.rules import changed_by
from watchkeeper.analytics.detectors import (
    Baseline,
    Bucket,
    CommonMode,
    Drift,
    Gate,
    RateStream,
    Spike,
    Verdict,
    WindowStat,
    select_alerts,
)

SPIKE = Spike()
DRIFT = Drift()
SCREEN_MARGIN = 1e2
DRIFT_MARGIN = 6.0  # nats below the threshold
CURRENT_MARGIN = 3.0  # nats: the screen's slack on the spike test's "still shifted" condition
AUDIT = 150  # closest unflagged evaluations per rate per run, per detector
GROUP_GAP = 12  # ticks (an hour) without an alert on a (rate, slice) close its alert group


def shipped_holds() -> dict[tuple[str, bool], int]:
    """For each (detector, page) of the shipped default rules, the shortest ``keep_firing_for`` as the ticks after
    an alert's last one that a new alert still joins its group (an alert inactive for the whole ``keep_firing_for``
    has resolved: the next one is a new episode)."""
    return _shipped(lambda r: max(0, r.keep_firing_for_ns // TICK_NS - 1))


TICK_NS = sim.BUCKET_MIN * 60 * 1_000_000_000


def _shipped(ticks_of: Callable[[Any], int]) -> dict[tuple[str, bool], int]:
    """The smallest ``ticks_of(rule)`` over the shipped default rules, per (detector, page)."""
    out: dict[tuple[str, bool], int] = {}
    for r in load_rules().rules:
        ticks = ticks_of(r)
        key = (r.detector, r.severity == "page")
        out[key] = min(out.get(key, ticks), ticks)
    return out


# How long an alert holds its group open, by (detector, page): the benchmark's hour for all ("hour"), or as the
# shipped default rules' `keep_firing_for` ("shipped"); ``parse_hold`` also reads PAGE/TICKET/DRIFT in minutes.
HOLDS: dict[str, dict[tuple[str, bool], int]] = {"hour": {}, "shipped": shipped_holds()}


def parse_hold(name: str) -> dict[tuple[str, bool], int]:
    """A hold by name: ``hour``, ``shipped``, or ``PAGE/TICKET/DRIFT`` — the minutes a spike page, a spike ticket
    and a drift alert hold their group open after their last alert (``60/60/360``)."""
    if name in HOLDS:
        return HOLDS[name]
    minutes = _minutes(name)
    if minutes is None or min(minutes) < sim.BUCKET_MIN:
        raise ValueError(
            f"hold {name!r}: expected hour, shipped or PAGE/TICKET/DRIFT in minutes (each at least {sim.BUCKET_MIN})"
        )
    return _per_detector(*(m // sim.BUCKET_MIN - 1 for m in minutes))


def _minutes(text: str) -> list[int] | None:
    """``PAGE/TICKET/DRIFT`` as three whole numbers of minutes, or None."""
    try:
        minutes = [int(x) for x in text.split("/")]
    except ValueError:
        return None
    return minutes if len(minutes) == 3 else None


def _per_detector(page: int, ticket: int, drift: int) -> dict[tuple[str, bool], int]:
    return {("spike", True): page, ("spike", False): ticket, ("drift", False): drift, ("drift", True): drift}


@dataclass(frozen=True)
class Wait:
    """How long an alert is pending (active at every tick) before it fires, in ticks per (detector, page), and the
    factor of change at or past which a spike verdict fires at once (the rules' ``for_unless_factor``; None: never)."""

    ticks: dict[tuple[str, bool], int] = field(default_factory=dict)
    factor: float | None = None
    basis: str = "x"  # what the factor is measured on: x the decision window, s since the change's estimated start,
    # w any tested window of up to an hour
    gap: dict[tuple[str, bool], int] = field(default_factory=dict)  # quiet ticks in a row a pending alert outlives,
    # per (detector, page): a what-if (the engine, as Prometheus, clears a pending alert at any tick without it)

    def urgent(self, a: Alert) -> bool:
        if self.factor is None or a.detector != "spike":
            return False
        if self.basis == "s":
            return a.onset is not None and changed_by(a.onset[0], a.onset[1], self.factor)
        if self.basis == "w":
            return any(changed_by(k, mu, self.factor) for k, mu in a.fresh)
        return changed_by(a.observed, a.expected, self.factor)


def shipped_waits() -> Wait:
    """For each (detector, page) of the shipped default rules, the shortest ``for`` in ticks: how long an alert is
    pending (active at every tick) before it fires; and the smallest ``for_unless_factor`` of their spike rules,
    measured since the change's estimated start."""
    factors = [r.for_unless_factor for r in load_rules().rules if r.detector == "spike" and r.for_unless_factor]
    return Wait(_shipped(lambda r: -(-r.for_ns // TICK_NS)), min(factors, default=None), "s")  # as the engine reads it


# How long an alert is pending before it fires, by (detector, page): not at all ("none", what the detectors alone
# give), or as the shipped default rules' `for` ("shipped"); ``parse_for`` also reads PAGE/TICKET/DRIFT in minutes.
WAITS: dict[str, Wait] = {"none": Wait(), "shipped": shipped_waits()}


def parse_for(name: str) -> Wait:
    """A pending time by name: ``none``, ``shipped``, or ``PAGE/TICKET/DRIFT`` — the minutes a spike page, a spike
    ticket and a drift alert must be active at every tick before they fire (``10/15/60``; 0 fires at once) — with
    an optional ``xFACTOR``: a spike verdict whose rate changed by that factor or more fires at once
    (``10/15/60x2``, as the rules' ``for_unless_factor``), the rate over its decision window; ``sFACTOR`` measures
    the rate since the change's estimated start, ``wFACTOR`` over any tested window of up to an hour; and an
    optional ``gTICKS``, a what-if the engine does not do: a pending alert outlives that many quiet ticks in a row
    (``shippedg1``, ``10/15/60s2g1``)."""
    gapped = re.fullmatch(r"(.+?)g(\d+)", name)
    if gapped:
        return replace(parse_for(gapped[1]), gap=_per_detector(*[int(gapped[2])] * 3))
    if name in WAITS:
        return WAITS[name]
    cut = max(name.rfind(c) for c in "xsw")
    durations, x, factor_text = (name[:cut], name[cut], name[cut + 1 :]) if cut >= 0 else (name, "", "")
    minutes = _minutes(durations)
    try:
        factor = float(factor_text) if x else None
    except ValueError:
        factor = math.nan
    if (
        minutes is None
        or min(minutes) < 0
        or any(m % sim.BUCKET_MIN for m in minutes)
        or (factor is not None and not 1 < factor < math.inf)
    ):
        raise ValueError(
            f"for {name!r}: expected none, shipped or PAGE/TICKET/DRIFT in minutes (multiples of {sim.BUCKET_MIN}), "
            "optionally followed by xFACTOR, sFACTOR or wFACTOR (above 1)"
        )
    return Wait(_per_detector(*(m // sim.BUCKET_MIN for m in minutes)), factor, x or "x")


MATCH_AFTER = 2 * sim.PER_HOUR  # an alert up to 2 hours after an incident's end still belongs to it
HOURS_HISTORY = 26 * 24
RECENT_HOURS = 5
# The volume gate checked against the simulator's truth, with room for the detector's estimation error: no page on a
# slice with fewer than 20 true expected events in that hour (the gate is 30 estimated), no alert at all on a slice
# with fewer than 5 true expected events in the last 24 hours (the widened gate is 10 estimated).
PAGE_GATE_CHECK = 20.0
DAILY_GATE_CHECK = 5.0
STATIC_FACTOR = 2.0  # the static-threshold baseline: alert when the 1-hour rate ≥ 2× the slice's warm-up rate
STATIC_MIN_EVENTS = 10

T0 = sim.T0_S


@dataclass
class Alert:
    metric: str
    slice: int
    detector: str  # spike | drift | static
    tick: int  # bucket index whose end is the evaluation time
    page: bool
    p_value: float
    gate: str
    true_mu_hour: float  # the slice's true expected events in the alert's hour (simulator truth)
    true_mu_day: float  # ... over the 24 hours up to it
    window_min: int = 0  # the window the verdict was decided on (spike), its observed and expected events
    observed: int = 0
    expected: float = 0.0
    onset: tuple[float, float] | None = None  # observed and expected events since the change's estimated start
    fresh: tuple[tuple[int, float], ...] = ()  # observed and expected events of the tested windows up to an hour


@dataclass
class Notification:
    tick: int
    page: bool
    inhibited: bool = False
    unmuted: bool = False  # sent when the alert, muted at first, was still firing after its inhibitors ended


@dataclass
class Episode:
    """An alert group: the alerts of any detector on one (rate, slice), until an hour passes without one."""

    metric: str
    slice: int
    start: int
    end: int
    p_value: float
    detectors: set[str]
    page_start: int | None
    hold_until: int = 0  # the last tick an alert can join the group (see HOLDS)
    notifications: list[Notification] = field(default_factory=list)
    page_ticks: list[int] = field(default_factory=list)  # the ticks of its pages: when it mutes a child's page

    @property
    def page(self) -> bool:
        return self.page_start is not None

    @property
    def notified(self) -> list[Notification]:
        return [n for n in self.notifications if not n.inhibited]


@dataclass
class RunStats:
    evaluations: int = 0
    candidates: int = 0
    audited: int = 0
    screen_misses: int = 0
    misses: list[str] = field(default_factory=list)
    detector_seconds: float = 0.0
    alerts: dict[str, list[Alert]] = field(default_factory=lambda: defaultdict(list))  # by common-mode setting


# ---------------------------------------------------------------------------------------------------------------------
# the screen: the detectors' seasonal baseline in numpy


def _centred(x: np.ndarray, before: int, after: int) -> np.ndarray:
    """Sums over [h − before, h + after] for every hour h (clipped to the range)."""
    c = np.zeros((x.shape[0], x.shape[1] + 1))
    np.cumsum(x, axis=1, out=c[:, 1:])
    idx = np.arange(x.shape[1])
    return c[:, np.minimum(idx + after + 1, x.shape[1])] - c[:, np.maximum(idx - before, 0)]


def replica_rates(kh: np.ndarray, nh: np.ndarray, lag: int, warm_hours: int, days: int = 7) -> np.ndarray:
    """Expected rate per stream per hour, as ``Seasonality(lag_days=lag)`` computes it (same pooling, same days,
    same shrinkage toward the days' whole-day rate)."""
    k = kh.astype(np.float64)
    n = nh.astype(np.float64)
    sk, sn = _centred(k, 1, 1), _centred(n, 1, 1)
    dk, dn = _centred(k, 12, 11), _centred(n, 12, 11)
    s, h = kh.shape
    max_lag = lag + 2 * days - 1
    pk, pn, fk, fn = (np.zeros((s, h)) for _ in range(4))
    dow = (np.arange(h) // 24) % 7
    for w in range(7):
        lags = [d for d in range(lag, max_lag + 1) if ((w - d) % 7 >= 5) == (w >= 5)][:days]
        idx = np.flatnonzero(dow == w)
        cells = []
        for d in lags:
            src = idx - 24 * d
            ok = src >= 0
            cell = [np.zeros((s, idx.size)) for _ in range(4)]
            for c, a in zip(cell, (sk, sn, dk, dn), strict=True):
                c[:, ok] = a[:, src[ok]]
            cells.append((cell, ok))
        present = sum(ok.astype(int) for _, ok in cells)
        # the detector's rule: a pooled day far from what the days' traffic-weighted median rate expects is left
        # out (when ≥ 3 days, keeping ≥ 2)
        ck_all = np.stack([c[0] for c, _ in cells])
        cn_all = np.stack([np.where(ok[None, :], c[1], 0.0) for c, ok in cells])
        with np.errstate(divide="ignore", invalid="ignore"):
            rates = np.where(cn_all > 0, ck_all / cn_all, np.inf)
        order = np.argsort(rates, axis=0, kind="stable")
        cum = np.cumsum(np.take_along_axis(cn_all, order, axis=0), axis=0)
        mid = np.argmax(2 * cum >= cum[-1:], axis=0)[None]
        median = np.take_along_axis(np.take_along_axis(rates, order, axis=0), mid, axis=0)[0]
        median = np.where(cum[-1] > 0, median, np.nan)
        drops = []
        for (ck_, cn_, _, _), ok in cells:
            e = cn_ * median
            slack = 4.0 * np.sqrt(e) + 2.0
            with np.errstate(invalid="ignore"):
                drops.append(ok[None, :] & ((ck_ > 1.5 * e + slack) | (1.5 * ck_ + slack < e)))
        n_drop = sum(d.astype(int) for d in drops)
        apply = (present[None, :] >= 3) & (n_drop > 0) & (present[None, :] - n_drop >= 2)
        cols = idx
        for ((c0, c1, c2, c3), _), drop in zip(cells, drops, strict=True):
            keep = ~(apply & drop)
            pk[:, cols] += np.where(keep, c0, 0.0)
            pn[:, cols] += np.where(keep, c1, 0.0)
            fk[:, cols] += np.where(keep, c2, 0.0)
            fn[:, cols] += np.where(keep, c3, 0.0)
    mean = (kh[:, :warm_hours].sum(axis=1) + 0.5) / (nh[:, :warm_hours].sum(axis=1) + 1.0)
    flat = (fk + 1.0) / (fn + 1.0 / mean[:, None])
    shrink = SPIKE.season.shrink_events
    return (pk + shrink) / (pn + shrink / flat)


def poisson_bound_score(k: np.ndarray, mu: np.ndarray, f: np.ndarray) -> np.ndarray:
    """−ln of an approximate lower bound on the negative-binomial P(K ≥ k) with variance f·mu (k > mu): the Poisson
    rate function of the counts scaled by 1/f, plus Stirling's term. Checked against the exact tail for mu from 10 to
    30,000 and wander up to 0.3 with f from a quarter of the wander: it never exceeds the exact −ln p. The spike test
    reads the Poisson-lognormal tail where the negative binomial's is below 1%, and there it is never the smaller
    of the two, so the bound holds for the test's p too."""
    with np.errstate(divide="ignore", invalid="ignore"):
        kk = np.maximum(k, 1.0) / f
        m = np.maximum(mu, 1e-12) / f
        i = kk * np.log(kk / m) - kk + m
        return np.where(k > mu, i + 0.5 * np.log(2 * np.pi * kk) + 1.0 / (12 * kk), 0.0)


def wander_lower_bound(kh: np.ndarray, nh: np.ndarray, p0: np.ndarray, warm_hours: int) -> np.ndarray:
    """A quarter of a stream's hourly wander c estimated on its warm-up, capped: a lower bound on what the
    detector's own fit finds (it has a prior and never goes below 1e-4)."""
    mu = nh * p0
    fit = slice(max(0, warm_hours - 7 * 24), warm_hours)
    num = ((kh[:, fit] - mu[:, fit]) ** 2 - mu[:, fit]).sum(axis=1)
    den = (mu[:, fit] ** 2).sum(axis=1) + 1e-12
    return np.clip(num / den, 1e-4, 0.0025) / 4.0


def spike_screen(
    k: np.ndarray, mu: np.ndarray, c_lb: np.ndarray, ticks: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each stream and test tick: (flagged, margin score, slices tested); ticks are bucket indices."""
    ck = np.zeros((k.shape[0], k.shape[1] + 1))
    cm = np.zeros_like(ck)
    np.cumsum(k, axis=1, out=ck[:, 1:])
    np.cumsum(mu, axis=1, out=cm[:, 1:])
    e = ticks + 1
    ladder = [m // sim.BUCKET_MIN for m in SPIKE.ladder_minutes]
    kw = [ck[:, e] - ck[:, np.maximum(e - w, 0)] for w in ladder]
    mw = [cm[:, e] - cm[:, np.maximum(e - w, 0)] for w in ladder]
    minutes = SPIKE.ladder_minutes
    enough = np.zeros(kw[0].shape, bool)
    for mins, m in zip(minutes, mw, strict=True):
        if mins <= SPIKE.page_minutes:
            enough |= m >= SPIKE.min_expected
    tested_w = []
    for mins, m in zip(minutes, mw, strict=True):
        page_ok = (mins <= SPIKE.max_page_window_minutes) & (m >= SPIKE.min_expected)
        wide_ok = (mins <= SPIKE.max_minutes) & (m >= SPIKE.min_expected_widened)
        tested_w.append(np.where(enough, page_ok, wide_ok))
    n_tested = np.sum(tested_w, axis=0)
    alpha = np.where(enough, SPIKE.alpha, SPIKE.alpha_widened)
    need = np.log(np.maximum(n_tested, 1) / (alpha * SCREEN_MARGIN))
    score = np.full(kw[0].shape, -np.inf)
    flagged = np.zeros(kw[0].shape, bool)
    for mins, kk, m, t in zip(minutes, kw, mw, tested_w, strict=True):
        f = 1.0 + c_lb[:, None] * (60.0 / mins) * m
        sc = poisson_bound_score(kk, m, f) - need
        floors = (kk >= SPIKE.min_ratio * m) & (kk - m >= SPIKE.min_excess)
        # the detector's "still shifted" condition on the newest quarter of the window, with a margin
        q = max(1, (mins // 4) // sim.BUCKET_MIN)
        kq = ck[:, e] - ck[:, np.maximum(e - q, 0)]
        mq = cm[:, e] - cm[:, np.maximum(e - q, 0)]
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.maximum(kk / np.maximum(m, 1e-12), 1.0 + 1e-9)
            current = kq * np.log(r) - mq * (r - 1.0) >= -CURRENT_MARGIN
        sc = np.where(t & floors & current, sc, -np.inf)
        score = np.maximum(score, sc)
        flagged |= sc >= 0
    return flagged, score, n_tested


def nb_llr_np(k: np.ndarray, mu: np.ndarray, c: np.ndarray, ratio: float) -> np.ndarray:
    r = 1.0 / np.maximum(c, 1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = k * np.log(ratio * (mu + r) / (ratio * mu + r)) + r * np.log((r + mu) / (r + ratio * mu))
    return np.where(mu > 0, out, 0.0)


def drift_screen(kh: np.ndarray, nh: np.ndarray, p0: np.ndarray, warm_hours: int, hours: np.ndarray) -> np.ndarray:
    """The peak of the current excursion of the drift test's CUSUM, replayed from zero over its look-back ending at
    each test hour, with half the stream's warm-up wander."""
    mu = nh * p0
    fit = slice(max(0, warm_hours - 7 * 24), warm_hours)
    num = ((kh[:, fit] - mu[:, fit]) ** 2 - mu[:, fit]).sum(axis=1)
    den = (mu[:, fit] ** 2).sum(axis=1) + 1e-12
    c = np.clip(num / den, 1e-4, 4.0) / 2.0
    inc = nb_llr_np(kh.astype(np.float64), mu, c[:, None], DRIFT.ratio)
    look = DRIFT.lookback_hours
    out = np.zeros((kh.shape[0], len(hours)))
    for j, h in enumerate(hours):
        s = np.zeros(kh.shape[0])
        peak = np.zeros(kh.shape[0])
        for i in range(max(0, h - look + 1), h + 1):
            s = np.maximum(0.0, s + inc[:, i])
            peak = np.where(s > 0, np.maximum(peak, s), 0.0)
        out[:, j] = peak  # the detector fires from the hour its excursion reaches h until it resolves
    return out


# ---------------------------------------------------------------------------------------------------------------------
# the real detectors on the screened evaluations


class Streams:
    """Builds the RateStream a detector would read for (slice, tick), from one rate's arrays."""

    def __init__(self, tr: sim.Traffic, metric: str, k: np.ndarray) -> None:
        self.tr = tr
        self.k, self.n = k, tr.n[metric]
        s, t = k.shape
        self.kh = k.reshape(s, -1, sim.PER_HOUR).sum(axis=2)
        self.nh = self.n.reshape(s, -1, sim.PER_HOUR).sum(axis=2)
        self.bucket_dt = [datetime.fromtimestamp(T0 + 300 * b, UTC) for b in range(t + 1)]
        self.hour_dt = [datetime.fromtimestamp(T0 + 3600 * h, UTC) for h in range(t // sim.PER_HOUR + 1)]
        self.keys = tr.hier.keys
        self.parent = tr.hier.parent
        self._hourly: dict[int, list[Bucket]] = {}
        self._fine: dict[int, list[Bucket]] = {}

    def at(self, end_bucket: int) -> datetime:
        return self.bucket_dt[end_bucket]

    def _hours_of(self, s: int) -> list[Bucket]:
        got = self._hourly.get(s)
        if got is None:
            kh, nh, hd = self.kh[s], self.nh[s], self.hour_dt
            got = [Bucket(hd[h], int(kh[h]), int(nh[h])) for h in range(len(kh))]
            self._hourly[s] = got
        return got

    def _fine_of(self, s: int) -> list[Bucket]:
        got = self._fine.get(s)
        if got is None:
            if len(self._fine) > 400:
                self._fine.clear()
            k, n, bd = self.k[s], self.n[s], self.bucket_dt
            got = [Bucket(bd[b], int(k[b]), int(n[b])) for b in range(len(k))]
            self._fine[s] = got
        return got

    def stream(self, s: int, end_bucket: int, *, recent: bool = True) -> RateStream:
        """Hourly buckets of the last 26 days up to the hour of the end, and 5-minute buckets from 5 hours before
        that hour (as the alerting engine's rollup source reads them); buckets without traffic are included, with
        zero counts."""
        h_end = end_bucket // sim.PER_HOUR
        h0 = max(0, h_end - HOURS_HISTORY)
        hourly = self._hours_of(s)[h0:h_end]
        fine: list[Bucket] = []
        if recent:
            b0 = max(0, (h_end - RECENT_HOURS) * sim.PER_HOUR)
            fine = self._fine_of(s)[b0:end_bucket]
        p = int(self.parent[s])
        return RateStream(self.keys[s], hourly, fine, step=sim_step(), parent=self.keys[p] if p >= 0 else None)


def sim_step() -> Any:
    from datetime import timedelta

    return timedelta(minutes=sim.BUCKET_MIN)


def _top_unflagged(score: np.ndarray, flagged: np.ndarray, n: int) -> list[tuple[int, int]]:
    s = np.where(flagged, -np.inf, score)
    flat = s.ravel()
    finite = np.flatnonzero(np.isfinite(flat))
    if finite.size == 0:
        return []
    top = finite[np.argsort(flat[finite])[-n:]]
    return [tuple(int(x) for x in np.unravel_index(i, s.shape)) for i in top]  # type: ignore[misc]


def parse_modes(text: str) -> dict[str, CommonMode | None]:
    """Common-mode settings by name: ``off``, ``default`` (``CommonMode()``) or ``PEERS:EXPECTED`` (``wPEERS:EXPECTED``:
    the median weighted by the peers' expected events), either of the last two followed by ``:pages`` to correct only
    the verdicts that may page (``pages_only``)."""
    out: dict[str, CommonMode | None] = {}
    for part in (p.strip() for p in text.split(",")):
        body, pages = part, False
        if part.endswith(":pages"):
            body, pages = part.removesuffix(":pages"), True
        if body == "off" and not pages:
            out[part] = None
        elif body == "default":
            out[part] = CommonMode(pages_only=pages)
        else:
            weighted = body.startswith("w")
            peers, _, expected = body.removeprefix("w").partition(":")
            out[part] = CommonMode(
                min_peers=int(peers), min_expected=float(expected or 30), pages_only=pages, weighted=weighted
            )
    return out


class Peers:
    """The slices the replay did not test at a tick, as peers for the common-mode correction: their counts over the
    spike test's windows and the screen's expected counts (only windows that could pass a peer's volume gate)."""

    def __init__(self, st: Streams, k: np.ndarray, mu: np.ndarray, floor: float) -> None:
        self.st = st
        self.floor = floor
        self.ck = np.zeros((k.shape[0], k.shape[1] + 1))
        self.cm = np.zeros_like(self.ck)
        np.cumsum(k, axis=1, out=self.ck[:, 1:])
        np.cumsum(mu, axis=1, out=self.cm[:, 1:])
        self.depth = st.tr.hier.depth
        self.depth_of = {key: int(d) for key, d in zip(st.keys, self.depth, strict=True)}

    def group(self, v: Verdict) -> int:
        return self.depth_of[v.key]

    def at(self, end_b: int, depths: set[int], skip: set[int]) -> list[Verdict]:
        at = self.st.at(end_b)
        slices = [s for s in np.flatnonzero(np.isin(self.depth, sorted(depths))).tolist() if s not in skip]
        if not slices:
            return []
        idx = np.array(slices)
        minutes = SPIKE.ladder_minutes
        ks, ms = [], []
        for m in minutes:
            w = m // sim.BUCKET_MIN
            ks.append((self.ck[idx, end_b] - self.ck[idx, max(end_b - w, 0)]).tolist())
            ms.append((self.cm[idx, end_b] - self.cm[idx, max(end_b - w, 0)]).tolist())
        out = []
        for i, s in enumerate(slices):
            wins = tuple(
                WindowStat(m, int(ks[j][i]), ms[j][i], 0, 0.0) for j, m in enumerate(minutes) if ms[j][i] >= self.floor
            )
            if wins:
                p = int(self.st.parent[s])
                out.append(
                    Verdict("spike", self.st.keys[s], at, False, Gate.ENOUGH, windows=wins,
                            parent=self.st.keys[p] if p >= 0 else None)
                )  # fmt: skip
        return out


def replay_metric(
    tr: sim.Traffic,
    metric: str,
    variant: str,
    stats: RunStats,
    modes: dict[str, CommonMode | None],
    *,
    sensitivity: float = 1.0,
) -> None:
    k = (tr.k_inc if variant == "inc" else tr.k_free)[metric]
    st = Streams(tr, metric, k)
    warm_b = tr.warm_days * sim.PER_DAY
    warm_h = tr.warm_days * 24
    ticks = np.arange(warm_b, tr.buckets)
    p_spike = replica_rates(st.kh, st.nh, SPIKE.season.lag_days, warm_h)
    mu = st.n * np.repeat(p_spike, sim.PER_HOUR, axis=1)
    c_lb = wander_lower_bound(st.kh, st.nh, p_spike, warm_h)
    flagged, score, n_tested = spike_screen(k.astype(np.float64), mu, c_lb, ticks)
    stats.evaluations += flagged.size
    true_mu = tr.mu_hour[metric]
    used = [m for m in modes.values() if m is not None]
    peers = Peers(st, k.astype(np.float64), mu, min(m.min_expected for m in used)) if used else None
    # peers are grouped by depth in the hierarchy: one dimension set per depth
    settings = {name: replace(m, group=peers.group) if m is not None and peers else None for name, m in modes.items()}

    base_cache: dict[tuple[int, int], Baseline | None] = {}

    def verdict_spike(s: int, end_b: int) -> Verdict:
        stream = st.stream(s, end_b)
        at = st.at(end_b)
        key = (s, end_b // sim.PER_HOUR)
        if key not in base_cache:
            base_cache[key] = SPIKE.fit(stream, at)
        b = base_cache[key]
        if b is None:
            return SPIKE.evaluate(stream, at, sensitivity=sensitivity)
        return SPIKE.evaluate(stream, at, sensitivity=sensitivity, baseline=b)

    # the screened evaluations, tick by tick
    cand_s, cand_t = np.nonzero(flagged)
    by_tick: dict[int, list[int]] = defaultdict(list)
    for s, j in zip(cand_s.tolist(), cand_t.tolist(), strict=True):
        by_tick[j].append(s)
    stats.candidates += len(cand_s)
    t0 = time.process_time()
    for j in sorted(by_tick):
        end_b = int(ticks[j]) + 1
        if len(base_cache) > 20_000:
            base_cache.clear()
        group = set(by_tick[j])
        group |= {int(st.parent[s]) for s in by_tick[j] if st.parent[s] >= 0}
        order = sorted(group)
        verdicts = [verdict_spike(s, end_b) for s in order]
        fired_depths = {int(st.tr.hier.depth[s]) for s, v in zip(order, verdicts, strict=True) if v.fired}
        others = peers.at(end_b, fired_depths, group) if peers is not None and fired_depths else []
        index = {st.keys[s]: s for s in group}
        for name, mode in settings.items():
            decisions = select_alerts(verdicts, family_size=int(n_tested[:, j].sum()), common_mode=mode, peers=others)
            for d in decisions.values():
                if d.alert:
                    s = index[d.key]
                    v = d.verdict
                    h = (end_b - 1) // sim.PER_HOUR
                    stats.alerts[name].append(
                        Alert(metric, s, "spike", end_b - 1, v.pageable, v.p_value, v.gate.value,
                              float(true_mu[s, h]), float(true_mu[s, max(0, h - 23) : h + 1].sum()),
                              int(v.window.total_seconds() // 60), v.observed_events, v.expected_events,
                              v.since_start, tuple((w.observed, w.expected) for w in v.windows
                                               if w.tested and w.minutes <= 60))
                    )  # fmt: skip
    # the audit: the unflagged evaluations closest to the screen's threshold
    for s, j in _top_unflagged(score, flagged, AUDIT):
        v = verdict_spike(s, int(ticks[j]) + 1)
        stats.audited += 1
        stats.screen_misses += int(v.fired)
        if v.fired:
            stats.misses.append(f"spike {metric} {st.keys[s]} tick {int(ticks[j])}: {score[s, j]:.2f}, {v.reason}")

    # drift: hourly
    p_drift = replica_rates(st.kh, st.nh, DRIFT.season.lag_days, warm_h)
    limit = DRIFT.threshold(sensitivity)
    hours = np.arange(warm_h, tr.buckets // sim.PER_HOUR)
    # the value after hour j: evaluated at the end of hour j, i.e. at the tick at hour j + 1
    window = drift_screen(st.kh, st.nh, p_drift, warm_h, hours)
    d_flag = window >= limit - DRIFT_MARGIN
    d_score = window - (limit - DRIFT_MARGIN)
    stats.evaluations += d_flag.size
    ds, dj = np.nonzero(d_flag)
    by_hour: dict[int, list[int]] = defaultdict(list)
    for s, j in zip(ds.tolist(), dj.tolist(), strict=True):
        by_hour[j].append(s)
    stats.candidates += len(ds)
    for j in sorted(by_hour):
        end_b = (int(hours[j]) + 1) * sim.PER_HOUR
        group = set(by_hour[j]) | {int(st.parent[s]) for s in by_hour[j] if st.parent[s] >= 0}
        verdicts = [
            DRIFT.evaluate(st.stream(s, end_b, recent=False), st.at(end_b), sensitivity=sensitivity)
            for s in sorted(group)
        ]
        tested = int((st.nh[:, max(0, hours[j] - 47) : hours[j] + 1] * p_drift[:, max(0, hours[j] - 47) : hours[j] + 1])
                     .sum(axis=1).__ge__(DRIFT.min_expected).sum())  # fmt: skip
        decisions = select_alerts(verdicts, family_size=tested, common_mode=None)  # drift: no windows to scale
        index = {st.keys[s]: s for s in group}
        for d in decisions.values():
            if d.alert:
                s = index[d.key]
                for b in range(end_b - 1, min(tr.buckets, end_b - 1 + sim.PER_HOUR)):  # holds for the hour's ticks
                    h = b // sim.PER_HOUR
                    a = Alert(metric, s, "drift", b, False, d.verdict.p_value, d.verdict.gate.value,
                              float(true_mu[s, h]), float(true_mu[s, max(0, h - 23) : h + 1].sum()))  # fmt: skip
                    for name in modes:
                        stats.alerts[name].append(a)
    for s, j in _top_unflagged(d_score, d_flag, AUDIT):
        end_b = (int(hours[j]) + 1) * sim.PER_HOUR
        v = DRIFT.evaluate(st.stream(s, end_b, recent=False), st.at(end_b), sensitivity=sensitivity)
        stats.audited += 1
        stats.screen_misses += int(v.fired)
        if v.fired:
            stats.misses.append(f"drift {metric} {st.keys[s]} hour {int(hours[j])}: {d_score[s, j]:.2f}, {v.reason}")
    stats.detector_seconds += time.process_time() - t0


def static_alerts(tr: sim.Traffic, metric: str, variant: str) -> list[Alert]:
    """The anchors' static threshold: the 1-hour rate ≥ 2× the slice's warm-up rate, with ≥ 10 events."""
    k = (tr.k_inc if variant == "inc" else tr.k_free)[metric].astype(np.float64)
    n = tr.n[metric].astype(np.float64)
    warm_b = tr.warm_days * sim.PER_DAY
    rate0 = k[:, :warm_b].sum(axis=1) / np.maximum(n[:, :warm_b].sum(axis=1), 1)
    ck = np.concatenate([np.zeros((k.shape[0], 1)), np.cumsum(k, axis=1)], axis=1)
    cn = np.concatenate([np.zeros((k.shape[0], 1)), np.cumsum(n, axis=1)], axis=1)
    e = np.arange(warm_b, tr.buckets) + 1
    k1 = ck[:, e] - ck[:, e - sim.PER_HOUR]
    n1 = cn[:, e] - cn[:, e - sim.PER_HOUR]
    hit = (k1 >= STATIC_MIN_EVENTS) & (k1 >= STATIC_FACTOR * rate0[:, None] * n1)
    out = []
    for s, j in zip(*np.nonzero(hit), strict=True):
        out.append(Alert(metric, int(s), "static", int(e[j]) - 1, True, 0.0, "static", 0.0, 0.0))
    return out


# ---------------------------------------------------------------------------------------------------------------------
# from alerts to notifications, incidents and the measures


def firing(
    alerts: Iterable[Alert],
    wait: Wait | None = None,
    hold: dict[tuple[str, bool], int] | None = None,
) -> list[Alert]:
    """The alerts of ticks at which the engine's alert is firing, not pending: as its lifecycle does, an alert of a
    (rate, slice, detector) and severity starts pending at its first active tick, is dropped if a tick passes
    without it (or more quiet ticks in a row than its ``wait.gap``), and fires once ``wait`` ticks (per (detector,
    page); none: at once) have passed since it started pending, or at once on a verdict ``wait`` finds urgent; once
    firing it stays so while it is back within its hold (see :func:`parse_hold`). A spike verdict too small to page
    continues a page that is live on the slice, as the engine's severity does; anything else is a ticket."""
    wait = wait or Wait()
    waits = wait.ticks
    if not any(waits.values()):
        return list(alerts)
    holds = hold or {}
    by: dict[tuple[str, int, str], list[Alert]] = defaultdict(list)
    for a in alerts:
        by[(a.metric, a.slice, a.detector)].append(a)
    out: list[Alert] = []
    for (_, _, detector), items in by.items():
        items.sort(key=lambda a: a.tick)
        state: dict[bool, tuple[int, int, bool]] = {}  # page? → (pending since, last active tick, fired)
        page_hold, page_gap = holds.get((detector, True), GROUP_GAP), wait.gap.get((detector, True), 0)
        for a in items:
            page = a.page or (detector == "spike" and _live(state, True, a.tick, page_hold, page_gap))
            live = _live(state, page, a.tick, holds.get((detector, page), GROUP_GAP), wait.gap.get((detector, page), 0))
            start, fired = (state[page][0], state[page][2]) if live else (a.tick, False)
            fired = fired or a.tick - start >= waits.get((detector, page), 0) or wait.urgent(a)
            state[page] = (start, a.tick, fired)
            if fired:
                out.append(a)
    return out


def _live(state: dict[bool, tuple[int, int, bool]], page: bool, tick: int, hold: int, gap: int = 0) -> bool:
    """Whether the alert of that severity is pending or firing at ``tick``, before the tick's verdict: pending if it
    was active within ``gap`` quiet ticks of the tick before, firing if it was active within its hold."""
    if page not in state:
        return False
    _, last, fired = state[page]
    return tick - 1 - last <= (hold if fired else gap)


def episodes(
    alerts: Iterable[Alert], hier: sim.Hierarchy, hold: dict[tuple[str, bool], int] | None = None
) -> list[Episode]:
    """Alert groups per (rate, slice) with their notifications: one when the group opens (a page or a ticket), one
    more if a ticket group is later joined by a page; a ticket is inhibited while a group on an ancestor slice of the
    same rate is open, a page only at the ticks an ancestor's page is detected (as the engine's parent-slice
    inhibition does: a parent kept firing after its change stopped being detected no longer mutes a child's page).
    ``hold`` gives, per (detector, page), the ticks after an alert that a next one still joins its group (default:
    ``GROUP_GAP``)."""
    hold_ticks = hold or {}
    by: dict[tuple[str, int], list[Alert]] = defaultdict(list)
    for a in alerts:
        by[(a.metric, a.slice)].append(a)
    out: list[Episode] = []
    for (metric, s), items in by.items():
        items.sort(key=lambda a: a.tick)
        cur: Episode | None = None
        for a in items:
            until = a.tick + hold_ticks.get((a.detector, a.page), GROUP_GAP)
            if cur is not None and a.tick <= cur.hold_until:
                cur.end = max(cur.end, a.tick)
                cur.hold_until = max(cur.hold_until, until)
                cur.p_value = min(cur.p_value, a.p_value)
                cur.detectors.add(a.detector)
                if a.page and cur.page_start is None:
                    cur.page_start = a.tick
            else:
                cur = Episode(metric, s, a.tick, a.tick, a.p_value, {a.detector}, a.tick if a.page else None, until)
                out.append(cur)
            if a.page:
                cur.page_ticks.append(a.tick)
    open_by_metric: dict[str, list[Episode]] = defaultdict(list)
    for e in out:
        open_by_metric[e.metric].append(e)
    for e in out:
        anc = set(hier.ancestors(e.slice))
        above = [o for o in open_by_metric[e.metric] if o.slice in anc]
        muting = {
            False: _merged((o.start, o.hold_until) for o in above),
            True: _merged((t, t) for o in above for t in o.page_ticks),
        }
        times = [(e.start, e.page_start == e.start)]
        if e.page_start is not None and e.page_start > e.start:
            times.append((e.page_start, True))
        sent: dict[int, Notification] = {}
        for tick, page in times:
            until = _covered_until(muting[page], tick)
            if until is None:
                n = sent.setdefault(tick, Notification(tick, page))
            else:
                e.notifications.append(Notification(tick, page, inhibited=True))
                if until + 1 > e.hold_until:
                    continue
                # as in Alertmanager, an alert still firing when what muted it has ended is notified then; a
                # ticket and a page due at the same time go out as one notification, the page
                n = sent.setdefault(until + 1, Notification(until + 1, page, unmuted=True))
            n.page = n.page or page
        paged = min((t for t, n in sent.items() if n.page), default=None)
        if paged is not None:  # a ticket unmuted after its group's own page went out stays muted by that page
            sent = {t: n for t, n in sent.items() if n.page or t < paged}
        e.notifications += sent.values()
        e.notifications.sort(key=lambda n: n.tick)
    out.sort(key=lambda e: (e.start, e.slice))
    return out


def _merged(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Closed tick intervals merged where they overlap or touch, in order."""
    out: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _covered_until(merged: list[tuple[int, int]], tick: int) -> int | None:
    """The last tick of the merged interval that holds ``tick``, or None when none does."""
    i = bisect.bisect_right(merged, (tick, sys.maxsize)) - 1
    return merged[i][1] if i >= 0 and merged[i][0] <= tick <= merged[i][1] else None


def _matches(inc: sim.Incident, e: Episode, hier: sim.Hierarchy) -> bool:
    return inc.metric == e.metric and inc.onset <= e.start < inc.end + MATCH_AFTER and hier.related(e.slice, inc.slice)


def score_incidents(tr: sim.Traffic, eps: list[Episode]) -> list[dict[str, Any]]:
    hier = tr.hier
    rows = []
    by_metric: dict[str, list[Episode]] = defaultdict(list)
    for e in eps:
        by_metric[e.metric].append(e)
    for inc in tr.incidents:
        matched = [e for e in by_metric[inc.metric] if _matches(inc, e, hier)]
        notes = sorted(
            ((n.tick, e.p_value, e.slice, n.page) for e in matched for n in e.notified), key=lambda x: (x[0], x[1])
        )
        first_ep = min(matched, key=lambda e: e.start, default=None)
        first = None if first_ep is None else first_ep.start
        ok = {inc.slice, int(hier.parent[inc.slice])}
        h = inc.onset // sim.PER_HOUR
        rows.append({
            "kind": inc.kind, "metric": inc.metric, "depth": inc.depth, "band": inc.band,
            "delay_min": None if first is None else (first + 1 - inc.onset) * sim.BUCKET_MIN,
            "localised": bool(notes) and notes[0][2] in ok,
            "localised_top3": any(x[2] in ok for x in notes[:3]),
            "notifications": len(notes),
            "pages": sum(1 for x in notes if x[3]),
            "first_slice": hier.keys[notes[0][2]] if notes else None,
            "slice": hier.keys[inc.slice], "onset_day": inc.onset // sim.PER_DAY, "onset_hour": h % 24,
            "onset_mu_hour": round(float(tr.mu_hour[inc.metric][inc.slice, h]), 1),
            "first_by": None if first_ep is None else "+".join(sorted(first_ep.detectors)),
            "first_page": None if first_ep is None else first_ep.page_start is not None,
        })  # fmt: skip
    return rows


def _false(tr: sim.Traffic, eps: list[Episode]) -> Iterator[tuple[Episode, Notification]]:
    """The notifications (sent, not inhibited) of alert groups that match no incident."""
    for e in eps:
        if not any(_matches(inc, e, tr.hier) for inc in tr.incidents):
            yield from ((e, n) for n in e.notified)


def false_notifications(tr: sim.Traffic, eps: list[Episode]) -> tuple[int, int]:
    """Pages and tickets (notified, not inhibited) of alert groups that match no incident."""
    pages = tickets = 0
    for _, n in _false(tr, eps):
        pages, tickets = pages + n.page, tickets + (not n.page)
    return pages, tickets


def false_page_list(tr: sim.Traffic, alerts: list[Alert], eps: list[Episode]) -> list[dict[str, Any]]:
    """Each false page of an incident-free run, with the spike verdict it came from and the simulator's truth over
    the same window: the events the slice was expected to have without noise."""
    first: dict[tuple[str, int, int], Alert] = {}
    for a in alerts:
        if a.detector == "spike":
            first.setdefault((a.metric, a.slice, a.tick), a)
    out = []
    for e, n in _false(tr, eps):
        a = first.get((e.metric, e.slice, n.tick))
        if n.page and a is not None:
            buckets = max(1, a.window_min // sim.BUCKET_MIN)
            hours = [b // sim.PER_HOUR for b in range(n.tick + 1 - buckets, n.tick + 1)]
            truth = float(sum(tr.mu_hour[e.metric][e.slice, h] for h in hours) / sim.PER_HOUR)
            day = n.tick // sim.PER_DAY
            out.append({
                "metric": e.metric, "slice": tr.hier.keys[e.slice], "day": day, "holiday": day in tr.holidays,
                "window_min": a.window_min, "observed": a.observed, "expected": round(a.expected, 1),
                "truth": round(truth, 1), "p_value": a.p_value,
            })  # fmt: skip
    return out


def unmatched_tickets(tr: sim.Traffic, eps: list[Episode]) -> Counter[str]:
    """The tickets (notified, not inhibited) of alert groups that match no incident, by detector and by where the
    nearest incident of the same rate stands: on a related slice but ended more than MATCH_AFTER before the ticket
    ("late", with its class and how long before), or starting after it ("early"); on an unrelated slice while it
    ran ("elsewhere"); none within a day ("none"). The incident-free runs are the control: their tickets are classed
    against the incidents the other run received, so "elsewhere" and "none" there say how often chance alone lands a
    ticket in each class."""
    out: Counter[str] = Counter()
    for e, n in _false(tr, eps):
        if n.page:
            continue
        detector = "+".join(sorted(e.detectors))
        same = [inc for inc in tr.incidents if inc.metric == e.metric]
        related = [inc for inc in same if tr.hier.related(e.slice, inc.slice)]
        late = [inc for inc in related if inc.end + MATCH_AFTER <= n.tick < inc.end + sim.PER_DAY]
        if late:
            inc = max(late, key=lambda i: i.end)
            hours = (n.tick - inc.end) // sim.PER_HOUR
            span = "2-6 h" if hours < 6 else "6-12 h" if hours < 12 else "12-24 h"
            where = f"late ({span} after a related slice's {inc.kind} ended)"
        elif any(inc.onset - sim.PER_DAY <= n.tick < inc.onset for inc in related):
            where = "early (a related slice's incident starts within a day)"
        elif any(inc.onset <= n.tick < inc.end + MATCH_AFTER for inc in same):
            where = "elsewhere (an unrelated slice's incident is running)"
        else:
            where = "none within a day"
        out[f"{detector}, depth {tr.hier.depth[e.slice]}: {where}"] += 1
    return out


def columns(modes: str, holds: str, waits: str = "none") -> dict[str, tuple[str, str, str]]:
    """The result columns of one replay: a common-mode setting (see :func:`parse_modes`), an alert-group hold (see
    :func:`parse_hold`) and a pending time (see :func:`parse_for`) each, named by what varies."""
    ms = list(parse_modes(modes))
    hs = [h.strip() for h in holds.split(",")]
    ws = [w.strip() for w in waits.split(",")]
    for h in hs:
        parse_hold(h)
    for w in ws:
        parse_for(w)
    out = {}
    for m in ms:
        for h in hs:
            for w in ws:
                parts = [m] if len(ms) > 1 else []
                parts += [f"hold {h}"] if len(hs) > 1 else []
                parts += [f"for {w}"] if len(ws) > 1 else []
                out[", ".join(parts) or m] = (m, h, w)
    return out


def run_seed(
    sim_name: str, seed: int, *, warm_days: int, test_days: int, incidents: int, modes: str = "off",
    holds: str = "hour", waits: str = "none", cache: AlertCache | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """One (simulator, seed): a run record per common-mode setting of ``modes`` (see :func:`parse_modes`), alert
    group hold of ``holds`` (see :func:`parse_hold`) and pending time of ``waits`` (see :func:`parse_for`); the
    replay's alerts are read from ``cache`` when it holds them, and kept there otherwise."""
    t0 = time.time()
    settings = parse_modes(modes)
    cols = columns(modes, holds, waits)
    tr = sim.simulate(sim_name, seed, warm_days=warm_days, test_days=test_days, incidents=incidents)
    sim_s = time.time() - t0
    outs: dict[str, dict[str, Any]] = {
        c: {"sim": sim_name, "seed": seed, "mode": c, "test_days": test_days, "sim_s": sim_s} for c in cols
    }
    for variant in ("free", "inc"):
        key = (sim_name, seed, warm_days, test_days, incidents, variant, tuple(settings.items()), SPIKE.alpha)
        cached = cache.load(key) if cache else None
        if cached is not None:
            stats, static = cached
        else:
            stats, static = RunStats(), []
            for metric in sim.METRICS:
                replay_metric(tr, metric, variant, stats, settings)
                static += static_alerts(tr, metric, variant)
            if cache:
                cache.save(key, (stats, static))
        st_eps = episodes(static, tr.hier)
        st_pages, _ = false_notifications(tr, st_eps)
        st_incidents = score_incidents(tr, st_eps) if variant == "inc" else []
        for c, (m, h, w) in cols.items():
            alerts = firing(stats.alerts[m], parse_for(w), parse_hold(h))
            eps = episodes(alerts, tr.hier, parse_hold(h))
            gated = sum(1 for a in alerts if a.gate not in (Gate.ENOUGH.value, Gate.WIDENED.value))
            low_pages = len({(a.metric, a.slice) for a in alerts if a.page and a.true_mu_hour < PAGE_GATE_CHECK})
            tiny = len({(a.metric, a.slice) for a in alerts if a.true_mu_day < DAILY_GATE_CHECK})
            rec = {
                "evaluations": stats.evaluations, "candidates": stats.candidates, "audited": stats.audited,
                "screen_misses": stats.screen_misses, "detector_s": stats.detector_seconds,
                "alerts_from_untested": gated, "pages_below_page_gate": low_pages, "alerts_below_daily_gate": tiny,
            }  # fmt: skip
            pages, tickets = false_notifications(tr, eps)
            if variant == "free":
                rec["false_pages"], rec["false_tickets"], rec["static_false_pages"] = pages, tickets, st_pages
                rec["false_ticket_kinds"] = dict(unmatched_tickets(tr, eps))
                rec["false_page_list"] = false_page_list(tr, alerts, eps)
            else:
                rec["incidents"] = score_incidents(tr, eps)
                rec["static_incidents"] = st_incidents
                rec["unmatched_pages"], rec["unmatched_tickets"] = pages, tickets
                rec["unmatched_ticket_kinds"] = dict(unmatched_tickets(tr, eps))
                notified = [n for e in eps for n in e.notified]
                rec["matched_pages"] = sum(1 for n in notified if n.page) - pages
                rec["matched_tickets"] = sum(1 for n in notified if not n.page) - tickets
            rec["unmuted"] = sum(1 for e in eps for n in e.notified if n.unmuted)
            outs[c][variant] = rec
    for out in outs.values():
        out["total_s"] = time.time() - t0
    return list(outs.values())


class _Unpickler(pickle.Unpickler):
    """Reads this benchmark's records whether they were pickled with it run as a script or imported."""

    def find_class(self, module: str, name: str) -> Any:
        if module in ("__main__", "alerting_detectors"):
            return getattr(sys.modules[__name__], name)
        return super().find_class(module, name)


class AlertCache:
    """The replay's alerts per (simulator, seed, variant and settings), pickled in a folder, so that pending times and
    holds are compared on them without replaying again. An entry is keyed by the replay's settings and by the source
    of the detectors, the simulator and this benchmark's replay: a change to any of them replays."""

    SOURCES = (
        *sorted((Path(__file__).resolve().parents[1] / "src/watchkeeper/analytics").rglob("*.py")),
        Path(sim.__file__),
    )

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        h = hashlib.sha256()
        for f in self.SOURCES:
            h.update(f.read_bytes())
        text = Path(__file__).read_text()  # the replay: its records, the screen and the real detectors on it
        h.update(text[text.index("@dataclass\nclass Alert:") : text.index("# from alerts to notifications")].encode())
        self.code = h.hexdigest()[:16]

    def _path(self, key: tuple[Any, ...]) -> Path:
        return self.folder / f"{hashlib.sha256(repr((self.code, key)).encode()).hexdigest()[:24]}.pickle"

    def load(self, key: tuple[Any, ...]) -> Any:
        path = self._path(key)
        if not path.exists():
            return None
        with path.open("rb") as f:
            return _Unpickler(f).load()

    def save(self, key: tuple[Any, ...], value: Any) -> None:
        tmp = self._path(key).with_suffix(".tmp")
        tmp.write_bytes(pickle.dumps(value))
        tmp.replace(self._path(key))


# ---------------------------------------------------------------------------------------------------------------------
# one tick over all streams, timed


def tick_time(seed: int = 5) -> dict[str, float]:
    """CPU seconds of one tick over all 3,030 streams: spike (refitting every baseline, as at the top of an hour;
    and with baselines kept from earlier in the hour), drift, and select_alerts per rate."""
    tr = sim.simulate("A", seed, warm_days=14, test_days=2, incidents=0)
    end_b = (tr.warm_days * 24 + 13) * sim.PER_HOUR + 7
    families: list[tuple[list[RateStream], list[RateStream]]] = []
    for metric in sim.METRICS:
        st = Streams(tr, metric, tr.k_free[metric])
        spike_streams = [st.stream(s, end_b) for s in range(tr.hier.size)]
        drift_streams = [st.stream(s, end_b, recent=False) for s in range(tr.hier.size)]
        families.append((spike_streams, drift_streams))
    at = datetime.fromtimestamp(T0 + 300 * end_b, UTC)
    streams = sum(len(f[0]) for f in families)
    t = time.process_time()
    bases = []
    for spike_streams, drift_streams in families:
        vs = []
        for s in spike_streams:
            b = SPIKE.fit(s, at)
            bases.append(b)
            vs.append(SPIKE.evaluate(s, at, baseline=b) if b is not None else SPIKE.evaluate(s, at))
        select_alerts(vs)
        select_alerts([DRIFT.evaluate(s, at) for s in drift_streams])
    full = time.process_time() - t
    t = time.process_time()
    i = 0
    for spike_streams, _ in families:
        vs = []
        for s in spike_streams:
            b = bases[i]
            i += 1
            vs.append(SPIKE.evaluate(s, at, baseline=b) if b is not None else SPIKE.evaluate(s, at))
        select_alerts(vs)
    cached = time.process_time() - t
    return {"streams": streams, "full_s": full, "cached_spike_s": cached}


# ---------------------------------------------------------------------------------------------------------------------
# summary


def _pct(xs: list[bool]) -> float | None:
    return 100.0 * sum(xs) / len(xs) if xs else None


def _median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def _p90(xs: list[float]) -> float | None:
    if not xs:
        return None
    ys = sorted(xs)
    return ys[min(len(ys) - 1, math.ceil(0.9 * len(ys)) - 1)]


def within(rows: list[dict[str, Any]], minutes: float) -> float | None:
    return _pct([r["delay_min"] is not None and r["delay_min"] <= minutes for r in rows])


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    weeks = sum(r["test_days"] for r in runs) / 7
    days = sum(r["test_days"] for r in runs)
    inc = [row for r in runs for row in r["inc"]["incidents"]]
    static_inc = [row for r in runs for row in r["inc"]["static_incidents"]]

    def sel(rows: list[dict[str, Any]], kind: str, lo: float, hi: float = math.inf) -> list[dict[str, Any]]:
        return [x for x in rows if x["kind"] == kind and lo <= x["band"] < hi]

    def delays(rows: list[dict[str, Any]]) -> list[float]:
        return [x["delay_min"] for x in rows if x["delay_min"] is not None]

    s2_100 = sel(inc, "step2", 100)
    s15_100 = sel(inc, "step1.5", 100)
    s2_30 = sel(inc, "step2", 30)
    s3_100 = sel(inc, "step3", 100)
    s3_30 = sel(inc, "step3", 30, 100)
    s2_30_100 = sel(inc, "step2", 30, 100)
    ramp = sel(inc, "ramp50", 1000 / 24)
    refusal = sel(inc, "refusal+12pt", 0)
    detected = [x for x in inc if x["delay_min"] is not None]
    notes = [x["notifications"] for x in detected]
    total_pages = sum(r["inc"]["matched_pages"] + r["inc"]["unmatched_pages"] for r in runs)
    total_tickets = sum(r["inc"]["matched_tickets"] + r["inc"]["unmatched_tickets"] for r in runs)
    by_cell: dict[str, dict[str, Any]] = {}
    for kind in sim.KINDS:
        for lo, hi in zip(sim.BANDS, sim.BANDS[1:], strict=False):
            rows = sel(inc, kind, lo, hi)
            if rows:
                ds = delays(rows)
                by_cell[f"{kind} @ {lo:g}–{hi:g}/h"] = {
                    "n": len(rows), "detected_pct": _pct([x["delay_min"] is not None for x in rows]),
                    "within_1h": within(rows, 60), "within_4h": within(rows, 240), "within_24h": within(rows, 1440),
                    "median_delay_min": _median(ds), "p90_delay_min": _p90(ds),
                }  # fmt: skip
    return {
        "seeds": [r["seed"] for r in runs],
        "weeks": weeks,
        "false_pages_per_week": sum(r["free"]["false_pages"] for r in runs) / weeks,
        "false_tickets_per_day": sum(r["free"]["false_tickets"] for r in runs) / days,
        "static_false_pages_per_week": sum(r["free"]["static_false_pages"] for r in runs) / weeks,
        "alerts_from_untested": sum(r[v]["alerts_from_untested"] for r in runs for v in ("free", "inc")),
        "pages_below_page_gate": sum(r[v]["pages_below_page_gate"] for r in runs for v in ("free", "inc")),
        "alerts_below_daily_gate": sum(r[v]["alerts_below_daily_gate"] for r in runs for v in ("free", "inc")),
        "step2_100_n": len(s2_100),
        "step2_100_within_1h": within(s2_100, 60),
        "step2_100_median": _median(delays(s2_100)),
        "step2_100_p90": _p90(delays(s2_100)),
        "step15_100_n": len(s15_100),
        "step15_100_within_4h": within(s15_100, 240),
        "step2_30_n": len(s2_30),
        "step2_30_within_3h": within(s2_30, 180),
        "step2_30_100_median": _median(delays(s2_30_100)),
        "step3_100_median": _median(delays(s3_100)),
        "step3_100_p90": _p90(delays(s3_100)),
        "step3_30_median": _median(delays(s3_30)),
        "ramp_n": len(ramp),
        "ramp_within_24h": within(ramp, 1440),
        "ramp_median": _median(delays(ramp)),
        "refusal_n": len(refusal),
        "refusal_within_1h": within(refusal, 60),
        "refusal_median": _median(delays(refusal)),
        "incidents": len(inc),
        "detected_pct": _pct([x["delay_min"] is not None for x in inc]),
        "localised_pct": _pct([x["localised"] for x in detected]),
        "localised_top3_pct": _pct([x["localised_top3"] for x in detected]),
        "notifications_median": _median(notes),
        "notifications_p90": _p90(notes),
        "page_precision_pct": 100.0 * sum(r["inc"]["matched_pages"] for r in runs) / max(1, total_pages),
        "ticket_precision_pct": 100.0 * sum(r["inc"]["matched_tickets"] for r in runs) / max(1, total_tickets),
        "unmuted_share_pct": 100.0
        * sum(r["inc"].get("unmuted", 0) for r in runs)
        / max(1, total_pages + total_tickets),
        "static_step2_100_within_1h": within(sel(static_inc, "step2", 100), 60),
        "static_step2_30_within_3h": within(sel(static_inc, "step2", 30), 180),
        "static_ramp_within_24h": within(sel(static_inc, "ramp50", 1000 / 24), 1440),
        "screen_misses": sum(r[v]["screen_misses"] for r in runs for v in ("free", "inc")),
        "audited": sum(r[v]["audited"] for r in runs for v in ("free", "inc")),
        "evaluations": sum(r[v]["evaluations"] for r in runs for v in ("free", "inc")),
        "candidates": sum(r[v]["candidates"] for r in runs for v in ("free", "inc")),
        "by_cell": by_cell,
    }


@dataclass
class Row:
    metric: str
    target: str
    values: dict[str, str]
    met: dict[str, bool | None]


def _f(x: float | None, fmt: str = "{:.0f}") -> str:
    return "n/a" if x is None else fmt.format(x)


def rows(summaries: dict[str, dict[str, Any]], tick: dict[str, float] | None) -> list[Row]:
    def row(metric: str, target: str, key: str, fmt: str, ok: Any) -> Row:
        vals = {k: _f(s[key], fmt) for k, s in summaries.items()}
        met = {k: (None if s[key] is None or ok is None else bool(ok(s[key]))) for k, s in summaries.items()}
        return Row(metric, target, vals, met)

    out = [
        row("false pages per week (incident-free)", "≤ 1", "false_pages_per_week", "{:.2f}", lambda x: x <= 1),
        row("false tickets per day (incident-free)", "≤ 3", "false_tickets_per_day", "{:.2f}", lambda x: x <= 3),
        row("alerts from slices below the volume gate", "0", "alerts_from_untested", "{:.0f}", lambda x: x == 0),
        row("slices paged with < 20 true expected events/h", "0", "pages_below_page_gate", "{:.0f}", lambda x: x == 0),
        row("slices alerted with < 5 true expected events/day", "0", "alerts_below_daily_gate", "{:.0f}",
            lambda x: x == 0),
        row("×2 at ≥ 100/h: detected within 1 h", "≥ 95%", "step2_100_within_1h", "{:.1f}%", lambda x: x >= 95),
        row("×2 at ≥ 100/h: median delay", "≤ 30 min", "step2_100_median", "{:.0f} min", lambda x: x <= 30),
        row("×2 at ≥ 100/h: p90 delay", "≤ 60 min", "step2_100_p90", "{:.0f} min", lambda x: x <= 60),
        row("×1.5 at ≥ 100/h: detected within 4 h", "≥ 80%", "step15_100_within_4h", "{:.1f}%", lambda x: x >= 80),
        row("×2 at ≥ 30/h: detected within 3 h", "≥ 90%", "step2_30_within_3h", "{:.1f}%", lambda x: x >= 90),
        row("×2 at 30–100/h: median delay", "≤ 100 min", "step2_30_100_median", "{:.0f} min", lambda x: x <= 100),
        row("×3 at ≥ 100/h: median delay", "≤ 15 min", "step3_100_median", "{:.0f} min", lambda x: x <= 15),
        row("×3 at ≥ 100/h: p90 delay", "≤ 30 min", "step3_100_p90", "{:.0f} min", lambda x: x <= 30),
        row("×3 at 30–100/h: median delay", "≤ 40 min", "step3_30_median", "{:.0f} min", lambda x: x <= 40),
        row("ramp +50%/24 h at ≥ 1,000/day: within 24 h", "≥ 90%", "ramp_within_24h", "{:.1f}%", lambda x: x >= 90),
        row("ramp +50%/24 h: median delay", "(ideal 14–17 h)", "ramp_median", "{:.0f} min", None),
        row("refusals +12 points (the seeds' case): within 1 h", "(fast)", "refusal_within_1h", "{:.1f}%", None),
        row("localisation: injected slice or its parent, top-1", "≥ 80%", "localised_pct", "{:.1f}%",
            lambda x: x >= 80),
        row("localisation, top-3", "≥ 95%", "localised_top3_pct", "{:.1f}%", lambda x: x >= 95),
        row("notifications per detected incident: median", "1", "notifications_median", "{:.0f}", lambda x: x <= 1),
        row("notifications per detected incident: p90", "≤ 2", "notifications_p90", "{:.0f}", lambda x: x <= 2),
        row("page precision (incident runs)", "≥ 90%", "page_precision_pct", "{:.1f}%", lambda x: x >= 90),
        row("ticket precision (incident runs)", "≥ 70%", "ticket_precision_pct", "{:.1f}%", lambda x: x >= 70),
        row("notifications sent when their inhibitor ended (incident runs)", "-", "unmuted_share_pct", "{:.1f}%",
            None),
        row("all incidents detected (any class, any volume)", "-", "detected_pct", "{:.1f}%", None),
        row("static threshold (2× warm-up rate, 1 h): false pages/week", "-", "static_false_pages_per_week",
            "{:.1f}", None),
        row("static threshold: ×2 at ≥ 100/h within 1 h", "-", "static_step2_100_within_1h", "{:.1f}%", None),
        row("static threshold: ramp within 24 h", "-", "static_ramp_within_24h", "{:.1f}%", None),
        row("screen misses (real detector fired where the screen did not)", "0", "screen_misses", "{:.0f}",
            lambda x: x == 0),
    ]  # fmt: skip
    if tick is not None:
        first = next(iter(summaries))
        out.append(
            Row(
                f"one tick over {tick['streams']:,} streams (spike refit + drift + select), one core",
                "≤ 30 s",
                {first: f"{tick['full_s']:.1f} s (spike with kept baselines {tick['cached_spike_s']:.1f} s)"},
                {first: tick["full_s"] <= 30},
            )
        )
    return out


def print_rows(rs: list[Row], names: list[str]) -> None:
    w0 = max(len(r.metric) for r in rs)
    w1 = max(len(r.target) for r in rs)
    wv = {n: max(len(n), *(len(r.values.get(n, "")) for r in rs)) for n in names}
    head = f"{'metric':<{w0}}  {'target':<{w1}}  " + "  ".join(f"{n:>{wv[n]}} met" for n in names)
    print(head)
    print("-" * len(head))
    for r in rs:
        cells = []
        for n in names:
            m = r.met.get(n)
            cells.append(f"{r.values.get(n, ''):>{wv[n]}} {'-  ' if m is None else 'yes' if m else 'NO '}")
        print(f"{r.metric:<{w0}}  {r.target:<{w1}}  " + "  ".join(cells))


def print_cells(name: str, s: dict[str, Any]) -> None:
    print(f"\n{name}: detection by incident class and volume band (expected events/hour of the slice's rate)")
    print(f"{'class @ band':<24} {'n':>4} {'detected':>9} {'≤1h':>6} {'≤4h':>6} {'≤24h':>6} {'median':>8} {'p90':>8}")
    for cell, c in s["by_cell"].items():
        print(
            f"{cell:<24} {c['n']:>4} {_f(c['detected_pct'], '{:.0f}%'):>9} {_f(c['within_1h'], '{:.0f}%'):>6} "
            f"{_f(c['within_4h'], '{:.0f}%'):>6} {_f(c['within_24h'], '{:.0f}%'):>6} "
            f"{_f(c['median_delay_min'], '{:.0f}m'):>8} {_f(c['p90_delay_min'], '{:.0f}m'):>8}"
        )


def print_false_pages(runs: list[dict[str, Any]]) -> None:
    """The false pages of every incident-free run, then how many fell on holidays and on each window length."""
    print("\nFalse pages (incident-free runs): observed and expected events over the verdict's window, and the")
    print("simulator's true expectation there (observed / truth far above 1: an extreme count; expected / truth off 1:")
    print("a baseline that mispredicts)\n")
    head = "| sim | seed | mode | rate | slice | day | window | observed | expected | truth | obs / truth |"
    print(head + " exp / truth |")
    print("| --- | --- | --- | --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: |")
    by_kind: Counter[str] = Counter()
    for r in runs:
        for f in r["free"].get("false_page_list", []):
            truth = f["truth"] or float("nan")
            day = f"{f['day']}{' holiday' if f['holiday'] else ''}"
            print(
                f"| {r['sim']} | {r['seed']} | {r['mode']} | {f['metric']} | {f['slice']} | {day} | "
                f"{f['window_min']} min | {f['observed']} | {f['expected']} | {f['truth']} | "
                f"{f['observed'] / truth:.2f} | {f['expected'] / truth:.2f} |"
            )
            kind = "holiday" if f["holiday"] else "ordinary day"
            by_kind[f"{r['sim']} {r['mode']}: {kind}, {f['window_min']} min"] += 1
    for kind, n in sorted(by_kind.items()):
        print(f"  {kind}: {n}")


def print_slow(runs: list[dict[str, Any]]) -> None:
    """The ×2 steps on slices of ≥ 100 events/hour not detected within the hour: the hour of day and the true
    expectation at onset (a trough hour holds a fraction of the band), the delay and the detector that caught it."""
    print("\n×2 steps at ≥ 100/h not detected within 1 h\n")
    print("| sim | seed | mode | rate | slice | depth | band /h | day | hour | at onset /h | delay | first by |")
    print("| --- | --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in runs:
        for x in r["inc"]["incidents"]:
            if x["kind"] != "step2" or x["band"] < 100:
                continue
            if x["delay_min"] is not None and x["delay_min"] <= 60:
                continue
            delay = "missed" if x["delay_min"] is None else f"{x['delay_min']:.0f} min"
            by = x["first_by"] or "-"
            if x["first_page"]:
                by += " (page)"
            print(
                f"| {r['sim']} | {r['seed']} | {r['mode']} | {x['metric']} | {x['slice']} | {x['depth']} | "
                f"{x['band']:.0f} | {x['onset_day']} | {x['onset_hour']} | {x['onset_mu_hour']} | {delay} | {by} |"
            )


def print_unmatched_tickets(runs: list[dict[str, Any]]) -> None:
    """The tickets that match no incident, counted by detector, slice depth and the nearest incident of the rate."""
    for variant, key, title in (
        ("inc", "unmatched_ticket_kinds", "incident runs"),
        ("free", "false_ticket_kinds", "incident-free runs"),
    ):
        totals: Counter[str] = Counter()
        for r in runs:
            for kind, n in r[variant].get(key, {}).items():
                totals[f"{r['sim']} {r['mode']}: {kind}"] += n
        print(f"\nTickets matching no incident ({title}, all seeds):")
        for kind, n in sorted(totals.items()):
            print(f"  {kind}: {n}")


def parse_seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b or a) + 1))
    return out


def use_spike_alpha(alpha: float | None) -> None:
    """Run the spike test (the replay, the screen and the tick) at ``alpha`` instead of its default."""
    global SPIKE
    if alpha is not None:
        SPIKE = replace(SPIKE, alpha=alpha)


def _run(args: tuple[str, int, int, int, int, str, float | None, str, str, str | None]) -> list[dict[str, Any]]:
    name, seed, warm_days, test_days, incidents, modes, spike_alpha, holds, waits, cache = args
    use_spike_alpha(spike_alpha)  # in this process (a pool's worker may not share the parent's globals)
    return run_seed(
        name, seed, warm_days=warm_days, test_days=test_days, incidents=incidents, modes=modes, holds=holds,
        waits=waits, cache=AlertCache(cache) if cache else None,
    )  # fmt: skip


def measure(
    seeds: list[int], sims: list[str], *, warm_days: int = 14, test_days: int = 28, incidents: int = 200,
    with_tick: bool = True, log: Any = None, jobs: int = 1, modes: str = "off", spike_alpha: float | None = None,
    holds: str = "hour", waits: str = "none", cache: str | None = None,
) -> tuple[dict[str, dict[str, Any]], dict[str, float] | None, list[dict[str, Any]]]:  # fmt: skip
    """Every (simulator, seed) run, then the summaries per simulator (and common-mode setting, when ``modes`` names
    more than one) and the timing of one tick; ``spike_alpha`` replaces the spike test's level, ``holds`` names how
    long alerts hold their group open (:func:`parse_hold`) and ``waits`` how long they are pending before they fire
    (:func:`parse_for`); several of either, comma-separated, give a column each; ``cache`` names a folder that keeps
    the replays' alerts (:class:`AlertCache`)."""
    use_spike_alpha(spike_alpha)
    todo = [
        (name, seed, warm_days, test_days, incidents, modes, spike_alpha, holds, waits, cache)
        for name in sims
        for seed in seeds
    ]
    names = list(columns(modes, holds, waits))
    runs: list[dict[str, Any]] = []

    def finished() -> Iterator[list[dict[str, Any]]]:
        if jobs <= 1:
            yield from map(_run, todo)
            return
        with ProcessPoolExecutor(max_workers=jobs) as pool:  # each run is reported as it ends, not all at the end
            yield from (f.result() for f in as_completed([pool.submit(_run, t) for t in todo]))

    for got in finished():
        runs += got
        for r in got if log is not None else ():
            print(
                f"  sim {r['sim']} seed {r['seed']} {r['mode']}: {r['total_s']:.0f} s "
                f"(simulation {r['sim_s']:.0f} s), candidates {r['free']['candidates'] + r['inc']['candidates']:,}, "
                f"false pages {r['free']['false_pages']}, false tickets {r['free']['false_tickets']}",
                file=log,
                flush=True,
            )
    runs.sort(key=lambda r: (sims.index(r["sim"]), names.index(r["mode"]), r["seed"]))
    summaries = {
        f"sim {n}" + (f" {m}" if len(names) > 1 else ""): summarise(
            [r for r in runs if (r["sim"], r["mode"]) == (n, m)]
        )
        for n in sims
        for m in names
    }
    tick = tick_time() if with_tick else None
    return summaries, tick, runs


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", default="5-9", help="seeds, e.g. 5-9 (reported) or 0-4 (tuning)")
    p.add_argument("--sims", default="A,B", help="simulators: A (tuned on), B (never tuned on)")
    p.add_argument("--quick", action="store_true", help="one seed of simulator A, 7 + 14 days: a smoke test")
    p.add_argument("--no-tick", action="store_true", help="skip the timing of one tick over all streams")
    p.add_argument("--jobs", type=int, default=1, help="runs in parallel (processes); each needs ~2.5 GB")
    p.add_argument("--json", help="also write every measurement to this file")
    p.add_argument(
        "--false-pages",
        action="store_true",
        help="list every false page of the incident-free runs: slice, window, observed and expected events, and the "
        "simulator's true expectation over the same window (is the baseline wrong, or the count extreme?)",
    )
    p.add_argument(
        "--spike-alpha",
        type=float,
        help=f"the spike test's per-evaluation level for slices that may page (default {Spike().alpha:g}): a "
        "tuning aid, to compare levels on the tuning seeds",
    )
    p.add_argument(
        "--hold",
        default="hour",
        help="how long an alert holds its group open after its last alert: hour (every detector, the default), "
        "shipped (the shortest keep_firing_for of the shipped rules per detector and severity) or PAGE/TICKET/DRIFT "
        "in minutes (a spike page, a spike ticket, a drift alert: 60/60/360); several, comma-separated, give a "
        "column each on the same runs",
    )
    p.add_argument(
        "--for",
        dest="waits",
        default="none",
        help="how long an alert is pending (active at every tick) before it fires and counts: none (the detectors "
        "alone, the default), shipped (the shortest `for` of the shipped rules per detector and severity) or "
        "PAGE/TICKET/DRIFT in minutes (10/15/60), then optionally xFACTOR, sFACTOR or wFACTOR (a change by that "
        "factor over the decision window, since the change's estimated start, or over any window up to an hour "
        "fires at once: 10/15/60s2) and gTICKS (a what-if: a pending alert outlives that many quiet ticks in a row: "
        "shippedg1); several, comma-separated, give a column each on the same runs",
    )
    p.add_argument(
        "--false-tickets",
        action="store_true",
        help="count the tickets that match no incident, in the incident and incident-free runs, by detector, slice "
        "depth and the nearest incident of the same rate (late, early, on an unrelated slice, none)",
    )
    p.add_argument(
        "--slow",
        action="store_true",
        help="list the ×2 steps on slices of ≥ 100 events/hour not detected within the hour: onset hour and its true "
        "expectation, delay, and the detector that caught them",
    )
    p.add_argument(
        "--common-mode",
        default="off",
        help="common-mode corrections to compare on the same runs, comma-separated: off (the engine's default), "
        "default (CommonMode(): 5 peers over 100 expected events) or PEERS:EXPECTED (e.g. 3:30; a leading w, as in "
        "w5:10, weights the peers' median by their expected events), either followed by "
        ":pages to correct only verdicts that may page (e.g. 5:100:pages); one column each",
    )
    p.add_argument(
        "--alerts-cache",
        metavar="DIR",
        help="keep each replay's alerts in this folder and read them back on a later run with the same seeds, "
        "simulators, common-mode settings and spike level (and unchanged detectors, simulator and replay code), so "
        "--for and --hold are compared without replaying (a tuning aid: minutes instead of an hour per seed)",
    )
    a = p.parse_args()
    if a.spike_alpha is not None and not 0 < a.spike_alpha < 1:
        p.error(f"--spike-alpha must be between 0 and 1, not {a.spike_alpha:g}")
    try:
        columns(a.common_mode, a.hold, a.waits)
    except ValueError as e:
        p.error(str(e))
    seeds = parse_seeds(a.seeds)
    sims = [s.strip() for s in a.sims.split(",")]
    warm, test, incidents = 14, 28, 200
    if a.quick:
        seeds, sims, test, incidents = seeds[:1], sims[:1], 14, 100
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    t0 = time.time()
    summaries, tick, runs = measure(
        seeds,
        sims,
        warm_days=warm,
        test_days=test,
        incidents=incidents,
        with_tick=not a.no_tick,
        log=sys.stderr,
        jobs=a.jobs,
        modes=a.common_mode,
        spike_alpha=a.spike_alpha,
        holds=a.hold,
        waits=a.waits,
        cache=a.alerts_cache,
    )
    print(
        f"\nDetector benchmark, {started}: seeds {a.seeds if not a.quick else seeds[0]}, {warm} + {test} days, "
        f"{sim.hierarchy().size * len(sim.METRICS):,} streams, ~{incidents} incidents per seed, spike alpha "
        f"{SPIKE.alpha:g}, alert groups held {a.hold!r}, pending {a.waits!r}; {time.time() - t0:.0f} s\n"
    )
    print_rows(rows(summaries, tick), list(summaries))
    for name, s in summaries.items():
        print_cells(name, s)
    for name, s in summaries.items():
        print(
            f"\n{name}: screen flagged {s['candidates']:,} of {s['evaluations']:,} evaluations; audited "
            f"{s['audited']:,} closest unflagged"
        )
    if a.false_pages:
        print_false_pages(runs)
    if a.false_tickets:
        print_unmatched_tickets(runs)
    if a.slow:
        print_slow(runs)
    if a.json:
        Path(a.json).write_text(json.dumps({"summaries": summaries, "tick": tick, "runs": runs}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The spike test: is a rate, over the last minutes or hours, above what this hour normally brings?

For each window on a ladder (15 minutes to 4 hours; up to a day for small slices) ending at the evaluation time, the
observed count is compared with its expected value under the stream's seasonal baseline (:mod:`._baseline`) by the
exact Poisson-lognormal tail — Poisson noise plus a lognormal wander of the rate with the variance the baseline
measured, so an overdispersed or badly predictable slice needs a larger excess. The smallest p-value,
Bonferroni-corrected for the windows tried, decides, together with effect floors (a relative lift and an absolute
excess, so a huge slice does not page on a real but irrelevant 3% shift).

The volume gate: only windows with at least ``min_expected`` expected events are tested. A slice that reaches that
within ``page_minutes`` is tested as is (``Gate.ENOUGH``, may page); a smaller one widens its window up to
``max_minutes`` with the lower ``min_expected_widened`` (``Gate.WIDENED``, tickets only); smaller still, it defers
to its parent slice and is never alerted on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
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
    too_small,
)
from ._tails import nbinom_band, nbinom_cdf, nbinom_sf, normal_isf, pln_cdf, pln_sf
from .changepoint import change_start

DIRECTIONS = ("up", "down", "both")
_BAND_Z = normal_isf(0.005)  # 99% two-sided
_TAIL = {"up": 1.0, "down": -1.0, "both": 0.0}  # the verdict's "tail" value: the side of the test's p-value


@dataclass(frozen=True, slots=True)
class Timeline:
    """Counts ending at ``end_s``, newest first: fine buckets back to the first whole hour they cover, then hourly
    buckets. ``mu`` is each bucket's expected count under the baseline."""

    end_s: int
    fine_from: int = 0  # buckets from here on are fine (``step_s`` wide), hourly before
    step_s: int = HOUR_S
    starts: list[int] = field(default_factory=list)
    k: list[int] = field(default_factory=list)
    n: list[int] = field(default_factory=list)
    mu: list[float] = field(default_factory=list)


def build_timeline(
    stream: RateStream, at_s: int, baseline: Baseline, reach_s: int, hourly: Series | None = None
) -> Timeline:
    """The stream's buckets that ended by ``at_s``, newest first, back to ``reach_s`` before the end (``hourly``:
    the stream's hourly series when already converted)."""
    step_s = max(1, int(stream.step.total_seconds()))
    fine = series(stream.recent, step_s, at_s) if stream.recent and step_s < HOUR_S else None
    if hourly is None:
        hourly = series(stream.hourly, HOUR_S, at_s, at_s - reach_s - 2 * HOUR_S)
    if fine is not None and fine.starts:
        end_s = at_s // step_s * step_s
        fine_from = -(-fine.starts[0] // HOUR_S) * HOUR_S  # the first whole hour the fine buckets cover
    else:
        end_s = at_s // HOUR_S * HOUR_S
        fine_from = end_s
    tl = Timeline(end_s, fine_from, step_s if fine is not None else HOUR_S)
    limit = end_s - reach_s
    if fine is not None:
        for i in range(len(fine.starts) - 1, -1, -1):
            s = fine.starts[i]
            if s < fine_from:
                break
            tl.starts.append(s)
            tl.k.append(fine.k[i])
            tl.n.append(fine.n[i])
            tl.mu.append(fine.n[i] * baseline.rate_at(s // HOUR_S))
    for i in range(len(hourly.starts) - 1, -1, -1):
        s = hourly.starts[i]
        if s >= fine_from:
            continue
        if s < limit:
            break
        tl.starts.append(s)
        tl.k.append(hourly.k[i])
        tl.n.append(hourly.n[i])
        tl.mu.append(hourly.n[i] * baseline.rate_at(s // HOUR_S))
    return tl


@dataclass(frozen=True, slots=True)
class _Window:
    minutes: int  # actual length (hourly buckets round the far end to an hour)
    k: int
    n: int
    mu: float
    c: float
    depth: int  # buckets of the timeline in the window


def within_hour_dispersion(tl: Timeline, minutes_list: tuple[int, ...]) -> dict[int, float]:
    """For each block length in ``minutes_list`` (under an hour, a multiple of the fine buckets): how much more than
    Poisson the counts of such blocks vary around their own hour's rate, in the complete hours the fine buckets
    cover (a Pearson χ² per degree of freedom, shrunk to 1.5 with 6 degrees of freedom). Lengths the buckets cannot
    tell about are left out."""
    usable = [m for m in minutes_list if tl.step_s < HOUR_S and m < 60 and (m * 60) % tl.step_s == 0]
    if not usable:
        return {}
    # fine buckets of complete hours, by hour and offset in the hour
    hours: dict[int, dict[int, tuple[int, int]]] = {}
    for i in range(len(tl.starts)):
        s = tl.starts[i]
        if s < tl.fine_from:
            break
        h = s // HOUR_S
        if (h + 1) * HOUR_S > tl.end_s:
            continue
        hours.setdefault(h, {})[s % HOUR_S] = (tl.k[i], tl.n[i])
    out = {}
    for minutes in usable:
        block_s = minutes * 60
        x2 = 0.0
        dof = 0
        for offsets in hours.values():
            blocks: dict[int, list[int]] = {}
            for off, (k, n) in offsets.items():
                kn = blocks.setdefault(off // block_s, [0, 0])
                kn[0] += k
                kn[1] += n
            big_k = sum(kn[0] for kn in blocks.values())
            big_n = sum(kn[1] for kn in blocks.values())
            if big_k <= 0 or big_n <= 0 or len(blocks) < 2:
                continue
            for k, n in blocks.values():
                e = n * big_k / big_n
                if e > 0:
                    x2 += (k - e) ** 2 / e
            dof += len(blocks) - 1
        out[minutes] = max(1.0, (x2 + _PRIOR_PHI * _PRIOR_DOF) / (dof + _PRIOR_DOF))
    return out


_PRIOR_PHI = 1.5
_PRIOR_DOF = 6.0


def _windows(tl: Timeline, ladder: tuple[int, ...], baseline: Baseline) -> list[_Window]:
    """The counts of each window of the ladder ending at the timeline's end, with the wander c over each: for
    windows under an hour, the hour's wander plus the within-hour dispersion measured in the fine buckets (the law of
    total variance), else the baseline's wander at that scale."""
    out: list[_Window] = []
    k = n = 0
    mu = 0.0
    i = 0
    size = len(tl.starts)
    c_hour = baseline.dispersion(60)
    phis = within_hour_dispersion(tl, tuple(m for m in ladder if m < 60))
    for minutes in ladder:
        start = tl.end_s - minutes * 60
        while i < size and tl.starts[i] >= start:
            k += tl.k[i]
            n += tl.n[i]
            mu += tl.mu[i]
            i += 1
        actual = (tl.end_s - tl.starts[i - 1]) // 60 if i else minutes
        phi = phis.get(actual)
        c = c_hour + (phi - 1.0) / mu if phi is not None and mu > 0 else baseline.dispersion(actual)
        out.append(_Window(actual, k, n, mu, c, i))
    return out


# Where the negative binomial's tail is above this, the Poisson-lognormal's is within a factor 0.85–1.45 of it (and
# above 0.1%, far from any alert level): the cheaper one is reported. Below it, the Poisson-lognormal's is computed.
_LOGNORMAL_BELOW = 0.01


def _upper(k: int, mu: float, c: float) -> float:
    p = nbinom_sf(k, mu, c)
    return pln_sf(k, mu, c) if p < _LOGNORMAL_BELOW else p


def _lower(k: int, mu: float, c: float) -> float:
    p = nbinom_cdf(k, mu, c)
    return pln_cdf(k, mu, c) if p < _LOGNORMAL_BELOW else p


def tail_p(k: int, mu: float, c: float, direction: str) -> float:
    """The one-sided p-value of ``k`` against mean ``mu`` and wander ``c`` (both tails, doubled, for "both"): the
    Poisson-lognormal tail, whose rate wanders by a lognormal factor of squared spread ``c``."""
    if direction == "up":
        return _upper(k, mu, c)
    if direction == "down":
        return _lower(k, mu, c)
    return min(1.0, 2.0 * min(_upper(k, mu, c), _lower(k, mu, c)))


def strongest(windows: Sequence[tuple[int, float, float]], direction: str) -> tuple[int, float]:
    """Of windows given as (observed, expected, wander): the index of the one least likely under the baseline, and
    its p-value times the number of windows tried (Bonferroni), at most 1."""
    best, best_p = 0, 2.0
    for i, (k, mu, c) in enumerate(windows):
        p = tail_p(k, mu, c, direction)
        if p < best_p:
            best, best_p = i, p
    return best, min(1.0, best_p * len(windows))


def clears_floors(k: int, mu: float, direction: str, min_ratio: float, min_excess: float) -> bool:
    """``k`` events against ``mu`` expected is a change worth reporting: at least ``min_ratio`` times (or at most
    1/``min_ratio`` of) the expected count and ``min_excess`` events from it, in the direction watched ("both": the
    direction it went)."""
    excess = k - mu
    ratio = k / mu if mu > 0 else math.inf
    if direction == "up" or (direction == "both" and excess > 0):
        return ratio >= min_ratio and excess >= min_excess
    return ratio <= 1.0 / min_ratio and -excess >= min_excess


@dataclass(slots=True)
class Spike:
    """The spike test (see the module docstring). ``alpha`` is the per-evaluation false-alarm probability at
    sensitivity 1, after the correction for the windows tried; ``alpha_widened`` the same for slices tested over a
    widened window (tickets only: many small slices, so a stricter level)."""

    name: str = "spike"
    alpha: float = 5e-6
    alpha_widened: float = 1e-6
    direction: str = "up"
    ladder_minutes: tuple[int, ...] = (15, 30, 60, 120, 240, 480, 1440)
    min_expected: float = 30.0
    page_minutes: int = 60
    max_page_window_minutes: int = 240
    min_expected_widened: float = 10.0
    max_minutes: int = 1440
    min_ratio: float = 1.25
    min_excess: float = 5.0
    season: Seasonality = field(default_factory=Seasonality)

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, not {self.direction!r}")
        for name, value in (("alpha", self.alpha), ("alpha_widened", self.alpha_widened)):
            if not 0 < value < 1:
                raise ValueError(f"{name} must be between 0 and 1, not {value}")

    def fit(self, stream: RateStream, at: datetime, hourly: Series | None = None) -> Baseline | None:
        """The stream's baseline as this test uses it at ``at``: the same for every ``at`` within one hour, so a
        caller may keep it for the hour and pass it to :meth:`evaluate`."""
        at_s = epoch_s(at)
        if hourly is None:
            hourly = series(stream.hourly, HOUR_S, at_s)
        return fit_baseline(hourly, at_s, test_hours=self.max_minutes // 60 + 1, season=self.season)

    def evaluate(
        self,
        stream: RateStream | HistogramStream,
        at: datetime,
        *,
        sensitivity: float = 1.0,
        baseline: Baseline | None = None,
    ) -> Verdict:
        """The verdict of the spike test on ``stream`` at ``at``; ``baseline`` skips refitting one from this hour."""
        if not isinstance(stream, RateStream):
            raise TypeError("the spike test reads a RateStream of counts; use quantile_shift for histograms")
        at_s = epoch_s(at)
        hourly = None
        if baseline is None:
            hourly = series(stream.hourly, HOUR_S, at_s)
            baseline = self.fit(stream, at, hourly)
        if baseline is None:
            return Verdict(
                self.name, stream.key, at, False, Gate.NO_BASELINE, parent=stream.parent, direction=self.direction,
                reason=f"less than {self.season.min_history_days:g} days of history: nothing to compare with",
            )  # fmt: skip
        tl = build_timeline(stream, at_s, baseline, self.max_minutes * 60 + HOUR_S, hourly)
        return self.judge(stream.key, stream.parent, at, tl, baseline, sensitivity)

    def judge(
        self, key: str, parent: str | None, at: datetime, tl: Timeline, base: Baseline, sensitivity: float
    ) -> Verdict:
        """The verdict on a timeline already built (shared with the histogram test)."""
        wins = _windows(tl, self.ladder_minutes, base)
        enough = [w for w in wins if w.minutes <= self.max_page_window_minutes and w.mu >= self.min_expected]
        if any(w.minutes <= self.page_minutes for w in enough):
            gate, tested = Gate.ENOUGH, enough
        else:
            tested = [w for w in wins if w.minutes <= self.max_minutes and w.mu >= self.min_expected_widened]
            gate = Gate.WIDENED if tested else too_small(parent)
        stats = tuple(WindowStat(w.minutes, w.k, w.mu, w.n, w.c, any(w is t for t in tested)) for w in wins)
        if not tested:
            biggest = max(wins, key=lambda w: w.mu) if wins else None
            return Verdict(
                self.name, key, at, False, gate, parent=parent, direction=self.direction, windows=stats,
                observed_events=biggest.k if biggest else 0, expected_events=biggest.mu if biggest else 0.0,
                trials=biggest.n if biggest else 0,
                window=timedelta(minutes=biggest.minutes) if biggest else timedelta(0),
                reason=f"fewer than {self.min_expected_widened:g} expected events in {self.max_minutes} minutes",
            )  # fmt: skip
        at_best, p_adj = strongest([(w.k, w.mu, w.c) for w in tested], self.direction)
        best = tested[at_best]
        effect = clears_floors(best.k, best.mu, self.direction, self.min_ratio, self.min_excess)
        ratio = best.k / best.mu if best.mu > 0 else math.inf
        r_hat = ratio if math.isfinite(ratio) else 1e6
        current = _still_shifted(tl, best, r_hat)
        alpha = self.alpha if gate is Gate.ENOUGH else self.alpha_widened
        fired = effect and current and p_adj <= alpha * sensitivity
        lo, hi = nbinom_band(best.mu, best.c, _BAND_Z)
        started = None
        onset: tuple[tuple[str, float], ...] = ()
        if fired:
            # oldest first for the dating scan
            i = change_start(tl.k[::-1], tl.mu[::-1], r_hat)
            if i is not None:
                j = len(tl.starts) - 1 - i  # the start's bucket, newest first
                started = from_epoch_s(tl.starts[j])
                # the counts since the change began: the size of the change, undiluted by the window's older part
                onset = (("onset_observed", float(sum(tl.k[: j + 1]))), ("onset_expected", sum(tl.mu[: j + 1])))
        return Verdict(
            self.name, key, at, fired, gate,
            p_value=p_adj,
            statistic=-math.log10(max(p_adj, 1e-300)),
            observed_rate=best.k / best.n if best.n else None,
            expected_rate=best.mu / best.n if best.n else None,
            band=(lo / best.n, hi / best.n) if best.n else None,
            observed_events=best.k, expected_events=best.mu, trials=best.n,
            window=timedelta(minutes=best.minutes), started_at=started, parent=parent, direction=self.direction,
            windows=stats,
            # the level and floors, so select_alerts can decide again against its peers' common rise
            values=(
                ("dispersion", best.c), ("windows_tested", float(len(tested))), ("alpha", alpha * sensitivity),
                ("min_ratio", self.min_ratio), ("min_excess", self.min_excess), ("tail", _TAIL[self.direction]),
                *onset,
            ),
            reason=_reason(fired, effect, current, best, p_adj, gate),
        )  # fmt: skip


def _still_shifted(tl: Timeline, w: _Window, ratio: float) -> bool:
    """Whether the newest quarter of the window (one bucket at least) still favours the shift it found: the
    log-likelihood ratio of "ratio × baseline" against "baseline" over it is not negative. Without this an alert on
    a 4-hour window would keep firing for 4 hours after the rate came back."""
    if ratio <= 0 or ratio == 1.0:
        return False
    since = tl.end_s - max(1, w.minutes // 4) * 60
    k = 0
    mu = 0.0
    for i in range(w.depth):
        if i > 0 and tl.starts[i] < since:
            break
        k += tl.k[i]
        mu += tl.mu[i]
    return k * math.log(ratio) - mu * (ratio - 1.0) >= 0.0


def _reason(fired: bool, effect: bool, current: bool, w: _Window, p: float, gate: Gate) -> str:
    where = f"{w.k} events where {w.mu:.1f} were expected in {w.minutes} minutes"
    if fired:
        return f"{where} (p = {p:.2g}{', widened window' if gate is Gate.WIDENED else ''})"
    if not effect:
        return f"{where}: below the effect floors"
    if not current:
        return f"{where} (p = {p:.2g}), but the last {max(1, w.minutes // 4)} minutes are back to normal"
    return f"{where}: within what the baseline allows (p = {p:.2g})"

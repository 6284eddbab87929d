"""The common-mode correction: when every slice of a dimension rises together — a holiday, a surge of all traffic —
no slice has a spike of its own.

The seasonal baseline knows the hour and the weekday, not the calendar. On a holiday every language's refusal rate
may sit 10% above its usual hour; every slice's spike test then sees a 10% excess, and among hundreds of slices the
noisiest cross the threshold. What tells a slice's own change from a common one is its **peers**: the other slices
of the same dimension set (the other languages; the other language × model pairs) over the same window. Before the
verdicts of a tick are chosen (:func:`~.fdr.select_alerts`), each verdict that fired is decided again with its
expected count scaled, window by window, by the median observed/expected ratio of its peers over that window:

- **only in the direction the test watches**: a rise for an upward test (the factor is at least 1), a fall for a
  downward one, nothing for a two-sided one. The correction can quiet a verdict, never raise one.
- **only over peers big enough to say**: a peer counts for a window only when it expects at least ``min_expected``
  events there (100: its own ratio is then within ±10% by chance alone), and the median is used only when at least
  ``min_peers`` peers count (5). An upward-only factor turns the noise of the median into lost sensitivity on
  ordinary days (the factor is above 1 half of the time); with 5 such peers that loss is about 2% of the expected
  count. On the benchmark's tuning seeds, 3 peers over 30 expected events removed one false page more and delayed
  more detections (see docs/alerting.md).
- **without the slice itself**: its own change never raises its own expectation. The median moves only when half of
  its peers move, so an incident in one slice, or in a few, does not hide an incident in another.

A change in all traffic still pages once, at the nearest slice above the ones that moved together: the global slice
has no peers and is tested as before, and a language whose models all rose with it still differs from the other
languages. The slices that rose with their parent are the ones the correction quiets, as the parent-first rule of
:func:`~.fdr.select_alerts` would.

Peers are the slices of the same group. By default a group is a depth in the family's hierarchy (the number of
parents above a slice among the verdicts), which is the dimension set whenever each level of the rule's slices holds
one set (global → language → language × model). Where a depth holds two sets (language and model version, both
under the global slice), their traffic adds up to twice their parents': the default cannot tell them apart and
corrects nothing at that depth; a caller that knows each slice's dimensions passes ``group``.

**Weighted by volume** (``weighted=True``): each peer's ratio counts by its expected events in the window, and the
factor is the ratio below which half the peers' expected events lie. Small peers then join (``min_expected`` 10)
without their noise moving the median much: on a holiday, when traffic falls to a fraction of an ordinary day,
few peers still expect 100 events in an hour, and the plain median is not computed at all where it is most needed.
A peer that holds more than half of the group's events decides the factor alone; an incident in it then raises its
siblings' expectations (never its own, and never a verdict).

The correction is an option, off by default (``select_alerts(..., common_mode=CommonMode())``): on the detection
benchmark it cut false pages by a fifth to a third but lost a few detections on small slices (docs/alerting.md).
``CommonMode(pages_only=True)`` corrects only the verdicts that may page, leaving small slices' widened-window
tests (tickets, where those detections were lost) as they fired.

A verdict can be decided again when it records its level and its tested windows: the spike test's (and the
quantile-shift test's, which is a spike test on exceedances) do; a plugin's verdict that does not is left alone.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from ._model import Gate, Verdict, WindowStat
from ._tails import nbinom_band, normal_isf
from .spike import clears_floors, strongest

_BAND_Z = normal_isf(0.005)  # 99% two-sided, as the spike test's band
_SAME_WINDOW = 1.5  # a peer's window counts for the slice's when their lengths differ by less than this factor
_DIRECTIONS = {1.0: "up", -1.0: "down"}
_ONE_SET = 1.25  # slices of one dimension set share their parents' traffic; two sets at one depth hold it twice


@dataclass(frozen=True, slots=True)
class CommonMode:
    """The common-mode correction's parameters (see the module docstring): a verdict's peers are the other slices of
    its ``group`` (default: its depth in the family) whose window expects at least ``min_expected`` events; their
    median ratio corrects it when at least ``min_peers`` of them do. ``pages_only``: correct only the verdicts that
    may page (gate ``ENOUGH``); a small slice tested over a widened window (a ticket) is left as it fired, since it
    is where the correction lost most detections. Every slice still counts as a peer. ``weighted``: the factor is
    the peers' median ratio with each peer counted by its expected events, so small peers (``min_expected`` of 10
    rather than 100) add what they know without their noise moving the median (see the module docstring)."""

    min_peers: int = 5
    min_expected: float = 100.0
    group: Callable[[Verdict], Hashable] | None = None
    pages_only: bool = False
    weighted: bool = False

    def __post_init__(self) -> None:
        if self.min_peers < 1:
            raise ValueError(f"min_peers must be at least 1, not {self.min_peers}")
        if not self.min_expected >= 0:
            raise ValueError(f"min_expected must not be negative, not {self.min_expected}")

    def factors(self, verdicts: Iterable[Verdict], peers: Iterable[Verdict] = ()) -> dict[str, dict[int, float]]:
        """For each fired verdict that can be decided again, by key: the factor on its expected count per tested
        window (minutes → factor), where its peers moved together in the direction its test watches. ``peers``:
        more slices of the same tick, read only as peers (a replay that tests only some slices passes the rest)."""
        family = {v.key: v for v in peers}
        family.update((v.key, v) for v in verdicts)
        todo = [
            v
            for v in family.values()
            if v.fired
            and _tail(v) != 0.0
            and any(w.tested for w in v.windows)
            and (v.gate is Gate.ENOUGH or not self.pages_only)
        ]
        if not todo:
            return {}
        group_of = self.group
        if group_of is None:
            depth = _depth_groups(family.values())
            group_of = lambda v: depth[v.key]  # noqa: E731 (a closure over this call's groups)
        members: dict[Hashable, list[Verdict]] = {}
        for v in family.values():
            members.setdefault(group_of(v), []).append(v)
        ratios: dict[tuple[Hashable, int], tuple[list[tuple[float, float]], list[float]]] = {}
        out: dict[str, dict[int, float]] = {}
        for v in todo:
            g = group_of(v)
            if g is None:
                continue
            tail = _tail(v)
            got: dict[int, float] = {}
            for w in v.windows:
                if not w.tested:
                    continue
                got_r = ratios.get((g, w.minutes))
                if got_r is None:
                    pairs = self._ratios(members[g], w.minutes)
                    got_r = ratios[(g, w.minutes)] = (pairs, [x for x, _ in pairs])
                pairs, r = got_r
                own = self._ratio(w)
                n = len(r) - (own is not None)
                if n < self.min_peers:
                    continue
                f = weighted_median_without(pairs, own, w.expected) if self.weighted else median_without(r, own)
                if f * tail > tail:  # a rise for an upward test, a fall for a downward one
                    got[w.minutes] = f
            if got:
                out[v.key] = got
        return out

    def correct(self, verdicts: Iterable[Verdict], peers: Iterable[Verdict] = ()) -> dict[str, Verdict]:
        """The fired verdicts the correction applies to, decided again against their peers' common move, by key."""
        family = list(verdicts)
        by_key = {v.key: v for v in family}
        return {k: decide_again(by_key[k], f) for k, f in self.factors(family, peers).items() if k in by_key}

    def _ratio(self, w: WindowStat | None) -> float | None:
        if w is None or w.expected < self.min_expected or w.expected <= 0:
            return None
        return w.observed / w.expected

    def _ratios(self, members: Sequence[Verdict], minutes: int) -> list[tuple[float, float]]:
        """The observed/expected ratios, over a window of about ``minutes``, of the members that pass the volume
        gate there, each with its expected count; sorted by ratio."""
        out = []
        for u in members:
            w = _window(u.windows, minutes)
            r = self._ratio(w)
            if r is not None and w is not None:
                out.append((r, w.expected))
        out.sort()
        return out


def median_without(ratios: Sequence[float], own: float | None) -> float:
    """The median of sorted ``ratios`` after removing one occurrence of ``own`` (None: remove nothing)."""
    i = bisect.bisect_left(ratios, own) if own is not None else len(ratios)
    n = len(ratios) - (own is not None)

    def at(j: int) -> float:
        return ratios[j] if j < i else ratios[j + 1]

    if n <= 0:
        return 1.0
    if n % 2:
        return at(n // 2)
    return 0.5 * (at(n // 2 - 1) + at(n // 2))


def weighted_median_without(ratios: Sequence[tuple[float, float]], own: float | None, own_weight: float) -> float:
    """The median of sorted (ratio, weight) pairs, each ratio counted by its weight, after removing one pair of
    ratio ``own`` (None: remove nothing): the ratio below and above which lies half the weight."""
    skip = -1
    if own is not None:
        i = bisect.bisect_left(ratios, (own, -math.inf))
        # the pair of ratio ``own`` whose weight is nearest ``own_weight`` (the slice itself)
        best = math.inf
        while i < len(ratios) and ratios[i][0] == own:
            if abs(ratios[i][1] - own_weight) < best:
                skip, best = i, abs(ratios[i][1] - own_weight)
            i += 1
    total = sum(wt for j, (_, wt) in enumerate(ratios) if j != skip)
    if total <= 0:
        return 1.0
    half = 0.5 * total
    run = 0.0
    for j, (r, wt) in enumerate(ratios):
        if j == skip:
            continue
        run += wt
        if run >= half:
            return r
    return 1.0


def decide_again(v: Verdict, factors: Mapping[int, float]) -> Verdict:
    """``v`` decided again with each tested window's expected count times its factor (minutes → factor, 1 where
    missing): the same windows, level, Bonferroni correction and effect floors as the test that made it. It fires
    only if it fired before; its ``windows`` keep the baseline's counts (the comparison with the parent's rest is
    made within the same traffic, where a common move cancels)."""
    alpha, min_ratio, min_excess = v.value("alpha"), v.value("min_ratio"), v.value("min_excess")
    tested = [w for w in v.windows if w.tested]
    tail = _tail(v)
    if alpha is None or min_ratio is None or min_excess is None or not tested or tail == 0.0:
        return v
    direction = _DIRECTIONS[tail]
    mus = [w.expected * factors.get(w.minutes, 1.0) for w in tested]
    i, p_adj = strongest([(w.observed, mu, w.dispersion) for w, mu in zip(tested, mus, strict=True)], direction)
    best, best_mu = tested[i], mus[i]
    effect = clears_floors(best.observed, best_mu, direction, min_ratio, min_excess)
    fired = v.fired and effect and p_adj <= alpha
    factor = factors.get(best.minutes, 1.0)
    lo, hi = nbinom_band(best_mu, best.dispersion, _BAND_Z)
    n = best.trials
    where = (
        f"{best.observed} events where {best_mu:.1f} were expected in {best.minutes} minutes "
        f"({best.expected:.1f} times the peers' common ×{factor:.2f})"
    )
    if fired:
        reason = f"{where} (p = {p_adj:.2g})"
    elif not effect:
        reason = f"{where}: below the effect floors once the peers' common move is counted"
    else:
        reason = f"{where}: within what the baseline allows once the peers' common move is counted (p = {p_adj:.2g})"
    return replace(
        v,
        fired=fired,
        p_value=p_adj,
        statistic=-math.log10(max(p_adj, 1e-300)),
        observed_rate=best.observed / n if n else None,
        expected_rate=best_mu / n if n else None,
        band=(lo / n, hi / n) if n else None,
        observed_events=best.observed,
        expected_events=best_mu,
        trials=n,
        window=timedelta(minutes=best.minutes),
        started_at=v.started_at if fired else None,
        values=(*v.values, ("common_mode", factor), *_onset_scaled(v, factor)),
        reason=reason,
    )


def _onset_scaled(v: Verdict, factor: float) -> tuple[tuple[str, float], ...]:
    """The expected count since the change's estimated start, times the peers' common factor (when dated)."""
    mu = v.value("onset_expected")
    return (("onset_expected", mu * factor),) if mu is not None and factor != 1.0 else ()


def _tail(v: Verdict) -> float:
    t = v.value("tail")
    return t if t in _DIRECTIONS else 0.0


def _window(stats: Sequence[WindowStat], minutes: int) -> WindowStat | None:
    """The window of ``stats`` nearest ``minutes`` in length, if it is about as long."""
    best = min(stats, key=lambda s: abs(math.log(max(s.minutes, 1) / max(minutes, 1))), default=None)
    if best is None or abs(math.log(max(best.minutes, 1) / max(minutes, 1))) > math.log(_SAME_WINDOW):
        return None
    return best


def _depths(verdicts: Iterable[Verdict]) -> dict[str, int]:
    """Each verdict's number of ancestors among ``verdicts`` (through ``parent``)."""
    parent = {v.key: v.parent for v in verdicts}
    out: dict[str, int] = {}
    for key in parent:
        chain = []
        k: str | None = key
        while k is not None and k in parent and k not in out and k not in chain:
            chain.append(k)
            k = parent[k]
        d = out[k] + 1 if k is not None and k in out else 0
        for c in reversed(chain):
            out[c] = d
            d += 1
    return out


def _depth_groups(verdicts: Iterable[Verdict]) -> dict[str, int | None]:
    """Each verdict's depth, where its depth holds one dimension set: the traffic of its slices adds up to no more
    than their parents' (over the window nearest an hour). Where it adds up to more — two sets at one depth, such as
    language and model version both under the global slice — or where the parents are not among the verdicts (so
    that cannot be checked), None: no peers."""
    family = {v.key: v for v in verdicts}
    depth = _depths(family.values())
    trials: dict[int, int] = {}
    parents: dict[int, set[str]] = {}
    unknown: set[int] = set()
    for v in family.values():
        d = depth[v.key]
        w = _window(v.windows, 60)
        if v.parent is None or v.parent not in family or w is None:
            unknown.add(d)
            continue
        trials[d] = trials.get(d, 0) + w.trials
        parents.setdefault(d, set()).add(v.parent)
    one_set = set()
    for d, n in trials.items():
        up = [_window(family[p].windows, 60) for p in parents[d]]
        total = sum(w.trials for w in up if w is not None)
        if d not in unknown and total > 0 and n <= _ONE_SET * total:
            one_set.add(d)
    return {k: d if d in one_set else None for k, d in depth.items()}

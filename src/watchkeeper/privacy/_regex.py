"""A recogniser made of one regular expression and a validator: the shape most built-ins share.

The expressions are written to run in linear time on Python's ``re``: every repeated class is bounded or starts
only where a run of that class starts (a negative look-behind), so a megabyte of digits, ``@`` or ``-`` is scanned
once, not once per position.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from ._model import Finding

# Returns the (start, end, type) to report for a match, or None to reject it.
Validator = Callable[[re.Match[str], str], "tuple[int, int, str] | None"]


@dataclass(slots=True)
class PatternRecogniser:
    """Finds every match of ``pattern`` that ``validate`` accepts (all of group ``group`` when no validator)."""

    name: str
    entity_types: tuple[str, ...]
    pattern: re.Pattern[str]
    triggers: tuple[str, ...] = ()
    validate: Validator | None = None
    group: int | str = 0
    score: float = 1.0
    # How far a match reaches around the end of a trigger match (characters before, after). With it the engine
    # passes ``find_near`` the places a trigger matched and the pattern runs only there.
    window: tuple[int, int] | None = None
    _type: str = field(init=False, default="")

    def __post_init__(self) -> None:
        self._type = self.entity_types[0]

    def warm_up(self) -> None:
        """Load what the validator loads on first use (see ``Engine.warm_up``)."""
        warm = getattr(self.validate, "warm_up", None)
        if callable(warm):
            warm()

    def find(self, text: str, covered: Covered | None = None) -> Iterator[Finding]:
        """The findings in ``text``; matches inside one of the ``covered`` spans are not validated (the engine
        passes the findings of higher priority, which would win over anything inside them)."""
        return self._found(text, self.pattern.finditer(text), covered)

    def find_near(self, text: str, ends: Iterable[int], covered: Covered | None = None) -> Iterator[Finding]:
        """The findings of :meth:`find` that lie around the given trigger match ends (increasing offsets)."""
        if self.window is None:
            return self.find(text, covered)
        return self._found(text, near(self.pattern, text, ends, self.window), covered)

    def _found(self, text: str, matches: Iterable[re.Match[str]], covered: Covered | None = None) -> Iterator[Finding]:
        validate, name, score, group = self.validate, self.name, self.score, self.group
        for m in matches:
            if covered and covered.covers(m.start(), m.end()):
                continue
            if validate is None:
                s, e = m.span(group)
                if s < e:
                    yield Finding(s, e, self._type, name, score)
                continue
            hit = validate(m, text)
            if hit is not None:
                yield Finding(hit[0], hit[1], hit[2], name, score)


class Covered:
    """Spans already taken by findings that win over a recogniser's: a match inside one cannot change the result."""

    __slots__ = ("_ends", "_spans", "_starts")

    def __init__(self, spans: list[tuple[int, int]]) -> None:
        self._spans = spans
        self._starts: list[int] = []
        self._ends: list[int] = []
        if len(spans) > 8:  # many spans: a sorted index instead of a walk over all of them per match
            ordered = sorted(spans)
            self._starts = [s for s, _ in ordered]
            # The furthest end among spans starting at or before each: a match inside some span is inside the one
            # reaching furthest among those starting at or before the match.
            reach = -1
            for _, e in ordered:
                reach = max(reach, e)
                self._ends.append(reach)

    def __bool__(self) -> bool:
        return bool(self._spans)

    def covers(self, start: int, end: int) -> bool:
        if not self._starts:
            return any(s <= start and end <= e for s, e in self._spans)
        i = bisect_right(self._starts, start) - 1
        return i >= 0 and self._ends[i] >= end


# Trigger ends closer together than this are reported once (see ``_engine._on_match``): slack for every window.
_SLACK = 8


def merged_windows(ends: Iterable[int], before: int, after: int, n: int) -> Iterator[tuple[int, int]]:
    """Windows ``[e - before, e + after)`` around increasing ``ends``, clipped to ``[0, n)``, overlapping ones merged:
    every match lies whole inside the window of its own trigger, and no character is in two windows."""
    lo = hi = -1
    for e in ends:
        a, b = max(0, e - before), min(n, e + after)
        if a <= hi:
            hi = max(hi, b)
            continue
        if lo < hi:
            yield lo, hi
        lo, hi = a, b
    if lo < hi:
        yield lo, hi


def near(pattern: re.Pattern[str], text: str, ends: Iterable[int], window: tuple[int, int]) -> Iterator[re.Match[str]]:
    """The matches ``pattern.finditer(text)`` gives that start in a window around one of ``ends``.

    Overlapping windows are merged, so each character is searched once (linear time). A match the window's end may
    have cut short or changed is matched again at its start against the whole text, so what is reported is what a
    scan of the whole text would give there.
    """
    n = len(text)
    last_end = 0  # end of the last match reported
    for lo, hi in merged_windows(ends, window[0] + _SLACK, window[1] + _SLACK, n):
        pos = max(lo, last_end)
        while pos < hi:
            mt = pattern.search(text, pos, hi)
            if mt is None:
                break
            s = mt.start()
            if hi < n:
                full = pattern.match(text, s)
                if full is None:  # matched only because the window ended there
                    pos = s + 1
                    continue
                mt = full
            yield mt
            last_end = mt.end()
            pos = max(last_end, s + 1)


def shannon_bits(s: str) -> float:
    """Shannon entropy of a string in bits per character."""
    import math

    n = len(s)
    if n == 0:
        return 0.0
    counts: dict[str, int] = {}
    for ch in s:
        counts[ch] = counts.get(ch, 0) + 1
    return -sum(c / n * math.log2(c / n) for c in counts.values())

"""The scanning engine: one combined pre-filter pass over a text, then the recognisers it points at — near the
places it points at — then one non-overlapping set of findings.

The pre-filter is a Hyperscan database of every recogniser's ``triggers``. Hyperscan scans bytes in linear time and
is safe on any byte sequence (no UTF-8 mode is used), so it is the only thing that touches every byte. A recogniser
that says how far its matches reach around a trigger (``window``, with ``find_near``) is told where its triggers
matched and looks only there; the others are told only that one matched (single-match: one callback per text) and
scan the whole text. A text with so many trigger hits that reporting them costs more than scanning it whole (a
megabyte of digits) is scanned the plain way instead: every recogniser a trigger points at, over the whole text.
Without Hyperscan (a platform with no wheel) every recogniser runs on every text: slower, same findings.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from . import _model as m
from ._model import Finding, Recogniser, Registry
from ._regex import Covered, PatternRecogniser

# Which finding wins where two overlap: secrets first (the specific before the generic), then PII with a checksum or
# a strict format, then the softer ones. Types a plugin invents rank with the strict PII.
_PRIORITY: dict[str, int] = {
    m.PRIVATE_KEY: 100,
    m.ANTHROPIC_KEY: 99,
    m.OPENAI_KEY: 98,
    m.GITHUB_TOKEN: 98,
    m.GITLAB_TOKEN: 98,
    m.SLACK_TOKEN: 98,
    m.STRIPE_KEY: 98,
    m.GOOGLE_API_KEY: 98,
    m.AWS_ACCESS_KEY_ID: 98,
    m.JWT: 96,
    m.AWS_SECRET_KEY: 92,
    m.PASSWORD: 90,
    m.SECRET: 88,
    m.EMAIL: 70,
    m.CREDIT_CARD: 65,
    m.IBAN: 65,
    m.US_SSN: 60,
    m.IP_ADDRESS: 55,
    m.DATE_OF_BIRTH: 52,
    m.PHONE: 50,
    m.STREET_ADDRESS: 40,
    m.PERSON: 30,
}
_DEFAULT_PRIORITY = 60
_SURROGATE = re.compile("[\ud800-\udfff]")
MIN_TEXT_CHARS = 3


class RecogniserFailed(Exception):
    """A recogniser raised on some text. Carries the recogniser's name, never the text."""

    def __init__(self, recogniser: str, error: str) -> None:
        super().__init__(f"recogniser {recogniser!r} failed ({error})")
        self.recogniser = recogniser


def clean_text(text: str) -> str:
    """The text with lone surrogates (undecodable bytes smuggled into a str) replaced by U+FFFD, same length."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


class Engine:
    """Finds sensitive values in text with the recognisers of a registry.

    Recognisers are taken to be pure functions of the text (as the protocol asks): texts of up to
    ``clean_cache_chars`` characters in which nothing was found are remembered (at most ``clean_cache_size`` of
    them) and not scanned again — attribute values and field names repeat in every record. Only texts stored in
    clear anyway are remembered; ``clean_cache_size=0`` turns it off.
    """

    def __init__(
        self,
        registry: Registry | None = None,
        *,
        use_prefilter: bool = True,
        clean_cache_size: int = 16_384,
        clean_cache_chars: int = 256,
    ) -> None:
        from ._builtins import default_registry

        self.registry = registry if registry is not None else default_registry()
        self._recognisers: list[Recogniser] = list(self.registry)
        self._always: list[int] = []
        self._located: set[int] = set()  # recognisers told where their triggers matched
        self._db: Any = None  # every trigger; located ones report each match end
        self._set_db: Any = None  # every trigger, single-match: which recognisers, for texts with too many hits
        self._local = threading.local()
        self._clean: dict[str, bool] = {}
        self._clean_size = clean_cache_size
        self._clean_chars = clean_cache_chars if clean_cache_size > 0 else -1
        recs = self._recognisers
        # A recogniser ranks as its highest-priority type; built-in pattern recognisers take the spans of findings
        # that outrank it and skip matches inside them.
        self._rank = [max((_PRIORITY.get(t, _DEFAULT_PRIORITY) for t in r.entity_types), default=0) for r in recs]
        self._order = sorted(range(len(recs)), key=lambda i: -self._rank[i])
        self._skipping = {i for i, r in enumerate(recs) if isinstance(r, PatternRecogniser)}
        triggers: list[tuple[int, str]] = []
        for i, r in enumerate(self._recognisers):
            trig = tuple(getattr(r, "triggers", ()) or ())
            if not trig or not use_prefilter:
                self._always.append(i)
            else:
                triggers.extend((i, t) for t in trig)
        if triggers:
            self._compile(triggers)

    def _compile(self, triggers: list[tuple[int, str]]) -> None:
        try:
            import hyperscan
        except ImportError:
            self._always = list(range(len(self._recognisers)))
            return
        self._hyperscan = hyperscan
        try:  # every trigger in one go: one compile per database instead of a trial compile per trigger
            self._build(triggers)
            return
        except hyperscan.error:
            pass
        kept: list[tuple[int, str]] = []
        for i, t in triggers:
            try:  # a trigger Hyperscan cannot compile makes its recogniser run unconditionally
                hyperscan.Database().compile(expressions=[t.encode("utf-8")], ids=[0], elements=1)
                kept.append((i, t))
            except hyperscan.error:
                if i not in self._always:
                    self._always.append(i)
        self._build([(i, t) for i, t in kept if i not in self._always])

    def _build(self, usable: list[tuple[int, str]]) -> None:
        """Compile the trigger databases (raises ``hyperscan.error`` when a trigger does not compile)."""
        hyperscan = self._hyperscan
        if not usable:
            self._db = self._set_db = None
            self._located = set()
            return
        recs = self._recognisers
        located = {
            i
            for i, _ in usable
            if getattr(recs[i], "window", None) is not None and callable(getattr(recs[i], "find_near", None))
        }
        single = hyperscan.HS_FLAG_SINGLEMATCH | hyperscan.HS_FLAG_DOTALL
        exprs = [t.encode("utf-8") for _, t in usable]
        db = hyperscan.Database()
        db.compile(
            expressions=exprs,
            ids=[i + _LOCATED if i in located else i for i, _ in usable],
            elements=len(usable),
            flags=[hyperscan.HS_FLAG_DOTALL if i in located else single for i, _ in usable],
        )
        set_db = None
        if located:
            set_db = hyperscan.Database()
            set_db.compile(
                expressions=exprs, ids=[i for i, _ in usable], elements=len(usable), flags=[single] * len(usable)
            )
        self._db, self._set_db, self._located = db, set_db, located

    def warm_up(self) -> None:
        """Load now what recognisers would load on first use (number metadata, pattern variants), so the first
        records scanned are not slower than the rest. Recognisers opt in with a ``warm_up()`` method."""
        for rec in self._recognisers:
            warm = getattr(rec, "warm_up", None)
            if callable(warm):
                warm()
        self.scan("warm up: ana@acme.io +44 20 7946 0958 DE89 3704 0044 0532 0130 00 221B Baker Street")

    def _covered(self, found: list[Finding], i: int) -> Covered | None:
        if not found:
            return None
        floor = self._rank[i]
        spans = [
            (f.start, f.end) for f in found if _PRIORITY.get(f.type, _DEFAULT_PRIORITY) > floor and f.start < f.end
        ]
        return Covered(spans) if spans else None

    def _scratch(self) -> tuple[Any, Any]:
        local = self._local
        scratch = getattr(local, "scratch", None)
        if scratch is None:
            scratch = local.scratch = self._hyperscan.Scratch(self._db)
            local.set_scratch = self._hyperscan.Scratch(self._set_db) if self._set_db is not None else None
        return scratch, local.set_scratch

    def _candidates(self, text: str) -> list[int]:
        """Which recognisers to run on ``text`` (all of it: the plain way)."""
        hits = self._hits(text, text.encode("utf-8", "surrogatepass"), located=False)
        return sorted(hits.seen)

    def _hits(self, text: str, data: bytes, located: bool = True) -> _Hits:
        hits = _Hits(self._always, 64 + len(data) // 16 if located else -1)
        if self._db is None:
            return hits
        scratch, set_scratch = self._scratch()
        if located and self._located:
            # The handler stops the scan when there are too many hits (hits.overflow).
            with contextlib.suppress(self._hyperscan.ScanTerminated):
                self._db.scan(data, match_event_handler=_on_match, context=hits, scratch=scratch)
            if not hits.overflow:
                return hits
            hits = _Hits(self._always, -1)  # too many hits to be worth locating: the plain way
        db, sc = (self._set_db, set_scratch) if self._set_db is not None else (self._db, scratch)
        db.scan(data, match_event_handler=_on_match, context=hits, scratch=sc)
        return hits

    def scan(self, text: str) -> list[Finding]:
        """The sensitive values in ``text``: non-overlapping findings in text order (offsets in code points).

        Raises :class:`RecogniserFailed` naming the recogniser if one raises; the caller decides what to drop.
        """
        n = len(text)
        if n < MIN_TEXT_CHARS:
            return []
        cacheable = n <= self._clean_chars
        if cacheable and text in self._clean:
            return []
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:
            text = _SURROGATE.sub("\ufffd", text)
            data = text.encode("utf-8")
        hits = self._hits(text, data)
        found: list[Finding] = []
        recs = self._recognisers
        ends = hits.ends
        seen = hits.seen
        offsets = None if len(data) == n else _char_offsets
        # Highest priority first, so a built-in pattern recogniser can skip matches that a finding of higher
        # priority already covers (resolve() would drop them whole): phone-like digit groups inside an IBAN or a
        # card, for instance, are not validated as phone numbers.
        for i in self._order:
            if i not in seen and i not in ends:
                continue
            rec: Any = recs[i]
            try:
                if i in seen:
                    got = rec.find(text, self._covered(found, i)) if i in self._skipping else rec.find(text)
                else:
                    where = ends[i] if offsets is None else offsets(data, ends[i])
                    if i in self._skipping:
                        got = rec.find_near(text, where, self._covered(found, i))
                    else:
                        got = rec.find_near(text, where)
                found.extend(got)
            except Exception as e:
                raise RecogniserFailed(rec.name, type(e).__name__) from None
        if not found:
            if cacheable:
                if len(self._clean) >= self._clean_size:
                    self._clean.clear()
                self._clean[text] = True
            return []
        return resolve(found, n)


_LOCATED = 1 << 20  # added to the Hyperscan id of a located recogniser's trigger


class _Hits:
    """What the pre-filter found: recognisers to run on the whole text, and where located ones' triggers matched."""

    __slots__ = ("budget", "ends", "overflow", "seen")

    def __init__(self, always: list[int], budget: int) -> None:
        self.seen: set[int] = set(always)
        self.ends: dict[int, list[int]] = {}
        self.budget = budget
        self.overflow = False


def _on_match(rid: int, start: int, end: int, flags: int, hits: _Hits) -> bool | None:
    if rid < _LOCATED:
        hits.seen.add(rid)
        return None
    lst = hits.ends.get(rid - _LOCATED)
    if lst is None:
        hits.ends[rid - _LOCATED] = [end]
    elif end - lst[-1] > 8:  # ends closer than that (a run of digits) locate the same place: windows have slack
        lst.append(end)
    hits.budget -= 1
    if hits.budget < 0:
        hits.overflow = True
        return True  # stop the scan
    return None


def _start(f: Finding) -> int:
    return f.start


def _char_offsets(data: bytes, ends: Sequence[int]) -> list[int]:
    """Byte offsets (increasing) into ``data`` as code-point offsets into the text it encodes (rounded forward)."""
    out: list[int] = []
    pos_b = pos_c = 0
    size = len(data)
    for e in ends:
        while e < size and data[e] & 0xC0 == 0x80:  # to the end of a character split by the offset
            e += 1
        if e < pos_b:
            e = pos_b
        pos_c += len(data[pos_b:e].decode("utf-8", "surrogatepass"))
        pos_b = e
        out.append(pos_c)
    return out


def resolve(findings: Iterable[Finding], text_len: int) -> list[Finding]:
    """Non-overlapping findings: higher-priority (then longer) ones win; a loser keeps the parts no winner covers."""
    findings = list(findings)
    by_start = sorted(findings, key=_start)
    prev_end = 0
    for f in by_start:  # the common case: nothing overlaps, and every finding is kept as it is
        if f.start < prev_end or f.end <= f.start or f.end > text_len:
            break
        prev_end = f.end
    else:
        return by_start
    ordered = sorted(
        (f for f in findings if 0 <= f.start < f.end <= text_len),
        key=lambda f: (-_PRIORITY.get(f.type, _DEFAULT_PRIORITY), f.start - f.end, f.start),
    )
    taken: list[Finding] = []
    for f in ordered:
        pieces = [(f.start, f.end)]
        for t in taken:
            if t.end <= f.start or t.start >= f.end:
                continue
            nxt = []
            for s, e in pieces:
                if t.end <= s or t.start >= e:
                    nxt.append((s, e))
                    continue
                if s < t.start:
                    nxt.append((s, t.start))
                if t.end < e:
                    nxt.append((t.end, e))
            pieces = nxt
            if not pieces:
                break
        for s, e in pieces:
            if e - s >= 2 or (s, e) == (f.start, f.end):
                taken.append(f._replace(start=s, end=e))
    taken.sort(key=lambda f: f.start)
    return taken

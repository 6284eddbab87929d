"""Language and script of a text, offline.

The script comes from Unicode character names and needs nothing. The language comes from ``py3langid`` (a
naive-Bayes n-gram model, BSD-3-Clause, shipped inside that package) restricted to the 50 most used languages,
when the optional extra ``watchkeeper[language]`` is installed; without it, only scripts that name one language
(Hangul, Kana, Thai, Greek, Hebrew, Armenian, Georgian, ...) give a language, and other text answers ``unknown``
with the reason ``language model not installed``.
"""

# The language list stays one split string of codes.
# ruff: noqa: SIM905

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import lru_cache
from typing import Any

from ._model import Label, unknown
from ._text import check_text

VERSION = "language-2"
MIN_CHARS = 3

# ISO 639-1 codes of the 50 most used languages (by total speakers) that the model knows.
LANGUAGES = (
    "en zh hi es fr ar bn pt ru ur id de ja sw mr te tr ta vi ko fa it th gu pl uk kn ml nl ro el cs sv hu he da fi "
    "no sk bg hr sr ms tl ca lt lv sl et pa"
).split()

_SCRIPT_LANGUAGE = {
    "HANGUL": "ko",
    "HIRAGANA": "ja",
    "KATAKANA": "ja",
    "THAI": "th",
    "GREEK": "el",
    "HEBREW": "he",
    "ARMENIAN": "hy",
    "GEORGIAN": "ka",
    "BENGALI": "bn",
    "GUJARATI": "gu",
    "GURMUKHI": "pa",
    "TAMIL": "ta",
    "TELUGU": "te",
    "KANNADA": "kn",
    "MALAYALAM": "ml",
    "KHMER": "km",
    "LAO": "lo",
    "MYANMAR": "my",
    "SINHALA": "si",
    "ETHIOPIC": "am",
}
_SCRIPT_NAMES = {"CJK": "Han", "HIRAGANA": "Japanese", "KATAKANA": "Japanese"}


def _script_of(c: str) -> str | None:
    if not c.isalpha():
        return None
    o = ord(c)
    if o < 0x250:
        return "LATIN"
    try:
        name = unicodedata.name(c)
    except ValueError:
        return None
    return name.split(" ", 1)[0]


_SCRIPT_CACHE: dict[str, str | None] = {}
_ASCII_LETTERS = dict.fromkeys(c for c in range(128) if chr(c).isalpha())


def script_counts(text: str, limit: int = 2000) -> Counter[str]:
    """Letters of each script in the first ``limit`` characters, by Unicode script name (``LATIN``, ``CJK``, …)."""
    sample = text[:limit]
    out: Counter[str] = Counter()
    if sample.isascii():  # the common case: every ASCII letter is Latin, and nothing else in ASCII is a letter
        n = len(sample) - len(sample.translate(_ASCII_LETTERS))
        if n:
            out["LATIN"] = n
        return out
    # Count characters first (in C), then name each distinct character's script once: a text has few of them.
    cache = _SCRIPT_CACHE
    for c, n in Counter(sample).items():
        try:
            s = cache[c]
        except KeyError:
            s = _script_of(c)
            if len(cache) < 65_536:  # bounded: one entry per distinct character ever seen
                cache[c] = s
        if s is not None:
            out[s] += n
    return out


def classify_script(text: str | None) -> Label:
    """The dominant script (``Latin``, ``Cyrillic``, ``Han``, ``Japanese``, …); ``mixed`` when none has 80%."""
    problem = check_text(text)
    if problem is not None or text is None:
        return unknown(VERSION, f"text is {problem}")
    counts = script_counts(text)
    total = sum(counts.values())
    if total == 0:
        return unknown(VERSION, "no letters")
    if counts.get("HIRAGANA", 0) + counts.get("KATAKANA", 0) > 0:
        jp = counts.pop("HIRAGANA", 0) + counts.pop("KATAKANA", 0) + counts.pop("CJK", 0)
        counts["HIRAGANA"] = jp
    top, n = counts.most_common(1)[0]
    share = n / total
    name = _SCRIPT_NAMES.get(top, top.title())
    if share < 0.8:
        return Label("mixed", share, VERSION, reason=f"largest script {name}")
    return Label(name, share, VERSION)


@lru_cache(maxsize=1)
def _identifier() -> Any:
    try:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier  # type: ignore[import-untyped]  # no stubs
    except ImportError:
        return None
    ident = _memoised(LanguageIdentifier).from_model_file(MODEL_FILE, norm_probs=True)
    ident.set_languages([lang for lang in LANGUAGES if lang in ident.nb_classes])
    return ident


# The remembered walks stay small: at most this many, each over a word of at most this many bytes (longer words,
# rare in text and common in junk, are walked every time).
_MEMO_ENTRIES = 100_000
_MEMO_PIECE = 32


def _memoised(base: Any) -> Any:
    """``base`` (py3langid's identifier class) with its byte-by-byte automaton walk remembered per word.

    py3langid counts its n-gram features by walking an automaton over the text's bytes in Python. Words repeat, so
    the walk over ``word + b" "`` from a given state (its end state and the features it emits) is remembered; the
    counts are exactly those of the plain walk. ``base`` itself when the installed version's internals differ.
    """
    needed = ("tk_nextmove", "tk_output", "_rowbase", "_sparse_score", "_raw_score", "nb_classes", "nb_ptc")
    if not all(a in dir(base) or a in getattr(base, "__slots__", ()) for a in needed):
        return base
    import numpy as np

    class Memoised(base):  # type: ignore[misc]  # py3langid has no stubs
        _memo: dict[tuple[int, bytes], tuple[int, tuple[int, ...]]]
        _table: Any

        def set_languages(self, langs: Any = None) -> None:
            super().set_languages(langs)
            # The scores are float32 sums of float16 table rows; gathering rows from a C-ordered float32 copy
            # is several times faster and gives the same numbers.
            self._table = np.ascontiguousarray(self.nb_ptc, dtype=np.float32)

        def _walk(self, state: int, piece: bytes) -> tuple[int, tuple[int, ...]]:
            nm, rowbase, out = self.tk_nextmove, self._rowbase, self.tk_output
            feats = []
            for letter in piece:
                state = int(nm[rowbase[state] + letter])
                f = int(out[state])
                if f >= 0:
                    feats.append(f)
            return state, tuple(feats)

        def _raw_score(self, text: bytes) -> Any:
            memo = self.__dict__.get("_memo")
            if memo is None or len(memo) > _MEMO_ENTRIES:  # a long-running server sees an open vocabulary
                memo = self.__dict__["_memo"] = {}
            get = memo.get
            state = 0
            found: list[int] = []
            extend = found.extend
            pieces = text.split(b" ")
            tail = pieces.pop()
            for w in pieces:  # each piece is followed by a space
                key = (state, w)
                hit = get(key)
                if hit is None:
                    hit = self._walk(state, w + b" ")
                    if len(w) <= _MEMO_PIECE:
                        memo[key] = hit
                state, feats = hit
                extend(feats)
            key = (-1 - state, tail)  # the last piece, with no space after it
            hit = get(key)
            if hit is None:
                hit = self._walk(state, tail)
                if len(tail) <= _MEMO_PIECE:
                    memo[key] = hit
            extend(hit[1])
            if found:
                table = self.__dict__.get("_table")
                return self._sparse_score(Counter(found), self.nb_ptc if table is None else table)
            return super()._raw_score(b"")  # no features: the model's own answer for an empty text

    return Memoised


# Letters that settle a close call: a text holding one can only be in these languages, or cannot be in those.
_ONLY: tuple[tuple[re.Pattern[str], frozenset[str]], ...] = (
    (re.compile("[ђћџљњј]"), frozenset({"sr"})),  # Serbian Cyrillic (Macedonian is not among LANGUAGES)
    (re.compile("[ґєїі]"), frozenset({"uk"})),  # Ukrainian Cyrillic (Belarusian is not among LANGUAGES)
    (re.compile("[ěřů]"), frozenset({"cs"})),
    (re.compile("[ľĺŕ]"), frozenset({"sk"})),
    (re.compile("[æø]"), frozenset({"da", "no"})),
    (re.compile("đ"), frozenset({"hr", "sr", "vi"})),
)
_NOT: tuple[tuple[re.Pattern[str], frozenset[str]], ...] = (
    (re.compile("[ыэ]"), frozenset({"uk", "bg", "sr"})),
    (re.compile("ñ"), frozenset({"pt"})),
    (re.compile("[ãõ]"), frozenset({"es"})),
    (re.compile("ç"), frozenset({"es", "it"})),
    (re.compile("[ćđ]"), frozenset({"sl", "cs", "sk"})),
    (re.compile("[äö]"), frozenset({"da", "no"})),
)
# Words one of two close languages writes and the other does not (spelling, vocabulary, ekavian / ijekavian).
_PAIR_WORDS = {
    "da": "af hvad efter nu blev mig dig sig ud op sprog fejl gemme vælg indstillinger tilføj slet søg bruger brugere "
    "oprette hjælp ændre ændringer kunne også sådan nogle",
    "no": "av hva etter nå ble meg deg seg ut opp språk feil lagre velg innstillinger slett søk bruker brukere "
    "opprette hjelp endre endringer ikkje ein eit noen slik",
    "id": "bisa silakan berkas galat sandi unduh mengunduh pengaturan kesalahan tautan surel perangkat ponsel saat "
    "sedang membuka menghapus lokasi",
    "ms": "boleh sila fail ralat laluan muat turun tetapan pautan e-mel peranti semasa tatasusunan padam",
    "hr": "tko što tisuću vrijeme mjesto primjer pogreška pogreške sučelje zaporka izbornik tipkovnica stvoriti "
    "datoteka datoteke datoteku vidjeti uspjeh tijekom sljedeći lijevo bijelo",
    "sr": "ko šta hiljada vreme mesto primer greška greške fajl fajla interfejs meni tastatura kreirati videti uspeh "
    "tokom sledeći levo belo",
}
_PAIRS: dict[frozenset[str], dict[str, frozenset[str]]] = {
    frozenset(pair): {lang: frozenset(_PAIR_WORDS[lang].split()) for lang in pair}
    for pair in (("da", "no"), ("id", "ms"), ("hr", "sr"))
}
_WORDS = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)?")
# Endings that split the pair the same way: Danish "installeret, station, ukendt", Norwegian "installert, stasjon,
# ukjent".
_ENDINGS: dict[str, re.Pattern[str]] = {
    "da": re.compile(r"\w(?:eret|tion|tioner|kendt|nøgle)\b|\bindtast"),
    "no": re.compile(r"\w(?:ert|sjon|sjoner|kjent|nøkkel)\b|\bskriv inn"),
}


def _votes(lang: str, words: set[str], markers: dict[str, frozenset[str]], low: str) -> int:
    ending = _ENDINGS.get(lang)
    return len(words & markers[lang]) + (len(ending.findall(low)) if ending is not None else 0)


_PAIR_OF = {lang: pair for pair in _PAIRS for lang in pair}


def _settle(ident: Any, sample: str) -> tuple[str, float]:
    """The model's answer, unless the text's letters rule it out (then the best-ranked language they allow), with
    the close pairs decided by their own words. The ranking is only computed when the answer may change."""
    lang, prob = ident.classify(sample)
    lang = str(lang)
    if sample.isascii() and lang not in _PAIR_OF:  # every settling letter is outside ASCII
        return lang, float(prob)
    low = sample.lower()
    allowed: frozenset[str] | None = None
    barred: set[str] = set()
    if not sample.isascii():
        for rx, only in _ONLY:
            if rx.search(low):
                allowed = only if allowed is None else allowed & only
        for rx, nots in _NOT:
            if rx.search(low):
                barred |= nots
    ranked: list[tuple[str, float]] | None = None
    if (allowed is not None and lang not in allowed) or lang in barred:
        ranked = ident.rank(sample)
        lang, prob = next(
            ((c, p) for c, p in ranked if (allowed is None or c in allowed) and c not in barred), (lang, prob)
        )
    pair = _PAIR_OF.get(lang)
    if pair is not None:
        markers = _PAIRS[pair]
        words = set(_WORDS.findall(low))
        (other,) = pair - {lang}
        if other not in barred and _votes(other, words, markers, low) > _votes(lang, words, markers, low):
            ranked = ranked or ident.rank(sample)
            return other, next((p for c, p in ranked if c == other), 0.0)
    return lang, float(prob)


def model_available() -> bool:
    """True when the language model (the ``language`` extra) is installed."""
    return _identifier() is not None


def classify_language(text: str | None) -> Label:
    """The language of a text as an ISO 639-1 code, with the model's probability as the score."""
    problem = check_text(text)
    if problem is not None or text is None:
        return unknown(VERSION, f"text is {problem}")
    sample = text[:300]  # enough for a confident answer; the model's cost grows with the text
    counts = script_counts(sample)
    total = sum(counts.values())
    if total < MIN_CHARS:
        return unknown(VERSION, "too few letters")
    kana = counts.get("HIRAGANA", 0) + counts.get("KATAKANA", 0)
    if kana >= 2:
        return Label("ja", 0.99, VERSION)
    top, n = counts.most_common(1)[0]
    if top in _SCRIPT_LANGUAGE and n / total >= 0.6 and top not in ("BENGALI",):
        return Label(_SCRIPT_LANGUAGE[top], 0.99, VERSION)
    ident = _identifier()
    if ident is None:
        return unknown(VERSION, "language model not installed (pip install 'watchkeeper[language]')")
    lang, prob = _settle(ident, sample)
    return Label(lang, prob, VERSION)

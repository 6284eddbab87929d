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

import unicodedata
from collections import Counter
from functools import lru_cache
from typing import Any

from ._model import Label, unknown
from ._text import check_text

VERSION = "language-1"
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


def script_counts(text: str, limit: int = 2000) -> Counter[str]:
    """Letters of each script in the first ``limit`` characters, by Unicode script name (``LATIN``, ``CJK``, …)."""
    return Counter(s for c in text[:limit] if (s := _script_of(c)) is not None)


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
    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    ident.set_languages([lang for lang in LANGUAGES if lang in ident.nb_classes])
    return ident


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
    lang, prob = ident.classify(sample)
    return Label(str(lang), float(prob), VERSION)

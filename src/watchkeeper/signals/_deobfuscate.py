"""Undoing the encodings attackers hide instructions in: base64, hex, rot13 and other Caesar shifts, words written
backwards, Morse code, 8-bit binary, leetspeak and Unicode tricks."""

# Word and code lists stay as one split string; pattern lists stay one alternative group per line.
# ruff: noqa: SIM905

from __future__ import annotations

import base64
import binascii
import codecs
import re
import unicodedata

from ._prefilter import Prefilter

_B64 = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{24,}={0,2}(?![A-Za-z0-9+/=])")
_HEX = re.compile(r"\b(?:[0-9a-fA-F]{2}[ :]?){16,}\b")
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff\U000e0000-\U000e007f]")
# The invisible characters that count as a trick. Joiners and direction marks (U+200C–U+200F) are ordinary inside
# Persian, Indic and Hebrew words and emoji sequences, so they count only between two Latin letters; a byte-order
# mark counts only after the start.
_HIDING = re.compile(
    "[\u200b\u202d\u202e\u2060-\u2064\U000e0000-\U000e007f]|(?<!^)\ufeff|[A-Za-z][\u200c-\u200f]+[A-Za-z]"
)
# Directional embeddings (LRE, RLE, PDF) are how right-to-left text holds a left-to-right name ("‪GTK+‬" in Persian):
# a trick only in text without right-to-left letters. Overrides (LRO, RLO) that reverse what is shown stay one above.
_EMBEDDING = re.compile("[\u202a-\u202c]")
_RTL = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]")
_LEET_HINT = re.compile(r"[a-z][013457@$][a-z]|[0134@$][a-z]{2}", re.IGNORECASE)
# For the prefilter only: \w (with Unicode) covers every letter [a-z] matches under IGNORECASE, and more.
_LEET_WIDE = re.compile(r"\w[013457@$]\w|[0134@$]\w\w")
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"})
_COMMON = frozenset(
    "the be to of and a in that have i it for not on with he as you do at this but his by from they we say her she "
    "or an will my one all would there their what so up out if about who get which go me when make can like time no "
    "just him know take people into year your good some could them see other than then now look only come its over "
    "think also back after use two how our work first well way even new want because any these give day most us is "
    "are was were tell write how password secret ignore instructions previous say print reveal".split()
)


# rot13 maps each lowercase word to a lowercase word: a word of the rot13 text is common iff it is in this set.
_COMMON_ROT13 = frozenset(codecs.decode(w, "rot13") for w in _COMMON)
_LOWER = "abcdefghijklmnopqrstuvwxyz"


def _shift_table(k: int) -> dict[int, int]:
    return str.maketrans(_LOWER + _LOWER.upper(), _LOWER[k:] + _LOWER[:k] + (_LOWER[k:] + _LOWER[:k]).upper())


# Every other Caesar shift the same way: the words of a text shifted by k are common iff they are in _SHIFTED[k]
# (shifting a common word back by k). Read on the first words only: a shifted text shows itself at once.
_SHIFTS = tuple(k for k in range(1, 26) if k != 13)
_SHIFTED = {k: frozenset(w.translate(_shift_table(26 - k)) for w in _COMMON) for k in _SHIFTS}
_ANY_SHIFTED = frozenset().union(*_SHIFTED.values())  # one intersection rules most texts out
# The shifts under which each such word is common, for finding a shifted passage inside plain text: ``_RUN_NEED``
# common words among ``_RUN`` consecutive ones under one shift (a sentence of the carrier text has at most one or two).
# Rot13 (13) is one of them here: a rot13 sentence inside plain text is not caught by the whole-text check.
_PASSAGE_SHIFTED = {**_SHIFTED, 13: _COMMON_ROT13}
_SHIFTS_OF: dict[str, tuple[int, ...]] = {
    w: tuple(k for k in range(1, 26) if w in _PASSAGE_SHIFTED[k])
    for w in frozenset().union(*_PASSAGE_SHIFTED.values())
    if len(w) >= 3
}
_RUN = 12
_RUN_NEED = 5
_REVERSED = frozenset(w[::-1] for w in _COMMON)
_CAESAR_WORDS = 120
_MORSE = {
    ".-": "a", "-...": "b", "-.-.": "c", "-..": "d", ".": "e", "..-.": "f", "--.": "g", "....": "h", "..": "i",
    ".---": "j", "-.-": "k", ".-..": "l", "--": "m", "-.": "n", "---": "o", ".--.": "p", "--.-": "q", ".-.": "r",
    "...": "s", "-": "t", "..-": "u", "...-": "v", ".--": "w", "-..-": "x", "-.--": "y", "--..": "z",
    "-----": "0", ".----": "1", "..---": "2", "...--": "3", "....-": "4", ".....": "5", "-....": "6",
    "--...": "7", "---..": "8", "----.": "9",
}  # fmt: skip
_BINARY = re.compile(r"(?<![01])(?:[01]{8}\s+){7,}[01]{8}(?![01])")
_MORSE_RUN = re.compile(r"(?:[.\-]{1,6}[ /|]+){7,}[.\-]{1,6}")
_WORD = re.compile(r"[a-z]+")
# Deletes every ASCII character but letters and the space (what the rot13 check reads).
_NOT_LETTERS = dict.fromkeys(c for c in range(128) if not (chr(c).isalpha() or c == 32))
_STYLED = re.compile("[\uff01-\uff5e\U0001d400-\U0001d7ff]")


def _share(words: list[str], common: frozenset[str]) -> float:
    if len(words) < 3:
        return 0.0
    return sum(map(common.__contains__, words)) / len(words)


def _wordy(text: str) -> float:
    return _share(_WORD.findall(text.lower()), _COMMON)


# Most texts hold no blob and no digit inside a word: one Hyperscan pass says so before the regexes run.
# The base64 and hex triggers are the shortest runs those patterns need (cheaper to compile than the patterns).
_HINTS = Prefilter(
    [
        ("base64", re.compile(r"[A-Za-z0-9+/]{24}")),
        ("hex", re.compile(r"[0-9a-fA-F :]{32}")),
        ("leetspeak", _LEET_WIDE),
        ("morse", re.compile(r"[.\-]{1,6} [.\-]{1,6} [.\-]{1,6}")),
        ("binary", re.compile(r"[01]{8} [01]{8} [01]{8} [01]{8}")),
    ]
)


def warm_up() -> None:
    """Compile the encoding prefilter now, so the first text is not slower than the rest."""
    _HINTS.warm_up()


def _shifted_passage(words: list[str]) -> int | None:
    """The Caesar shift under which some ``_RUN`` consecutive words hold ``_RUN_NEED`` distinct common words (a
    shifted sentence inside plain text, "… Lpsruh suhylrxv lqvwuxfwlrqv dqg …"), or None. Distinct: a few real words
    are shifts of common ones ("max" of "the", "mph" of "two"), and a spec sheet repeats them."""
    shifts = [_SHIFTS_OF.get(w, ()) for w in words]
    seen: list[dict[str, int]] = [{} for _ in range(26)]  # per shift: the hit words in the window, with their counts
    for i, ks in enumerate(shifts):
        if i >= _RUN:
            old = words[i - _RUN]
            for k in shifts[i - _RUN]:
                left = seen[k][old] - 1
                if left:
                    seen[k][old] = left
                else:
                    del seen[k][old]
        for k in ks:
            window = seen[k]
            window[words[i]] = window.get(words[i], 0) + 1
            if len(window) >= _RUN_NEED:
                return k
    return None


def decoded_layers(text: str, max_blobs: int = 8) -> list[tuple[str, str]]:
    """Hidden readable text found in ``text``: ``(encoding, decoded)`` pairs, decoded text in plain form."""
    out: list[tuple[str, str]] = []
    may = _HINTS.candidates(text)
    for m in list(_B64.finditer(text))[:max_blobs] if "base64" in may else ():
        blob = m.group(0)
        try:
            raw = base64.b64decode(blob + "=" * (-len(blob) % 4), validate=False)
            s = raw.decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
        if sum(c.isprintable() or c in "\n\t" for c in s) >= 0.95 * len(s) and _wordy(s) >= 0.2:
            out.append(("base64", s))
    for m in list(_HEX.finditer(text))[:max_blobs] if "hex" in may else ():
        try:
            s = bytes.fromhex(re.sub(r"[ :]", "", m.group(0))).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            continue
        if _wordy(s) >= 0.2:
            out.append(("hex", s))
    head = text[:4000]
    letters = head.translate(_NOT_LETTERS) if head.isascii() else re.sub(r"[^A-Za-z ]", "", head)
    if len(letters) >= 20:
        # _wordy of the rot13 text, without decoding it: its words are the rot13 of these words.
        words = letters.lower().split()  # only letters and spaces are left: the same words _WORD finds
        # Words of three letters or more: the rot13 of a two-letter word is too often a common one (Tagalog's "na" and
        # "ng" are "an" and "at").
        long_words = [w for w in words if len(w) >= 3]
        w_rot = _share(long_words, _COMMON_ROT13)
        if w_rot >= 0.3 and w_rot > 2 * _share(long_words, _COMMON) + 0.1:
            out.append(("rot13", codecs.decode(letters, "rot13")))
        else:
            # The distinct words of the head that are not English as they stand (a carrier sentence may be): try
            # the other shifts on them, then reading them backwards. Only words of three letters or more count:
            # one- and two-letter words match some shift (or themselves) too easily.
            odd = {w for w in set(words[:_CAESAR_WORDS]) - _COMMON if len(w) >= 3}
            need = 0.35 * len(odd)
            shifted = False
            if len(odd) >= 8 and len(odd & _ANY_SHIFTED) >= need:
                for k in _SHIFTS:  # the first shift, in order, under which enough of them are common words
                    if len(odd & _SHIFTED[k]) >= need:
                        out.append(("caesar", letters.translate(_shift_table(k))))
                        shifted = True
                        break
            if not shifted and len(odd & _SHIFTS_OF.keys()) >= _RUN_NEED:
                passage = _shifted_passage(words[:_CAESAR_WORDS])
                if passage is not None:
                    out.append(("caesar", letters.translate(_shift_table(passage))))
                    shifted = True
            if len(odd) >= 8 and not shifted and len(odd & _REVERSED) >= need:
                out.append(("reversed", " ".join(w[::-1] for w in reversed(letters.split()))))
    if "leetspeak" in may and _LEET_HINT.search(text[:4000]):
        leet = text[:4000].translate(_LEET)
        if _wordy(leet) > _wordy(text[:4000]) + 0.05:
            out.append(("leetspeak", leet))
    if "binary" in may:
        for m in list(_BINARY.finditer(text[:4000]))[:max_blobs]:
            try:
                s = bytes(int(b, 2) for b in m.group(0).split()).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                continue
            if _wordy(s) >= 0.2:
                out.append(("binary", s))
    if "morse" in may:
        for m in list(_MORSE_RUN.finditer(text[:4000]))[:max_blobs]:
            decoded = " ".join(
                "".join(_MORSE.get(c, "") for c in word.split()) for word in re.split(r"\s*[/|]\s*", m.group(0))
            )
            if _wordy(decoded) >= 0.2:
                out.append(("morse", decoded))
    return out


def unicode_tricks(text: str) -> list[str]:
    """Which Unicode tricks ``text`` uses: invisible characters, tag characters, or full-width/styled letters."""
    if text.isascii():  # invisible, tag and styled characters are all outside ASCII
        return []
    found = []
    if _HIDING.search(text) or (_EMBEDDING.search(text) and not _RTL.search(text)):
        found.append("invisible_characters")
    sample = text[:4000]
    styled = len(_STYLED.findall(sample))
    if styled >= 8:
        found.append("styled_letters")
    return found


def normalise(text: str) -> str:
    """Text with invisible characters removed and compatibility forms folded (full-width → ASCII)."""
    if text.isascii():  # ASCII is its own NFKC form and holds no invisible characters
        return text
    return unicodedata.normalize("NFKC", _INVISIBLE.sub("", text))

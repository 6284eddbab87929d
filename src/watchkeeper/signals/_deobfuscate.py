"""Undoing the encodings attackers hide instructions in: base64, hex, rot13, leetspeak and Unicode tricks."""

# Word and code lists stay as one split string; pattern lists stay one alternative group per line.
# ruff: noqa: SIM905

from __future__ import annotations

import base64
import binascii
import codecs
import re
import unicodedata

_B64 = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{24,}={0,2}(?![A-Za-z0-9+/=])")
_HEX = re.compile(r"\b(?:[0-9a-fA-F]{2}[ :]?){16,}\b")
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff\U000e0000-\U000e007f]")
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"})
_COMMON = frozenset(
    "the be to of and a in that have i it for not on with he as you do at this but his by from they we say her she "
    "or an will my one all would there their what so up out if about who get which go me when make can like time no "
    "just him know take people into year your good some could them see other than then now look only come its over "
    "think also back after use two how our work first well way even new want because any these give day most us is "
    "are was were tell write how password secret ignore instructions previous say print reveal".split()
)


def _wordy(text: str) -> float:
    words = re.findall(r"[a-z]+", text.lower())
    if len(words) < 3:
        return 0.0
    return sum(w in _COMMON for w in words) / len(words)


def decoded_layers(text: str, max_blobs: int = 8) -> list[tuple[str, str]]:
    """Hidden readable text found in ``text``: ``(encoding, decoded)`` pairs, decoded text in plain form."""
    out: list[tuple[str, str]] = []
    for m in list(_B64.finditer(text))[:max_blobs]:
        blob = m.group(0)
        try:
            raw = base64.b64decode(blob + "=" * (-len(blob) % 4), validate=False)
            s = raw.decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
        if sum(c.isprintable() or c in "\n\t" for c in s) >= 0.95 * len(s) and _wordy(s) >= 0.2:
            out.append(("base64", s))
    for m in list(_HEX.finditer(text))[:max_blobs]:
        try:
            s = bytes.fromhex(re.sub(r"[ :]", "", m.group(0))).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            continue
        if _wordy(s) >= 0.2:
            out.append(("hex", s))
    letters = re.sub(r"[^A-Za-z ]", "", text[:4000])
    if len(letters) >= 20:
        rot = codecs.decode(letters, "rot13")
        if _wordy(rot) >= 0.3 and _wordy(rot) > 2 * _wordy(letters) + 0.1:
            out.append(("rot13", rot))
    if re.search(r"[a-z][013457@$][a-z]|[0134@$][a-z]{2}", text[:4000], re.IGNORECASE):
        leet = text[:4000].translate(_LEET)
        if _wordy(leet) > _wordy(text[:4000]) + 0.05:
            out.append(("leetspeak", leet))
    return out


def unicode_tricks(text: str) -> list[str]:
    """Which Unicode tricks ``text`` uses: invisible characters, tag characters, or full-width/styled letters."""
    found = []
    if _INVISIBLE.search(text):
        found.append("invisible_characters")
    sample = text[:4000]
    styled = sum(1 for c in sample if "\uff01" <= c <= "\uff5e" or "\U0001d400" <= c <= "\U0001d7ff")
    if styled >= 8:
        found.append("styled_letters")
    return found


def normalise(text: str) -> str:
    """Text with invisible characters removed and compatibility forms folded (full-width → ASCII)."""
    return unicodedata.normalize("NFKC", _INVISIBLE.sub("", text))

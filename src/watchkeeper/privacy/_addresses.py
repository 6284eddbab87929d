"""Street addresses in the forms people write them in English, German, French, Spanish, Portuguese, Italian,
Dutch, Indian English and Japanese: a street with a house number, then optional unit, postcode and town.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import lru_cache

from . import _model as m
from ._model import Finding
from ._regex import Covered, PatternRecogniser, near

_W = r"[A-Za-zÀ-ÖØ-öø-ÿĀ-ž]"
_CAP = r"[A-ZÀ-ÖØ-ÞĀ-Ž0-9]"
_NAME = rf"{_CAP}{_W}*(?:[\-'’.]{_W}+)*\.?"  # one capitalised word of a street name
_NAMES = rf"{_NAME}(?:[ \t](?:{_NAME}|of|the|de|do|da|dos|das|del|de la|di|du|des|la|le|van|von|der)){{0,4}}"
_NUM = r"\d{1,5}(?:[ \t]?[A-Za-z](?![\w]))?(?:[\-/]\d{1,5}[A-Za-z]?)?"

_EN_TYPES = (
    r"Street|St|Avenue|Ave|Av|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Ter|Close"
    r"|Crescent|Cres|Parkway|Pkwy|Highway|Hwy|Square|Sq|Circle|Cir|Trail|Trl|Row|Gardens|Grove|Mews|Hill|Walk|Rise"
    r"|Park|Parade|Path|Pike|Loop|Alley|Plaza|Point|Ridge|View|Vale|Green|Marg|Nagar|Chowk|Bagh|Colony|Enclave"
    r"|Vihar|Layout|Cross|Main|Salai|Peth|Wadi"
)
_DE_SUFFIX = (
    r"(?:straße|strasse|str\.|weg|allee|platz|gasse|ring|damm|ufer|chaussee|steig|pfad|markt|berg|graben|hof|tor"
    r"|kamp|zeile|wall)"
)
_FR_TYPES = (
    r"rue|avenue|av\.|boulevard|bd|blvd|allée|place|chemin|impasse|quai|route|cours|passage|square|voie|sentier"
    r"|rond-point|faubourg|villa"
)
_ES_PT_TYPES = (
    r"Calle|C/|Avenida|Avda\.?|Av\.|Paseo|Pº|Plaza|Pza\.?|Camino|Carrera|Ronda|Travesía|Glorieta|Rúa|Rua|Travessa"
    r"|Praça|Largo|Alameda|Estrada|Rodovia|Via|Viale|Piazza|Corso|Vicolo|Strada|Largo"
)
_UNIT = (
    r"(?:,?[ \t]*(?:Apt|Apartment|Suite|Ste|Unit|Flat|Floor|Fl|Wohnung|Whg|Etage|Étage|Bât|Bâtiment|Escalier|Piso"
    r"|Puerta|Andar|Apto|Sala|Bloco|Bloque|Portal|#)\.?[ \t]*[\w\-º°ª]{1,6}(?:[ \t]?[º°ªA-Za-z]{1,4})?)*"
)
_POSTCODE = (
    r"(?:\d{3}[ \t]?\d{3}|\d{5}(?:-\d{3,4})?|\d{4}(?:-\d{3})?|[A-Z]{1,2}\d[A-Z\d]?[ \t]?\d[A-Z]{2}"
    r"|[A-Z]\d[A-Z][ \t]?\d[A-Z]\d)(?![\w])"
)
_TOWNWORD = r"[A-ZÀ-ÖØ-ÞĀ-Ž][a-zß-öø-ÿā-ž]+"
_TOWN = rf"{_TOWNWORD}(?:[ \t\-](?:{_TOWNWORD}|sur|am|an|de|del|do|da|upon|on)){{0,3}}"
_TAIL = (
    rf"(?:,?[ \t]*(?:{_POSTCODE}[ \t]+{_TOWN}|{_TOWN}(?:,?[ \t]*(?:[A-Z]{{2}}[ \t]+)?{_POSTCODE})?)"
    rf"(?:,[ \t]*(?:[A-Z]{{2}}[ \t]+{_POSTCODE}|{_POSTCODE}))?)?"
)

# The forms, in the order they are tried at a position (the first that matches wins).
_FORMS = (
    # 221B Baker Street / 1600 Pennsylvania Avenue NW / Flat 4, 12 MG Road
    rf"(?:(?:Flat|House|H\.?[ \t]?No\.?|Plot|Door|No\.?)[ \t]*(?:No\.?[ \t]*)?\d{{1,5}}[A-Za-z]?,?[ \t]*)?"
    rf"{_NUM},?[ \t]{_NAMES}[ \t](?:{_EN_TYPES})\.?(?:[ \t](?:NW|NE|SW|SE|N|S|E|W))?(?![\w])",
    # Berliner Straße 12 / Hauptstr. 5a / Am Markt 3
    rf"(?:{_CAP}{_W}*(?:[ \t\-]{_CAP}{_W}*)?[ \t\-]?)?{_CAP}?{_W}*{_DE_SUFFIX}[ \t]{_NUM}(?![\w])",
    rf"(?:{_CAP}{_W}+er[ \t](?:Straße|Strasse|Str\.|Weg|Allee|Platz|Gasse|Ring|Damm))[ \t]{_NUM}(?![\w])",
    # 12 rue de la Paix / 5 bis, avenue Foch
    rf"\d{{1,4}}(?:[ \t]?(?:bis|ter|quater|[A-Ca-c]))?,?[ \t](?i:{_FR_TYPES})[ \t]"
    rf"(?:(?:de[ \t]la|de[ \t]l'|du|des|de|d'|la|le|les)[ \t]?)?{_NAMES}",
    # Calle de Alcalá, 45 / Rua Augusta, 1200 / Via Roma 10
    rf"(?:{_ES_PT_TYPES})[ \t](?:(?:de[ \t]la|de[ \t]los|de[ \t]las|del|de|da|do|das|dos|di|della)[ \t])?"
    rf"{_NAMES},?[ \t]"
    rf"(?:(?:n\.?[ \t]?º|nº|n°|no\.?|núm\.?|número|nr\.?)[ \t]?)?{_NUM}(?![\w])",
)
# What each form cannot match without: a street type word (English), a German street suffix before a house number,
# "-er Straße" and a number, or a Spanish/Portuguese/Italian street word. A text without it skips that form, so
# the pattern tried at every position is only as long as the text needs; the findings are the same. (The German
# suffix form is by far the dearest: a suffix is tried at every letter of every word.)
_FORM_HINTS: tuple[re.Pattern[str] | None, ...] = (
    re.compile(rf"[ \t](?:{_EN_TYPES})(?![A-Za-z])"),
    re.compile(rf"{_DE_SUFFIX}[ \t]\d"),
    re.compile(r"er[ \t](?:Straße|Strasse|Str\.|Weg|Allee|Platz|Gasse|Ring|Damm)[ \t]\d"),
    None,  # French: a case-insensitive hint costs about what the form does
    re.compile(rf"(?:{_ES_PT_TYPES})[ \t]"),
)


@lru_cache(maxsize=32)
def _address_pattern(forms: tuple[bool, ...]) -> re.Pattern[str]:
    alternatives = "|".join(f for f, on in zip(_FORMS, forms, strict=True) if on) or "(?!)"
    return re.compile(f"(?<![\\w\\-])(?:{alternatives})(?:{_UNIT}){_TAIL}")


_ADDRESS = _address_pattern((True,) * len(_FORMS))

# 東京都新宿区西新宿2丁目8番1号 / 大阪府大阪市北区梅田1-2-3 / 〒100-0001 東京都千代田区千代田1-1
_JP_ADDRESS = re.compile(
    r"(?:〒?\d{3}-\d{4}[ 　]?)?(?:東京都|北海道|京都府|大阪府|[\u4e00-\u9fff]{2,3}県)"
    r"[\u4e00-\u9fff\u3040-\u30ff]{1,20}?"
    r"[0-9０-９一二三四五六七八九十]+(?:丁目|-|－|番地?)[0-9０-９]+(?:(?:番地?|-|－)[0-9０-９]+(?:号)?)?(?:号)?"
)


def _address(match: re.Match[str], text: str) -> tuple[int, int, str] | None:
    end = match.end()
    # A trailing comma or dot belongs to the sentence, not the address.
    while end > match.start() and text[end - 1] in ",. \t":
        end -= 1
    return match.start(), end, m.STREET_ADDRESS


class StreetAddresses(PatternRecogniser):
    """Street addresses: :data:`_ADDRESS`, with the forms a text cannot contain left out of the pattern."""

    def find(self, text: str, covered: Covered | None = None) -> Iterator[Finding]:
        return self._found(text, self._pattern_for(text).finditer(text), covered)

    def find_near(self, text: str, ends: Iterable[int], covered: Covered | None = None) -> Iterator[Finding]:
        assert self.window is not None
        return self._found(text, near(self._pattern_for(text), text, ends, self.window), covered)

    def warm_up(self) -> None:
        """Compile every combination of forms now rather than on the first text that needs it."""
        for bits in range(1 << len(_FORMS)):
            _address_pattern(tuple(h is None or bool(bits >> k & 1) for k, h in enumerate(_FORM_HINTS)))

    @staticmethod
    def _pattern_for(text: str) -> re.Pattern[str]:
        return _address_pattern(tuple(h is None or h.search(text) is not None for h in _FORM_HINTS))


def builtin_address_recognisers() -> list[object]:
    return [
        StreetAddresses(
            "street_address",
            (m.STREET_ADDRESS,),
            _ADDRESS,
            (
                r"\d[A-Za-z]?[ \t,][ \t]?[A-Z\xc0-\xde]",
                r"(?i)(?:stra(?:ss|\xc3\x9f)e|str\.|weg|allee|platz|gasse|ring|damm|ufer)[ \t]\d",
                r"(?i)(?:rue|avenue|boulevard|all\xc3\xa9e|chemin|impasse|quai|route|calle|rua|avenida|paseo"
                r"|pra\xc3\xa7a|travessa|via|viale|piazza|plaza|camino|largo|alameda)[ \t]",
            ),
            validate=_address,
            score=0.8,
            # A street name of up to five words and a town of up to four, unit and postcode: the triggers (a house
            # number, a street word) are inside; the tail after them is the longest part.
            window=(160, 320),
        ),
        PatternRecogniser(
            "jp_address",
            (m.STREET_ADDRESS,),
            _JP_ADDRESS,
            (r"(?:\xe9\x83\xbd|\xe9\x81\x93|\xe5\xba\x9c|\xe7\x9c\x8c)",),  # 都 道 府 県
        ),
    ]

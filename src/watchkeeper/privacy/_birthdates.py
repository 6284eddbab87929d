"""Dates of birth: a date next to a word that says it is one ("born", "DOB", "Geburtsdatum", "né le", "fecha de
nacimiento", "data de nascimento", "生年月日", "janm tithi"), with numeric dates or month names in English, German,
French, Spanish, Portuguese and Hindi (Latin script). A date without such a word is not reported: timestamps and
due dates are not PII.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from . import _model as m
from ._model import Finding

_MONTHS = (
    r"jan(?:uary|uar|vier|eiro|vari)?|feb(?:ruary|ruar)?|f[ée]vrier|fevereiro|farvari|m[äa]r(?:ch|z|s|ço|co)?|maerz"
    r"|apr(?:il)?|avril|abril|aprail|ma[iy]|mai|maio|mayo|june?|juni|juin|junio|junho|jul(?:y|i|ai)?|juillet|julio"
    r"|julho|aug(?:ust)?|agast|ao[uû]t|agosto|sep(?:t|tember)?|septembre|septiembre|setiembre|setembro|sitambar"
    r"|oct(?:ober)?|okt(?:ober)?|octobre|octubre|outubro|aktubar|nov(?:ember|embre|iembre|embro)?|navambar"
    r"|dec(?:ember)?|dez(?:ember|embro)?|d[ée]cembre|diciembre|disambar|enero|febrero|marzo|janvier|januar|janeiro"
)
_DATE = (
    r"(?:\d{4}[./\-]\d{1,2}[./\-]\d{1,2}|\d{1,2}[./\-]\d{1,2}[./\-](?:\d{4}|\d{2})"
    rf"|\d{{1,2}}(?:st|nd|rd|th|er|º|\.)?[ \t]*(?:de[ \t]+|of[ \t]+)?(?i:{_MONTHS})\.?,?[ \t]*(?:de[ \t]+)?\d{{4}}"
    rf"|(?i:{_MONTHS})\.?[ \t]+\d{{1,2}}(?:st|nd|rd|th)?,?[ \t]+\d{{4}}"
    r"|\d{4}年[ 　]?\d{1,2}月[ 　]?\d{1,2}日|(?:昭和|平成|令和)\d{1,2}年\d{1,2}月\d{1,2}日)"
)
_CUE = (
    r"(?:date[ \t]+of[ \t]+birth|birth[ \t]?date|birthday|born(?:[ \t]+on)?|d\.?o\.?b\.?|geburtsdatum|geburtstag"
    r"|geboren(?:[ \t]+am)?|geb\.|date[ \t]+de[ \t]+naissance|n[ée]e?[ \t]+le|anniversaire"
    r"|fecha[ \t]+de[ \t]+nacimiento|nacid[oa](?:[ \t]+el)?|nac[ií](?:[ \t]+el)?|cumpleaños|f\.[ \t]?nac\."
    r"|data[ \t]+de[ \t]+nascimento|nascid[oa](?:[ \t]+em)?|nasci(?:[ \t]+em)?"
    r"|aniversário|janm(?:[ \t]+tithi|din)?|janam(?:[ \t]+tithi|din)?|paida[ \t]+hu(?:a|i|e)|生年月日|誕生日)"
)
# Cues are searched in the lower-cased text (a case-insensitive alternation is many times slower in ``re``); the
# date is then matched right after the cue in the original text.
_CUE_RE = re.compile(_CUE)
_DATE_AFTER_CUE = re.compile(
    rf"[ \t]*(?:is|was|am|le|el|em|on|the|:|=|-|は|：)?[ \t:=]*(?:the[ \t]+)?(?P<date>{_DATE})", re.I
)
_AFTER_CUE = re.compile(r"生まれ|生|geboren|ko[ \t]+paida|ko[ \t]+janm")
_DATE_BEFORE_CUE = re.compile(rf"(?P<date>{_DATE})[ \t]*$")


class BirthDates:
    """Dates of birth in context."""

    name = "date_of_birth"
    entity_types = (m.DATE_OF_BIRTH,)
    triggers = (
        r"(?i)(?:birth|born|d\.?o\.?b|geb|naissance|n\xc3\xa9e?\s+le|nac(?:id|i|\xc3\xad)|nacimiento|cumplea|nasci"
        r"|anivers|janm|janam|paida|\xe7\x94\x9f|\xe8\xaa\x95)",
    )

    def find(self, text: str) -> Iterator[Finding]:
        lower = text.lower()
        if len(lower) == len(text):  # lower() can change the length of a few scripts; then offsets would drift
            for cue in _CUE_RE.finditer(lower):
                mt = _DATE_AFTER_CUE.match(text, cue.end())
                if mt is not None:
                    yield Finding(mt.start("date"), mt.end("date"), m.DATE_OF_BIRTH, self.name, 0.9)
        else:
            for cue in re.finditer(_CUE, text, re.I):
                mt = _DATE_AFTER_CUE.match(text, cue.end())
                if mt is not None:
                    yield Finding(mt.start("date"), mt.end("date"), m.DATE_OF_BIRTH, self.name, 0.9)
        for cue in _AFTER_CUE.finditer(lower if len(lower) == len(text) else text):
            lo = max(0, cue.start() - 40)
            mt = _DATE_BEFORE_CUE.search(text, lo, cue.start())
            if mt is not None:
                yield Finding(mt.start("date"), mt.end("date"), m.DATE_OF_BIRTH, self.name, 0.9)

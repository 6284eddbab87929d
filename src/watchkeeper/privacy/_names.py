"""Person names: a lexicon of given names and surnames (English and non-English) plus the cues people write names
after ("my name is", "Name:", greetings and sign-offs, titles), and Japanese surnames with honorifics.

A run of capitalised words is a name when it starts with a known given name and goes on with a surname or another
capitalised word, when a title precedes a surname, or when a cue precedes it. A lone given name counts unless it is
also a common word ("Will", "May", "Grace").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from importlib.resources import files

from . import _model as m
from ._model import Finding


def _words(text: str) -> list[str]:
    return text.split()


_UP = "A-ZÀ-ÖØ-ÞĀĂĄĆĈĊČĎĐĒĖĘĚĞĠĢĪĮİĶĹĻĽŁŃŅŇŌŐŒŔŘŚŜŞŠŢŤŪŮŰŲŹŻŽ"
_LOW = "a-zß-öø-ÿāăąćĉċčďđēėęěğġģīįıķĺļľłńņňōőœŕřśŝşšţťūůűųźżž"
_TOKEN = rf"(?:[OD]['’])?[{_UP}][{_LOW}]+(?:[{_UP}][{_LOW}]+)?(?:[\-'’][{_UP}{_LOW}][{_LOW}]+)?"
_PARTICLE = r"(?:de|da|do|das|dos|del|della|di|du|van|von|der|den|ter|le|la|y|e|bin|al|el)"
_RUN = re.compile(
    rf"(?<![{_UP}{_LOW}0-9_@.\-/])(?:{_TOKEN}\.?)(?:[ \t]{{1,2}}(?:{_PARTICLE}[ \t])?(?:{_TOKEN})){{0,4}}"
    rf"(?![{_UP}{_LOW}0-9_@/])"
)
_TOKENS = re.compile(rf"{_TOKEN}|{_PARTICLE}")

_TITLES = frozenset(
    _words(
        "Mr Mrs Ms Miss Mx Dr Prof Sir Dame Herr Frau Fr Hr M Mme Mlle Sr Sra Srta Don Doña Dona Dom "
        "Shri Smt Sri Kumari Señor Señora Senhor Senhora Monsieur Madame Doktor"
    )
)
# Words people write a name after ("my name is", "Name:", greetings, sign-offs), in several languages. Matched as the
# end of the lower-cased text before a name (``str.endswith`` on a tuple: much cheaper than a regex per name).
_CUES = tuple(
    " " + c
    for c in (
        "my name is", "my name's", "i am", "i'm", "this is", "name:", "name =", "full name:", "customer:",
        "patient:", "contact:", "from:", "to:", "signed", "signed:", "mera naam", "meraa naam", "naam", "naam:",
        "je m'appelle", "je suis", "mon nom est", "nom:", "ich heiße", "ich heisse", "mein name ist", "ich bin",
        "name ist", "me llamo", "mi nombre es", "soy", "nombre:", "meu nome é", "meu nome e", "me chamo", "eu sou",
        "nome:", "dear", "hi", "hello", "hey", "hallo", "liebe", "lieber", "sehr geehrte", "sehr geehrter",
        "sehr geehrtes", "bonjour", "cher", "chère", "hola", "estimado", "estimada", "querido", "querida", "olá",
        "ola", "oi", "prezado", "prezada", "namaste", "namaskar", "thanks,", "thank you,", "regards,", "best,",
        "cheers,", "sincerely,", "grüße,", "gruß,", "grüße", "cordialement,", "merci,", "saludos,", "gracias,",
        "atenciosamente,", "abraços,", "obrigado,", "obrigada,", "dhanyavaad,", "dhanyavad,", "shukriya,",
        "attn:", "attn.", "attn", "c/o",
    )
)  # fmt: skip


def _has_cue(before: str) -> bool:
    """Whether the text just before a name ends with a cue (spaces and one line break allowed after it)."""
    tail = before[-30:].rstrip(" \t")
    if tail.endswith("\n"):
        tail = tail[:-1].rstrip(" \t")
    tail = tail.lower().replace("\n", " ")
    if tail.endswith((":", "=")):
        tail = tail[:-1].rstrip() + tail[-1]
    return (" " + tail).endswith(_CUES)


_GREETINGS = frozenset(
    [
        *("Hi", "Hello", "Hey", "Dear", "Hallo", "Bonjour", "Hola", "Olá", "Oi", "Namaste", "Liebe", "Lieber"),
        *("Cher", "Chère", "Estimado", "Estimada", "Prezado", "Prezada", "Thanks", "Regards", "Cheers", "Best"),
        "Sincerely",
    ]
)
# Capitalised words that are also names in some list but are far more often something else.
_COMMON = frozenset(
    _words(
        "A I The This That These Those There Then Than Thanks Thank Hi Hello Hey Dear Best Regards "
        "Cheers Please Sorry Yes No Not And Or But If So To In On At For From By With Of As Is Are Was "
        "Be It We You They He She My Our Your Will May June April August March July Mark Rose Grant Bill "
        "Hope Joy Faith Grace Summer Autumn Winter Dawn Page Long Green Young King Hill Brown White "
        "Black Hall Love Rich Price Case Ray Art Guy Jack Major Miles Chase Hunter Drew Don Lane Park "
        "Street Field Wood Stone Moss Bank Banks Bell Bond Bush Cash Close Cross Day Dean Fox Frank Gay "
        "Gray Grey Hale Hand Hart Hood Human Hunt Key Lake Lord Low March Mason Mills Moon Noble North "
        "Paris Power Read Reed Rice Sharp Short Small Snow Strong Swift Walker Wall Ward Waters West "
        "Wise Wolf Woods Sky Angel Amber Crystal Precious Holly Ivy Iris Lily Jade Pearl Ruby Sunny Star "
        "Rain Pascal Ada Julia Rust Dart Go Java Scala Haskell Elixir Elm Crystal Kotlin Apple Amazon "
        "Google Microsoft Oracle Tesla Windows Linux Ubuntu Debian Docker Monday Tuesday Wednesday "
        "Thursday Friday Saturday Sunday January February September October November December Order "
        "Ticket Invoice Error Warning Info Debug Note Status Update Total Customer Support Team Manager "
        "Admin User Client Server Service Account Email Phone Name Address Street Road Avenue City State "
        "Country Company Inc Ltd LLC GmbH Street Lane Court Place Square Station Airport University "
        "School Hospital Church Bridge Centre Center New Old Big Little Great Good Bad High Low Free "
        "Open Live Test Main Home Help About Contact Search Login Logout Ok Okay Sure Just Also Now Here "
        "When Where What Why How Who Which Could Would Should Can Cannot Did Does Do Let Get Set Run "
        "Call Make Take Use See Check Send Read Write Save Delete Create Find Show Start Stop Add Remove "
        "North South East West Central United Royal National International General Global Local Public "
        "Private Royal Christian Constance Patience Prudence Charity Honor Honour Verity Felicity "
        "Destiny Trinity Harmony Melody Rusty Dusty Sandy Misty Stormy Windy Bunny Cookie Candy Ginger "
        "Pepper Honey Sugar Brandy Sherry Champagne Hola Bonjour Hallo Danke Bitte Merci Gracias "
        "Obrigado Olá Bom Buenos Buenas Guten Liebe Lieber Sehr Cher Chère Estimado Estimada Prezado "
        "Prezada Namaste Ji Sir Madam Mr Mrs Ms Dr Prof Herr Frau Mme Sr Sra Dona Claude Gemini Llama "
        "Mistral Falcon Phoenix Atlas Apollo Orion Nova Luna Aurora Echo Iris Zeus Hera Athena Deniz Can "
        "Said Ali Bora Baran Umut Ege Cem Ay Su Nur Ilk Kaan Cherry Berry Olive Violet Poppy Daisy "
        "Lavender Ember River Ocean Storm Phoenix Sage Rowan Willow Hazel Aspen Forest Meadow Brook "
        "Cliff Dale Glen Heath Marsh Carmen Dolores Rosario Consuelo Amparo Pilar Mercedes Soledad Luz "
        "Paz Cruz Jesús Ángel Reyes Santos Nieves Real Verde Blanco Blanca Rubio Moreno Franco Bravo "
        "Leal Nobre Vaz Paz Sol Mar Neve Flor Lis"
    )
)


_JA_CUE = re.compile(
    r"(?:私の名前は|名前は|名前[：:]|氏名[：:]|担当[：:]|担当者[：:]|宛先[：:]|申込者[：:]|お客様[：:])[ 　]?"
    r"(?P<n>[\u4e00-\u9fff][\u4e00-\u9fff\u3040-\u30ff]{1,7}?)(?=です|さん|様|。|、|\n|$| |　)"
)


_KANJI = re.compile("[\u4e00-\u9fff]")


@lru_cache(maxsize=1)
def lexicon() -> tuple[frozenset[str], frozenset[str], tuple[str, ...], tuple[str, ...]]:
    """(given names, surnames, Japanese given names, Japanese surnames) from the shipped list."""
    sections: dict[str, list[str]] = {}
    current = ""
    text = files("watchkeeper.privacy").joinpath("data/names.txt").read_text(encoding="utf-8")
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            current = line.strip("[]")
            continue
        sections.setdefault(current, []).append(line)
    return (
        frozenset(sections.get("F", [])),
        frozenset(sections.get("L", [])),
        tuple(sections.get("JF", [])),
        tuple(sections.get("JL", [])),
    )


class PersonNames:
    """Names of people in Latin script (English, German, French, Spanish, Portuguese, Italian, Dutch, Indian and
    romanised Japanese names) and Japanese names in kanji before an honorific or a given name."""

    name = "person_name"
    entity_types = (m.PERSON,)
    triggers = (r"[A-Z\xc0-\xde][a-z\xdf-\xff]", r"[\xe4-\xe9][\x80-\xbf][\x80-\xbf]")

    def __init__(self) -> None:
        first, last, jfirst, jlast = lexicon()
        self._first = first
        self._last = last
        self._first_single = first - _COMMON
        alt_last = "|".join(sorted(map(re.escape, jlast), key=len, reverse=True)) or "(?!)"
        alt_first = "|".join(sorted(map(re.escape, jfirst), key=len, reverse=True)) or "(?!)"
        self._ja = re.compile(
            rf"(?:{alt_last})(?:[ 　]?(?:{alt_first}))?(?=[ 　]?(?:さん|様|さま|氏|くん|君|ちゃん|先生|殿))"
            rf"|(?:{alt_last})[ 　]?(?:{alt_first}|[\u4e00-\u9fff]{{1,2}}(?![\u4e00-\u9fff]))"
        )

    def find(self, text: str) -> Iterator[Finding]:
        yield from self._latin(text)
        # Every Japanese surname and cue has a kanji: texts without one (most non-ASCII text) skip both scans.
        if not text.isascii() and _KANJI.search(text) is not None:
            for mt in self._ja.finditer(text):
                yield Finding(mt.start(), mt.end(), m.PERSON, self.name, 0.8)
            for mt in _JA_CUE.finditer(text):
                yield Finding(mt.start("n"), mt.end("n"), m.PERSON, self.name, 0.8)

    def _latin(self, text: str) -> Iterator[Finding]:
        first, last, single, common = self._first, self._last, self._first_single, _COMMON
        titles = _TITLES
        for run in _RUN.finditer(text):
            start = run.start()
            group = run.group()
            if " " not in group and "\t" not in group:
                # One word (most runs: the first word of a sentence): the same decision as below, without the
                # token lists, and the cue looked up only when it can change the outcome.
                w = group[:-1] if group.endswith(".") else group
                if w in titles or w in common or not w[0].isupper():
                    continue
                if w in single:
                    cue = _has_cue(text[max(0, start - 30) : start])
                    yield Finding(start, start + len(w), m.PERSON, self.name, 0.7 if not cue else 0.85)
                elif _has_cue(text[max(0, start - 30) : start]):
                    yield Finding(start, start + len(w), m.PERSON, self.name, 0.85)
                continue
            toks = [(t.start() + start, t.end() + start, t.group()) for t in _TOKENS.finditer(run.group())]
            words = [t for t in toks if t[2][0].isupper()]
            if not words:
                continue
            cue = _has_cue(text[max(0, start - 30) : start])
            # Leading common words ("Yesterday", "Hi", "Thanks") are not part of the name; a greeting is a cue.
            while words and words[0][2] in common and words[0][2] not in _TITLES:
                cue = cue or words[0][2] in _GREETINGS
                words = words[1:]
            if not words:
                continue
            w0 = words[0][2]
            titled = w0 in _TITLES or (w0.endswith(".") and w0[:-1] in _TITLES)
            if titled:
                words = words[1:]
                if not words:
                    continue
            if not (cue or titled) and words[0][2] not in first and words[0][2] not in last:
                k = next((i for i, w in enumerate(words) if w[2] in first), None)
                if k is not None:
                    words = words[k:]
            # Stop at the first word that is clearly not part of a name.
            j = 1
            while j < len(words) and (words[j][2] not in common or words[j][2] in last):
                j += 1
            words = words[:j]
            names = [w[2] for w in words]
            n0 = names[0]
            if len(names) >= 2:
                if n0 in first or names[1] in last or cue or titled:
                    if n0 in common and names[1] not in last and not (cue or titled):
                        continue
                    yield Finding(words[0][0], words[-1][1], m.PERSON, self.name, 0.85)
                continue
            if n0 in common:
                continue
            if cue or titled or n0 in single:
                yield Finding(words[0][0], words[0][1], m.PERSON, self.name, 0.7 if not cue else 0.85)

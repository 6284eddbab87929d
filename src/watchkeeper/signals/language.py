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

import math
import re
import unicodedata
from collections import Counter
from functools import lru_cache
from typing import Any

from ._model import Label, unknown
from ._text import check_text

try:  # the compiled scorer (setup.py); without it the remembered walk below scores in Python, to the same labels
    from . import _langscan
except ImportError:  # pragma: no cover - an install without a C compiler
    _langscan = None  # type: ignore[assignment]

VERSION = "language-6"
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


@lru_cache(maxsize=2)
def _identifier(compiled: bool = True) -> Any:
    """py3langid's identifier over LANGUAGES, scored by the compiled scorer where it is built and ``compiled``."""
    try:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier  # type: ignore[import-untyped]  # no stubs
    except ImportError:
        return None
    ident = _memoised(LanguageIdentifier, compiled=compiled).from_model_file(MODEL_FILE, norm_probs=True)
    ident.set_languages([lang for lang in LANGUAGES if lang in ident.nb_classes])
    return ident


# The remembered walks stay small: at most this many, each over a word of at most this many bytes (longer words,
# rare in text and common in junk, are walked every time).
_MEMO_ENTRIES = 100_000
_MEMO_PIECE = 32


def _memoised(base: Any, *, compiled: bool = True) -> Any:
    """``base`` (py3langid's identifier class) scored without its byte-by-byte walk in Python.

    py3langid counts its n-gram features by walking an automaton over the text's bytes in Python. With ``compiled``
    and the extension built (``_langscan.c``), the walk, the counts and the sums of the table's rows are done in C
    over py3langid's own arrays. Otherwise words repeat, so the walk over ``word + b" "`` from a given state (its
    end state and the features it emits) is remembered; the counts are exactly those of the plain walk. ``base``
    itself when the installed version's internals differ.
    """
    needed = ("tk_nextmove", "tk_output", "_rowbase", "_sparse_score", "_raw_score", "_decide", "_encode",
              "_alias_pairs", "_norm_probs", "nb_classes", "nb_ptc", "nb_pc")  # fmt: skip
    if not all(a in dir(base) or a in getattr(base, "__slots__", ()) for a in needed):
        return base
    import numpy as np

    class Memoised(base):  # type: ignore[misc]  # py3langid has no stubs
        _memo: dict[tuple[int, bytes], tuple[int, tuple[int, ...]]]
        _table: Any
        _compiled: Any = None  # _langscan.Model over the same arrays, when the extension is built

        def set_languages(self, langs: Any = None) -> None:
            super().set_languages(langs)
            # The scores are float32 sums of float16 table rows; gathering rows from a C-ordered float32 copy
            # is several times faster and gives the same numbers.
            self._table = np.ascontiguousarray(self.nb_ptc, dtype=np.float32)
            self._compiled = None
            if _langscan is not None and compiled:
                self._compiled = _langscan.Model(
                    np.asarray(self.tk_nextmove, dtype=np.uint32),
                    np.asarray(self._rowbase, dtype=np.int64),
                    np.asarray(self.tk_output, dtype=np.int32),
                    self._table,
                    np.ascontiguousarray(self.nb_pc, dtype=np.float32),
                )

        def _walk(self, state: int, piece: bytes) -> tuple[int, tuple[int, ...]]:
            nm, rowbase, out = self.tk_nextmove, self._rowbase, self.tk_output
            feats = []
            for letter in piece:
                state = int(nm[rowbase[state] + letter])
                f = int(out[state])
                if f >= 0:
                    feats.append(f)
            return state, tuple(feats)

        def _decide(self, text: Any) -> Any:
            compiled = self._compiled
            if compiled is None or not self._norm_probs:
                return super()._decide(text)
            data = self._encode(text)
            scores = np.empty(len(self.nb_pc), dtype=np.float32)
            if compiled.score(data, scores, 1.0 / math.sqrt(len(data) or 1)) <= 0:
                return super()._decide(text)  # no features (or an n-gram seen 65,535 times): py3langid's answer
            for i, j in self._alias_pairs:  # an aliased column is folded into the first, as py3langid does
                scores[i] += scores[j]
                scores[j] = 0.0
            return scores

        def _raw_score(self, text: bytes) -> Any:  # the Python path (``_decide`` tries the compiled one first)
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
_ONLY: tuple[tuple[str, frozenset[str]], ...] = (
    ("ђћџљњј", frozenset({"sr"})),  # Serbian Cyrillic (Macedonian is not among LANGUAGES)
    ("ґєїі", frozenset({"uk"})),  # Ukrainian Cyrillic (Belarusian is not among LANGUAGES)
    ("ěřů", frozenset({"cs"})),
    ("ľĺŕ", frozenset({"sk"})),
    ("æø", frozenset({"da", "no"})),
    ("đ", frozenset({"hr", "sr", "vi"})),
)
_NOT: tuple[tuple[str, frozenset[str]], ...] = (
    # Letters outside an alphabet: Ukrainian and Bulgarian write no ы э ё, Ukrainian no ъ, and Serbian Cyrillic
    # (Vuk's alphabet) none of й щ ъ ь ы э ё я ю.
    ("ыэё", frozenset({"uk", "bg", "sr"})),
    ("ъ", frozenset({"uk", "sr"})),
    ("йщьяю", frozenset({"sr"})),
    ("ñ", frozenset({"pt"})),
    ("ãõ", frozenset({"es"})),
    ("ç", frozenset({"es", "it"})),
    ("ćđ", frozenset({"sl", "cs", "sk"})),
    ("äö", frozenset({"da", "no"})),
    ("äô", frozenset({"cs"})),  # Slovak, not Czech
    ("àâêô", frozenset({"es"})),  # Spanish writes only the acute accent (and ñ, ü)
    ("èìòù", frozenset({"es", "pt"})),  # grave accents: Italian, French, Catalan
)
# Per settling letter: the languages it allows (None: any) and those it bars, found with one pass over the text.
_LETTER_RULES: dict[str, tuple[frozenset[str] | None, frozenset[str]]] = {
    c: (
        frozenset.intersection(*[only for letters, only in _ONLY if c in letters])
        if any(c in letters for letters, _ in _ONLY)
        else None,
        frozenset().union(*[nots for letters, nots in _NOT if c in letters]),
    )
    for c in "".join(letters for letters, _ in (*_ONLY, *_NOT))
}
_SETTLING = re.compile("[" + "".join(_LETTER_RULES) + "]")
# Words one of two close languages writes and the other does not (spelling, vocabulary, ekavian / ijekavian).
_PAIR_WORDS = {
    "da": "af hvad efter nu blev mig dig sig ud op sprog fejl gemme vælg indstillinger tilføj slet søg bruger brugere "
    "oprette hjælp ændre ændringer kunne også sådan nogle tal uden mellem ydre nogen nøgle nøgler antal ind end "
    "gør gøre åbn åbne åbner åbnet vindue søge søger kør køre kører tilladelse tilladelser",
    "no": "av hva etter nå ble meg deg seg ut opp språk feil lagre velg velge innstillinger slett søk bruker brukere "
    "opprette hjelp endre endringer ikkje ein eit noen slik tall uten mellom ytre å nøkler antall inn enn mye gjør "
    "gjøre åpn åpne åpner åpnet vindu søke søker kjør kjøre kjører tillatelse tillatelser",
    "id": "bisa silakan berkas galat sandi unduh mengunduh unggah pengaturan kesalahan tautan surel perangkat ponsel "
    "saat sedang membuka menghapus lokasi karena uang mau jendela tampilkan daftar jaringan koneksi pesan kode mode "
    "nomor bawaan dukungan didukung kedaluwarsa bagian daerah seharusnya tabrakan fitur prioritas konten valid "
    "dikenal otomatis kompresi terkompresi berhasil tanggal ukuran karakter opsi tampilan server citra mohon coba "
    "mencoba percobaan arsip sukses dihapus hapus aturan mulai pribadi khusus tabel jadwal standar ekspor mengekspor "
    "impor mengimpor posisi konversi mengurai layar otentikasi autentikasi lunak pencarian pembaruan "
    "diperbarui memperbarui rusak akun tombol informasi antarmuka efek cakram "
    "nonaktif dinonaktifkan menonaktifkan",
    "ms": "boleh sila fail ralat laluan muat turun tetapan pautan e-mel peranti semasa tatasusunan padam kerana wang "
    "hendak tetingkap papar paparkan senarai rangkaian sambungan mesej kod mod nombor lalai sokongan disokong tiada "
    "pelayan hos imej aksara gelintar kemaskini tamat tempoh bahagian kawasan sepatutnya perlanggaran ciri "
    "keutamaan kandungan hujah sah berjaya tarikh saiz cuba mencuba percubaan arkib dipadam gelung gelungan kekunci "
    "betul semula mula mulakan sekiranya cipta dicipta mencipta wujud baharu peribadi suai amaun jadual piawai "
    "arahan gantian mengufuk tukar ditukar ditukarkan kedudukan patut menghurai eksport mengeksport mengimport "
    "skrin sahaja perisian carian rosak akaun butang benarkan dibenarkan membenarkan maklumat pakej sebarang "
    "semak menyemak cakera tatarajah pemacu perkakasan tersuai lumpuhkan dilumpuhkan",
    "hr": "tko što tisuću vrijeme mjesto primjer pogreška pogreške sučelje zaporka izbornik tipkovnica stvoriti "
    "datoteka datoteke datoteku vidjeti uspjeh tijekom sljedeći lijevo bijelo prije gdje točno siječanj veljača "
    "ožujak travanj svibanj lipanj srpanj kolovoz rujan listopad studeni prosinac sustav sustava sustavu "
    "postavke spremi ispis pisač upravitelj udruga povijest znanost postotak uvjet uvjeti računalo otok otoci "
    "teritorij potrebno odaberite odabrani odabrana odabrano dodan dodana dodano kartica ladica tinta tinte ovdje "
    "uvijek također ponovno odaberi točka točke obitelj tjedan tjedna glasnoća glasnoću rub ruba rubove rubovi",
    "sr": "ko šta hiljada vreme mesto primer fajl fajla interfejs meni tastatura kreirati videti uspeh tokom sledeći "
    "levo belo pre gde tačno januar februar mart avgust septembar oktobar novembar decembar sistem sistema sistemu "
    "sistemska sistemski podešavanja sačuvaj štampa štampač upravnik udruženje istorija nauka procenat uslov "
    "uslovi računar bezbednost ostrvo ostrva teritorija neophodno neophodna neophodan izaberite izabrani izabrana "
    "izabrano fascikla fascikle fasciklu fascikli alatka alatke dodat dodata dodato jezičak jezičku mastilo mastila "
    "fioka ovde uvek takođe ponovo izaberi tačka tačke porodica nedelja nedelje veb jačina jačinu ivica ivice ivicu",
}
_WORDS = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)?")
# Spellings and endings that split a pair the same way, each found once per occurrence:
# - Danish "installeret, installerede, station, ukendt, sikkerhed, ugyldigt, efterfølgende, udvid, certifikat",
#   Norwegian "installert, installerte, stasjon, ukjent, sikkerhet, ugyldig, etterfølgende, utvid, sertifikat"
#   (Bokmål writes no -t after -ig); Danish af-, op- ("afbryd, opdater") against Norwegian av-, opp- ("avbryt,
#   oppdater"), and Danish quotes »…« against Norwegian «…»;
# - Malay "kualiti, automatik, nyahpasang, dimampatkan", Indonesian "kualitas, otomatis, copot pasang, dikompresi";
# - Croatian ijekavian "mjesto, vjerojatno, pjesma, gdje, uspjela, promjena, vrijednost, vidjeti", Serbian ekavian
#   "mesto, verovatno, uspela, promena, vrednost, videti";
#   Serbian loan verbs in -isati/-isan ("definisan", Croatian "definiran") and "može da vidi" (Croatian "može
#   vidjeti"); Serbian "korišćenje, izveštaj, opšti, hiljada, hemija, istorija, spoljni, izabrati, proveriti,
#   podešavanje" against Croatian "korištenje, izvješće, opći, tisuća, kemija, povijest, vanjski, odabrati".
_ENDINGS: dict[str, re.Pattern[str]] = {
    "da": re.compile(
        r"\w{3}eret\b|\w{3}(?<!all)erede\b|\w(?:tion|tioner|kendt|nøgle|hed|heden|heder|igt)\b|\bindtast|\befter|\bud\w{3}"
        r"|\bcert|\baf[^\W\d_]{3}|\bop(?![pet]|sj)[^\W\d_]{3}|»[^«»]*«"
    ),
    "no": re.compile(
        r"\w{3}ert\b|\w{3}erte\b|\w(?:sjon|sjoner|kjent|het|heten|heter)\b|nøkkel|\bskriv inn|\better|\but\w{3}"
        r"|\bsert|\bav(?!a)[^\W\d_]{3}|\bopp[^\W\d_]{3}|«[^«»]*»"
    ),
    "id": re.compile(r"\w(?:itas|atis)\b"),
    "ms": re.compile(r"\w(?:iti|atik)\b|\b(?:di|me|ter)?nyah\w|mampat"),
    "hr": re.compile(
        r"\w?(?:[mvp]|[^o]d)je[^\W\d_]|\wtje|\bsje|\wjeti\b|uspje|vrijedn|slijeđ|\bcijel|\bdio\b|posljedn|svjetl"
        r"|\bnaprijed|\bprijeno[sš]|podrazumijev|\waštenj?|dohvać"
        r"|korišten|\bizvješ|\bopć|uopće|\btisuć|\bkemij|\bpovijes|\bvanjsk|\bodab"
    ),
    "sr": re.compile(
        r"\w{2}(?<!p)(?<!br)isa(?:ti|n|na|no|ni|ne|nih|nog)\b|\b(?:mogu|može|mora|morate|treba)\s+da\b"
        r"|uspe|\b(?:pro|pri)men|vredn|sleđ|povere|povera|\bposle\b|\bceo\b|\bdeo\b|posledn|svetl|\bnapred|\bpreno[sš]"
        r"|podrazumev|\bcel[aiou]\b|šćen|bezbedn|štamp|dobavlj"
        r"|korišćen|\bizveštaj|\bopšt|uopšte|\bhiljad|\bhemij|\bistorij|\bspolj|\bizab|\bprover|\bpodeš"
    ),
}


# Three more pairs, each language's words and spellings against the other of its pair only:
# - Croatian against Slovenian: "nije, nisu, ili, koji, greška, u, unos, uključi, sve, novog, mjesto, sjever" against
#   "ni, niso, in, ki, napaka, v, vnos, vključi, vse, novega, mesto, sever" (and "vrlo, poruka, korisnik, pomoć, još,
#   već, bio, možda" against "zelo, sporočilo, uporabnik, pomoč, še, že, bil, morda");
# - Czech against Slovak: "není, jsou, soubor, pro, se, selhal, mezi, jen, konfigurace" against "nie, sú, súbor, pre,
#   sa, zlyhal, medzi, len, nastavenie, konfigurácia";
# - Bulgarian against Russian: "е, са, във, този, няма, грешка, файлът, ъ as a vowel" against "это, нет, ошибка,
#   удалось, для, -ого/-его, reflexive -ся" (Bulgarian adjectives have no cases, its reflexive is a separate "се");
# - Spanish against Portuguese: "el, los, del, y, una, con, pero, muy", -ble, -dad, -encia, -ión, ll against "os,
#   do, e, em, um, uma, ou, com, mas, muito", -vel, -dade, nh, lh.
_MORE_PAIRS: dict[str, tuple[str, re.Pattern[str] | None]] = {
    "hr": (
        "nije nisu su ili koji koja koje kojeg greška greške pogreška pogreške petlja unos unesite uključi uključeno "
        "isključeno mogu tko što gdje u sa kao kôd pismo predložak postavke inačica slobodna savez sadržaj svi sve "
        "vrlo poruka korisnik prozor otvori zatvori odaberi zadano tekst alati pomoć još već također bio sada možda",
        re.compile(r"\w{2}(?<!l)oga?\b|\w?(?:[mvp]|[^o]d)je[^\W\d_]|\wtje|\bsje"),
    ),
    "sl": (
        "ni niso so in ki kot lahko bo napaka napake zanka vnos vnesite vključi vključeno izključeno ter če kdo kaj "
        "kje neveljaven neveljavna neveljavno v z kode kodo pisava pisave pisavo predloga predloge nastavitve "
        "različica različice svobodna zveza zelo mogoče več iskanje poskusite sporočilo geslo uporabnik okno shrani "
        "odpri zapri izberi privzeto besedilo orodja pomoč še že tudi bil zdaj morda okolje",
        re.compile(r"\w{3}(?:ega|emu)\b|\bv[sznkpč]\w"),
    ),
    "cs": (
        "pro není jsou soubor soubory souboru souborů nelze jako nebo také ještě být byl byla bylo pomocí který "
        "která které selhal selhala selhalo selhání sešit tiskárna mezi zpráva zprávy uživatel uživatele složka jen "
        "když proto se",
        re.compile(r"\w{2}ace\b"),
    ),
    "bg": (
        "е са във със този това тази тези няма чрез след грешка грешки име вече още само също трябва когато ако който "
        "която което които",
        re.compile(r"ъ[^\Wеёюя]|\w{2}ът\b"),
    ),
    "ru": (
        "это этот эта эти нет ошибка ошибки если только должен должно когда имя удалось невозможно который которая "
        "которое которые ещё для найден найдена найдено",
        re.compile(r"\w{2}(?<!мн)(?:ого|его|ому|ему)\b|\w{2}(?:тся|ться|лся|лась|лось|лись)\b"),
    ),
    "es": (
        "el los las del y un una unos unas con pero muy cuando donde también hasta",
        re.compile(r"\w{2}(?:ble|bles|dad|encia|ancia|ión)\b|[^\W\d_]ll[aeiouáéíóú]"),
    ),
    "pt": (
        "os do das e em um uma ou com mas muito quando onde também até é você",
        re.compile(r"\w{2}(?:vel|veis|dade)\b|[^\W\d_]{2}(?:nh|lh)[aeiouáéíóúâêô]"),
    ),
    "sk": (
        "pre nie sú súbor súbory súboru súborov nemožno ako alebo tiež ešte byť bol bola bolo pomocou ktorý ktorá "
        "ktoré zlyhal zlyhala zlyhalo zlyhanie zošit tlačiareň medzi správa správy softvér priečinok len keď preto "
        "sa so pri",
        re.compile(r"\w(?:nie|nia|tie|tia|ácia|ácie|áciu)\b"),
    ),
}
# Swedish against Danish and Norwegian, in the words without ä or ö (those letters already rule both out): "och,
# inte, ej, att, till, vid, finns, inga, fel, varning, kolumn" against "og, ikke, til, ved, findes / finnes, fejl /
# feil, advarsel, kolonne".
_SWEDISH = "och inte ej att till vid finns inga fel varning kolumn kolumnen"
_NOT_SWEDISH = {
    "da": "og ikke til ved findes fejl advarsel kolonne kolonnen",
    "no": "og ikke til ved finnes feil advarsel kolonne kolonnen",
}
# Ukrainian against Russian and Bulgarian, for texts without і ї є ґ: "цей, це, або, чи, що, який, вдалося, помилка,
# немає" and verbal nouns in -ння, against Russian "это, или, нет, если, только, когда, удалось, ошибка, который"
# (Bulgarian: its words above).
_UKRAINIAN = ("цей ця це ці цього цієї або чи що як який яка яке які вдалося неможливо помилка немає", r"\w{2}ння\b")
_RUSSIAN_NOT_UKRAINIAN = (
    "это этот эта эти или нет ошибка ошибки если только должен должно когда удалось невозможно который которая "
    "которое которые ещё найден найдена найдено"
)
# Serbian against Russian, Ukrainian and Bulgarian in Cyrillic letters, for texts without the letters that settle it
# (ђ ћ џ љ њ ј against й щ ъ ь ы э ё ю я): Serbian "од, шта, када, ово, ова, ови, вредност, изабрати" against
# their words above; against Bulgarian, which has no cases and writes "в, кой, къде", also "у, ко, где" and the
# instrumental in -ом.
_SERBIAN_CYRILLIC = "од шта када ово ова ови вредност датотека датотеке изабери изаберите изабрани изабрана изабрано"
_SERBIAN_NOT_BULGARIAN = ("у ко где нема", r"\bизабр|\w{2}ом\b|\bуслуг[еу]\b")
_BULGARIAN_NOT_SERBIAN = (
    "в от кой какво къде кога това тази тези няма стойност файл файла файлът избери изберете избран избрана избрано",
    r"\bизбра",
)
# A pair's markers: each of its two languages' words and spellings.
Markers = dict[str, tuple[frozenset[str], re.Pattern[str] | None]]


def _rivals() -> dict[str, list[tuple[str, Markers]]]:
    """Each language's close pairs, as (the other language, the pair's markers)."""
    pairs: list[Markers] = [
        {lang: (frozenset(_PAIR_WORDS[lang].split()), _ENDINGS.get(lang)) for lang in pair}
        for pair in (("da", "no"), ("id", "ms"), ("hr", "sr"))
    ]
    pairs += [
        {lang: (frozenset(_MORE_PAIRS[lang][0].split()), _MORE_PAIRS[lang][1]) for lang in pair}
        for pair in (("hr", "sl"), ("cs", "sk"), ("bg", "ru"), ("es", "pt"))
    ]
    pairs += [
        {"sv": (frozenset(_SWEDISH.split()), None), lang: (frozenset(_NOT_SWEDISH[lang].split()), None)}
        for lang in ("da", "no")
    ]
    ukrainian = (frozenset(_UKRAINIAN[0].split()), re.compile(_UKRAINIAN[1]))
    russian, bulgarian = ((frozenset(_MORE_PAIRS[lang][0].split()), _MORE_PAIRS[lang][1]) for lang in ("ru", "bg"))
    serbian = frozenset(_SERBIAN_CYRILLIC.split())
    chosen = re.compile(r"\bизабр")  # Serbian "изабрати", Bulgarian "избрати", Russian "избрать", Ukrainian "обрати"
    pairs += [
        {"uk": ukrainian, "ru": (frozenset(_RUSSIAN_NOT_UKRAINIAN.split()), None)},
        {"uk": ukrainian, "bg": bulgarian},
        {"sr": (serbian, chosen), "ru": russian},
        {"sr": (serbian, chosen), "uk": ukrainian},
        {
            "sr": (serbian | set(_SERBIAN_NOT_BULGARIAN[0].split()), re.compile(_SERBIAN_NOT_BULGARIAN[1])),
            "bg": (frozenset(_BULGARIAN_NOT_SERBIAN[0].split()), re.compile(_BULGARIAN_NOT_SERBIAN[1])),
        },
    ]
    out: dict[str, list[tuple[str, Markers]]] = {}
    for markers in pairs:
        a, b = markers
        out.setdefault(a, []).append((b, markers))
        out.setdefault(b, []).append((a, markers))
    return out


_RIVALS = _rivals()


# The model's lean inside a close pair, corrected: when it answers the first language, the second wins if its
# probability times the factor is higher.
_FAVOUR: dict[str, tuple[str, float]] = {"sl": ("hr", 1.5)}
# English in a near tie on ASCII text: plain English with words that are French or Romance too ("Enables SSL
# connections.", "Kerberos container location not specified") scores a little below French or Portuguese. English is
# the language most LLM traffic is written in, so the model's answer gives way to English when English's probability
# times this factor is higher (chosen on the dev catalogues: 1.25-1.4 all fix the same English texts there).
_ENGLISH_LEAN = 1.3


def _votes(lang: str, words: set[str], markers: Markers, low: str) -> int:
    vocabulary, ending = markers[lang]
    return len(words & vocabulary) + (len(ending.findall(low)) if ending is not None else 0)


# Serbian Cyrillic against its neighbours: a Russian, Bulgarian or Ukrainian text without any of the letters Serbian
# lacks (й щ ъ ь ы э ё я ю, Ukrainian і ї є ґ; about 7% of the letters of Bulgarian, more of the others) is the more
# likely Serbian the longer it is: each Cyrillic letter multiplies the odds for Serbian by 1 / (1 - 0.07), tempered
# by the square root of the text's bytes as py3langid tempers its own scores.
_CYRILLIC = re.compile("[а-шђ-џ]")
_NOT_SERBIAN = re.compile("[йщъьыэёяюіїєґ]")
_SERBIAN_LETTER_ODDS = math.log(1 / (1 - 0.07))


@lru_cache(maxsize=2)
def _english_column(ident: Any) -> int:
    """Where English's score is in the rows of the model's ``_decide`` (its first column, aliases folded into it)."""
    return list(ident.nb_classes).index("en")


def _settle(ident: Any, sample: str) -> tuple[str, float]:
    """The model's answer, unless the text's letters rule it out (then the best-ranked language they allow), with
    the close pairs decided by their own words. The ranking is only computed when the answer may change."""
    decide = getattr(ident, "_decide", None)  # py3langid's scores, kept so that a ranking needs no second pass
    if decide is not None:
        raw = decide(sample)
        i = int(raw.argmax())
        lang, prob = ident.nb_classes[i], raw[i]

        def rank() -> list[tuple[str, float]]:
            merged: dict[str, float] = {}
            for c, p in zip(ident.nb_classes, raw.tolist(), strict=True):
                merged.setdefault(c, p)  # an alias's column is folded into the first one
            return sorted(merged.items(), key=lambda cp: cp[1], reverse=True)
    else:
        lang, prob = ident.classify(sample)

        def rank() -> list[tuple[str, float]]:
            return [(str(c), float(p)) for c, p in ident.rank(sample)]

    lang = str(lang)
    if sample.isascii() and lang != "en":
        english = float(raw[_english_column(ident)]) if decide is not None else dict(rank()).get("en", 0.0)
        if english * _ENGLISH_LEAN > prob:
            return "en", float(english)
    if sample.isascii() and lang not in _RIVALS:  # every settling letter is outside ASCII
        return lang, float(prob)
    low = sample.lower()
    allowed: frozenset[str] | None = None
    barred: set[str] = set()
    if not sample.isascii():
        for c in set(_SETTLING.findall(low)):
            only, nots = _LETTER_RULES[c]
            if only is not None:
                allowed = only if allowed is None else allowed & only
            barred |= nots
    ranked: list[tuple[str, float]] | None = None
    if (allowed is not None and lang not in allowed) or lang in barred:
        ranked = rank()
        lang, prob = next(
            ((c, p) for c, p in ranked if (allowed is None or c in allowed) and c not in barred), (lang, prob)
        )
    if lang in ("ru", "bg", "uk") and "sr" not in barred and not _NOT_SERBIAN.search(low):
        n = len(_CYRILLIC.findall(low))
        if n >= 10 and (allowed is None or "sr" in allowed):
            ranked = ranked or rank()
            scores = dict(ranked)
            odds = n * _SERBIAN_LETTER_ODDS / math.sqrt(len(sample.encode()))  # tempered as the model's scores are
            if scores.get("sr", 0.0) * math.exp(odds) > scores[lang]:
                lang, prob = "sr", scores["sr"]  # still weighed against its neighbours' words below
    favoured = _FAVOUR.get(lang)
    if favoured is not None:
        other, factor = favoured
        if other not in barred and (allowed is None or other in allowed):
            ranked = ranked or rank()
            scores = dict(ranked)
            if scores.get(other, 0.0) * factor > scores.get(lang, 0.0):
                lang, prob = other, scores[other]
    rivals = _RIVALS.get(lang)
    if rivals is not None:
        words = set(_WORDS.findall(low))
        best, margin = lang, 0
        for other, markers in rivals:
            if other not in barred and (allowed is None or other in allowed):
                m = _votes(other, words, markers, low) - _votes(lang, words, markers, low)
                if m > margin:
                    best, margin = other, m
        if best != lang:
            ranked = ranked or rank()
            return best, next((p for c, p in ranked if c == best), 0.0)
    return lang, float(prob)


# Identifiers in camelCase ("getUserName", "PowerPoint", "WebKitGTK") are code and product names: they say nothing
# of the language of the text around them and their n-grams mislead the model. Dropped when enough letters remain.
_CAMEL = re.compile(r"[a-z][A-Z]")  # where one word of a name or identifier ends and the next begins
_CAMEL_WORD = re.compile(r" ?\w*[a-z][A-Z]\w*")  # with the space before it
_KEEP_LETTERS = 10


def _without_identifiers(sample: str) -> str:
    """``sample`` without its camelCase identifiers, or ``sample`` itself when fewer than 10 letters would remain."""
    if _CAMEL.search(sample) is None:
        return sample
    kept = _CAMEL_WORD.sub("", sample)
    return kept if sum(c.isalpha() for c in kept) >= _KEEP_LETTERS else sample


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
    lang, prob = _settle(ident, _without_identifiers(sample))
    return Label(lang, prob, VERSION)

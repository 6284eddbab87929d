"""Close languages: the letters an alphabet lacks, and the words and spellings that split a pair (``language-3``)."""

from __future__ import annotations

import pytest

from watchkeeper.signals import classify_language
from watchkeeper.signals.language import VERSION, model_available

pytestmark = pytest.mark.skipif(not model_available(), reason="the language model is not installed")


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        # Serbian Cyrillic has no й щ ъ ь ы э ё я ю: a text without any leans Serbian, the more the longer it is.
        ("Цртеж програма Опен Офис", "sr"),
        ("Датотека није пронађена на диску", "sr"),
        ("Не удалось открыть файл, попробуйте ещё раз", "ru"),
        ("Файлът не може да бъде отворен, опитайте отново", "bg"),
        # Croatian (ijekavian, its own words) against Serbian in Latin letters (ekavian, -isan, "može da").
        ("Vrijednost nije valjana za ovo polje", "hr"),
        ("Vrednost nije ispravna za ovo polje", "sr"),
        ("Datoteka je definisana u podešavanjima", "sr"),
        # Croatian against Slovenian ("u", "zapis", -og against "v", "zvočni", -ega).
        ("Zvučni zapis Impulse Tracker", "hr"),
        ("Slika diska GameCube konzole", "hr"),
        ("Zvočni zapis Impulse Tracker", "sl"),
        ("Vse nastavitve so bile shranjene", "sl"),
        # Danish against Norwegian Bokmål (etter-, nøkkel, -ig against efter-, nøgle, -igt).
        ("Etterfølgende linjeskift i fila", "no"),
        ("Mulige handlinger med nøkler", "no"),
        ("Efterfølgende linjeskift i filen", "da"),
        ("Sikkerhedscertifikatet er ugyldigt", "da"),
        # Indonesian against Malay (koneksi, konten, server against sambungan, kandungan, pelayan).
        ("Terlalu banyak sambungan", "ms"),
        ("Jenis kandungan tidak diketahui", "ms"),
        ("Sambungan ke pelayan gagal", "ms"),
        ("Terlalu banyak koneksi", "id"),
        ("Jenis konten tidak diketahui", "id"),
        # Czech against Slovak (pro, -ace against pre, -ácia).
        ("Záloha disku pro Amigu", "cs"),
        ("Konfigurace tiskárny není platná", "cs"),
        ("Konfigurácia tlačiarne nie je platná", "sk"),
    ],
)
def test_close_languages_are_told_apart(text: str, lang: str) -> None:
    label = classify_language(text)
    assert label.label == lang
    assert label.version == VERSION == "language-3"


def test_a_letter_outside_serbian_cyrillic_rules_serbian_out() -> None:
    # The same words, once with я (not in Serbian Cyrillic): no longer Serbian.
    assert classify_language("Датотека није пронађена на диску").label == "sr"
    assert classify_language("Датотека не найдена на диске, я проверил").label != "sr"


def test_shared_words_do_not_vote() -> None:
    # "greška" is Croatian as much as Serbian; "allerede" Norwegian as much as Danish.
    assert classify_language("Greška prilikom spremanja datoteke na disk").label == "hr"
    assert classify_language("Brukeren finnes allerede i systemet").label == "no"

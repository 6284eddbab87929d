"""Close languages: the letters an alphabet lacks, and the words and spellings that split a pair (``language-6``)."""

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
    assert label.version == VERSION == "language-6"


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        # English in a near tie with another language (Danish, French) wins on ASCII text ...
        ("Restore default parameters", "en"),
        ("Validate default connections", "en"),
        ("Archive local documents", "en"),
        # ... and other languages written in ASCII keep their clear answers.
        ("Impossible de trouver le fichier", "fr"),
        ("Permissions insuffisantes pour cette action", "fr"),
        ("Configurazione non valida per il server", "it"),
        ("Tidak dapat membuka berkas", "id"),
        ("Salvar configuracao atual", "pt"),
        ("Guardar configuracion actual", "es"),
    ],
)
def test_english_wins_a_near_tie_on_ascii_text(text: str, lang: str) -> None:
    assert classify_language(text).label == lang


def test_a_letter_outside_serbian_cyrillic_rules_serbian_out() -> None:
    # The same words, once with я (not in Serbian Cyrillic): no longer Serbian.
    assert classify_language("Датотека није пронађена на диску").label == "sr"
    assert classify_language("Датотека не найдена на диске, я проверил").label != "sr"


def test_shared_words_do_not_vote() -> None:
    # "greška" is Croatian as much as Serbian; "allerede" Norwegian as much as Danish.
    assert classify_language("Greška prilikom spremanja datoteke na disk").label == "hr"
    assert classify_language("Brukeren finnes allerede i systemet").label == "no"


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        # Danish against Norwegian: "gør, antal" against "gjør, antall"; af-, op- against av-, opp-; »…« against «…».
        ("Gør om seneste handling", "da"),
        ("Gjør om siste handling", "no"),
        ("Angiv antal kopier", "da"),
        ("Afslut programmet nu", "da"),
        ("Avslutt programmet nå", "no"),
        ("Opdater pakkelisten", "da"),
        ("Oppdater pakkelisten", "no"),
        ("Tryk på »Gem« for at afslutte", "da"),
        ("Trykk på «Lagre» for å avslutte", "no"),
        # Indonesian against Malay: "layar, akun, perangkat lunak" against "skrin, akaun, perisian".
        ("Layar akan dikunci sebentar lagi", "id"),
        ("Skrin akan dikunci sebentar lagi", "ms"),
        ("Maklumat akaun tidak tersedia", "ms"),
        # Serbian against Croatian: "jačina, ivica, opšte, spoljni" against "glasnoća, rub, opće, vanjski".
        ("Jačina zvuka je pojačana", "sr"),
        ("Glasnoća zvuka je pojačana", "hr"),
        ("Prikaži ivice stranice", "sr"),
        ("Prikaži rubove stranice", "hr"),
        ("Opšte postavke programa", "sr"),
        ("Opće postavke programa", "hr"),
        ("Spoljni disk nije povezan", "sr"),
        ("Vanjski disk nije povezan", "hr"),
        # Slovenian against Croatian: "okolje, zelo, mogoče" against "okruženje, vrlo, moguće".
        ("Okolje za razvoj programov", "sl"),
        ("Zelo temno ozadje", "sl"),
        ("Vrlo tamna pozadina", "hr"),
        # Czech against Slovak: "tiskárna, zpráva, selhal, se" against "tlačiareň, správa, zlyhal, sa".
        ("Tiskárna je vypnutá", "cs"),
        ("Tlačiareň je vypnutá", "sk"),
        ("Zpráva od správce", "cs"),
        ("Správa od správcu", "sk"),
        ("Ovládač pre tlačiareň sa nenašiel", "sk"),
        # Russian against Bulgarian: "для, найден" and the reflexive -ся (Bulgarian writes a separate "се").
        ("Сертификат не найден", "ru"),
        ("Файл не открывается, попробуйте снова", "ru"),
        # Ukrainian without і ї є ґ: "цей, або, неможливо, помилка" against Russian and Bulgarian.
        ("Цей параметр недоступний", "uk"),
        ("Помилка протоколу HTTPS", "uk"),
        ("Це значення не підходить", "uk"),
        ("Это значение не подходит", "ru"),
        # Serbian Cyrillic without ђ ћ џ љ њ ј: "изабрати, шта, када, од" against Bulgarian "избрати, какво, кога, от".
        ("Назив изабране услуге", "sr"),
        ("Изабери датотеку од ових", "sr"),
        # Spanish against Portuguese: "el, los, del, una", -ble, -dad, ll against "os, do, um", -vel, -dade, nh, lh.
        ("Servidor no disponible", "es"),
        ("Los datos del usuario son incorrectos", "es"),
        ("Os dados do usuário estão incorretos", "pt"),
        ("Falha ao abrir o arquivo, tente mais tarde", "pt"),
        # Swedish against Danish and Norwegian, without ä or ö: "och, inte, att, finns, fel".
        ("Det gick inte att spara filen", "sv"),
        ("Kolumnen finns inte", "sv"),
    ],
)
def test_more_close_languages_are_told_apart(text: str, lang: str) -> None:
    assert classify_language(text).label == lang


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Je peux être là demain", "fr"),
        ("Non è possibile aprire il file così", "it"),
        ("Tente conectar-se à rede", "pt"),
    ],
)
def test_accents_spanish_does_not_write_rule_it_out(text: str, lang: str) -> None:
    # Spanish writes no à â ê ô and no grave accent; Portuguese writes no è ì ò ù.
    assert classify_language(text).label == lang


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Dokument aplikace PowerPoint", "cs"),
        ("Dokumentas PowerPoint formatu", "lt"),
        ("Âm thanh Amiga SoundTracker", "vi"),
        ("Datoteka myConfigFile nije pronađena", "hr"),
        ("Prezentacja programu PowerPoint", "pl"),
    ],
)
def test_camel_case_identifiers_do_not_vote(text: str, lang: str) -> None:
    # "PowerPoint", "SoundTracker", "myConfigFile" are names and code, not words of the sentence's language.
    assert classify_language(text).label == lang


def test_a_text_that_is_all_identifiers_is_still_classified() -> None:
    # Fewer than ten letters would remain without the identifiers: the text is classified as written.
    assert classify_language("Open the PowerPoint file").label == "en"

"""A seeded, labelled generator of realistic LLM traffic, for measuring redaction (``bench/redaction.py``).

Chat turns, JSON tool arguments, stack traces, log lines and e-mails in English, German, French, Spanish,
Portuguese, Japanese and Hindi (Latin script), with PII and secrets planted at known offsets and hard negatives
(UUIDs, git SHAs, order and ticket numbers, versions, timestamps, Luhn-invalid digit runs, placeholder addresses)
that a good engine leaves alone.

Values are made from the real formats — phone numbers from libphonenumber's example numbers with fresh digits,
cards from brand prefixes with a Luhn check digit, IBANs with mod-97 check digits, provider keys with their
documented prefixes — and the names and streets here are this file's own, not the recognisers' lexicon, so the
measurement is not a recogniser reading its own templates.

    from watchkeeper.privacy.corpus import generate
    for sample in generate(1000, seed=7):
        sample["text"], sample["spans"], sample["negatives"]
"""

from __future__ import annotations

import base64
import json
import random
import string
from collections.abc import Callable
from typing import Any


def _words(text: str) -> list[str]:
    return text.split()


LANGS = ("en", "de", "fr", "es", "pt", "ja", "hi")
KINDS = ("chat", "tool", "trace", "log", "email")

_FIRST = {
    "en": _words("James Olivia Ethan Chloe Liam Grace Noah Ava Lucas Mia Harper Elijah Zoe Caleb Nora Owen"),
    "de": _words("Lukas Lena Jonas Marie Felix Hannah Maximilian Sophie Tobias Katharina Jannik Mareike"),
    "fr": _words("Camille Louis Chloé Hugo Manon Théo Léa Mathis Inès Antoine Gaëlle Baptiste"),
    "es": _words("Alejandro Lucía Pablo Sofía Javier Carmen Diego Valentina Álvaro Marta Iñigo Ainhoa"),
    "pt": _words("João Beatriz Tiago Mariana Rafael Inês Gonçalo Larissa Thiago Fernanda Rodrigo Luana"),
    "ja": ["Haruto", "Yui", "Sota", "Hina", "Ren", "Aoi", "Kenji", "Yuki", "Daiki", "Sakura"],
    "hi": _words("Aarav Priya Rohan Ananya Vikram Sneha Arjun Kavya Rahul Pooja Ishaan Meera"),
}
_LAST = {
    "en": _words(
        "Thompson Carter Reynolds Whitaker Donovan Fletcher Hughes Patterson Sullivan Barnes O'Connor McAllister"
    ),
    "de": _words("Müller Schneider Fischer Weber Becker Hoffmann Schäfer Krüger Zimmermann Neumann Brandt Vogel"),
    "fr": _words("Dubois Lefèvre Moreau Laurent Girard Rousseau Fontaine Chevalier Mercier Bonnet Lemaire Picard"),
    "es": _words("García Fernández López Martínez Sánchez Pérez Gómez Ruiz Hernández Jiménez Navarro Ortega"),
    "pt": _words("Silva Santos Oliveira Souza Pereira Costa Rodrigues Almeida Ferreira Carvalho Ribeiro Teixeira"),
    "ja": ["Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura", "Kobayashi", "Kato"],
    "hi": _words("Sharma Verma Gupta Iyer Reddy Nair Patel Singh Mehta Chatterjee Banerjee Kulkarni"),
}
_JA_KANJI = [("佐藤", "健太"), ("鈴木", "花子"), ("高橋", "翔"), ("田中", "美咲"), ("伊藤", "大輔"), ("渡辺", "さくら")]
_STREETS = {
    "en": ["Maple", "Oak Ridge", "Baker", "Kingsley", "Willow Creek", "Harrington", "Elm", "Cedar Hill"],
    "de": ["Linden", "Goethe", "Schiller", "Birken", "Bahnhof", "Kastanien", "Mozart", "Eichen"],
    "fr": ["de la Paix", "Victor Hugo", "des Lilas", "du Moulin", "Pasteur", "de la République", "des Écoles"],
    "es": ["de Alcalá", "Mayor", "del Prado", "de la Luna", "Gran Vía", "de Serrano", "del Carmen"],
    "pt": ["Augusta", "das Flores", "do Ouro", "Paulista", "da Liberdade", "dos Andradas", "Vergueiro"],
    "hi": ["MG", "Linking", "Brigade", "Residency", "Park", "Station", "Nehru"],
}
_CITIES: dict[str, list[tuple[str, ...]]] = {
    "en": [("Springfield", "IL", "62704"), ("Portland", "OR", "97205"), ("Austin", "TX", "78701")],
    "uk": [("London", "SW1A 1AA"), ("Manchester", "M1 4BT"), ("Leeds", "LS1 3EX")],
    "de": [("Berlin", "10115"), ("München", "80331"), ("Hamburg", "20095"), ("Köln", "50667")],
    "fr": [("Paris", "75011"), ("Lyon", "69002"), ("Toulouse", "31000"), ("Nantes", "44000")],
    "es": [("Madrid", "28014"), ("Barcelona", "08001"), ("Sevilla", "41001"), ("Valencia", "46002")],
    "pt": [("Lisboa", "1100-148"), ("Porto", "4000-322"), ("São Paulo", "01310-100"), ("Curitiba", "80010-000")],
    "hi": [("Bengaluru", "560001"), ("Mumbai", "400001"), ("Pune", "411001"), ("Hyderabad", "500001")],
}
_DOMAINS = _words(
    "gmail.com outlook.com web.de orange.fr yahoo.es uol.com.br yahoo.co.jp acme-corp.io "
    "rediffmail.com protonmail.com gmx.de sapo.pt free.fr company.co.uk"
)
_MONTHS = {
    "en": _words("January February March April May June July August September October November December"),
    "de": _words("Januar Februar März April Mai Juni Juli August September Oktober November Dezember"),
    "fr": _words("janvier février mars avril mai juin juillet août septembre octobre novembre décembre"),
    "es": _words("enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre"),
    "pt": _words("janeiro fevereiro março abril maio junho julho agosto setembro outubro novembro dezembro"),
}
_PHONE_REGIONS = {
    "en": ["US", "GB"],
    "de": ["DE"],
    "fr": ["FR"],
    "es": ["ES"],
    "pt": ["PT", "BR"],
    "ja": ["JP"],
    "hi": ["IN"],
}


class _Doc:
    """Text built piece by piece, remembering where each labelled value and hard negative went."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.n = 0
        self.spans: list[dict[str, Any]] = []
        self.negatives: list[dict[str, Any]] = []

    def t(self, s: str) -> _Doc:
        self.parts.append(s)
        self.n += len(s)
        return self

    def v(self, value: str, etype: str) -> _Doc:
        self.spans.append({"start": self.n, "end": self.n + len(value), "type": etype})
        return self.t(value)

    def neg(self, value: str, kind: str) -> _Doc:
        self.negatives.append({"start": self.n, "end": self.n + len(value), "kind": kind})
        return self.t(value)

    def text(self) -> str:
        return "".join(self.parts)


# ---------------------------------------------------------------------------------------------------------------
# Values


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def _alnum(rng: random.Random, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def card(rng: random.Random) -> str:
    prefix, length = rng.choice(
        [
            ("4", 16),
            ("4", 16),
            ("51", 16),
            ("55", 16),
            ("2221", 16),
            ("2720", 16),
            ("2300", 16),
            ("34", 15),
            ("37", 15),
            ("6011", 16),
            ("65", 16),
            ("3530", 16),
            ("36", 14),
            ("62", 16),
            ("62", 19),
            ("4", 19),
        ]
    )
    body = prefix + _digits(rng, length - len(prefix) - 1)
    num = body + _luhn_digit(body)
    style = rng.random()
    if style < 0.35:
        return num
    sep = " " if style < 0.75 else "-"
    groups = [4, 6, 5] if length == 15 else [4, 6, 4] if length == 14 else [4] * (length // 4) + [length % 4]
    out, i = [], 0
    for g in groups:
        if g:
            out.append(num[i : i + g])
            i += g
    return sep.join(out)


def luhn_invalid_run(rng: random.Random) -> str:
    body = "4" + _digits(rng, 14)
    good = _luhn_digit(body)
    return body + str((int(good) + rng.randint(1, 9)) % 10)


_IBAN_BBAN = {
    "DE": "18n",
    "FR": "23n",
    "ES": "20n",
    "PT": "21n",
    "GB": "4a14n",
    "IT": "1a22n",
    "NL": "4a10n",
    "BE": "12n",
    "AT": "16n",
    "CH": "17n",
    "BR": "23n1a1n",
    "PL": "24n",
    "IE": "4a14n",
    "LU": "16n",
}


def iban(rng: random.Random) -> str:
    cc = rng.choice(list(_IBAN_BBAN))
    fmt, bban, num = _IBAN_BBAN[cc], "", ""
    for ch in fmt:
        if ch.isdigit():
            num += ch
            continue
        n = int(num)
        num = ""
        bban += _digits(rng, n) if ch == "n" else _alnum(rng, n, string.ascii_uppercase)
    rearranged = bban + cc + "00"
    value = int("".join(str(int(c, 36)) for c in rearranged))
    full = f"{cc}{98 - value % 97:02d}{bban}"
    if rng.random() < 0.6:
        return " ".join(full[i : i + 4] for i in range(0, len(full), 4))
    return full


def phone(rng: random.Random, lang: str) -> str:
    import phonenumbers
    from phonenumbers import PhoneNumberFormat as F
    from phonenumbers import PhoneNumberType as T

    region = rng.choice(_PHONE_REGIONS[lang])
    for _ in range(20):
        ex = phonenumbers.example_number_for_type(region, rng.choice([T.MOBILE, T.FIXED_LINE]))
        if ex is None:
            continue
        nat = str(ex.national_number)
        keep = max(2, len(nat) - 5)
        ex.national_number = int(nat[:keep] + _digits(rng, len(nat) - keep))
        if phonenumbers.is_valid_number(ex):
            fmt = rng.choice([F.INTERNATIONAL, F.NATIONAL, F.NATIONAL, F.E164])
            return phonenumbers.format_number(ex, fmt)
    return "+1 202 555 0143"


def ssn(rng: random.Random) -> str:
    area = rng.choice([n for n in range(1, 900) if n != 666])
    return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def ipv4(rng: random.Random) -> str:
    return rng.choice(
        [
            f"{rng.randint(11, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
            f"192.168.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
            f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
        ]
    )


def ipv6(rng: random.Random) -> str:
    groups = [f"{rng.randint(0, 0xFFFF):x}" for _ in range(8)]
    groups[0] = rng.choice(["2001", "2a02", "2607", "fe80", "2400"])
    if rng.random() < 0.5:
        return ":".join(groups)
    return ":".join(groups[:3]) + "::" + ":".join(groups[6:])


def person(rng: random.Random, lang: str) -> str:
    first, last = rng.choice(_FIRST[lang]), rng.choice(_LAST[lang])
    r = rng.random()
    if lang == "es" and r < 0.4:
        return f"{first} {last} {rng.choice(_LAST['es'])}"
    return first if r < 0.15 else f"{first} {last}"


def email(rng: random.Random, lang: str) -> str:
    first, last = rng.choice(_FIRST[lang]), rng.choice(_LAST[lang])
    table = str.maketrans("äöüéèêëçãõáíóúñâôàìï'", "aoueeeecaoaiounaoaii ")
    local = rng.choice([f"{first}.{last}", f"{first[0]}{last}", f"{first}{rng.randint(1, 99)}", f"{last}_{first}"])
    local = local.lower().replace("ß", "ss").translate(table).replace(" ", "")
    return f"{local}@{rng.choice(_DOMAINS)}"


def address(rng: random.Random, lang: str) -> str:
    n = rng.randint(1, 240)
    if lang == "en":
        street = (
            f"{n} {rng.choice(_STREETS['en'])} {rng.choice(['Street', 'Avenue', 'Road', 'Lane', 'Drive', 'St', 'Ave'])}"
        )
        if rng.random() < 0.5:
            city, postcode = rng.choice(_CITIES["uk"])
            return f"{street}, {city} {postcode}"
        city, state, z = rng.choice(_CITIES["en"])
        return f"{street}, {city}, {state} {z}"
    if lang == "de":
        city, plz = rng.choice(_CITIES["de"])
        name = rng.choice(_STREETS["de"])
        street = rng.choice([f"{name}straße {n}", f"{name}weg {n}", f"{name}str. {n}a", f"{name}allee {n}"])
        return f"{street}, {plz} {city}"
    if lang == "fr":
        city, cp = rng.choice(_CITIES["fr"])
        kind = rng.choice(["rue", "avenue", "boulevard", "place"])
        return f"{n} {kind} {rng.choice(_STREETS['fr'])}, {cp} {city}"
    if lang == "es":
        city, cp = rng.choice(_CITIES["es"])
        kind = rng.choice(["Calle", "Avenida", "Paseo", "Plaza"])
        return f"{kind} {rng.choice(_STREETS['es'])}, {n}, {cp} {city}"
    if lang == "pt":
        city, cep = rng.choice(_CITIES["pt"])
        kind = rng.choice(["Rua", "Avenida", "Travessa", "Praça"])
        return f"{kind} {rng.choice(_STREETS['pt'])}, {n}, {cep} {city}"
    if lang == "ja":
        pref = rng.choice(
            ["東京都渋谷区神南", "大阪府大阪市北区梅田", "神奈川県横浜市中区山下町", "北海道札幌市中央区北一条西"]
        )
        return rng.choice(
            [
                f"{pref}{rng.randint(1, 5)}-{rng.randint(1, 30)}-{rng.randint(1, 20)}",
                f"{pref}{rng.randint(1, 5)}丁目{rng.randint(1, 30)}番{rng.randint(1, 20)}号",
            ]
        )
    city, pin = rng.choice(_CITIES["hi"])
    return (
        f"{rng.choice(['Flat', 'House No.'])} {n}, {rng.randint(1, 99)} {rng.choice(_STREETS['hi'])} Road, {city} {pin}"
    )


def birth_date(rng: random.Random, lang: str) -> str:
    y, mo, d = rng.randint(1940, 2006), rng.randint(1, 12), rng.randint(1, 28)
    if lang == "ja":
        return f"{y}年{mo}月{d}日"
    if lang in _MONTHS and rng.random() < 0.5:
        month = _MONTHS[lang][mo - 1]
        if lang == "en":
            return rng.choice([f"{month} {d}, {y}", f"{d} {month} {y}"])
        if lang == "de":
            return f"{d}. {month} {y}"
        if lang in ("es", "pt"):
            return f"{d} de {month} de {y}"
        return f"{d} {month} {y}"
    if lang == "en" and rng.random() < 0.5:
        return f"{mo:02d}/{d:02d}/{y}"
    sep = "." if lang == "de" else "/" if lang != "hi" else rng.choice(["/", "-"])
    return rng.choice([f"{d:02d}{sep}{mo:02d}{sep}{y}", f"{y}-{mo:02d}-{d:02d}"])


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def secret(rng: random.Random) -> tuple[str, str]:
    """(value, type) of a provider key or token in its documented format."""
    an = string.ascii_letters + string.digits
    kind = rng.randrange(13)
    if kind == 0:
        return "sk-proj-" + _alnum(rng, 74, an + "-_") + "T3BlbkFJ" + _alnum(rng, 74, an + "-_"), "OPENAI_KEY"
    if kind == 1:
        return "sk-" + _alnum(rng, 48, an), "OPENAI_KEY"
    if kind == 2:
        return "sk-ant-api03-" + _alnum(rng, 93, an + "-_") + "AA", "ANTHROPIC_KEY"
    if kind == 3:
        return rng.choice(["AKIA", "ASIA"]) + _alnum(rng, 16, string.ascii_uppercase + "234567"), "AWS_ACCESS_KEY_ID"
    if kind == 4:
        return _alnum(rng, 40, an + "/+"), "AWS_SECRET_KEY"
    if kind == 5:
        return rng.choice(["ghp_", "gho_", "ghs_"]) + _alnum(rng, 36, an), "GITHUB_TOKEN"
    if kind == 6:
        return "github_pat_" + _alnum(rng, 22, an) + "_" + _alnum(rng, 59, an), "GITHUB_TOKEN"
    if kind == 7:
        return "glpat-" + _alnum(rng, 20, an + "-_"), "GITLAB_TOKEN"
    if kind == 8:
        return f"xoxb-{_digits(rng, 12)}-{_digits(rng, 13)}-{_alnum(rng, 24, an)}", "SLACK_TOKEN"
    if kind == 9:
        return rng.choice(["sk_live_", "rk_live_", "sk_test_"]) + _alnum(rng, rng.choice([24, 99]), an), "STRIPE_KEY"
    if kind == 10:
        return "AIza" + _alnum(rng, 35, an + "-_"), "GOOGLE_API_KEY"
    if kind == 11:
        head = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = _b64url(json.dumps({"sub": _digits(rng, 10), "iat": 1700000000 + rng.randint(0, 10**7)}).encode())
        return f"{head}.{body}.{_b64url(rng.randbytes(32))}", "JWT"
    lines = [base64.b64encode(rng.randbytes(48)).decode() for _ in range(rng.randint(3, 8))]
    return "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END RSA PRIVATE KEY-----", "PRIVATE_KEY"


def password(rng: random.Random) -> str:
    words = ["hunter", "Sommer", "soleil", "verano", "saudade", "sakura", "dilse", "Winter", "qwerty", "dragon"]
    return rng.choice(words) + rng.choice(["", "!", "#", "_", "."]) + str(rng.randint(1, 2024))


def _timestamp(rng: random.Random) -> str:
    day = f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    return f"{day}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"


def uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def negative(rng: random.Random) -> tuple[str, str]:
    """(value, kind) of a look-alike that is not sensitive."""
    kind = rng.randrange(12)
    if kind == 0:
        return uuid(rng), "uuid"
    if kind == 1:
        return f"{rng.getrandbits(160):040x}", "git_sha"
    if kind == 2:
        return f"{rng.getrandbits(28):07x}", "git_sha_short"
    if kind == 3:
        return rng.choice(
            [f"ORD-{rng.randint(2019, 2026)}-{_digits(rng, 6)}", f"#{_digits(rng, 8)}", f"{_digits(rng, 10)}"]
        ), "order"
    if kind == 4:
        return rng.choice(
            [f"JIRA-{rng.randint(10, 9999)}", f"INC{_digits(rng, 7)}", f"TKT-{_digits(rng, 6)}"]
        ), "ticket"
    if kind == 5:
        return rng.choice(
            [
                f"v{rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 99)}",
                f"{rng.randint(1, 3)}.{rng.randint(0, 40)}.{rng.randint(0, 9)}",
                f"10.0.{rng.randint(10000, 22999)}.{rng.randint(100, 999)}",
            ]
        ), "version"
    if kind == 6:
        return (
            _timestamp(rng) + f".{_digits(rng, 3)}Z",
            "timestamp",
        )
    if kind == 7:
        return str(1_700_000_000_000 + rng.randint(0, 10**11)), "epoch_ms"
    if kind == 8:
        return luhn_invalid_run(rng), "luhn_invalid"
    if kind == 9:
        return rng.choice(
            ["user@example.com", "jane.doe@example.org", "test@example.net", "admin@company.example"]
        ), "placeholder_email"
    if kind == 10:
        return f"sha256:{rng.getrandbits(256):064x}", "digest"
    return f"{rng.randint(1, 9)},{_digits(rng, 3)}.{_digits(rng, 2)} EUR", "amount"


# ---------------------------------------------------------------------------------------------------------------
# Phrases: where each kind of value sits in a sentence, per language. "{}" is the value.

_PHRASES: dict[str, dict[str, list[str]]] = {
    "EMAIL": {
        "en": ["my email is {}", "send it to {} please", "Contact: {}"],
        "de": ["meine E-Mail ist {}", "bitte an {} schicken"],
        "fr": ["mon adresse e-mail est {}", "écrivez à {}"],
        "es": ["mi correo es {}", "escríbeme a {}"],
        "pt": ["meu e-mail é {}", "manda para {}"],
        "ja": ["メールアドレスは{}です", "{} までご連絡ください"],
        "hi": ["mera email {} hai", "mujhe {} par mail karo"],
    },
    "PHONE": {
        "en": ["call me at {}", "my number is {}", "Phone: {}"],
        "de": ["meine Nummer ist {}", "Tel.: {}", "ruf mich an unter {}"],
        "fr": ["mon numéro est le {}", "tél : {}"],
        "es": ["mi teléfono es {}", "llámame al {}"],
        "pt": ["meu telefone é {}", "liga para {}"],
        "ja": ["電話番号は{}です", "携帯：{}"],
        "hi": ["mera number {} hai", "mujhe {} par call karo"],
    },
    "CREDIT_CARD": {
        "en": ["charge my card {}", "card number {} exp 09/27"],
        "de": ["meine Kartennummer ist {}", "Karte {} belasten"],
        "fr": ["ma carte {}", "numéro de carte : {}"],
        "es": ["mi tarjeta es {}", "tarjeta {}"],
        "pt": ["meu cartão é {}", "cartão {}"],
        "ja": ["カード番号は{}です"],
        "hi": ["mera card number {} hai"],
    },
    "IBAN": {
        "en": ["my IBAN is {}", "IBAN: {}"],
        "de": ["meine IBAN lautet {}", "IBAN {}"],
        "fr": ["mon IBAN est {}"],
        "es": ["mi IBAN es {}"],
        "pt": ["o meu IBAN é {}"],
        "ja": ["口座IBAN: {}"],
        "hi": ["mera IBAN {} hai"],
    },
    "US_SSN": {"en": ["my SSN is {}", "SSN: {}", "social security number {}"]},
    "IP_ADDRESS": {
        "en": ["request from {}", "client ip {}"],
        "de": ["Zugriff von {}"],
        "fr": ["connexion depuis {}"],
        "es": ["acceso desde {}"],
        "pt": ["acesso de {}"],
        "ja": ["接続元 {}"],
        "hi": ["IP {} se request aayi"],
    },
    "PERSON": {
        "en": [
            "My name is {}",
            "Hi {},",
            "I spoke with {} yesterday",
            "{} asked for a refund",
            "Thanks,\n{}",
            "Name: {}",
        ],
        "de": ["Mein Name ist {}", "Hallo {},", "ich habe mit {} gesprochen", "Viele Grüße,\n{}"],
        "fr": ["Je m'appelle {}", "Bonjour {},", "j'ai parlé avec {} hier", "Cordialement,\n{}"],
        "es": ["Me llamo {}", "Hola {},", "hablé con {} ayer", "Saludos,\n{}"],
        "pt": ["Meu nome é {}", "Olá {},", "falei com {} ontem", "Atenciosamente,\n{}"],
        "ja": ["私の名前は{}です", "{}さんに連絡しました", "担当：{}"],
        "hi": ["Mera naam {} hai", "Namaste {},", "maine {} se baat ki", "Dhanyavaad,\n{}"],
    },
    "STREET_ADDRESS": {
        "en": ["ship it to {}", "I live at {}", "Address: {}"],
        "de": ["meine Adresse ist {}", "Lieferadresse: {}"],
        "fr": ["j'habite au {}", "adresse de livraison : {}"],
        "es": ["vivo en {}", "dirección: {}"],
        "pt": ["moro na {}", "endereço: {}"],
        "ja": ["住所は{}です", "お届け先：{}"],
        "hi": ["mera address {} hai"],
    },
    "DATE_OF_BIRTH": {
        "en": ["I was born on {}", "DOB: {}", "date of birth {}"],
        "de": ["ich bin am {} geboren", "Geburtsdatum: {}"],
        "fr": ["je suis née le {}", "date de naissance : {}"],
        "es": ["nací el {}", "fecha de nacimiento: {}"],
        "pt": ["nasci em {}", "data de nascimento: {}"],
        "ja": ["生年月日：{}", "{}生まれです"],
        "hi": ["meri janm tithi {} hai", "DOB {}"],
    },
}
_FILLER = {
    "en": [
        "Can you help me with my order?",
        "The export keeps failing.",
        "Please update my account.",
        "Thanks in advance.",
    ],
    "de": ["Können Sie mir helfen?", "Der Export schlägt fehl.", "Bitte aktualisieren Sie mein Konto."],
    "fr": ["Pouvez-vous m'aider ?", "L'export échoue encore.", "Merci de mettre à jour mon compte."],
    "es": ["¿Me pueden ayudar?", "La exportación sigue fallando.", "Por favor actualicen mi cuenta."],
    "pt": ["Podem me ajudar?", "A exportação continua falhando.", "Por favor atualizem minha conta."],
    "ja": ["注文について質問があります。", "エクスポートが失敗します。", "アカウントを更新してください。"],
    "hi": ["Kya aap meri madad kar sakte hain?", "Export fail ho raha hai.", "Please mera account update kar do."],
}
_NEG_PHRASES = ["order {}", "ticket {}", "ref {}", "commit {}", "at {}", "id={}", "version {}", "({})"]
_KEYS = _words("api_key apiKey token access_token client_secret password db_password secret auth_token")


def _value(rng: random.Random, etype: str, lang: str) -> str:
    makers: dict[str, Callable[[], str]] = {
        "EMAIL": lambda: email(rng, lang),
        "PHONE": lambda: phone(rng, lang),
        "CREDIT_CARD": lambda: card(rng),
        "IBAN": lambda: iban(rng),
        "US_SSN": lambda: ssn(rng),
        "IP_ADDRESS": lambda: ipv4(rng) if rng.random() < 0.7 else ipv6(rng),
        "PERSON": lambda: person(rng, lang) if lang != "ja" or rng.random() < 0.5 else "".join(rng.choice(_JA_KANJI)),
        "STREET_ADDRESS": lambda: address(rng, lang),
        "DATE_OF_BIRTH": lambda: birth_date(rng, lang),
    }
    return makers[etype]()


def _pii(rng: random.Random, doc: _Doc, lang: str) -> None:
    etype = rng.choice([t for t in _PHRASES if lang in _PHRASES[t]])
    phrase = rng.choice(_PHRASES[etype][lang])
    before, after = phrase.split("{}")
    doc.t(before).v(_value(rng, etype, lang), etype).t(after)


def _neg(rng: random.Random, doc: _Doc) -> None:
    value, kind = negative(rng)
    before, after = rng.choice(_NEG_PHRASES).split("{}")
    doc.t(before).neg(value, kind).t(after)


def _sentence(rng: random.Random, doc: _Doc, lang: str, n: int) -> None:
    for i in range(n):
        if i:
            doc.t(" " if lang != "ja" else "")
        r = rng.random()
        if r < 0.45:
            _pii(rng, doc, lang)
            doc.t("." if lang != "ja" else "。")
        elif r < 0.7:
            _neg(rng, doc)
            doc.t("." if lang != "ja" else "。")
        else:
            doc.t(rng.choice(_FILLER[lang]))


def _chat(rng: random.Random, doc: _Doc, lang: str) -> None:
    _sentence(rng, doc, lang, rng.randint(2, 6))


def _tool(rng: random.Random, doc: _Doc, lang: str) -> None:
    doc.t('{"tool": "crm.update_contact", "request_id": "').neg(uuid(rng), "uuid").t('", "args": {')
    fields = [
        ("name", "PERSON"),
        ("email", "EMAIL"),
        ("phone", "PHONE"),
        ("address", "STREET_ADDRESS"),
        ("iban", "IBAN"),
        ("dob", "DATE_OF_BIRTH"),
    ]
    rng.shuffle(fields)
    for i, (key, etype) in enumerate(fields[: rng.randint(2, 5)]):
        doc.t(", " if i else "").t(f'"{key}": "').v(_value(rng, etype, lang), etype).t('"')
    doc.t(', "max_tokens": ').t(str(rng.choice([256, 512, 1024]))).t(', "version": "').neg(
        f"{rng.randint(1, 4)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}", "version"
    ).t('"')
    if rng.random() < 0.5:
        key = rng.choice(_KEYS)
        if "password" in key.lower():
            doc.t(f', "{key}": "').v(password(rng), "PASSWORD").t('"')
        else:
            value, etype = secret(rng)
            if etype == "PRIVATE_KEY":
                value = value.replace("\n", "\\n")
            doc.t(f', "{key}": "').v(value, etype).t('"')
    doc.t("}}")


def _trace(rng: random.Random, doc: _Doc, lang: str) -> None:
    doc.t('Traceback (most recent call last):\n  File "/srv/app/handlers.py", line ').t(str(rng.randint(10, 900)))
    doc.t(', in process_order\n    client.charge(order_id="').neg(negative(rng)[0], "order").t('")\n')
    r = rng.random()
    if r < 0.4:
        user = rng.choice(["app", "admin", "svc_orders"])
        doc.t("sqlalchemy.exc.OperationalError: could not connect to postgresql://").t(user).t(":")
        doc.v(password(rng), "PASSWORD").t("@db-").t(str(rng.randint(1, 9))).t(".internal:5432/orders\n")
    elif r < 0.7:
        value, etype = secret(rng)
        doc.t("openai.AuthenticationError: Incorrect API key provided: ").v(value, etype).t("\n")
    else:
        doc.t("ValueError: invalid customer record for ").v(_value(rng, "EMAIL", lang), "EMAIL").t(" (commit ")
        doc.neg(f"{rng.getrandbits(160):040x}", "git_sha").t(")\n")


def _log(rng: random.Random, doc: _Doc, lang: str) -> None:
    ts = _timestamp(rng) + "Z"
    doc.neg(ts, "timestamp").t(f" INFO request_id={uuid(rng)} ")
    r = rng.random()
    if r < 0.35:
        value, etype = secret(rng)
        if etype == "PRIVATE_KEY":
            doc.t("loaded key ").v(value, etype)
        else:
            doc.t("POST /v1/chat headers={'Authorization': 'Bearer ").v(value, etype).t("'}")
    elif r < 0.55:
        key = rng.choice(["OPENAI_API_KEY", "GITHUB_TOKEN", "STRIPE_SECRET_KEY", "DB_PASSWORD"])
        if key == "DB_PASSWORD":
            doc.t(f"env {key}=").v(password(rng), "PASSWORD")
        else:
            value, etype = secret(rng)
            doc.t(f"env {key}=").v(value.replace("\n", "\\n"), etype)
    elif r < 0.7:
        doc.t("GET /api/orders?user=").neg(_digits(rng, 6), "order").t("&token=")
        value = _alnum(rng, 32)
        doc.v(value, "SECRET").t(" 200")
    else:
        doc.t("user_ip=").v(ipv4(rng), "IP_ADDRESS").t(" user_email=").v(email(rng, lang), "EMAIL")
        doc.t(" build=").neg(negative(rng)[0], "version")


def _email(rng: random.Random, doc: _Doc, lang: str) -> None:
    doc.t("From: ").v(email(rng, lang), "EMAIL").t("\nSubject: ").t(rng.choice(_FILLER[lang])).t("\n\n")
    _sentence(rng, doc, lang, rng.randint(2, 5))
    doc.t("\n\n")
    sign = {
        "en": "Best regards,\n",
        "de": "Mit freundlichen Grüßen\n",
        "fr": "Cordialement,\n",
        "es": "Saludos,\n",
        "pt": "Atenciosamente,\n",
        "ja": "よろしくお願いします。\n",
        "hi": "Dhanyavaad,\n",
    }[lang]
    doc.t(sign).v(_value(rng, "PERSON", lang), "PERSON").t("\n")


_BUILDERS = {"chat": _chat, "tool": _tool, "trace": _trace, "log": _log, "email": _email}


def generate(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` labelled samples: ``{"id", "kind", "lang", "text", "spans": [{start, end, type}], "negatives"}``."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible corpus, not a secret
    out = []
    for i in range(n):
        kind, lang = rng.choice(KINDS), rng.choice(LANGS)
        doc = _Doc()
        _BUILDERS[kind](rng, doc, lang)
        out.append(
            {"id": i, "kind": kind, "lang": lang, "text": doc.text(), "spans": doc.spans, "negatives": doc.negatives}
        )
    return out

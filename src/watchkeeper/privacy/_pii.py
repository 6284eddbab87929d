"""Recognisers of structured PII: e-mail, phone numbers, payment cards, US SSN, IBAN, IP addresses.

Candidates come from deliberately loose patterns; the decision is made by validators built from the real formats:
libphonenumber's metadata (``phonenumbers``), card IIN ranges and the Luhn check, the IBAN registry with mod-97
(``python-stdnum``), and ``ipaddress``. Look-alikes — UUIDs, hashes, versions, timestamps, order numbers — fail
the validators or the guards around the candidate.
"""

from __future__ import annotations

import ipaddress
import re
from functools import cache, lru_cache
from typing import Any

from . import _model as m
from ._regex import PatternRecogniser

# ---------------------------------------------------------------------------------------------------------------
# E-mail

_EMAIL = re.compile(
    r"(?<![A-Za-z0-9À-ÿ_.%+\-])[A-Za-z0-9À-ÿ_.%+\-]{1,64}@"
    r"(?P<domain>(?:[A-Za-z0-9À-ÿ](?:[A-Za-z0-9À-ÿ\-]{0,61}[A-Za-z0-9À-ÿ])?\.){1,8}[A-Za-z]{2,24})(?![A-Za-z0-9_\-@])"
)
_PLACEHOLDER_DOMAINS = ("example.com", "example.org", "example.net")
_PLACEHOLDER_SUFFIXES = tuple("." + d for d in _PLACEHOLDER_DOMAINS)
_RESERVED_TLDS = frozenset(("example", "test", "invalid", "localhost", "local"))


def _email(match: re.Match[str], text: str) -> tuple[int, int, str] | None:
    domain = match.group("domain").lower()
    if domain in _PLACEHOLDER_DOMAINS or domain.endswith(_PLACEHOLDER_SUFFIXES):
        return None
    if domain.rsplit(".", 1)[-1] in _RESERVED_TLDS:
        return None
    end = match.end()
    if text.startswith(":", end) and end + 1 < len(text) and text[end + 1] not in " \n\t":
        return None  # git@github.com:org/repo is an SSH remote, not an address
    local = match.group(0)[: match.start("domain") - match.start() - 1]
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return None
    return match.start(), end, m.EMAIL


# ---------------------------------------------------------------------------------------------------------------
# Phone numbers

_PHONE = re.compile(
    r"(?<![A-Za-z0-9_+#.\-/:@=$€£%])(?:\+|00)?(?:\(\+?\d{1,4}\)[ \t.\-]{0,2})?\(?\d[\d \t()./\-]{4,24}\d"
    r"(?![A-Za-z0-9_\-/]|[.,]\d)"
)
# Words that say a digit run next to them is a phone number, searched in the lower-cased text before the candidate:
# one must end at most 30 characters (on the same line) before it. ``str.rfind`` per word is several times cheaper
# than an anchored case-insensitive alternation tried at every position.
_PHONE_CUE_WORDS = (
    "phone", "tel", "mobile", "mob", "cell", "call", "ring", "text", "sms", "whatsapp", "whats app", "contact",
    "fax", "number", "no.", "nr.", "nummer", "handy", "ruf", "telefon", "téléphone", "tél", "portable", "numéro",
    "joindre", "teléfono", "telefono", "móvil", "movil", "celular", "llamar", "telefone", "contato", "contacto",
    "ligar", "número", "電話", "携帯", "連絡", "फोन", "sampark",
)  # fmt: skip
# Words that say the digits after them are something else (an order, an account, a port…), when they end the text
# before the candidate up to a few separators.
_NOT_PHONE_CUE_WORDS = (
    "order", "ordine", "bestell", "commande", "pedido", "invoice", "rechnung", "facture", "factura", "fatura",
    "ticket", "case", "ref", "reference", "tracking", "sendung", "account", "konto", "compte", "cuenta", "conta",
    "iban", "id", "sku", "isbn", "serial", "build", "version", "pid", "port", "po", "#",
)  # fmt: skip
_NOT_PHONE_TRAIL = ":.#-"


def _phone_cue(before_lower: str) -> bool:
    """Whether a phone cue word ends at most 30 characters before the end of ``before_lower``, on its last line."""
    # As with ``$``, the end may also be just before a final newline.
    return _phone_cue_at_end(before_lower) or (before_lower.endswith("\n") and _phone_cue_at_end(before_lower[:-1]))


def _phone_cue_at_end(before_lower: str) -> bool:
    line = before_lower[before_lower.rfind("\n") + 1 :]
    limit = len(line) - 30
    for w in _PHONE_CUE_WORDS:
        i = line.rfind(w)
        if i >= 0 and i + len(w) >= limit:
            return True
    return False


def _not_phone_cue(before_lower: str) -> bool:
    """Whether ``before_lower`` ends with a word that says the number is not a phone (up to 4 separators after)."""
    # Trailing whitespace (a final newline included) is among the separators, so ``$`` needs no special case here.
    n = len(before_lower)
    for k in range(5):
        if k and (k > n or not (before_lower[n - k] in _NOT_PHONE_TRAIL or before_lower[n - k].isspace())):
            return False
        if before_lower.endswith(_NOT_PHONE_CUE_WORDS, 0, n - k):
            return True
    return False


_DATE_LIKE = re.compile(r"^(?:\d{4}[./\-]\d{1,2}[./\-]\d{1,2}|\d{1,2}[./\-]\d{1,2}[./\-]\d{2,4})(?:$|[ T])")
_DOTTED_VERSION = re.compile(r"^\d{1,4}(?:\.\d+){2,3}$")
_REGIONS = ("US", "GB", "DE", "FR", "ES", "PT", "BR", "IN", "JP", "IT", "NL", "MX")
_SEPARATORS = frozenset(" \t()./-")
_DIGIT = re.compile(r"\d")


@lru_cache(maxsize=1)
def _region_shapes() -> list[tuple[str, re.Pattern[str], str, tuple[Any, ...] | None]]:
    """(region, general national-number pattern, national prefix, metadata of every region of its country code or
    None) from libphonenumber's metadata. The metadata is given only where the national number ``parse`` finds is
    the digits or the digits without the plain national prefix (no carrier codes or transform rules)."""
    from phonenumbers import COUNTRY_CODE_TO_REGION_CODE
    from phonenumbers.phonemetadata import PhoneMetadata

    out = []
    for region in _REGIONS:
        md = PhoneMetadata.metadata_for_region(region)
        if md is None or md.general_desc is None or md.general_desc.national_number_pattern is None:
            continue
        simple = (
            md.national_prefix_for_parsing in (None, md.national_prefix) and md.national_prefix_transform_rule is None
        )
        regions = COUNTRY_CODE_TO_REGION_CODE.get(md.country_code or 0, ())
        same_code = [PhoneMetadata.metadata_for_region(r) for r in regions]
        shared = tuple(x for x in same_code if x is not None) if simple else None
        out.append((region, re.compile(md.general_desc.national_number_pattern), md.national_prefix or "", shared))
    return out


@lru_cache(maxsize=8192)
def _valid_phone(candidate: str) -> bool:
    import phonenumbers
    from phonenumbers.phonenumberutil import PhoneNumberType, _number_type_helper

    s = candidate.strip()
    if s.startswith("00"):
        s = "+" + s[2:]
    try:
        if s.startswith("+") or s.startswith("(+"):
            num = phonenumbers.parse(s, None)
            return bool(phonenumbers.is_valid_number(num))
        digits = "".join(c for c in s if c.isdigit())
        unknown = PhoneNumberType.UNKNOWN
        for region, general, prefix, shared in _region_shapes():
            # Cheap pre-checks before the full parse: the region's general number pattern, then (where the national
            # number parse would find is one of these two) whether it is a number of any type in a region of the
            # country code — what is_valid_number decides, without parsing.
            national = digits[len(prefix) :] if prefix and digits.startswith(prefix) else digits
            if not (general.fullmatch(national) or general.fullmatch(digits)):
                continue
            if shared is not None and not any(
                _number_type_helper(x, md) != unknown for md in shared for x in {national, digits}
            ):
                continue
            num = phonenumbers.parse(s, region)
            if phonenumbers.is_valid_number(num):
                return True
    except phonenumbers.NumberParseException:
        return False
    return False


def _warm_phone() -> None:
    import phonenumbers

    _region_shapes()
    for region in _REGIONS:  # loads each region's metadata and compiles its patterns
        num = phonenumbers.example_number(region)
        if num is not None:
            phonenumbers.is_valid_number(num)


def _phone(match: re.Match[str], text: str) -> tuple[int, int, str] | None:
    cand = match.group(0)
    start = match.start()
    # A trailing group may belong to the sentence ("call 030 1234567 2 times"): try without it too.
    for _ in range(3):
        digits = len(_DIGIT.findall(cand))
        if 7 <= digits <= 15 and _plausible_phone(cand, text, start) and _valid_phone(cand):
            return start, start + len(cand), m.PHONE
        cut = max(cand.rfind(" "), cand.rfind("\t"))
        if cut <= 0:
            return None
        cand = cand[:cut].rstrip(" \t-./(")
    return None


def _plausible_phone(cand: str, text: str, start: int) -> bool:
    if _DATE_LIKE.match(cand) or _DOTTED_VERSION.match(cand):
        return False
    if cand.count("(") != cand.count(")"):
        return False
    before = text[max(0, start - 40) : start].lower()
    if _not_phone_cue(before):
        return False
    international = cand.startswith(("+", "00", "(+"))
    separated = any(c in _SEPARATORS for c in cand[1:])
    if international:
        return True
    # A bare run of digits is a phone number only next to a word that says so (else: ids, amounts, epochs).
    return separated or _phone_cue(before)


_phone.warm_up = _warm_phone  # type: ignore[attr-defined]  # see PatternRecogniser.warm_up


# ---------------------------------------------------------------------------------------------------------------
# Payment cards: IIN ranges of the major brands, lengths, Luhn

_CARD = re.compile(r"(?<![A-Za-z0-9_\-.,/])\d(?:[ \-]?\d){11,40}(?![A-Za-z0-9_\-]|[.,]\d)")

# (low prefix, high prefix, lengths)
_IIN: tuple[tuple[int, int, frozenset[int]], ...] = (
    (4, 4, frozenset({13, 16, 19})),  # Visa
    (51, 55, frozenset({16})),  # Mastercard
    (2221, 2720, frozenset({16})),  # Mastercard 2-series
    (34, 34, frozenset({15})),  # American Express
    (37, 37, frozenset({15})),
    (6011, 6011, frozenset({16, 17, 18, 19})),  # Discover
    (644, 649, frozenset({16, 17, 18, 19})),
    (65, 65, frozenset({16, 17, 18, 19})),
    (3528, 3589, frozenset({16, 17, 18, 19})),  # JCB
    (300, 305, frozenset({14, 15, 16, 17, 18, 19})),  # Diners Club
    (3095, 3095, frozenset({14, 15, 16, 17, 18, 19})),
    (36, 36, frozenset({14, 15, 16, 17, 18, 19})),
    (38, 39, frozenset({14, 15, 16, 17, 18, 19})),
    (62, 62, frozenset({16, 17, 18, 19})),  # UnionPay
    (81, 81, frozenset({16, 17, 18, 19})),  # UnionPay / RuPay
    (82, 82, frozenset({16})),  # RuPay
    (60, 60, frozenset({16})),  # RuPay
    (508, 508, frozenset({16})),
    (2200, 2204, frozenset({16, 17, 18, 19})),  # Mir
    (50, 50, frozenset({12, 13, 14, 15, 16, 17, 18, 19})),  # Maestro
    (56, 69, frozenset({12, 13, 14, 15, 16, 17, 18, 19})),
    (9792, 9792, frozenset({16})),  # Troy
)


def luhn_ok(digits: str) -> bool:
    """Whether a digit string passes the Luhn check."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _iin_table() -> dict[str, frozenset[int]]:
    table: dict[str, set[int]] = {}
    for lo, hi, lengths in _IIN:
        width = len(str(lo))
        for prefix in range(lo, hi + 1):
            table.setdefault(str(prefix).zfill(width), set()).update(lengths)
    return {k: frozenset(v) for k, v in table.items()}


_IIN_BY_PREFIX = _iin_table()


def card_brand_ok(digits: str) -> bool:
    """Whether a digit string has the prefix and length of a card brand."""
    n = len(digits)
    table = _IIN_BY_PREFIX
    for width in (1, 2, 3, 4):
        lengths = table.get(digits[:width])
        if lengths is not None and n in lengths:
            return True
    return False


def _card(match: re.Match[str], text: str) -> tuple[int, int, str] | None:
    """The longest run of whole digit groups in the candidate that is a card number (a neighbouring number in the
    sentence, "0000 4111 1111 1111 1111 2", must not hide the card)."""
    raw, base = match.group(0), match.start()
    groups = [(g.start(), g.end()) for g in _GROUP.finditer(raw)]
    best: tuple[int, int] | None = None
    # Card groups have 3 or more digits (4-4-4-4, 4-6-5, 4-4-4-4-3); windows of whole groups with 12 to 19 digits.
    for i in range(len(groups)):
        count, ends = 0, []
        for j in range(i, len(groups)):
            size = groups[j][1] - groups[j][0]
            if (size < 3 and j > i) or size < 2:
                break
            count += size
            if count > 19:
                break
            if count >= 12:
                ends.append(groups[j][1])
        for e in reversed(ends):
            s0 = groups[i][0]
            if best is not None and e - s0 <= best[1] - best[0]:
                break
            part = raw[s0:e]
            digits = part.replace(" ", "").replace("-", "")
            if len({c for c in part if c in " -"}) > 1:
                continue
            if len(set(digits)) >= 2 and card_brand_ok(digits) and luhn_ok(digits):
                best = (s0, e)
                break
    return None if best is None else (base + best[0], base + best[1], m.CREDIT_CARD)


_GROUP = re.compile(r"\d+")


# ---------------------------------------------------------------------------------------------------------------
# US Social Security number

_SSN = re.compile(
    r"(?<![A-Za-z0-9_\-./])(?P<a>\d{3})(?P<sep>[\- ]?)(?P<g>\d{2})(?P=sep)(?P<s>\d{4})(?![A-Za-z0-9_\-]|[./]\d)"
)
_SSN_CUE = re.compile(r"(?i)(?:ssn|social security|soc\.? sec|ss#|ss no|taxpayer|tin)[^\n]{0,25}$")


def _ssn(match: re.Match[str], text: str) -> tuple[int, int, str] | None:
    a, g, s = match.group("a"), match.group("g"), match.group("s")
    if a in ("000", "666") or a[0] == "9" or g == "00" or s == "0000":
        return None
    if not match.group("sep") and not _SSN_CUE.search(text[max(0, match.start() - 40) : match.start()]):
        return None
    return match.start(), match.end(), m.US_SSN


# ---------------------------------------------------------------------------------------------------------------
# IBAN

_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?:[ \-]?[A-Za-z0-9]){11,32}")


@cache
def _bban_shape(country: str) -> tuple[int, re.Pattern[str]] | None:
    """(IBAN length, BBAN pattern) of a country from the IBAN registry ``python-stdnum`` ships, or None."""
    from stdnum.iban import _ibandb, _struct_to_re

    info = _ibandb.info(country)[0][1]
    structure = info.get("bban", "") if info else ""
    if not structure:
        return None
    length = 4 + sum(int(n) for n in re.findall(r"(\d+)!", structure))
    return length, _struct_to_re(structure)


def _warm_iban() -> None:
    _bban_shape("DE")


def _mod97_ok(compact: str) -> bool:
    digits = "".join(str(int(c, 36)) for c in compact[4:] + compact[:4])
    return int(digits) % 97 == 1


def _iban(match: re.Match[str], text: str) -> tuple[int, int, str] | None:
    raw = match.group(0)
    # Positions in raw of each alphanumeric character, so a valid prefix maps back to the text.
    pos = [i for i, c in enumerate(raw) if c not in " -"]
    compact = "".join(raw[i] for i in pos).upper()
    # The registry fixes each country's length, so only one prefix can be an IBAN: the country's length. Checked
    # like ``stdnum.iban.validate(check_country=False)``: registry format and mod-97; national check digits are not
    # required (some issuers and most test data do not satisfy them, and a false "not an IBAN" would leak an
    # account number).
    shape = _bban_shape(compact[:2])
    if shape is None:
        return None
    n, bban = shape
    if n > len(compact) or n < 15:
        return None
    end_in_raw = pos[n - 1] + 1
    # The IBAN must end where the text's token ends or at a group boundary.
    nxt = raw[end_in_raw : end_in_raw + 1]
    if nxt and nxt not in " -":
        return None
    candidate = compact[:n]
    if not bban.match(candidate[4:]) or not _mod97_ok(candidate):
        return None
    return match.start(), match.start() + end_in_raw, m.IBAN


_iban.warm_up = _warm_iban  # type: ignore[attr-defined]  # see PatternRecogniser.warm_up


# ---------------------------------------------------------------------------------------------------------------
# IP addresses

_IPV4 = re.compile(
    r"(?<![A-Za-z0-9_.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![A-Za-z0-9_]|\.\d)"
)
_VERSION_CUE = re.compile(
    r"(?i)(?:version|versión|versão|\bver\.?|release|build|\brev|sdk|python|node|==|>=|<=|~=)\s*$"
)


def _ipv4(match: re.Match[str], text: str) -> tuple[int, int, str] | None:
    if _VERSION_CUE.search(text[max(0, match.start() - 12) : match.start()]):
        return None
    return match.start(), match.end(), m.IP_ADDRESS


_IPV6 = re.compile(
    r"(?<![A-Za-z0-9_:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?(?![A-Za-z0-9_:])"
)


def _ipv6(match: re.Match[str], text: str) -> tuple[int, int, str] | None:
    cand = match.group(0)
    groups = [g for g in cand.split(":") if g]
    if len(groups) < 3 or sum(len(g) for g in groups) < 5:
        return None
    try:
        ipaddress.IPv6Address(cand)
    except ValueError:
        return None
    return match.start(), match.end(), m.IP_ADDRESS


# Triggers for the engine's pre-filter. Those of located recognisers begin where a match can begin (the look-behind
# written as "start of text or a character that may precede a match"), so each candidate is reported once, at a
# known distance from the start of the match; each is a superset of its pattern.
_DIGITS_START = r"(?:^|[^A-Za-z0-9_+#.\-/:@=$%])"


def builtin_pii_recognisers() -> list[object]:
    """The built-in recognisers of structured PII, freshly built.

    Windows (characters a match reaches before and after the end of a trigger match) follow from the patterns'
    bounds: an e-mail's local part is at most 64 characters before the ``@`` and its domain at most 8 labels after;
    a card at most 19 digits with separators (up to 41 digits in the candidate); a phone number at most ~40
    characters.
    """
    return [
        PatternRecogniser(
            "email",
            (m.EMAIL,),
            _EMAIL,
            (r"[\w.%+\-\x80-\xff]@[A-Za-z0-9\x80-\xff]",),
            validate=_email,
            window=(70, 8 * 64 + 30),
        ),
        PatternRecogniser(
            "payment_card",
            (m.CREDIT_CARD,),
            _CARD,
            (r"(?:^|[^A-Za-z0-9_\-.,/])\d(?:[ \-]?\d){11}",),
            validate=_card,
            window=(24, 41 * 2),
        ),
        PatternRecogniser(
            "iban", (m.IBAN,), _IBAN, (r"[A-Z]{2}\d{2}[ \-]?[A-Za-z0-9]{4}",), validate=_iban, window=(10, 80)
        ),
        PatternRecogniser(
            "us_ssn",
            (m.US_SSN,),
            _SSN,
            (r"(?:^|[^A-Za-z0-9_\-./])\d{3}[\- ]?\d{2}[\- ]?\d{4}(?:$|[^A-Za-z0-9_\-])",),
            validate=_ssn,
            window=(12, 2),
        ),
        PatternRecogniser(
            "ipv4", (m.IP_ADDRESS,), _IPV4, (r"\d\.\d{1,3}\.\d{1,3}\.\d",), validate=_ipv4, window=(12, 12)
        ),
        PatternRecogniser(
            "ipv6",
            (m.IP_ADDRESS,),
            _IPV6,
            (r"[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}",),
            validate=_ipv6,
            window=(50, 50),
        ),
        PatternRecogniser(
            "phone",
            (m.PHONE,),
            _PHONE,
            # From where a phone number can start: a sign, a bracket or a digit, then five more of its characters.
            (rf"{_DIGITS_START}[0-9+(][0-9 \t()./\-+]{{5}}",),
            validate=_phone,
            score=0.8,
            window=(6, 44),
        ),
    ]

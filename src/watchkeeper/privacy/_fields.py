"""What a structured field's name says about its value: ``{"password": …}`` is a secret whatever it looks like,
``{"phone": …}``, ``{"date_of_birth": …}``, ``{"customer_name": …}`` are PII even when the text alone is ambiguous.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import lru_cache

from . import _model as m
from ._model import Finding
from ._names import lexicon
from ._regex import merged_windows
from ._secrets import KEYLIKE_FIELDS, KV, PW_FIELDS, UNQUOTED_VALUE, quoted_end, secret_for_kind, secret_key_kind

_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_PHONE_KEY = re.compile(
    r"(?i)(?:^|_)(?:phone|phone_?number|mobile|cell|tel|telephone|fax|msisdn|telefon|telefone|telefono)$"
)
_DOB_KEY = re.compile(
    r"(?i)(?:^|_)(?:dob|date_?of_?birth|birth_?date|birthday|geburtsdatum|fecha_?nacimiento|data_?nascimento)$"
)
_NAME_KEY = re.compile(
    r"(?i)(?:^|_)(?:full_?name|first_?name|last_?name|given_?name|family_?name|surname|middle_?name|display_?name"
    r"|customer_?name|contact_?name|patient_?name|user_?name_?full|recipient|recipient_?name|sender_?name|nombre"
    r"|apellido|vorname|nachname|prenom|nom|nome|sobrenome)$"
)
_ADDRESS_KEY = re.compile(
    r"(?i)(?:^|_)(?:address|street|street_?address|address_?line_?\d?|addr|line1|line2|shipping_?address"
    r"|billing_?address|home_?address|adresse|direccion|dirección|endereco|endereço|anschrift|strasse)$"
)
_CJK_NAME = re.compile(r"^[\u4e00-\u9fff][\u4e00-\u9fff\u3040-\u30ff]{1,7}$")
_NAME_VALUE = re.compile(r"^[^\W\d_][\w'’.\-]*(?: [^\W\d_][\w'’.\-]*){0,4}$")


def key_entity(key: str, value: str) -> str | None:
    """The entity type the whole ``value`` is, judging by the name of the field it is stored under, or None."""
    if len(key) > 80:
        return None
    # What the name says is worked out once per name (names repeat: the same keys in every record).
    secret_kind, pii_kind = _key_kinds(key) if len(key) <= 64 else _uncached_key_kinds(key)
    if secret_kind is not None:
        secret = secret_for_kind(secret_kind, value)
        if secret is not None:
            return secret
    if pii_kind == 0:
        return None
    v = value.strip()
    if len(v) < 2 or len(v) > 512:
        return None
    if pii_kind & _PHONE:
        return m.PHONE if 6 <= sum(c.isdigit() for c in v) <= 16 else None
    if pii_kind & _DOB:
        return m.DATE_OF_BIRTH if any(c.isdigit() for c in v) else None
    if pii_kind & _NAME and _NAME_VALUE.match(v):
        return m.PERSON
    if pii_kind & _GENERIC_NAME:
        if _CJK_NAME.match(v):
            return m.PERSON
        if _NAME_VALUE.match(v):
            first, last, _, _ = lexicon()
            words = v.split()
            if words[0] in first or words[-1] in last:
                return m.PERSON
    if pii_kind & _ADDRESS and any(c.isdigit() for c in v) and any(c.isalpha() for c in v):
        return m.STREET_ADDRESS
    return None


_PHONE, _DOB, _NAME, _GENERIC_NAME, _ADDRESS = 1, 2, 4, 8, 16


def _uncached_key_kinds(key: str) -> tuple[str | None, int]:
    """(secret kind of the name, bit set of the PII kinds it names)."""
    k = _CAMEL.sub(r"\1_\2", key)
    kinds = 0
    if _PHONE_KEY.search(k):
        kinds |= _PHONE
    if _DOB_KEY.search(k):
        kinds |= _DOB
    if _NAME_KEY.search(k):
        kinds |= _NAME
    if k.lower() in ("name", "user", "author", "customer", "contact", "nom", "nome", "nombre"):
        kinds |= _GENERIC_NAME
    if _ADDRESS_KEY.search(k):
        kinds |= _ADDRESS
    return secret_key_kind(k), kinds


_key_kinds = lru_cache(maxsize=4096)(_uncached_key_kinds)


_KEY_REACH = 100  # a key word, up to 40 more key characters, a quote and 8 spaces before the separator

_PII_KEY_WORDS = (
    r"phone|mobile|cell|tel|telephone|fax|msisdn|telefon|telefone|telefono|dob|birth|birthday|geburtsdatum"
    r"|nacimiento|nascimento|name|surname|nombre|apellido|vorname|nachname|prenom|nom|nome|sobrenome|recipient"
    r"|address|street|addr|line1|line2|adresse|direccion|dirección|endereco|endereço|anschrift|strasse"
)


class FieldValues:
    """Values under named fields in text: ``"api_key": "…"``, ``Authorization: Bearer …``, ``?token=…``,
    ``PASSWORD=…`` (secrets, the whole value) and ``"phone": "…"``, ``"dob": "…"``, ``"name": "…"`` (PII), the
    same judgement the structured walker makes on parsed JSON, applied to JSON, headers, query strings and env-style
    text inside a string."""

    name = "field_value"
    entity_types = (m.PASSWORD, m.SECRET, m.PHONE, m.DATE_OF_BIRTH, m.PERSON, m.STREET_ADDRESS)
    # The key word, the rest of the key, a quote and the separator, as :data:`_KEYWORD` has them: the engine then
    # reports where each separator is, and only the few characters before it are searched for the key.
    triggers = (rf"(?i:{PW_FIELDS}|{KEYLIKE_FIELDS}|{_PII_KEY_WORDS})[a-z0-9_.\-]{{0,40}}[\"']?[ \t]{{0,8}}[:=]",)
    window = (_KEY_REACH, 2)

    def find(self, text: str) -> Iterator[Finding]:
        # Find the key words first (a case-sensitive scan of the lower-cased text is several times faster than a
        # key-value pattern tried at every position), then parse the key-value pair around each.
        lower = text.lower()
        hits = _KEYWORD.finditer(lower) if len(lower) == len(text) else _KEYWORD_I.finditer(text)
        return self._pairs(text, (h.start() for h in hits))

    def find_near(self, text: str, ends: Iterable[int]) -> Iterator[Finding]:
        """The findings of :meth:`find` whose key ends with a separator just before one of ``ends``."""
        return self._pairs(text, _keywords_near(text, ends))

    def _pairs(self, text: str, keyword_starts: Iterable[int]) -> Iterator[Finding]:
        pos = 0
        for start in keyword_starts:
            if start < pos:
                continue
            k0 = start
            floor = max(0, k0 - 60)
            while k0 > floor and text[k0 - 1] in _KEY_CHARS:
                k0 -= 1
            mt = KV.match(text, k0)
            if mt is None:
                continue
            key = mt.group("key")
            quote = mt.group("q2")
            vstart = mt.end()
            if quote:
                vend = quoted_end(text, vstart, quote)
            else:
                vm = UNQUOTED_VALUE.match(text, vstart)
                if vm is None:
                    continue
                vend = vm.end()
            value = text[vstart:vend]
            etype = key_entity(key, value)
            if etype is None:
                continue
            lead = len(value) - len(value.lstrip())
            if mt.group("scheme") is None and m.is_secret(etype):
                sm = _AUTH_SCHEME.match(value[lead:])
                if sm:
                    lead += sm.end()
            trail = len(value) - len(value.rstrip())
            if vstart + lead < vend - trail:
                yield Finding(vstart + lead, vend - trail, etype, self.name, 0.9)
            pos = vend


def _keywords_near(text: str, ends: Iterable[int]) -> Iterator[int]:
    """Starts of :data:`_KEYWORD` matches in the windows before the given separator ends, in order."""
    # 8: the engine's slack between reported ends; 2: a two-character separator (":=", "=>").
    for lo, hi in merged_windows(ends, _KEY_REACH + 8, 2, len(text)):
        seg = text[lo:hi].lower()
        if len(seg) == hi - lo:
            for h in _KEYWORD.finditer(seg):
                yield lo + h.start()
        else:
            for h in _KEYWORD_I.finditer(text, lo, hi):
                yield h.start()


_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_KEYWORD_SOURCE = (
    rf"(?:{PW_FIELDS}|{KEYLIKE_FIELDS}|{_PII_KEY_WORDS})[a-z0-9_.\-]{{0,40}}[\"']?[ \t]{{0,8}}(?::=|=>|=|:)"
)
_KEYWORD = re.compile(_KEYWORD_SOURCE)
_KEYWORD_I = re.compile(_KEYWORD_SOURCE, re.IGNORECASE)
_AUTH_SCHEME = re.compile(r"(?i)(?:bearer|basic|token|digest|apikey|key|bot)\s+")

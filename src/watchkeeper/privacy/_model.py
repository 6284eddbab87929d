"""Findings, the recogniser protocol and the registry recognisers are looked up in.

A recogniser is a plugin: a name, the entity types it reports, and a ``find`` function from text to findings.
Built-ins register exactly like third-party ones, and third-party ones can also be loaded from the entry-point
group ``watchkeeper.recognisers`` (each entry point names a recogniser object or a zero-argument factory).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple, Protocol, runtime_checkable

from .._registry import PluginRegistry

ENTRY_POINT_GROUP = "watchkeeper.recognisers"

# Entity types. A placeholder is the type and a number: ``<EMAIL_1>``.
EMAIL = "EMAIL"
PHONE = "PHONE"
CREDIT_CARD = "CREDIT_CARD"
US_SSN = "US_SSN"
IBAN = "IBAN"
IP_ADDRESS = "IP_ADDRESS"
PERSON = "PERSON"
STREET_ADDRESS = "STREET_ADDRESS"
DATE_OF_BIRTH = "DATE_OF_BIRTH"

# Names of entity types, not secrets themselves:
OPENAI_KEY = "OPENAI_KEY"
ANTHROPIC_KEY = "ANTHROPIC_KEY"
AWS_ACCESS_KEY_ID = "AWS_ACCESS_KEY_ID"
AWS_SECRET_KEY = "AWS_SECRET_KEY"  # noqa: S105 - an entity type name
GITHUB_TOKEN = "GITHUB_TOKEN"  # noqa: S105 - an entity type name
GITLAB_TOKEN = "GITLAB_TOKEN"  # noqa: S105 - an entity type name
SLACK_TOKEN = "SLACK_TOKEN"  # noqa: S105 - an entity type name
STRIPE_KEY = "STRIPE_KEY"
GOOGLE_API_KEY = "GOOGLE_API_KEY"
JWT = "JWT"
WATCHKEEPER_KEY = "WATCHKEEPER_KEY"
PRIVATE_KEY = "PRIVATE_KEY"
PASSWORD = "PASSWORD"  # noqa: S105 - an entity type name
SECRET = "SECRET"  # noqa: S105 - an entity type name

PII_TYPES: frozenset[str] = frozenset(
    {EMAIL, PHONE, CREDIT_CARD, US_SSN, IBAN, IP_ADDRESS, PERSON, STREET_ADDRESS, DATE_OF_BIRTH}
)
# Secrets are always removed, whatever the policy says.
SECRET_TYPES: frozenset[str] = frozenset(
    {
        OPENAI_KEY,
        ANTHROPIC_KEY,
        AWS_ACCESS_KEY_ID,
        AWS_SECRET_KEY,
        GITHUB_TOKEN,
        GITLAB_TOKEN,
        SLACK_TOKEN,
        STRIPE_KEY,
        GOOGLE_API_KEY,
        JWT,
        WATCHKEEPER_KEY,
        PRIVATE_KEY,
        PASSWORD,
        SECRET,
    }
)


def is_secret(entity_type: str) -> bool:
    """Whether an entity type is a secret (always removed) rather than PII (handled by the policy)."""
    return entity_type in SECRET_TYPES


class Finding(NamedTuple):
    """One sensitive value in a text: ``text[start:end]``, of ``type``, found by ``recogniser``."""

    start: int
    end: int
    type: str
    recogniser: str
    score: float = 1.0


@runtime_checkable
class Recogniser(Protocol):
    """A plugin that finds sensitive values in text.

    ``find`` returns findings with offsets into the text it was given (Python str code points). It must run in time
    linear in the text and never raise on odd input. A recogniser may also define ``triggers``: regular expressions
    (byte-oriented, Hyperscan syntax) of which at least one matches any text it could find something in; the engine
    then skips it for texts none of them match. Without ``triggers`` it runs on every text.
    """

    name: str
    entity_types: tuple[str, ...]

    def find(self, text: str) -> Iterable[Finding]: ...


class Registry(PluginRegistry[Recogniser]):
    """Recognisers keyed by name, in registration order (entry-point group ``watchkeeper.recognisers``)."""

    protocol = Recogniser
    needs = "a recogniser needs a name, entity_types and a find(text) method"
    kind = "recogniser"
    group = ENTRY_POINT_GROUP

    def entity_types(self) -> set[str]:
        return {t for r in self._by_name.values() for t in r.entity_types}

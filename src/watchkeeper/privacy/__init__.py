"""Privacy: finding PII and secrets in text and structured values, and applying the privacy policy to them.

    from watchkeeper import privacy

    engine = privacy.Engine()                       # built-in recognisers + plugins from entry points
    engine.scan("mail me at ana@acme.io")           # [Finding(start=11, end=22, type='EMAIL', ...)]
    privacy.redact_text("mail me at ana@acme.io")   # 'mail me at <EMAIL_1>'

Recognisers are plugins (:class:`Recogniser`: a name, entity types, ``find(text)``) kept in a :class:`Registry`;
the built-ins are registered exactly like third-party ones, which may also come from the entry-point group
``watchkeeper.recognisers``. See docs/privacy.md.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from ._builtins import builtin_recognisers, default_registry
from ._engine import Engine, RecogniserFailed
from ._jsonl import redact_jsonl, redact_record
from ._model import (
    ENTRY_POINT_GROUP,
    PII_TYPES,
    SECRET_TYPES,
    Finding,
    Recogniser,
    Registry,
    is_secret,
)
from ._records import SUMMARY_ATTRIBUTE, RecordRedactor
from ._redactor import Redactor, TraceState
from ._regex import PatternRecogniser
from .policy import ACTIONS, POLICY_VERSION, Policy, PolicyError, Rule, parse_policy


@lru_cache(maxsize=1)
def _shared_engine() -> Engine:
    engine = Engine()
    engine.warm_up()  # the shared engine serves many records: pay the first-use loading once, up front
    return engine


def make_redactor(
    policy: Policy | Mapping[str, Any] | None = None,
    hmac_key: str | bytes | None = None,
    *,
    engine: Engine | None = None,
) -> Redactor:
    """A redactor for a policy (a :class:`Policy` or the ``[privacy]`` config table) and pseudonymisation key.

    Without ``engine`` it shares one engine of the built-in and installed recognisers (built on first use).
    Raises PolicyError naming the key when the policy is wrong or needs a key that is missing.
    """
    pol = policy if isinstance(policy, Policy) else parse_policy(policy)
    key = hmac_key.encode("utf-8") if isinstance(hmac_key, str) else hmac_key
    if pol.needs_key and not key:
        raise PolicyError("privacy: pseudonymise needs a key: set privacy_hmac_key (WATCHKEEPER_PRIVACY_HMAC_KEY)")
    return Redactor(engine if engine is not None else _shared_engine(), pol, key)


def redact_text(text: str, redactor: Redactor | None = None) -> str:
    """``text`` with its PII and secrets replaced by typed placeholders (default policy unless ``redactor``)."""
    r = redactor if redactor is not None else make_redactor()
    out = r.redact_text(text, "text", TraceState(), Counter())
    return "" if out is None else out


__all__ = [
    "ACTIONS",
    "ENTRY_POINT_GROUP",
    "PII_TYPES",
    "POLICY_VERSION",
    "SECRET_TYPES",
    "SUMMARY_ATTRIBUTE",
    "Engine",
    "Finding",
    "PatternRecogniser",
    "Policy",
    "PolicyError",
    "Recogniser",
    "RecogniserFailed",
    "RecordRedactor",
    "Redactor",
    "Registry",
    "Rule",
    "builtin_recognisers",
    "default_registry",
    "is_secret",
    "make_redactor",
    "parse_policy",
    "redact_jsonl",
    "redact_record",
    "redact_text",
]

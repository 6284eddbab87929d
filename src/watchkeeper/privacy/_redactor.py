"""Applying a policy to findings: placeholders numbered per trace, keyed pseudonyms, masks, dropped fields, and the
summary of what was done (entity type, field path, count, recogniser — never the value).
"""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Any

from ._engine import Engine, RecogniserFailed, clean_text
from ._fields import key_entity
from ._model import Finding
from .policy import Policy, normalise_path

DROPPED = None  # what a dropped field becomes
MAX_DEPTH = 64
REDACTION_FAILED = "REDACTION_FAILED"
TOO_DEEP = "TOO_DEEP"
_STRUCTURED = "field_name"


@dataclass(slots=True)
class TraceState:
    """Placeholder numbers of one trace, keyed by a digest of the value (the value itself is not kept)."""

    numbers: dict[tuple[str, bytes], int] = field(default_factory=dict)
    next_number: Counter[str] = field(default_factory=Counter)

    def number(self, entity_type: str, value: str) -> int:
        key = (entity_type, hashlib.blake2b(value.encode("utf-8", "surrogatepass"), digest_size=16).digest())
        n = self.numbers.get(key)
        if n is None:
            self.next_number[entity_type] += 1
            n = self.numbers[key] = self.next_number[entity_type]
        return n


class TraceStates:
    """The states of the most recent traces (bounded), so numbering holds across the batches of one trace."""

    def __init__(self, max_traces: int = 4096) -> None:
        self._states: OrderedDict[str, TraceState] = OrderedDict()
        self._max = max_traces

    def get(self, trace_id: str) -> TraceState:
        st = self._states.get(trace_id)
        if st is None:
            st = self._states[trace_id] = TraceState()
            if len(self._states) > self._max:
                self._states.popitem(last=False)
        else:
            self._states.move_to_end(trace_id)
        return st


# (type, normalised path, recogniser) -> count
Summary = Counter[tuple[str, str, str]]


def summary_rows(summary: Summary) -> list[dict[str, Any]]:
    """The summary as JSON rows ``{"type", "path", "count", "recogniser"}``."""
    return [{"type": t, "path": p, "count": n, "recogniser": r} for (t, p, r), n in sorted(summary.items())]


def _normalise_for_pseudonym(entity_type: str, value: str) -> str:
    if entity_type in ("PHONE", "CREDIT_CARD", "IBAN", "US_SSN"):
        return "".join(c for c in value if c.isalnum()).upper()
    if entity_type == "EMAIL":
        return value.strip().lower()
    return value.strip()


class Redactor:
    """Redacts text and JSON values under a policy with an engine."""

    def __init__(self, engine: Engine | None = None, policy: Policy | None = None, hmac_key: bytes | None = None):
        self.engine = engine if engine is not None else Engine()
        self.policy = policy if policy is not None else Policy()
        if self.policy.needs_key and not hmac_key:
            raise ValueError("the privacy policy uses pseudonymise, which needs an HMAC key (privacy_hmac_key)")
        self._key = hmac_key or b""

    # -- text ------------------------------------------------------------------------------------------------

    def replacement(self, f: Finding, value: str, action: str, state: TraceState) -> str:
        if action == "keep":
            return value
        if action == "mask":
            return "*" * max(0, len(value) - 4) + value[-4:] if len(value) > 4 else "*" * len(value)
        if action == "pseudonymise":
            norm = _normalise_for_pseudonym(f.type, value)
            digest = hmac.new(self._key, f"{f.type}\0{norm}".encode("utf-8", "surrogatepass"), hashlib.sha256)
            return f"<{f.type}:{digest.hexdigest()[:16]}>"
        return f"<{f.type}_{state.number(f.type, value)}>"

    def redact_text(
        self, text: str, path: str, state: TraceState, summary: Summary, findings: list[Finding] | None = None
    ) -> str | None:
        """The redacted text, or None when the policy (or a failure) says to drop the field."""
        text = clean_text(text)
        if findings is None:
            try:
                findings = self.engine.scan(text)
            except RecogniserFailed as e:
                summary[(REDACTION_FAILED, normalise_path(path), e.recogniser)] += 1
                return DROPPED
        if not findings:
            return text
        policy = self.policy
        out: list[str] = []
        pos = 0
        for f in findings:
            action = policy.action_for(f.type, path)
            if action == "drop":
                summary[(f.type, normalise_path(path), f.recogniser)] += 1
                return DROPPED
            if action == "keep":
                continue
            value = text[f.start : f.end]
            out.append(text[pos : f.start])
            out.append(self.replacement(f, value, action, state))
            pos = f.end
            summary[(f.type, normalise_path(path), f.recogniser)] += 1
        out.append(text[pos:])
        return "".join(out)

    # -- JSON values -----------------------------------------------------------------------------------------

    def redact_value(self, value: Any, path: str, state: TraceState, summary: Summary, depth: int = 0) -> Any:
        """A JSON value with every string (and key) redacted; a dropped field becomes None."""
        field_action = self.policy.field_action(path) if self.policy.rules else None
        if field_action == "drop":
            summary[("FIELD", normalise_path(path), "policy")] += 1
            return DROPPED
        if isinstance(value, str):
            if field_action == "keep":
                return self._secrets_only(value, path, state, summary)
            return self.redact_text(value, path, state, summary)
        if value is None or isinstance(value, bool | int | float):
            return value
        if depth >= MAX_DEPTH:
            summary[(TOO_DEEP, normalise_path(path), "walker")] += 1
            return DROPPED
        if isinstance(value, dict):
            out: dict[Any, Any] = {}
            for k, v in value.items():
                sub = f"{path}.{k}"
                key = k
                if isinstance(k, str) and len(k) >= 6:
                    red = self.redact_text(k, path + ".<key>", state, summary)
                    key = "<DROPPED_KEY>" if red is None else red
                if isinstance(v, str) and isinstance(k, str) and field_action != "keep":
                    et = key_entity(k, v)
                    if et is not None:
                        out[key] = self._whole_value(v, et, sub, state, summary)
                        continue
                out[key] = self.redact_value(v, sub, state, summary, depth + 1)
            return out
        if isinstance(value, list | tuple):
            return [self.redact_value(v, f"{path}[{i}]", state, summary, depth + 1) for i, v in enumerate(value)]
        # Not JSON: never store what cannot be inspected.
        summary[(REDACTION_FAILED, normalise_path(path), "walker")] += 1
        return DROPPED

    def _whole_value(self, value: str, etype: str, path: str, state: TraceState, summary: Summary) -> str | None:
        """A value its field name marks as sensitive: removed whole, typed by a recogniser if one covers it."""
        value = clean_text(value)
        try:
            findings = self.engine.scan(value)
        except RecogniserFailed as e:
            summary[(REDACTION_FAILED, normalise_path(path), e.recogniser)] += 1
            return DROPPED
        core = value.strip()
        lead = len(value) - len(value.lstrip())
        if not any(f.start <= lead and f.end >= lead + len(core) for f in findings):
            findings = [Finding(lead, lead + len(core), etype, _STRUCTURED)]
        return self.redact_text(value, path, state, summary, findings)

    def _secrets_only(self, text: str, path: str, state: TraceState, summary: Summary) -> str | None:
        from ._model import is_secret

        try:
            findings = [f for f in self.engine.scan(clean_text(text)) if is_secret(f.type)]
        except RecogniserFailed as e:
            summary[(REDACTION_FAILED, normalise_path(path), e.recogniser)] += 1
            return DROPPED
        return self.redact_text(text, path, state, summary, findings)

"""Invariants of redaction, checked on generated inputs: redact-then-scan finds nothing; planted secrets in any
surrounding text are fully removed; reported offsets point at exactly the planted values."""

from __future__ import annotations

import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from watchkeeper.privacy import Engine, make_redactor, redact_record, redact_text

from .test_recognisers import SECRETS

ENGINE = Engine()
REDACTOR = make_redactor(engine=ENGINE)

# Surrounding text: words, punctuation and spaces of several scripts; never glued to the planted value.
_alphabet = string.ascii_letters + string.digits + " .,;:!?()-\n" + "äöüéçñãõ" + "日本語テスト"
filler = st.text(alphabet=_alphabet, max_size=80)
pii_values = st.sampled_from(
    [
        "ana.lima@acme-corp.io",
        "+44 20 7946 0958",
        "4111 1111 1111 1111",
        "DE89 3704 0044 0532 0130 00",
        "203.0.113.7",
        "536-22-1234",
    ]
)
secret_values = st.sampled_from([v for v, _ in SECRETS])
seps = st.sampled_from([" ", "\n", " (", ": ", ' "', "\t"])
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(before=filler, sep1=seps, value=st.one_of(secret_values, pii_values), sep2=seps, after=filler)
def test_redacted_text_scans_clean(before: str, sep1: str, value: str, sep2: str, after: str) -> None:
    out = redact_text(before + sep1 + value + sep2 + after, REDACTOR)
    assert ENGINE.scan(out) == []


@SETTINGS
@given(before=filler, sep1=seps, value=secret_values, sep2=seps, after=filler)
def test_planted_secrets_are_fully_removed(before: str, sep1: str, value: str, sep2: str, after: str) -> None:
    out = redact_text(before + sep1 + value + sep2 + after, REDACTOR)
    assert value not in out
    # not even a recognisable piece of it is left
    for line in value.splitlines():
        if len(line) >= 12:
            assert line[4:12] not in out


@SETTINGS
@given(before=filler, sep1=seps, value=st.one_of(secret_values, pii_values), sep2=seps, after=filler)
def test_offsets_point_at_exactly_the_planted_value(before: str, sep1: str, value: str, sep2: str, after: str) -> None:
    text = before + sep1 + value + sep2 + after
    start = len(before) + len(sep1)
    _, spans = redact_record(REDACTOR, text)
    assert any(s["start"] == start and s["end"] == start + len(value) for s in spans), (spans, start)


@SETTINGS
@given(text=st.text(max_size=300))
def test_any_text_redacts_without_error_and_scans_clean_after(text: str) -> None:
    out = redact_text(text, REDACTOR)
    assert ENGINE.scan(out) == []

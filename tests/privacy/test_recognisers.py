"""Every built-in recogniser finds its entity in real formats and leaves look-alikes alone."""

from __future__ import annotations

import pytest

from watchkeeper.privacy import Engine

ENGINE = Engine()


def found(text: str) -> list[tuple[str, str]]:
    return [(text[f.start : f.end], f.type) for f in ENGINE.scan(text)]


@pytest.mark.parametrize(
    ("text", "value", "etype"),
    [
        ("write to ana.lima@acme-corp.io today", "ana.lima@acme-corp.io", "EMAIL"),
        ("josé.garcía@correo.es", "josé.garcía@correo.es", "EMAIL"),
        ("call +1 415-555-2671 now", "+1 415-555-2671", "PHONE"),
        ("US: (415) 555-2671.", "(415) 555-2671", "PHONE"),
        ("UK 020 7946 0958 office", "020 7946 0958", "PHONE"),
        ("ruf an: 030 12345678", "030 12345678", "PHONE"),
        ("Handy +49 151 23456789", "+49 151 23456789", "PHONE"),
        ("tél : 01 42 68 53 00", "01 42 68 53 00", "PHONE"),
        ("llámame al 612 34 56 78", "612 34 56 78", "PHONE"),
        ("liga para 912 345 678", "912 345 678", "PHONE"),
        ("celular (11) 96123-4567", "(11) 96123-4567", "PHONE"),
        ("mobile 098765 43210", "098765 43210", "PHONE"),
        ("電話番号は03-1234-5678です", "03-1234-5678", "PHONE"),
        ("E.164 +442079460958", "+442079460958", "PHONE"),
        ("card 4111 1111 1111 1111", "4111 1111 1111 1111", "CREDIT_CARD"),
        ("mc2 2223 0031 2200 3222", "2223 0031 2200 3222", "CREDIT_CARD"),
        ("amex 3782-822463-10005", "3782-822463-10005", "CREDIT_CARD"),
        ("unionpay 6212345678901234569 ok", "6212345678901234569", "CREDIT_CARD"),
        ("SSN 536-22-1234", "536-22-1234", "US_SSN"),
        ("IBAN DE89 3704 0044 0532 0130 00.", "DE89 3704 0044 0532 0130 00", "IBAN"),
        ("GB82WEST12345698765432", "GB82WEST12345698765432", "IBAN"),
        ("FR14 2004 1010 0505 0001 3M02 606", "FR14 2004 1010 0505 0001 3M02 606", "IBAN"),
        ("from 203.0.113.7:443", "203.0.113.7", "IP_ADDRESS"),
        ("v6 2001:db8:85a3::8a2e:370:7334 seen", "2001:db8:85a3::8a2e:370:7334", "IP_ADDRESS"),
        ("My name is Priya Sharma.", "Priya Sharma", "PERSON"),
        ("Bonjour Camille,", "Camille", "PERSON"),
        ("Atenciosamente,\nJoão Pereira", "João Pereira", "PERSON"),
        ("田中さんに連絡", "田中", "PERSON"),
        ("ship to 221B Baker Street, London NW1 6XE", "221B Baker Street, London NW1 6XE", "STREET_ADDRESS"),
        ("Lieferadresse: Lindenstraße 12, 10115 Berlin", "Lindenstraße 12, 10115 Berlin", "STREET_ADDRESS"),
        ("au 12 rue de la Paix, 75002 Paris.", "12 rue de la Paix, 75002 Paris", "STREET_ADDRESS"),
        ("en Calle de Alcalá, 45, 28014 Madrid", "Calle de Alcalá, 45, 28014 Madrid", "STREET_ADDRESS"),
        ("住所は東京都新宿区西新宿2丁目8番1号です", "東京都新宿区西新宿2丁目8番1号", "STREET_ADDRESS"),
        ("I was born on March 3, 1985.", "March 3, 1985", "DATE_OF_BIRTH"),
        ("Geburtsdatum: 05.05.1978", "05.05.1978", "DATE_OF_BIRTH"),
        ("née le 3 août 1990", "3 août 1990", "DATE_OF_BIRTH"),
        ("nací el 12 de marzo de 1985", "12 de marzo de 1985", "DATE_OF_BIRTH"),
        ("1985年3月12日生まれ", "1985年3月12日", "DATE_OF_BIRTH"),
    ],
)
def test_pii_in_real_formats_is_found_whole(text: str, value: str, etype: str) -> None:
    assert (value, etype) in found(text)


SECRETS = [
    ("sk-proj-" + "Ab3" * 20 + "T3BlbkFJ" + "x9Z" * 10, "OPENAI_KEY"),
    ("sk-ant-api03-" + "aB9_-" * 19 + "AA", "ANTHROPIC_KEY"),
    ("AKIAIOSFODNN7EXAMPLE", "AWS_ACCESS_KEY_ID"),
    ("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "AWS_SECRET_KEY"),
    ("ghp_" + "a1B2c3D4e5" * 3 + "f6G7h8", "GITHUB_TOKEN"),
    ("github_pat_11ABCDEFG0123456789abc_" + "Z" * 59, "GITHUB_TOKEN"),
    ("glpat-" + "xY7_zW8-vU9" * 2, "GITLAB_TOKEN"),
    ("xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "SLACK_TOKEN"),
    ("sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc", "STRIPE_KEY"),
    ("AIzaSyD-" + "1234567890abcdefghijKLMNOPQRSTU", "GOOGLE_API_KEY"),
    ("wk_3kT9qPzA_" + "abcdefghijklmnopqrstuvwxyzABCDEF_1Beq0M", "WATCHKEEPER_KEY"),
    ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "JWT"),
    (
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n"
        "-----END PRIVATE KEY-----",
        "PRIVATE_KEY",
    ),
]


@pytest.mark.parametrize(("value", "etype"), SECRETS)
@pytest.mark.parametrize(
    "template", ["{}", "key: {} end", 'config = {{"key": "{}"}}', "Authorization: Bearer {}", "x={}&y=1"]
)
def test_provider_secrets_are_found_whole_in_any_context(value: str, etype: str, template: str) -> None:
    text = template.format(value)
    start = text.index(value)
    covering = [f for f in ENGINE.scan(text) if f.start <= start and f.end >= start + len(value)]
    assert covering, f"{etype} not covered in template {template!r}"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('{"password": "hunter2", "user": "bob"}', "hunter2"),
        ("DB_PASSWORD=Sommer#2024\n", "Sommer#2024"),
        ("export OPENAI_API_KEY='abcDEF123456ghiJKL789'", "abcDEF123456ghiJKL789"),
        ("GET /v1/items?api_key=9f8e7d6c5b4a3f2e1d0c&page=2", "9f8e7d6c5b4a3f2e1d0c"),
        ("headers={'Authorization': 'Bearer opaque-Token-1234567890'}", "opaque-Token-1234567890"),
        ("X-Api-Key: Zm9vYmFyYmF6cXV4MTIz", "Zm9vYmFyYmF6cXV4MTIz"),
        ("postgresql://app:s3cr3t!pw@db.internal:5432/orders", "s3cr3t!pw"),
        ("Server=db;User Id=sa;Password=Pa55w0rd;", "Pa55w0rd"),
        ('{"clientSecret": "q1w2e3r4t5y6u7i8"}', "q1w2e3r4t5y6u7i8"),
    ],
)
def test_values_under_key_like_names_are_removed_whole(text: str, value: str) -> None:
    start = text.index(value)
    assert any(f.start == start and f.end == start + len(value) for f in ENGINE.scan(text)), found(text)


@pytest.mark.parametrize(
    "text",
    [
        "request 550e8400-e29b-41d4-a716-446655440000 done",
        "commit 3f786850e387550fdab836ed7e6dc881de23001b and 3f78685",
        "order #48213377 and ORD-2024-001234, ticket JIRA-4821, INC0012345",
        "upgraded to v2.31.0 from 1.26.3 (build 10.0.19045.2965)",
        "at 2025-03-14T12:30:45.123Z and 1700000000123",
        "digits 4111111111111112 fail Luhn",
        "mail user@example.com or jane@company.example",
        '{"max_tokens": 512, "token_count": 1024, "temperature": 0.2}',
        "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
        "total 1,234.56 EUR on 12/03/2024",
        "git@github.com:org/repo.git",
        "The Will of the people in May",
        "password: <PASSWORD_1> and token=${API_TOKEN}",
    ],
)
def test_look_alikes_are_not_flagged(text: str) -> None:
    assert found(text) == []

"""The privacy policy: actions per entity type and field path, secrets always removed, precise errors."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from watchkeeper.config import load_settings
from watchkeeper.errors import ConfigError
from watchkeeper.privacy import PolicyError, make_redactor, parse_policy
from watchkeeper.privacy._redactor import TraceState

KEY = "sk-proj-" + "Ab3" * 20


def run(policy: dict[str, object], value: object, path: str = "input", key: str | None = "k") -> object:
    r = make_redactor(policy, key)
    return r.redact_value(value, path, TraceState(), Counter())


def test_redact_numbers_placeholders_consistently_within_a_trace() -> None:
    r = make_redactor()
    st = TraceState()
    a = r.redact_text("ana@acme.io, bo@acme.io, ana@acme.io", "input", st, Counter())
    b = r.redact_text("again bo@acme.io", "output", st, Counter())
    assert a == "<EMAIL_1>, <EMAIL_2>, <EMAIL_1>"
    assert b == "again <EMAIL_2>"


def test_pseudonymise_joins_across_traces_without_being_readable() -> None:
    policy = {"entities": {"EMAIL": "pseudonymise"}}
    one = run(policy, "mail Ana@Acme.io")
    two = run(policy, "again ana@acme.io")
    other_key = run(policy, "again ana@acme.io", key="other")
    assert isinstance(one, str) and one.startswith("mail <EMAIL:") and "acme" not in one
    assert one.split()[-1] == two.split()[-1] != other_key.split()[-1]  # type: ignore[union-attr]


def test_mask_keeps_the_last_four() -> None:
    assert run({"entities": {"CREDIT_CARD": "mask"}}, "card 4111111111111111") == "card ************1111"


def test_drop_removes_the_whole_field_and_keep_leaves_pii() -> None:
    assert run({"entities": {"PHONE": "drop"}}, {"a": "call +44 20 7946 0958", "b": "ok"}) == {"a": None, "b": "ok"}
    assert run({"entities": {"EMAIL": "keep"}}, "ana@acme.io") == "ana@acme.io"


def test_secrets_are_removed_whatever_the_policy() -> None:
    out = run({"default": "keep", "entities": {"OPENAI_KEY": "keep"}}, f"ana@acme.io {KEY}")
    assert out == "ana@acme.io <OPENAI_KEY_1>"
    kept_field = run({"rules": [{"path": "input", "action": "keep"}]}, f"ana@acme.io {KEY}")
    assert kept_field == "ana@acme.io <OPENAI_KEY_1>"


def test_field_path_rules_win_over_entity_defaults() -> None:
    policy = {
        "entities": {"PHONE": "redact"},
        "rules": [
            {"path": "tool.arguments.**", "entity": "PHONE", "action": "keep"},
            {"path": "attributes.http.client_ip", "action": "drop"},
        ],
    }
    assert run(policy, {"to": "+44 20 7946 0958"}, "tool.arguments") == {"to": "+44 20 7946 0958"}
    assert run(policy, "+44 20 7946 0958", "input") == "<PHONE_1>"
    assert run(policy, {"http": {"client_ip": "203.0.113.7", "m": "GET"}}, "attributes") == {
        "http": {"client_ip": None, "m": "GET"}
    }


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"entities": {"EMAIL": "hide"}}, "privacy.entities.EMAIL must be one of"),
        ({"entities": {"email": "redact"}}, "privacy.entities.email"),
        ({"version": 9}, "privacy.version 9 is newer"),
        ({"rules": [{"path": "input", "action": "mask"}]}, r"privacy.rules\[0\].action"),
        ({"rules": [{"action": "drop"}]}, r"privacy.rules\[0\] needs a path"),
        ({"colour": 1}, "privacy.colour is not a known key"),
        ({"default": "drop"}, "privacy.default"),
    ],
)
def test_bad_policies_are_refused_naming_the_key(section: dict[str, object], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_policy(section)


def test_the_config_file_carries_the_policy_and_pseudonymise_needs_a_key(tmp_path: Path) -> None:
    cfg = tmp_path / "wk.toml"
    cfg.write_text('[privacy]\nversion = 1\n[privacy.entities]\nEMAIL = "pseudonymise"\n')
    with pytest.raises(ConfigError, match="privacy_hmac_key"):
        load_settings(cfg, environ={})
    s = load_settings(cfg, environ={"WATCHKEEPER_PRIVACY_HMAC_KEY": "k3y"})
    assert parse_policy(s.privacy).entities == {"EMAIL": "pseudonymise"}
    cfg.write_text('[privacy.entities]\nEMAIL = "nope"\n')
    with pytest.raises(ConfigError, match=r"privacy.entities.EMAIL .*docs/privacy.md"):
        load_settings(cfg, environ={})

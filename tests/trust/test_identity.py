"""API keys and passwords: the key format refuses every mistyped key, and only hashes are stored."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from watchkeeper.errors import Forbidden, InputError, Unauthenticated
from watchkeeper.store.tables import api_keys, principals
from watchkeeper.trust import identity


@pytest.fixture
def key(db: Engine) -> tuple[Engine, str, int]:
    pid = identity.create_principal(db, "svc", kind="service", roles=["ingest"])
    k, _ = identity.create_key(db, pid, name="k", scopes=["ingest"])
    return db, k, pid


def test_a_key_is_stored_only_as_its_hash_and_authenticates_with_its_scopes(key: tuple[Engine, str, int]) -> None:
    engine, k, pid = key
    with engine.connect() as conn:
        row = conn.execute(select(api_keys)).one()
    assert row.secret_sha256 == hashlib.sha256(k.encode()).digest()
    assert k not in str(tuple(row))
    who = identity.authenticate_key(engine, k)
    assert who.id == pid and {p.value for p in who.permissions} == {"ingest"} and who.key_id == identity.parse_key(k)


def test_keys_never_widen_their_owner_and_unknown_scopes_are_named(db: Engine) -> None:
    pid = identity.create_principal(db, "svc", kind="service", roles=["ingest"])
    with pytest.raises(Forbidden, match="metadata:read"):
        identity.create_key(db, pid, name="k", scopes=["metadata:read"])
    with pytest.raises(InputError, match="unknown scope 'read'"):
        identity.create_key(db, pid, name="k", scopes=["read"])


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_single_character_change_to_a_key_is_refused_before_any_lookup(data: st.DataObject) -> None:
    body = "wk_" + "A1b2C3d4" + "_" + "x" * 32
    k = body + "_" + identity._checksum(body)
    assert identity.parse_key(k) == "A1b2C3d4"
    i = data.draw(st.integers(0, len(k) - 1))
    c = data.draw(st.characters(codec="ascii", exclude_characters=k[i]))
    bad = k[:i] + c + k[i + 1 :]
    with pytest.raises(Unauthenticated):
        identity.parse_key(bad)


def test_passwords_are_argon2id_and_the_error_is_the_same_for_every_failure(db: Engine) -> None:
    identity.create_principal(db, "ann", roles=["viewer"], password="a long enough password")
    with db.connect() as conn:
        stored = conn.execute(select(principals.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and "a long enough password" not in stored
    messages = set()
    for name, pw in (("ann", "wrong password!!"), ("nobody", "a long enough password")):
        with pytest.raises(Unauthenticated) as e:
            identity.check_login(db, name, pw)
        messages.add(str(e.value))
    assert len(messages) == 1
    assert identity.check_login(db, "ann", "a long enough password") > 0
    with pytest.raises(InputError, match="12 to 1024"):
        identity.create_principal(db, "bob", roles=["viewer"], password="short")

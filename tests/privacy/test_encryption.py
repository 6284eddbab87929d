"""Encryption at rest and erasure: sealed content, fail-closed reads, key rotation, crypto-shredding."""

from __future__ import annotations

import base64
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select, update

from watchkeeper.cli import main
from watchkeeper.config import Settings
from watchkeeper.content import record_aad
from watchkeeper.errors import ConfigError, ContentLocked
from watchkeeper.privacy.encryption import KeyRing, LocalKey, check_keys, generate_key, load_kek, parse_key
from watchkeeper.privacy.erasure import erase_subject
from watchkeeper.server import create_app
from watchkeeper.store.tables import data_keys, privacy_events, spans

T0 = 1_790_000_000_000_000_000


def canary() -> str:
    return "CANARY-" + secrets.token_hex(12)


def span_doc(trace: int, span: int, *, subject: str | None, session: str | None, text: str) -> dict[str, object]:
    return {
        "trace_id": f"{trace:032x}",
        "span_id": f"{span:016x}",
        "name": "chat",
        "kind": "llm",
        "start_time_ns": T0 + span * 1000,
        "end_time_ns": T0 + span * 1000 + 500,
        "subject_id": subject,
        "session_id": session,
        "llm": {
            "request_model": "gpt-4o-mini",
            "input_messages": [{"role": "user", "content": text}],
            "usage": {"input_tokens": 10, "output_tokens": 2},
        },
    }


def tool_doc(trace: int, span: int, parent: int, *, text: str) -> dict[str, object]:
    return {
        "trace_id": f"{trace:032x}",
        "span_id": f"{span:016x}",
        "parent_span_id": f"{parent:016x}",
        "name": "lookup",
        "kind": "tool",
        "start_time_ns": T0 + span * 1000,
        "end_time_ns": T0 + span * 1000 + 100,
        "tool": {"name": "lookup", "arguments": {"q": text}, "result": {"ok": True}},
    }


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    p = tmp_path / "kek.txt"
    p.write_text(generate_key() + "\n")
    return p


def app_settings(tmp_path: Path, db_url: str, **kw: object) -> Settings:
    return replace(Settings(auth=False, data_dir=str(tmp_path / "data"), database_url=db_url), **kw)  # type: ignore[arg-type]


@pytest.fixture
def encrypted(tmp_path: Path, db_url: str, key_file: Path) -> Iterator[TestClient]:
    s = app_settings(tmp_path, db_url, encryption_key_file=str(key_file), admin_token="t0ken")
    with TestClient(create_app(s)) as client:
        yield client


def ingest(client: TestClient, docs: list[dict[str, object]], feedback: list[dict[str, object]] = ()) -> None:  # type: ignore[assignment]
    r = client.post("/api/v1/ingest", json={"spans": docs, "feedback": list(feedback)})
    assert r.status_code == 200, r.text


def raw_bytes(engine_url: str) -> bytes:
    """Every byte of the SQLite store on disk: the main file, the WAL and the shared-memory index."""
    base = engine_url.removeprefix("sqlite:///")
    return b"".join(Path(p).read_bytes() for p in (base, base + "-wal", base + "-shm") if Path(p).exists())


# ---------------------------------------------------------------------------------------------------------------


def test_content_reads_back_through_the_api_but_no_planted_plaintext_is_in_the_files(
    tmp_path: Path, key_file: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'wk.db'}"
    secret_a, secret_b, tool_secret, fb_secret = canary(), canary(), canary(), canary()
    s = Settings(auth=False, database_url=url, encryption_key_file=str(key_file))
    with TestClient(create_app(s)) as client:
        ingest(
            client,
            [
                span_doc(1, 1, subject="alice", session="s1", text=f"my code is {secret_a}"),
                tool_doc(1, 2, 1, text=tool_secret),
                span_doc(2, 3, subject=None, session=None, text=secret_b),
            ],
            [
                {
                    "id": "fb1",
                    "trace_id": f"{1:032x}",
                    "kind": "correction",
                    "value": fb_secret,
                    "subject_id": "alice",
                    "time_ns": T0,
                }
            ],
        )
        tree = client.get(f"/api/v1/traces/{1:032x}").json()
        assert tree["roots"][0]["llm"]["input_messages"][0]["content"] == f"my code is {secret_a}"
        assert tree["roots"][0]["children"][0]["tool"]["arguments"] == {"q": tool_secret}
        assert tree["feedback"][0]["value"] == fb_secret
        # metadata stays queryable in clear, without any key
        page = client.get("/api/v1/spans?model=gpt-4o-mini").json()["spans"]
        assert len(page) == 2
        data = raw_bytes(url)  # while the server runs: the WAL holds the latest pages
    for c in (secret_a, secret_b, tool_secret, fb_secret):
        assert c.encode() not in data
    assert b"gpt-4o-mini" in data  # the scan does see clear text: metadata is there


def test_the_same_scan_finds_the_canary_when_encryption_is_off(tmp_path: Path) -> None:
    """The control for the test above: a scan that could not see plaintext would prove nothing."""
    url = f"sqlite:///{tmp_path / 'wk.db'}"
    c = canary()
    with TestClient(create_app(Settings(auth=False, database_url=url))) as client:
        ingest(client, [span_doc(1, 1, subject="alice", session="s1", text=c)])
        assert c.encode() in raw_bytes(url)


def test_each_subject_gets_its_own_data_key_with_session_and_day_fallback(encrypted: TestClient, db_url: str) -> None:
    ingest(
        encrypted,
        [
            span_doc(1, 1, subject="alice", session="s1", text="a"),
            span_doc(2, 2, subject="alice", session="s2", text="b"),
            span_doc(3, 3, subject=None, session="s3", text="c"),
            span_doc(4, 4, subject=None, session=None, text="d"),
            tool_doc(1, 5, 1, text="alice's tool call: her key, though the span names nobody"),
        ],
    )
    rt = encrypted.app.state.runtime  # type: ignore[attr-defined]
    with rt.engine.connect() as conn:
        rows = conn.execute(select(data_keys.c.scope, data_keys.c.scope_id, data_keys.c.kek_id)).all()
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert sorted((r.scope, r.scope_id) for r in rows) == [("day", today), ("session", "s3"), ("subject", "alice")]
    assert {r.kek_id for r in rows} == {rt.keyring.kek.key_id}


def test_a_ciphertext_moved_to_another_record_fails_to_open(encrypted: TestClient) -> None:
    ingest(
        encrypted,
        [
            span_doc(1, 1, subject="alice", session=None, text="one"),
            span_doc(2, 2, subject="alice", session=None, text="two"),
        ],
    )
    engine: Engine = encrypted.app.state.runtime.engine  # type: ignore[attr-defined]
    with engine.begin() as conn:
        blob = conn.execute(select(spans.c.payload).where(spans.c.trace_id == bytes.fromhex(f"{1:032x}"))).scalar_one()
        conn.execute(update(spans).where(spans.c.trace_id == bytes.fromhex(f"{2:032x}")).values(payload=blob))
    r = encrypted.get(f"/api/v1/traces/{2:032x}")
    assert r.status_code == 503
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "integrity" in r.json()["detail"] and "one" not in r.text
    assert encrypted.get(f"/api/v1/traces/{1:032x}").status_code == 200


def test_a_tampered_ciphertext_fails_to_open(encrypted: TestClient) -> None:
    ingest(encrypted, [span_doc(1, 1, subject="alice", session=None, text="hello")])
    engine: Engine = encrypted.app.state.runtime.engine  # type: ignore[attr-defined]
    with engine.begin() as conn:
        blob = conn.execute(select(spans.c.payload)).scalar_one()
        flipped = blob[:-1] + bytes([blob[-1] ^ 1])
        conn.execute(update(spans).values(payload=flipped))
    assert encrypted.get(f"/api/v1/traces/{1:032x}").status_code == 503


def test_a_store_with_sealed_content_refuses_to_start_without_the_key_and_never_shows_ciphertext(
    tmp_path: Path, key_file: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'wk.db'}"
    with TestClient(create_app(Settings(auth=False, database_url=url, encryption_key_file=str(key_file)))) as client:
        ingest(client, [span_doc(1, 1, subject="alice", session=None, text="hello")])
    with (
        pytest.raises(ConfigError, match="no key-encryption key is configured"),
        TestClient(create_app(Settings(auth=False, database_url=url))),
    ):
        pass
    other = tmp_path / "other.txt"
    other.write_text(generate_key())
    wrong = Settings(auth=False, database_url=url, encryption_key_file=str(other))
    with pytest.raises(ConfigError, match="wrapped by another key-encryption key"), TestClient(create_app(wrong)):
        pass


def test_bad_key_material_is_a_clear_start_up_error_that_never_echoes_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "short.txt"
    bad.write_text("c2hvcnQ=")
    with pytest.raises(ConfigError) as e:
        load_kek(Settings(encryption_key_file=str(bad)))
    assert "256-bit" in str(e.value) and "c2hvcnQ" not in str(e.value)
    with pytest.raises(ConfigError, match="does not exist"):
        load_kek(Settings(encryption_key_file=str(tmp_path / "missing")))
    with pytest.raises(ConfigError, match="only one"):
        load_kek(Settings(encryption_key_file=str(bad), encryption_key=generate_key()))
    with pytest.raises(ConfigError, match="no KMS plugin named 'vault'"):
        load_kek(Settings(encryption_kms="vault:transit/wk"), plugins={})
    assert "secret-value" not in repr(Settings(encryption_key="secret-value"))


def test_a_kms_plugin_wraps_data_keys(tmp_path: Path) -> None:
    made: list[str] = []

    def factory(arg: str) -> LocalKey:
        made.append(arg)
        return LocalKey(b"k" * 32)

    kek = load_kek(Settings(encryption_kms="test:projects/p/keys/k"), plugins={"test": factory})
    assert made == ["projects/p/keys/k"] and isinstance(kek, LocalKey)


def test_key_rotation_rewraps_data_keys_without_touching_payloads(tmp_path: Path, db_url: str, key_file: Path) -> None:
    with TestClient(create_app(app_settings(tmp_path, db_url, encryption_key_file=str(key_file)))) as client:
        ingest(client, [span_doc(i, i, subject=f"u{i % 3}", session=None, text=f"t{i}") for i in range(1, 10)])
        engine: Engine = client.app.state.runtime.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        payloads_before = conn.execute(select(spans.c.id, spans.c.payload).order_by(spans.c.id)).all()
    engine.dispose()
    new_file = tmp_path / "new.txt"
    new_file.write_text(generate_key())
    args = ["keys", "rotate", "--new-key-file", str(new_file), "--database-url", db_url]
    r = CliRunner().invoke(main, args, env={"WATCHKEEPER_ENCRYPTION_KEY_FILE": str(key_file)})
    assert r.exit_code == 0, r.output
    assert "re-wrapped 3 data keys" in r.output
    new_id = LocalKey(parse_key(new_file.read_text(), "new")).key_id
    with engine.connect() as conn:
        assert conn.execute(select(spans.c.id, spans.c.payload).order_by(spans.c.id)).all() == payloads_before
        assert set(conn.execute(select(data_keys.c.kek_id)).scalars()) == {new_id}
    engine.dispose()
    with TestClient(create_app(app_settings(tmp_path, db_url, encryption_key_file=str(new_file)))) as client:
        tree = client.get(f"/api/v1/traces/{4:032x}").json()
        assert tree["roots"][0]["llm"]["input_messages"][0]["content"] == "t4"
    old = app_settings(tmp_path, db_url, encryption_key_file=str(key_file))
    with pytest.raises(ConfigError), TestClient(create_app(old)):  # the old key no longer opens this store
        pass


@settings(max_examples=40, deadline=None)
@given(blob=st.binary(min_size=0, max_size=2000), record=st.text(min_size=1, max_size=40))
def test_seal_then_open_round_trips_and_any_other_record_fails(blob: bytes, record: str) -> None:
    ring = KeyRing.__new__(KeyRing)  # the cipher alone: no store needed for one key
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key = (os.urandom(16), AESGCM(AESGCM.generate_key(bit_length=256)))
    ring._by_id = {key[0]: (key[1], float("inf"))}  # type: ignore[assignment]
    ring._ttl = float("inf")
    ring._lock = __import__("threading").Lock()
    aad = record_aad(1, "span", record)
    sealed = ring.seal(blob, key, aad)
    assert ring.open(sealed, aad) == blob
    with pytest.raises(ContentLocked):
        ring.open(sealed, record_aad(1, "span", record + "x"))
    with pytest.raises(ContentLocked):
        ring.open(sealed, record_aad(2, "span", record))


# ---------------------------------------------------------------------------------------------------------------
# Erasure


def test_erasing_a_subject_shreds_their_keys_and_content_and_leaves_others_untouched(
    tmp_path: Path, db_url: str, key_file: Path
) -> None:
    alice, alice_tool, bob = canary(), canary(), canary()
    s = app_settings(tmp_path, db_url, encryption_key_file=str(key_file), admin_token="t0ken")
    with TestClient(create_app(s)) as client:
        ingest(
            client,
            [
                span_doc(1, 1, subject="alice", session="sa", text=alice),
                tool_doc(1, 2, 1, text=alice_tool),  # no subject on the child span: still alice's
                span_doc(2, 3, subject="bob", session="sb", text=bob),
            ],
            [{"id": "fa", "trace_id": f"{1:032x}", "kind": "correction", "value": "alice wrote this", "time_ns": T0}],
        )
        r = client.post("/api/v1/erasures", json={"subject_id": "alice"}, headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")
        r = client.post("/api/v1/erasures", json={"subject_id": "alice"}, headers={"Authorization": "Bearer t0ken"})
        assert r.status_code == 200, r.text
        report = r.json()
        assert report["traces"] == 1 and report["span_payloads_deleted"] == 2
        assert report["feedback_payloads_deleted"] == 1 and report["keys_destroyed"] >= 1

        tree = client.get(f"/api/v1/traces/{1:032x}").json()
        chat = tree["roots"][0]
        assert chat["subject_id"] == "alice" and chat["llm"]["request_model"] == "gpt-4o-mini"  # metadata kept
        assert "input_messages" not in chat["llm"] and "arguments" not in chat["children"][0]["tool"]
        assert tree["feedback"][0].get("value") is None
        bob_tree = client.get(f"/api/v1/traces/{2:032x}").json()
        assert bob_tree["roots"][0]["llm"]["input_messages"][0]["content"] == bob

        engine: Engine = client.app.state.runtime.engine  # type: ignore[attr-defined]
        with engine.connect() as conn:
            destroyed = conn.execute(
                select(data_keys.c.scope_id, data_keys.c.wrapped).where(data_keys.c.destroyed_ns.is_not(None))
            ).all()
            events = conn.execute(select(privacy_events.c.action, privacy_events.c.subject_id)).all()
        assert ("alice", None) in [(d.scope_id, d.wrapped) for d in destroyed]
        assert all(d.wrapped is None for d in destroyed)
        assert events == [("erase", "alice")]
        if db_url.startswith("sqlite"):
            data = raw_bytes(db_url)
            assert alice.encode() not in data and alice_tool.encode() not in data


def test_erasure_without_encryption_leaves_no_plaintext_in_the_sqlite_files(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'wk.db'}"
    alice, bob = canary(), canary()
    with TestClient(create_app(Settings(auth=False, database_url=url))) as client:
        ingest(
            client,
            [
                span_doc(1, 1, subject="alice", session="sa", text=alice),
                span_doc(2, 2, subject="bob", session=None, text=bob),
            ],
        )
        assert alice.encode() in raw_bytes(url)
        report = erase_subject(client.app.state.runtime.engine, "alice")  # type: ignore[attr-defined]
        assert report.span_payloads_deleted == 1
        data = raw_bytes(url)
    assert alice.encode() not in data
    assert bob.encode() in data  # the other subject is untouched


def test_erase_command_reports_what_it_erased(tmp_path: Path, key_file: Path) -> None:
    url = f"sqlite:///{tmp_path / 'wk.db'}"
    with TestClient(create_app(Settings(auth=False, database_url=url, encryption_key_file=str(key_file)))) as client:
        ingest(client, [span_doc(1, 1, subject="carol", session="sc", text="hi")])
    env = {"WATCHKEEPER_ENCRYPTION_KEY": key_file.read_text().strip()}
    r = CliRunner().invoke(main, ["erase", "--subject", "carol", "--yes", "--database-url", url], env=env)
    assert r.exit_code == 0, r.output
    assert '"span_payloads_deleted": 1' in r.output and '"subject_id": "carol"' in r.output
    r = CliRunner().invoke(main, ["erase", "--subject", "carol", "--database-url", url], env=env, input="n\n")
    assert r.exit_code != 0  # asked, and refused


def test_keys_generate_prints_a_usable_key() -> None:
    r = CliRunner().invoke(main, ["keys", "generate"])
    assert r.exit_code == 0
    assert len(base64.b64decode(r.output.strip())) == 32
    LocalKey(parse_key(r.output, "generated"))


def test_check_keys_passes_on_an_empty_store_without_a_key(db: Engine) -> None:
    check_keys(db, None)


def test_the_trace_page_shows_sealed_content_and_a_clear_page_when_it_cannot_be_opened(encrypted: TestClient) -> None:
    text = canary()
    ingest(encrypted, [span_doc(1, 1, subject="alice", session=None, text=text)])
    page = encrypted.get(f"/traces/{1:032x}")
    assert page.status_code == 200 and text in page.text
    engine: Engine = encrypted.app.state.runtime.engine  # type: ignore[attr-defined]
    with engine.begin() as conn:
        blob = conn.execute(select(spans.c.payload)).scalar_one()
        conn.execute(update(spans).values(payload=blob[:-1] + bytes([blob[-1] ^ 1])))
    page = encrypted.get(f"/traces/{1:032x}")
    assert page.status_code == 503 and "integrity" in page.text and text not in page.text


def test_a_legal_hold_blocks_erasure_until_it_is_released(encrypted: TestClient) -> None:
    from watchkeeper.privacy.holds import place_hold, release_hold

    ingest(encrypted, [span_doc(1, 1, subject="dave", session="sd", text="keep me")])
    engine: Engine = encrypted.app.state.runtime.engine  # type: ignore[attr-defined]
    hold = place_hold(engine, scope="session", scope_id="sd", reason="litigation 2026-17")
    auth = {"Authorization": "Bearer t0ken"}
    r = encrypted.post("/api/v1/erasures", json={"subject_id": "dave"}, headers=auth)
    assert r.status_code == 409 and "legal hold" in r.json()["detail"]
    tree = encrypted.get(f"/api/v1/traces/{1:032x}").json()
    assert tree["roots"][0]["llm"]["input_messages"][0]["content"] == "keep me"  # nothing was touched
    release_hold(engine, hold.id)
    r = encrypted.post("/api/v1/erasures", json={"subject_id": "dave"}, headers=auth)
    assert r.status_code == 200 and r.json()["span_payloads_deleted"] == 1

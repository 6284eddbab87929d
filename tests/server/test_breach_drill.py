"""The breach drill of docs/access.md, end to end: scope, revoke, rotate keys, freeze a checkpoint, verify."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from watchkeeper.cli import main
from watchkeeper.privacy.encryption import generate_key
from watchkeeper.trust import identity
from watchkeeper.trust.log import list_keys

from ._access import canary, trace_doc, world

T = "d4" * 16


def test_the_breach_drill_keeps_verify_green(tmp_path: Path) -> None:
    data = tmp_path / "data"
    kek = tmp_path / "kek.txt"
    kek.write_text(generate_key() + "\n")
    secret = canary()
    for w in world(data, encryption_key_file=str(kek)):
        doc = trace_doc(T, session="s-drill", subject="subject-1", text=secret)
        assert w.client.post("/api/v1/ingest", json={"spans": [doc]}, headers=w.as_("ingest")).status_code == 200
        r = w.client.post(
            "/api/v1/break-glass",
            json={"resources": ["s-drill"], "reason": "SEV1: drill of a stolen laptop"},
            headers=w.as_("investigator"),
        )
        assert r.status_code == 201
        assert secret in w.client.get(f"/api/v1/traces/{T}", headers=w.as_("investigator")).text
        leaked = identity.parse_key(w.keys["investigator"])
        scope = w.client.get(f"/api/v1/access-log/scope?key_id={leaked}", headers=w.as_("auditor")).json()
        assert scope["traces"] == [T] and scope["subjects"] == ["subject-1"] and scope["encrypted_records"] == 1
        engine = w.engine
    runner = CliRunner()
    store = ["--data-dir", str(data)]

    def ok(*args: str) -> str:
        r = runner.invoke(main, [*args, *store], env={"WATCHKEEPER_ENCRYPTION_KEY_FILE": str(kek)})
        assert r.exit_code == 0, r.output
        return r.output

    ok("api-keys", "revoke", leaked)
    ok("users", "disable", "investigator-1")
    new_kek = tmp_path / "kek2.txt"
    new_kek.write_text(generate_key() + "\n")
    ok("keys", "rotate", "--new-key-file", str(new_kek))
    ok("log", "rotate-key")
    frozen = tmp_path / "frozen.note"
    ok("log", "checkpoint", "--out", str(frozen))
    pins = [x for k in list_keys(engine) for x in ("--key", k)]
    out = ok("verify", *pins, "--against", str(frozen))
    assert "OK" in out and "access log:" in out and "FAILED" not in out
    assert secret not in out

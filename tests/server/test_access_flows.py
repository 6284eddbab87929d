"""Approved drill-down, break-glass, audited reads that fail closed, keys, logins, tenants and breach scoping."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text, update

from watchkeeper.store.tables import access_grants, api_keys
from watchkeeper.trust import audit, identity
from watchkeeper.trust.log import list_keys, parse_pinned

from ._access import PASSWORD, World, canary, trace_doc, world

T1 = "a1" * 16


@pytest.fixture
def w(tmp_path: Path, db_url: str) -> Iterator[World]:
    yield from world(tmp_path / "data", db_url if db_url.startswith("postgresql") else "")


@pytest.fixture
def secret(w: World) -> str:
    value = canary()
    doc = trace_doc(T1, session="sess-1", subject="subject-7", text=value)
    r = w.client.post("/api/v1/ingest", json={"spans": [doc]}, headers=w.as_("ingest"))
    assert r.status_code == 200, r.text
    return value


def _trace(w: World, role: str) -> dict[str, object]:
    r = w.client.get(f"/api/v1/traces/{T1}", headers=w.as_(role))
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


def test_a_request_approved_by_someone_else_opens_the_session_and_every_read_is_logged_first(
    w: World, secret: str
) -> None:
    assert _trace(w, "investigator")["content_withheld"] is True
    r = w.client.post(
        "/api/v1/access-requests",
        json={"scope": "session", "resources": ["sess-1"], "reason": "ticket 4411: user reports a wrong refund"},
        headers=w.as_("investigator"),
    )
    assert r.status_code == 201, r.text
    gid = r.json()["id"]
    assert r.json()["status"] == "pending"
    assert secret not in w.client.get(f"/api/v1/traces/{T1}", headers=w.as_("investigator")).text

    # nobody approves their own request; the approver role is needed to approve at all
    assert w.client.post(f"/api/v1/grants/{gid}/approve", json={}, headers=w.as_("investigator")).status_code == 403
    assert w.client.post(f"/api/v1/grants/{gid}/approve", json={}, headers=w.as_("engineer")).status_code == 403
    r = w.client.post(f"/api/v1/grants/{gid}/approve", json={"note": "ok for 1 h"}, headers=w.as_("approver"))
    assert r.status_code == 200 and r.json()["active"] is True

    before = len(audit.events(w.engine, action="read_content"))
    body = _trace(w, "investigator")
    assert body["content_withheld"] is False and body["grant_id"] == gid
    assert secret in str(body)
    reads = audit.events(w.engine, action="read_content")
    assert len(reads) == before + 1
    e = reads[-1]
    assert (e.principal_id, e.grant_id, e.resource_id, e.session_id) == (w.ids["investigator"], gid, T1, "sess-1")
    assert e.subject_ids == ["subject-7"] and "prompts-and-completions" in e.categories
    assert e.reason and "ticket 4411" in e.reason
    assert secret not in str(e.as_dict())  # the access log holds no content

    # another investigator's key does not ride on this grant; the approver who granted it sees no content either
    assert _trace(w, "approver")["content_withheld"] is True

    # revocation takes effect on the next request
    assert w.client.post(f"/api/v1/grants/{gid}/revoke", headers=w.as_("approver")).status_code == 200
    assert _trace(w, "investigator")["content_withheld"] is True


def test_a_grant_works_only_inside_its_scope_and_its_time(w: World, secret: str) -> None:
    other = "b2" * 16
    doc = trace_doc(other, session="sess-2", subject="subject-8", text=secret + "-other")
    assert w.client.post("/api/v1/ingest", json={"spans": [doc]}, headers=w.as_("ingest")).status_code == 200
    r = w.client.post(
        "/api/v1/access-requests",
        json={"scope": "trace", "resources": [T1], "reason": "checking one trace only"},
        headers=w.as_("investigator"),
    )
    gid = r.json()["id"]
    w.client.post(f"/api/v1/grants/{gid}/approve", json={}, headers=w.as_("approver"))
    assert _trace(w, "investigator")["content_withheld"] is False
    r = w.client.get(f"/api/v1/traces/{other}", headers=w.as_("investigator"))
    assert r.json()["content_withheld"] is True and "-other" not in r.text

    with w.engine.begin() as conn:  # the grant's time runs out
        conn.execute(update(access_grants).where(access_grants.c.id == gid).values(expires_ns=time.time_ns() - 1))
    assert _trace(w, "investigator")["content_withheld"] is True


def test_break_glass_is_immediate_short_counted_and_reviewed_by_someone_else(w: World, secret: str) -> None:
    r = w.client.post(
        "/api/v1/break-glass",
        json={"scope": "session", "resources": ["sess-1"], "reason": "SEV1: refunds failing for every user"},
        headers=w.as_("investigator"),
    )
    assert r.status_code == 201, r.text
    g = r.json()
    assert g["kind"] == "break_glass" and g["active"] and g["expires_ns"] - g["created_ns"] == 15 * 60 * 10**9
    assert secret in str(_trace(w, "investigator"))
    metrics = w.client.get("/metrics", headers=w.as_("viewer")).text
    assert "watchkeeper_break_glass_total 1.0" in metrics

    with w.engine.begin() as conn:  # a day later, nobody has reviewed it
        conn.execute(
            update(access_grants).where(access_grants.c.id == g["id"]).values(review_due_ns=time.time_ns() - 1)
        )
    listed = w.client.get("/api/v1/grants", headers=w.as_("approver")).json()["grants"]
    assert next(x for x in listed if x["id"] == g["id"])["review_overdue"] is True

    note = {"note": "reviewed the incident timeline: justified"}
    assert (
        w.client.post(f"/api/v1/grants/{g['id']}/review", json=note, headers=w.as_("investigator")).status_code == 403
    )
    r = w.client.post(f"/api/v1/grants/{g['id']}/review", json=note, headers=w.as_("auditor"))
    assert r.status_code == 200 and r.json()["review_overdue"] is False


def test_if_the_access_log_cannot_record_a_read_the_read_fails(w: World, secret: str) -> None:
    r = w.client.post(
        "/api/v1/break-glass",
        json={"scope": "trace", "resources": [T1], "reason": "SEV1: refunds failing for every user"},
        headers=w.as_("investigator"),
    )
    assert r.status_code == 201
    with w.engine.begin() as conn:
        conn.execute(text("ALTER TABLE access_events RENAME TO access_events_gone"))
    try:
        r = w.client.get(f"/api/v1/traces/{T1}", headers=w.as_("investigator"))
        assert r.status_code == 503 and r.json()["type"].endswith("/audit-unavailable")
        assert secret not in r.text
        page = w.client.get(f"/traces/{T1}", headers=w.as_("investigator"))
        assert secret not in page.text
        # metadata needs no audit write: it still answers
        assert _trace(w, "engineer")["content_withheld"] is True
    finally:
        with w.engine.begin() as conn:
            conn.execute(text("ALTER TABLE access_events_gone RENAME TO access_events"))


def test_api_keys_are_checked_for_form_checksum_expiry_and_revocation(w: World) -> None:
    def status(key: str) -> tuple[int, str]:
        r = w.client.get("/api/v1/traces", headers={"Authorization": f"Bearer {key}"})
        return r.status_code, r.json().get("detail", "")

    key = w.keys["viewer"]
    assert status(key)[0] == 200
    assert status("wk_short") == (401, status("wk_short")[1]) and "malformed" in status("wk_short")[1]
    flipped = key[:-1] + ("A" if key[-1] != "A" else "B")
    assert status(flipped)[0] == 401 and "checksum" in status(flipped)[1]
    forged, _ = identity.create_key(w.engine, w.ids["viewer"], name="forged", scopes=["metadata:read"])
    with w.engine.begin() as conn:  # a well-formed key whose hash is not stored
        conn.execute(update(api_keys).where(api_keys.c.name == "forged").values(secret_sha256=b"\0" * 32))
    assert status(forged) == (401, "unknown API key")
    kid = identity.parse_key(key)
    with w.engine.begin() as conn:
        conn.execute(update(api_keys).where(api_keys.c.key_id == kid).values(expires_ns=time.time_ns() - 1))
    assert status(key)[0] == 401 and "expired" in status(key)[1]
    key2 = w.keys["engineer"]
    r = w.client.delete(f"/api/v1/api-keys/{identity.parse_key(key2)}", headers=w.as_("admin"))
    assert r.status_code == 200
    assert status(key2)[0] == 401 and "revoked" in status(key2)[1]
    assert key2 not in str(audit.events(w.engine))  # keys never reach the access log


def test_a_key_cannot_carry_more_than_its_owner_holds(w: World) -> None:
    r = w.client.post(
        "/api/v1/api-keys",
        json={"name": "too much", "scopes": ["metadata:read", "access:approve"]},
        headers=w.as_("viewer"),
    )
    assert r.status_code == 403 and "access:approve" in r.json()["detail"]
    r = w.client.post("/api/v1/api-keys", json={"name": "mine", "scopes": ["metadata:read"]}, headers=w.as_("viewer"))
    assert r.status_code == 201 and r.json()["key"].startswith("wk_")
    listed = w.client.get("/api/v1/api-keys", headers=w.as_("admin")).text
    assert r.json()["key"] not in listed and r.json()["key_id"] in listed


def test_projects_are_isolated_and_foreign_ids_look_like_missing_ones(w: World, secret: str) -> None:
    p2 = identity.create_project(w.engine, "tenant-b")
    svc = identity.create_principal(w.engine, "b-ingest", kind="service", roles=["ingest"], project=p2)
    bkey, _ = identity.create_key(w.engine, svc, name="b", scopes=["ingest"], project=p2)
    inv = identity.create_principal(w.engine, "b-investigator", roles=["investigator", "viewer"], project=p2)
    ikey, _ = identity.create_key(w.engine, inv, name="b", scopes=["metadata:read", "access:break-glass"], project=p2)
    b_trace = "c3" * 16
    doc = trace_doc(b_trace, session="sess-1", subject="subject-9", text="tenant-b-secret")
    assert (
        w.client.post("/api/v1/ingest", json={"spans": [doc]}, headers={"Authorization": f"Bearer {bkey}"}).status_code
        == 200
    )
    hb = {"Authorization": f"Bearer {ikey}"}

    assert w.client.get(f"/api/v1/traces/{T1}", headers=hb).status_code == 404  # tenant A's trace
    assert w.client.get(f"/api/v1/traces/{b_trace}", headers=w.as_("engineer")).status_code == 404
    ids = {t["trace_id"] for t in w.client.get("/api/v1/traces", headers=hb).json()["traces"]}
    assert ids == {b_trace}
    # a break-glass in tenant B naming tenant A's session id opens nothing of tenant A
    r = w.client.post(
        "/api/v1/break-glass", json={"resources": ["sess-1"], "reason": "same session id, other tenant"}, headers=hb
    )
    assert r.status_code == 201
    assert w.client.get(f"/api/v1/traces/{T1}", headers=hb).status_code == 404
    assert "tenant-b-secret" in w.client.get(f"/api/v1/traces/{b_trace}", headers=hb).text
    # and tenant A's approver cannot act on tenant B's grants
    assert w.client.post(f"/api/v1/grants/{r.json()['id']}/revoke", headers=w.as_("approver")).status_code == 404


def test_breach_scoping_names_exactly_what_a_principal_read(w: World, secret: str) -> None:
    start = time.time_ns()
    w.client.post(
        "/api/v1/break-glass",
        json={"scope": "session", "resources": ["sess-1"], "reason": "SEV1: refunds failing for every user"},
        headers=w.as_("investigator"),
    )
    _trace(w, "investigator")
    _trace(w, "engineer")  # metadata only: not an exposure
    pid = w.ids["investigator"]
    r = w.client.get(f"/api/v1/access-log/scope?principal_id={pid}&from={start}", headers=w.as_("auditor"))
    assert r.status_code == 200, r.text
    exp = r.json()
    assert exp["traces"] == [T1] and exp["subjects"] == ["subject-7"] and exp["records"] == 1
    r = w.client.get(
        f"/api/v1/access-log/scope?principal_id={w.ids['engineer']}&from={start}", headers=w.as_("auditor")
    )
    assert r.json()["records"] == 0

    aware = time.time_ns()
    r = w.client.post(
        "/api/v1/breaches",
        json={
            "title": "laptop of investigator stolen",
            "aware": str(aware),
            "principal_id": pid,
            "from": str(start),
            "to": str(time.time_ns()),
        },
        headers=w.as_("auditor"),
    )
    assert r.status_code == 201, r.text
    b = r.json()
    assert b["affected_records"] == 1 and b["affected_subjects"] == 1
    assert b["deadlines"]["gdpr_supervisory_authority_ns"] == aware + 72 * 3600 * 10**9
    assert b["deadlines"]["hipaa_individuals_ns"] == aware + 60 * 86400 * 10**9
    r = w.client.post(
        f"/api/v1/breaches/{b['id']}/timeline", json={"entry": "revoked all keys of the user"}, headers=w.as_("auditor")
    )
    assert [e["entry"] for e in r.json()["timeline"]] == ["breach recorded", "revoked all keys of the user"]
    assert w.client.post("/api/v1/breaches", json={}, headers=w.as_("engineer")).status_code == 403

    csv = w.client.get("/api/v1/access-log?format=csv", headers=w.as_("auditor"))
    assert csv.status_code == 200 and csv.text.startswith("log_index,") and secret not in csv.text


def test_the_access_log_verifies_and_an_edited_event_is_caught(w: World, secret: str) -> None:
    w.client.post(
        "/api/v1/break-glass",
        json={"scope": "session", "resources": ["sess-1"], "reason": "SEV1: refunds failing for every user"},
        headers=w.as_("investigator"),
    )
    _trace(w, "investigator")
    svc = w.client.app.state  # type: ignore[attr-defined]
    assert svc is not None
    from watchkeeper.trust.log import Checkpointer

    key_file = w.client.app.state.runtime.settings.log_key_path  # type: ignore[attr-defined]
    Checkpointer(w.engine, key_file, log_id=audit.ACCESS_LOG).run_once(force=True)
    pinned = parse_pinned(list_keys(w.engine))
    report = audit.verify_access_log(w.engine, pinned)
    assert report.ok, report.problems
    assert report.size >= 2 and report.checkpoints >= 1

    with w.engine.begin() as conn:  # someone hides why they looked
        conn.execute(text("UPDATE access_events SET reason = 'routine' WHERE action = 'read_content'"))
    report = audit.verify_access_log(w.engine, pinned)
    assert not report.ok and "altered" in report.problems[0]


def test_web_login_sets_a_strict_secure_cookie_checks_csrf_and_locks_after_failures(w: World, secret: str) -> None:
    c = w.client
    r = c.get(f"/traces/{T1}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    r = c.post("/login", data={"username": "investigator-1", "password": "wrong password!!"}, follow_redirects=False)
    assert r.status_code == 401 and "wrong user name or password" in r.text
    r = c.post(
        "/login",
        data={"username": "investigator-1", "password": PASSWORD, "next": "//evil.example"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/traces"  # no open redirect
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    page = c.get(f"/traces/{T1}")
    assert page.status_code == 200 and "Content withheld" in page.text and secret not in page.text
    # a state change from the cookie needs the CSRF token
    body = {"scope": "session", "resources": ["sess-1"], "reason": "ticket 4411: user reports a wrong refund"}
    assert c.post("/api/v1/access-requests", json=body).status_code == 403
    csrf = c.get("/api/v1/me").json()  # the token is in the page, not in /me
    assert "csrf" not in str(csrf).lower()
    c.cookies.clear()

    for _ in range(10):
        c.post("/login", data={"username": "viewer-1", "password": "not the password"}, follow_redirects=False)
    r = c.post("/login", data={"username": "viewer-1", "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 401  # locked for 15 minutes even with the right password


def test_the_auditor_sees_the_access_log_page_and_nobody_else_does(w: World, secret: str) -> None:
    w.client.post(
        "/api/v1/break-glass",
        json={"scope": "session", "resources": ["sess-1"], "reason": "SEV1: refunds failing for every user"},
        headers=w.as_("investigator"),
    )
    _trace(w, "investigator")
    page = w.client.get("/audit", headers=w.as_("auditor"))
    assert page.status_code == 200
    assert "read_content" in page.text and "SEV1: refunds failing" in page.text and secret not in page.text
    assert w.client.get("/audit", headers=w.as_("admin")).status_code == 403
    assert w.client.get("/audit?action=read_content&principal_id=x", headers=w.as_("auditor")).status_code == 200

"""The authorisation matrix: every role against every route of the app's route table, deny by default.

The routes come from the running app, so a new route is tested the moment it exists — and a route without an access
rule stops the app from starting at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import APIRouter, FastAPI

from watchkeeper.server._auth import check_routes, route_rules
from watchkeeper.trust.roles import ROLES

from ._access import World, world

_PARAMS = {
    "trace_id": "ab" * 16,
    "span_id": "cd" * 8,
    "session_id": "s-1",
    "session_id:path": "s-1",
    "index": "0",
    "key_id": "AAAAAAAA",
    "grant_id": "999999",
    "principal_id": "999999",
    "breach_id": "999999",
    "name": "style.css",
}


def _url(path: str) -> str:
    return re.sub(r"\{([^}]+)\}", lambda m: _PARAMS.get(m.group(1), "1"), path)


@pytest.fixture(scope="module")
def w(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from world(tmp_path_factory.mktemp("matrix"))


def _rules(w: World) -> list[tuple[str, str, object]]:
    out = []
    for r in route_rules(w.client.app.routes):  # type: ignore[attr-defined]
        for m in sorted(r.methods - {"HEAD"}):
            out.append((m, r.path, r.guard))
    return out


def test_every_route_of_the_app_has_an_access_rule(w: World) -> None:
    rules = _rules(w)
    assert len(rules) > 50
    assert all(g is not None for _, _, g in rules)


def test_an_app_with_an_unguarded_route_does_not_start() -> None:
    app = FastAPI()
    r = APIRouter()

    @r.get("/api/v1/forgotten")
    def forgotten() -> dict[str, str]:
        return {}

    app.include_router(r)
    with pytest.raises(RuntimeError, match="forgotten"):
        check_routes(app.routes)


def _call(w: World, method: str, path: str, headers: dict[str, str]) -> tuple[int, str]:
    kw: dict[str, object] = {"headers": headers, "follow_redirects": False}
    if method in ("POST", "PUT", "PATCH"):
        kw["json"] = {}
    resp = w.client.request(method, _url(path), **kw)  # type: ignore[arg-type]
    return resp.status_code, resp.text


def test_without_credentials_every_guarded_route_answers_401_or_sends_to_login(w: World) -> None:
    for method, path, guard in _rules(w):
        status, body = _call(w, method, path, {})
        if guard.public:  # type: ignore[attr-defined]
            assert status not in (401, 403) or path == "/api/v1/me", (method, path, status)
        elif guard.page:  # type: ignore[attr-defined]
            assert status == 303, (method, path, status)
        else:
            assert status in (401, 403), (method, path, status, body[:200])


@pytest.mark.parametrize("role", sorted(ROLES))
def test_each_role_reaches_exactly_the_routes_its_permissions_allow(w: World, role: str) -> None:
    perms = ROLES[role]
    for method, path, guard in _rules(w):
        status, body = _call(w, method, path, w.as_(role))
        need = guard.permission  # type: ignore[attr-defined]
        if need is None:
            assert "this route needs" not in body, (role, method, path, status)
            continue
        if need in perms:
            assert not (status == 403 and "this route needs" in body), (role, method, path, status, body[:200])
            assert status != 401, (role, method, path, body[:200])
        else:
            assert status == 403 and need.value in body, (role, method, path, status, body[:200])


def test_no_role_reads_content_without_a_grant(w: World) -> None:
    text = "canary-matrix-content-0001"
    tid = "ef" * 16
    from ._access import trace_doc

    r = w.client.post(
        "/api/v1/ingest", json={"spans": [trace_doc(tid, session="m", subject="u", text=text)]}, headers=w.as_("ingest")
    )
    assert r.status_code == 200, r.text
    for role in ROLES:
        r = w.client.get(f"/api/v1/traces/{tid}", headers=w.as_(role))
        assert text not in r.text, role
        if r.status_code == 200:
            assert r.json()["content_withheld"] is True
        r = w.client.get(f"/traces/{tid}", headers=w.as_(role), follow_redirects=False)
        assert text not in r.text, role


def test_the_ingest_key_writes_but_cannot_read(w: World, tmp_path: Path) -> None:
    r = w.client.get("/api/v1/traces", headers=w.as_("ingest"))
    assert r.status_code == 403 and "metadata:read" in r.json()["detail"]
    r = w.client.get("/metrics", headers=w.as_("ingest"))
    assert r.status_code == 403

"""Logging in and reaching content under a grant, in a real Chromium against a real server on a socket."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from watchkeeper.testing import running_server
from watchkeeper.trust import audit, identity

from ._access import PASSWORD, canary, trace_doc
from .test_pages_browser import ARTIFACTS, WAIT_MS

pytestmark = pytest.mark.browser

T = "e5" * 16


def test_an_investigator_logs_in_sees_metadata_then_breaks_glass_to_read_and_the_read_is_logged(
    tmp_path: Path, browser: Any
) -> None:
    secret = canary()
    with running_server(tmp_path / "data") as handle:
        engine = handle.app.state.runtime.engine
        identity.create_principal(engine, "ines", roles=["investigator"], password=PASSWORD)
        svc = identity.create_principal(engine, "svc", kind="service", roles=["ingest"])
        key, _ = identity.create_key(engine, svc, name="ingest", scopes=["ingest"])
        body = json.dumps({"spans": [trace_doc(T, session="s-web", subject="u-1", text=secret)]}).encode()
        req = urllib.request.Request(
            handle.url + "/api/v1/ingest",
            data=body,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.status == 200

        page = browser.new_page()
        try:
            page.goto(f"{handle.url}/traces/{T}")
            page.wait_for_url("**/login?next=*", timeout=WAIT_MS)
            page.fill("input[name=username]", "ines")
            page.fill("input[name=password]", "not her password")
            page.click("button[type=submit]")
            assert "wrong user name or password" in page.inner_text("#login-error")
            page.fill("input[name=username]", "ines")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"**/traces/{T}", timeout=WAIT_MS)
            assert page.is_visible("#content-withheld")
            assert secret not in page.content()

            page.click("#content-withheld a")
            page.wait_for_url("**/access?*", timeout=WAIT_MS)
            page.fill("#break-glass-form input[name=reason]", "SEV1: the refund agent is down for everyone")
            page.click("#break-glass-form button[type=submit]")
            page.wait_for_url("**/access", timeout=WAIT_MS)
            assert "break_glass" in page.inner_text("#grants")

            page.goto(f"{handle.url}/traces/{T}")
            assert page.is_visible("#content-granted")
            assert secret in page.content()
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "access-granted.png"), full_page=True)

            cookies = {c["name"]: c for c in page.context.cookies()}
            assert cookies["wk_session"]["httpOnly"] and cookies["wk_session"]["sameSite"] == "Strict"
            page.click("form.logout button")
            page.wait_for_url("**/login", timeout=WAIT_MS)
            page.goto(f"{handle.url}/traces/{T}")
            page.wait_for_url("**/login?next=*", timeout=WAIT_MS)
        finally:
            page.close()
        reads = audit.events(engine, action="read_content")
        assert [(e.principal, e.channel, e.resource_id) for e in reads] == [("ines", "web", T)]

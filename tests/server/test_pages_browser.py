"""The web pages in a real browser: Debian's Chromium, driven by Playwright, against a real server on a socket.

Skips with a reason when Chromium is missing, and fails instead when CI=true (the ``chromium_path`` fixture in
tests/conftest.py). Screenshots land in test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from watchkeeper.testing import running_server

from .test_pages import (
    BILLING,
    HOSTILE,
    MCP,
    ROOT,
    SUPPORT,
    TOOL,
    billing_trace,
    feedback,
    hostile_trace,
    span,
    support_trace,
)

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
WAIT_MS = 15_000


@dataclass
class Server:
    url: str

    def post(self, path: str, body: Any) -> Any:
        req = urllib.request.Request(
            self.url + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real server (uvicorn, 127.0.0.1, a free port) holding the fixture traces."""
    with running_server(tmp_path_factory.mktemp("browser"), auth=False) as handle:
        srv = Server(handle.url)
        body = {"spans": support_trace() + billing_trace() + hostile_trace(), "feedback": feedback()}
        srv.post("/api/v1/ingest", body)
        yield srv


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page; any console error, failed script or alert() fails the test."""
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    pg = context.new_page()
    problems: list[str] = []
    pg.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    pg.on("pageerror", lambda e: problems.append(f"page error: {e}"))

    def on_dialog(d: Any) -> None:
        problems.append(f"dialog: {d.message}")
        d.dismiss()

    pg.on("dialog", on_dialog)
    pg.set_default_timeout(WAIT_MS)
    try:
        yield pg
    finally:
        context.close()
    assert not problems, problems


def rows(pg: Any) -> list[str]:
    return [
        str(h).rsplit("/", 1)[1]
        for h in pg.eval_on_selector_all("table.traces tbody tr", "rs => rs.map(r => r.dataset.href)")
    ]


def test_traces_table_lists_the_traces_and_a_click_opens_one(server: Server, page: Any) -> None:
    page.goto(server.url + "/")
    assert page.url == server.url + "/traces"
    assert rows(page) == [HOSTILE, BILLING, SUPPORT]
    assert "row-error" in (page.locator(f'tr[data-href="/traces/{SUPPORT}"]').get_attribute("class") or "")
    page.screenshot(path=str(ARTIFACTS / "traces.png"))
    page.get_by_role("link", name="support.turn").click()
    page.wait_for_url(f"{server.url}/traces/{SUPPORT}")
    assert page.locator("h1").inner_text().startswith("support.turn")


def test_waterfall_has_one_bar_per_span_and_the_error_stands_out(server: Server, page: Any) -> None:
    page.goto(f"{server.url}/traces/{SUPPORT}")
    bars = page.locator(".wf-row .wf-bar")
    assert bars.count() == 5
    ids = page.eval_on_selector_all(".wf-row", "rs => rs.map(r => r.id)")
    assert ids == [f"span-{s}" for s in (ROOT, "b2" * 8, TOOL, MCP, "e5" * 8)]
    error_rows = page.locator(".wf-row.is-error")
    assert error_rows.count() == 1 and error_rows.get_attribute("id") == f"span-{MCP}"
    red = page.eval_on_selector(f"#span-{MCP} .wf-bar", "b => getComputedStyle(b).backgroundColor")
    tool = page.eval_on_selector(f"#span-{TOOL} .wf-bar", "b => getComputedStyle(b).backgroundColor")
    assert red == "rgb(198, 40, 40)" and tool != red
    # bars sit in time: the tool bar starts after the first LLM bar ends, and nothing overflows the track
    boxes = [bars.nth(i).bounding_box() for i in range(5)]
    track = page.locator(".wf-row .wf-track").first.bounding_box()
    assert boxes[2]["x"] >= boxes[1]["x"] + boxes[1]["width"] - 1
    assert all(b["x"] >= track["x"] - 1 and b["x"] + b["width"] <= track["x"] + track["width"] + 1 for b in boxes)
    # the failing span's panel is open first
    assert page.locator("#span-panel").get_attribute("data-span") == MCP
    assert "-32001" in page.locator("#span-panel").inner_text()
    page.screenshot(path=str(ARTIFACTS / "trace.png"), full_page=True)
    page.emulate_media(color_scheme="dark")  # the pages follow the system's dark setting
    assert page.eval_on_selector("body", "b => getComputedStyle(b).backgroundColor") == "rgb(17, 20, 24)"
    page.screenshot(path=str(ARTIFACTS / "trace-dark.png"), full_page=True)


def test_clicking_a_tool_bar_swaps_in_its_arguments_and_result(server: Server, page: Any) -> None:
    page.goto(f"{server.url}/traces/{SUPPORT}")
    page.evaluate("window.__notReloaded = true")
    page.locator(f"#span-{TOOL} .wf-bar").click()
    page.wait_for_selector(f'#span-panel[data-span="{TOOL}"]')
    panel = page.locator("#span-panel").inner_text()
    assert "Arguments sent" in panel and '"order_id": "WK-1"' in panel
    assert "Result returned" in panel and '"carrier": "DHL"' in panel
    assert page.evaluate("window.__notReloaded") is True  # htmx swapped the panel; the page stayed
    assert page.url == f"{server.url}/traces/{SUPPORT}?span={TOOL}"  # and the address can be shared
    assert page.locator(f"#span-{TOOL}").get_attribute("aria-current") == "true"
    assert page.locator(f"#span-{MCP}").get_attribute("aria-current") is None
    page.screenshot(path=str(ARTIFACTS / "trace-tool.png"), full_page=True)
    # the keyboard walks the waterfall too
    page.keyboard.press("j")
    page.wait_for_selector(f'#span-panel[data-span="{MCP}"]')
    # and an LLM span shows its messages and the tool call it asked for
    page.locator(f"#span-{'b2' * 8}").click()
    page.wait_for_selector(f'#span-panel[data-span="{"b2" * 8}"]')
    assert "calls tool lookup_order" in page.locator("#span-panel").inner_text()
    page.screenshot(path=str(ARTIFACTS / "trace-llm.png"), full_page=True)


def test_filters_narrow_the_list(server: Server, page: Any) -> None:
    page.goto(server.url + "/traces")
    page.fill('input[name="model"]', "claude-3-5-sonnet")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**/traces?*model=claude-3-5-sonnet*")
    assert rows(page) == [BILLING]
    page.goto(server.url + "/traces")
    page.select_option('select[name="status"]', "error")  # applies on change
    page.wait_for_url("**/traces?*status=error*")
    assert rows(page) == [HOSTILE, SUPPORT]
    page.fill('input[name="tool"]', "read_f")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**tool=read_f*")
    assert rows(page) == [SUPPORT]
    page.screenshot(path=str(ARTIFACTS / "traces-filtered.png"))


def test_live_refresh_shows_new_traces_without_a_reload(server: Server, page: Any) -> None:
    page.goto(server.url + "/traces?service=live-bot&range=all")
    assert rows(page) == []
    page.check('input[name="live"]')  # applies on change
    page.wait_for_url("**live=1*")
    page.evaluate("window.__notReloaded = true")
    trace = "9" * 32
    # two days old, so the other tests' default "last 24 h" lists stay as they were
    old_ms = -2 * 86_400_000
    server.post(
        "/api/v1/ingest", {"spans": [span(trace, ROOT, "live.turn", "agent", old_ms, 100, service_name="live-bot")]}
    )
    page.wait_for_selector(f'tr[data-href="/traces/{trace}"]', timeout=WAIT_MS)
    assert page.evaluate("window.__notReloaded") is True


def test_sessions_and_a_conversation(server: Server, page: Any) -> None:
    page.goto(server.url + "/sessions")
    page.screenshot(path=str(ARTIFACTS / "sessions.png"))
    page.get_by_role("link", name="sess-A", exact=True).click()
    page.wait_for_url(server.url + "/sessions/sess-A")
    text = page.locator("main").inner_text()
    assert "Where is my order WK-1?" in text and "Your order WK-1 has shipped." in text
    page.screenshot(path=str(ARTIFACTS / "session.png"))


def test_hostile_content_runs_nothing(server: Server, page: Any) -> None:
    for url in ("/traces", "/sessions", f"/traces/{HOSTILE}", f"/traces/{HOSTILE}?span={'b2' * 8}"):
        page.goto(server.url + url)
        assert page.evaluate("document.querySelectorAll('img, svg, iframe').length") == 0
    page.locator(f"#span-{ROOT}").click()
    page.wait_for_selector(f'#span-panel[data-span="{ROOT}"]')
    assert page.evaluate("document.querySelectorAll('img, svg, iframe').length") == 0
    page.screenshot(path=str(ARTIFACTS / "trace-hostile.png"), full_page=True)


def test_a_search_that_matches_nothing_says_so(server: Server, page: Any) -> None:
    page.goto(server.url + "/traces?model=nothing-like-this")
    assert "No traces match" in page.locator("main").inner_text()
    page.get_by_role("link", name="Clear filters").first.click()
    page.wait_for_url(server.url + "/traces")
    assert rows(page) == [HOSTILE, BILLING, SUPPORT]

"""The web pages in-process: lists, filters, the trace page with its waterfall and span panel, sessions, errors,
and hostile content rendered inert."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from watchkeeper.config import Settings
from watchkeeper.server import create_app
from watchkeeper.store import make_engine, migrate
from watchkeeper.store.tables import metadata

NOW = time.time_ns()
MS = 1_000_000

SUPPORT = "5" * 32  # an agent turn: llm → tool → mcp (fails) → llm
BILLING = "6" * 32  # another service, another model, no errors
HOSTILE = "7" * 32  # every user-supplied string is an attack
OLD = "8" * 32  # three days old: outside the default time range
ROOT, LLM1, TOOL, MCP, LLM2 = "a1" * 8, "b2" * 8, "c3" * 8, "d4" * 8, "e5" * 8

XSS_SCRIPT = '<script>alert("wk")</script>'
XSS_ATTR = '"><img src=x onerror=alert(1)>'
XSS_SVG = "'><svg onload=alert(2)>"


def span(trace: str, span_id: str, name: str, kind: str, start_ms: float, dur_ms: float, **kw: Any) -> dict[str, Any]:
    """A span dict for POST /api/v1/ingest, timed relative to a minute ago."""
    base = NOW - 60_000 * MS
    d: dict[str, Any] = {
        "trace_id": trace,
        "span_id": span_id,
        "name": name,
        "kind": kind,
        "start_time_ns": base + int(start_ms * MS),
        "end_time_ns": base + int((start_ms + dur_ms) * MS),
        "status": "ok",
    }
    d.update(kw)
    return d


def support_trace() -> list[dict[str, Any]]:
    ctx: dict[str, Any] = {
        "session_id": "sess-A",
        "subject_id": "user-1",
        "service_name": "support-bot",
        "account": {"plan_tier": "pro", "region": "eu-west", "client_name": "web", "client_version": "2.1.0"},
        "versions": {"model": "gpt-4o-mini-2024-07-18", "prompt": "support-v12", "skill": "orders@1.4.0"},
    }
    return [
        span(
            SUPPORT,
            ROOT,
            "support.turn",
            "agent",
            0,
            2400,
            input="Where is my order WK-1?",
            output="Your order WK-1 has shipped.",
            attributes={"customer.tier": "gold"},
            **ctx,
        ),
        span(
            SUPPORT,
            LLM1,
            "chat gpt-4o-mini",
            "llm",
            10,
            700,
            parent_span_id=ROOT,
            **ctx,
            llm={
                "provider": "openai",
                "request_model": "gpt-4o-mini",
                "response_model": "gpt-4o-mini-2024-07-18",
                "parameters": {"temperature": 0.2, "max_tokens": 512},
                "input_messages": [
                    {"role": "system", "content": "You are the support assistant."},
                    {"role": "user", "content": "Where is my order WK-1?"},
                ],
                "output_messages": [
                    {
                        "role": "assistant",
                        "tool_calls": [{"id": "call_1", "name": "lookup_order", "arguments": '{"order_id": "WK-1"}'}],
                    }
                ],
                "finish_reasons": ["tool_calls"],
                "usage": {"input_tokens": 1200, "output_tokens": 30, "cached_input_tokens": 400},
            },
        ),
        span(
            SUPPORT,
            TOOL,
            "lookup_order",
            "tool",
            720,
            180,
            parent_span_id=ROOT,
            **ctx,
            tool={
                "name": "lookup_order",
                "call_id": "call_1",
                "arguments": {"order_id": "WK-1"},
                "result": {"status": "shipped", "carrier": "DHL"},
                "is_error": False,
            },
        ),
        span(
            SUPPORT,
            MCP,
            "tools/call read_file",
            "mcp",
            910,
            90,
            parent_span_id=ROOT,
            **ctx,
            status="error",
            error={"type": "McpError", "code": "-32001", "message": "file not found: invoices/WK-1.pdf"},
            tool={
                "name": "read_file",
                "mcp_server": "files-mcp",
                "jsonrpc_method": "tools/call",
                "arguments": {"path": "invoices/WK-1.pdf"},
                "result": {"content": [{"type": "text", "text": "no such file"}], "isError": True},
                "is_error": True,
                "jsonrpc_error_code": -32001,
            },
        ),
        span(
            SUPPORT,
            LLM2,
            "chat gpt-4o-mini",
            "llm",
            1010,
            1300,
            parent_span_id=ROOT,
            **ctx,
            llm={
                "provider": "openai",
                "request_model": "gpt-4o-mini",
                "input_messages": [{"role": "user", "content": "Where is my order WK-1?"}],
                "output_messages": [{"role": "assistant", "content": "Your order WK-1 has shipped."}],
                "usage": {"input_tokens": 1400, "output_tokens": 12},
            },
        ),
    ]


def billing_trace() -> list[dict[str, Any]]:
    ctx: dict[str, Any] = {
        "session_id": "sess-B",
        "subject_id": "user-2",
        "service_name": "billing-bot",
        "account": {"plan_tier": "free", "region": "us-east", "client_version": "1.0.0"},
    }
    return [
        span(BILLING, ROOT, "billing.turn", "agent", 5000, 900, **ctx),
        span(
            BILLING,
            LLM1,
            "chat claude",
            "llm",
            5010,
            800,
            parent_span_id=ROOT,
            **ctx,
            llm={
                "provider": "anthropic",
                "request_model": "claude-3-5-sonnet",
                "input_messages": [{"role": "user", "content": "Cancel my plan"}],
                "output_messages": [{"role": "assistant", "content": "Your plan is cancelled."}],
                "usage": {"input_tokens": 300, "output_tokens": 9},
            },
        ),
    ]


def hostile_trace() -> list[dict[str, Any]]:
    ctx: dict[str, Any] = {"session_id": f"sess-{XSS_ATTR}", "subject_id": XSS_SVG, "service_name": XSS_SCRIPT}
    return [
        span(
            HOSTILE,
            ROOT,
            f"turn {XSS_SCRIPT}",
            "agent",
            9000,
            500,
            **ctx,
            input=XSS_ATTR,
            output=XSS_SCRIPT,
            attributes={"note": XSS_ATTR, "x-evil": XSS_SVG},
        ),
        span(
            HOSTILE,
            LLM1,
            f"llm {XSS_ATTR}",
            "llm",
            9010,
            200,
            parent_span_id=ROOT,
            **ctx,
            llm={
                "request_model": XSS_SVG,
                "input_messages": [{"role": XSS_ATTR, "content": XSS_SCRIPT, "name": XSS_SVG}],
                "output_messages": [
                    {
                        "role": "assistant",
                        "content": XSS_ATTR,
                        "tool_calls": [{"id": XSS_SVG, "name": XSS_SCRIPT, "arguments": {"q": XSS_ATTR}}],
                    }
                ],
            },
        ),
        span(
            HOSTILE,
            TOOL,
            XSS_SVG,
            "tool",
            9220,
            100,
            parent_span_id=ROOT,
            **ctx,
            status="error",
            error={"type": XSS_SCRIPT, "message": XSS_ATTR},
            tool={"name": XSS_SCRIPT, "mcp_server": XSS_ATTR, "arguments": XSS_ATTR, "result": {XSS_SVG: XSS_SCRIPT}},
        ),
    ]


def old_trace() -> list[dict[str, Any]]:
    return [span(OLD, ROOT, "nightly.job", "chain", -3 * 86_400_000, 50, service_name="old-bot")]


def feedback() -> list[dict[str, Any]]:
    return [
        {
            "id": "fb-1",
            "trace_id": SUPPORT,
            "kind": "thumbs",
            "value": -1,
            "time_ns": NOW - 1000 * MS,
            "comment": "it never told me about the invoice",
        },
        {"id": "fb-2", "trace_id": HOSTILE, "kind": "comment", "time_ns": NOW - 900 * MS, "comment": XSS_ATTR},
    ]


def ingest_all(client: TestClient) -> None:
    body = {"spans": support_trace() + billing_trace() + hostile_trace() + old_trace(), "feedback": feedback()}
    r = client.post("/api/v1/ingest", json=body)
    assert r.status_code == 200, r.text


def _emptied(url: str) -> str:
    """A PostgreSQL store, migrated, with the rows other tests left behind removed."""
    engine = make_engine(url)
    migrate(engine)
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            if table.name != "projects":
                conn.execute(table.delete())
    engine.dispose()
    return url


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def client(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The server in-process, holding the fixture traces, on each store engine."""
    data_dir = str(tmp_path_factory.mktemp("pages"))
    url = "" if request.param == "sqlite" else _emptied(request.getfixturevalue("pg_url"))
    with TestClient(create_app(Settings(auth=False, data_dir=data_dir, database_url=url))) as c:
        ingest_all(c)
        yield c


@pytest.fixture
def empty_client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(auth=False, data_dir=str(tmp_path)))) as c:
        yield c


class Doc(HTMLParser):
    """A parsed page: every start tag with its attributes, in order, and the text."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text_parts: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        self.text_parts.append(data)

    @property
    def text(self) -> str:
        return re.sub(r"\s+", " ", " ".join(self.text_parts))

    def find(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        return [a for t, a in self.tags if t == tag and all(a.get(k.rstrip("_")) == v for k, v in attrs.items())]

    def with_class(self, cls: str) -> list[tuple[str, dict[str, str]]]:
        return [(t, a) for t, a in self.tags if cls in a.get("class", "").split()]


def page(client: TestClient, url: str, status: int = 200, **kw: Any) -> Doc:
    r = client.get(url, **kw)
    assert r.status_code == status, (url, r.status_code, r.text[:500])
    assert r.headers["content-type"].startswith("text/html")
    return Doc(r.text)


def listed(doc: Doc) -> list[str]:
    """Trace ids in the traces table, in order."""
    return [a["data-href"].rsplit("/", 1)[1] for t, a in doc.tags if t == "tr" and "data-href" in a]


# ---------------------------------------------------------------------------------------------------------------
# Traces list


def test_root_redirects_to_the_traces_list(client: TestClient) -> None:
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/traces"


def test_traces_list_shows_every_trace_newest_first_with_its_totals(client: TestClient) -> None:
    doc = page(client, "/traces")
    assert listed(doc) == [HOSTILE, BILLING, SUPPORT]
    assert "support.turn" in doc.text and "billing.turn" in doc.text
    # the support trace: 5 spans, 2 LLM calls, 2 tool calls (tool + mcp), 2.6k in / 42 out, one error
    row = next(a for t, a in doc.tags if t == "tr" and a.get("data-href") == f"/traces/{SUPPORT}")
    assert "row-error" in row["class"]
    assert re.search(r"support\.turn agent support-bot error 2\.40s 5 2 2 2\.6k / 42 \$0\.\d{4} sess-A", doc.text)
    assert doc.find("a", href="/sessions/sess-A")


def test_a_clean_trace_is_not_highlighted(client: TestClient) -> None:
    doc = page(client, "/traces")
    row = next(a for t, a in doc.tags if t == "tr" and a.get("data-href") == f"/traces/{BILLING}")
    assert "row-error" not in row["class"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("model=claude-3-5-sonnet", [BILLING]),
        ("model=gpt-4o-mini-2024-07-18", [SUPPORT]),  # the served model matches as well as the requested one
        ("tool=LOOKUP", [SUPPORT]),  # substring, any case, on a child span
        ("status=error", [HOSTILE, SUPPORT]),  # a failed child makes the trace one with errors
        ("status=ok", [BILLING]),
        ("service=billing-bot", [BILLING]),
        ("session=sess-A", [SUPPORT]),
        ("subject=user-2", [BILLING]),
        ("plan_tier=pro", [SUPPORT]),
        ("region=us-east", [BILLING]),
        ("client_version=2.1.0", [SUPPORT]),
        ("attr=customer.tier%3Dgold", [SUPPORT]),
        ("status=error&plan_tier=pro&tool=read", [SUPPORT]),
        ("model=no-such-model", []),
        ("range=7d", [HOSTILE, BILLING, SUPPORT, OLD]),
        ("range=all&service=old-bot", [OLD]),
        ("range=bogus", [HOSTILE, BILLING, SUPPORT]),  # an unknown preset falls back to the last 24 hours
    ],
)
def test_filters_narrow_the_list(client: TestClient, query: str, expected: list[str]) -> None:
    doc = page(client, f"/traces?{query}")
    assert listed(doc) == expected
    if not expected:
        assert "No traces match" in doc.text and "Clear filters" in doc.text


def test_the_last_15_minutes_hold_the_traces_just_ingested(
    empty_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # on a fresh store, not the module's, with traces timed from now rather than from the module's import: a slow
    # run (the whole suite on a busy machine) outlives 15 minutes
    monkeypatch.setattr(sys.modules[__name__], "NOW", time.time_ns())
    ingest_all(empty_client)
    assert listed(page(empty_client, "/traces?range=15m")) == [HOSTILE, BILLING, SUPPORT]


def test_filter_values_are_kept_in_the_form(client: TestClient) -> None:
    doc = page(client, "/traces?model=claude-3-5-sonnet&status=error&range=7d")
    assert doc.find("input", name="model", value="claude-3-5-sonnet")
    assert doc.find("option", value="error", selected="")
    assert doc.find("option", value="7d", selected="")


def test_a_malformed_attribute_filter_is_explained_on_the_page(client: TestClient) -> None:
    doc = page(client, "/traces?attr=no-equals-sign", status=400)
    assert "key=value" in doc.text
    assert doc.find("form", action="/traces")  # the form stays, so it can be fixed


def test_older_link_pages_through_the_traces(client: TestClient) -> None:
    first = page(client, "/traces?limit=2")
    assert listed(first) == [HOSTILE, BILLING]
    older = first.find("a", rel="next")
    assert older and "cursor=" in older[0]["href"] and "limit=2" in older[0]["href"]
    second = page(client, older[0]["href"])
    assert listed(second) == [SUPPORT]
    assert not second.find("a", rel="next")
    assert "Newest" in second.text


def test_a_forged_cursor_is_a_clear_error(client: TestClient) -> None:
    doc = page(client, "/traces?cursor=not-a-cursor", status=400)
    assert "start again without it" in doc.text


def test_live_refresh_polls_the_table_fragment(client: TestClient) -> None:
    off = page(client, "/traces?model=claude-3-5-sonnet")
    assert not [a for t, a in off.tags if "hx-trigger" in a]
    on = page(client, "/traces?model=claude-3-5-sonnet&live=1")
    (table,) = on.find("div", id="traces-table")
    assert table["hx-trigger"] == "every 5s" and table["hx-swap"] == "outerHTML"
    assert table["hx-get"].startswith("/traces/table?") and "model=claude-3-5-sonnet" in table["hx-get"]
    r = client.get(table["hx-get"], headers={"HX-Request": "true"})
    assert r.status_code == 200
    assert r.text.lstrip().startswith('<div id="traces-table"') and "<html" not in r.text
    frag = Doc(r.text)
    assert listed(frag) == [BILLING] and frag.find("div", id="traces-table")[0]["hx-trigger"] == "every 5s"


def test_the_table_fragment_without_htmx_sends_the_browser_to_the_page(client: TestClient) -> None:
    r = client.get("/traces/table?status=error", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/traces?status=error"


def test_an_empty_store_explains_how_to_send_data(empty_client: TestClient) -> None:
    doc = page(empty_client, "/traces")
    assert "No traces yet" in doc.text
    assert "/v1/traces" in doc.text and "/api/v1/ingest" in doc.text and "sdk.configure" in doc.text


# ---------------------------------------------------------------------------------------------------------------
# One trace


def waterfall(doc: Doc) -> list[tuple[str, int, dict[str, str]]]:
    """(span id, indentation in px, attributes) of each waterfall row, top to bottom."""
    out = []
    for i, (tag, a) in enumerate(doc.tags):
        if tag == "a" and "data-span-row" in a:
            label = doc.tags[i + 1][1]
            pad = int(re.search(r"padding-left: (\d+)px", label["style"]).group(1))  # type: ignore[union-attr]
            out.append((a["id"].removeprefix("span-"), pad, a))
    return out


def test_trace_page_shows_totals_and_context(client: TestClient) -> None:
    doc = page(client, f"/traces/{SUPPORT}")
    text = doc.text
    for expected in (
        "Duration 2.40s",
        "Spans 5",
        "Errors 1",
        "LLM calls 2",
        "Tool calls 2",
        "Session sess-A",
        "support-v12",
        "orders@1.4.0",
        "gpt-4o-mini-2024-07-18",
        "user-1",
        "support-bot",
    ):
        assert expected in text, expected
    assert "2.6k / 42" in text and "400 cached" in text
    assert "thumbs down" in text and "it never told me about the invoice" in text  # feedback on the trace


def test_waterfall_has_one_row_per_span_in_tree_order(client: TestClient) -> None:
    rows = waterfall(page(client, f"/traces/{SUPPORT}"))
    assert [r[0] for r in rows] == [ROOT, LLM1, TOOL, MCP, LLM2]
    pads = [r[1] for r in rows]
    assert pads[0] < pads[1] == pads[2] == pads[3] == pads[4]  # children indented one level under the root
    classes = {r[0]: r[2]["class"].split() for r in rows}
    assert "is-error" in classes[MCP] and "kind-mcp" in classes[MCP]
    assert "is-error" not in classes[TOOL] and "kind-tool" in classes[TOOL]


def test_waterfall_bars_sit_where_the_spans_ran(client: TestClient) -> None:
    html = client.get(f"/traces/{SUPPORT}").text
    bars = re.findall(r'class="wf-bar" style="left: ([\d.]+)%; width: ([\d.]+)%"', html)
    assert [(float(a), float(b)) for a, b in bars] == [
        (0.0, 100.0),
        (pytest.approx(0.417, abs=0.01), pytest.approx(29.167, abs=0.01)),
        (30.0, 7.5),
        (pytest.approx(37.917, abs=0.01), 3.75),
        (pytest.approx(42.083, abs=0.01), pytest.approx(54.167, abs=0.01)),
    ]


def test_the_first_failing_span_is_open_by_default(client: TestClient) -> None:
    doc = page(client, f"/traces/{SUPPORT}")
    (panel,) = doc.find("section", id="span-panel")
    assert panel["data-span"] == MCP
    current = [r for r in waterfall(doc) if r[2].get("aria-current") == "true"]
    assert [r[0] for r in current] == [MCP]
    text = doc.text
    assert "MCP call" in text and "files-mcp" in text and "tools/call" in text
    assert "isError true" in text and "JSON-RPC error code -32001" in text
    assert "McpError" in text and "file not found: invoices/WK-1.pdf" in text


def test_span_query_opens_that_span_with_arguments_and_result(client: TestClient) -> None:
    doc = page(client, f"/traces/{SUPPORT}?span={TOOL}")
    assert doc.find("section", id="span-panel")[0]["data-span"] == TOOL
    html = client.get(f"/traces/{SUPPORT}?span={TOOL}").text
    args = re.search(r'<pre class="json tool-args">(.*?)</pre>', html, re.S)
    result = re.search(r'<pre class="json tool-result">(.*?)</pre>', html, re.S)
    assert args and result
    assert args.group(1) == "{\n  &#34;order_id&#34;: &#34;WK-1&#34;\n}"
    assert "&#34;carrier&#34;: &#34;DHL&#34;" in result.group(1)


def test_llm_panel_shows_models_parameters_messages_and_requested_tool_calls(client: TestClient) -> None:
    doc = page(client, f"/traces/{SUPPORT}?span={LLM1}")
    text = doc.text
    assert "model requested gpt-4o-mini" in text and "model served gpt-4o-mini-2024-07-18" in text
    assert "provider openai" in text and "finish reason tool_calls" in text
    assert "tokens in 1200 (400 cached)" in text and "tokens out 30" in text
    assert "max_tokens 512" in text and "temperature 0.2" in text
    roles = [a["class"] for t, a in doc.with_class("msg")]
    assert roles == ["msg role-system", "msg role-user", "msg role-assistant"]
    assert "You are the support assistant." in text
    assert "calls tool lookup_order call_1" in text
    # arguments sent as a JSON string are shown parsed and indented
    assert '{ "order_id": "WK-1" }' in text


def test_span_panel_fragment_for_htmx_and_a_redirect_without_it(client: TestClient) -> None:
    url = f"/traces/{SUPPORT}/spans/{TOOL}"
    r = client.get(url, headers={"HX-Request": "true"})
    assert r.status_code == 200 and "<html" not in r.text
    frag = Doc(r.text)
    assert frag.find("section", id="span-panel")[0]["data-span"] == TOOL
    assert "Arguments sent" in frag.text and "shipped" in frag.text
    r = client.get(url, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/traces/{SUPPORT}?span={TOOL}"


def test_rows_select_spans_with_and_without_javascript(client: TestClient) -> None:
    rows = waterfall(page(client, f"/traces/{SUPPORT}"))
    tool = next(a for sid, _, a in rows if sid == TOOL)
    assert tool["href"] == f"/traces/{SUPPORT}?span={TOOL}"
    assert tool["hx-get"] == f"/traces/{SUPPORT}/spans/{TOOL}"
    assert tool["hx-target"] == "#span-panel" and tool["hx-swap"] == "outerHTML"
    assert tool["hx-push-url"] == tool["href"]


def test_an_unknown_span_in_the_query_falls_back_to_the_default(client: TestClient) -> None:
    doc = page(client, f"/traces/{SUPPORT}?span={'f' * 16}")
    assert doc.find("section", id="span-panel")[0]["data-span"] == MCP


def test_unknown_trace_is_a_404_page(client: TestClient) -> None:
    doc = page(client, f"/traces/{'9' * 32}", status=404)
    assert "Not found" in doc.text and "9" * 32 in doc.text
    assert doc.find("a", href="/traces")


@pytest.mark.parametrize("bad", ["xyz", "1234", "g" * 32, "0" * 32])
def test_a_malformed_trace_id_is_a_400_page(client: TestClient, bad: str) -> None:
    doc = page(client, f"/traces/{bad}", status=400)
    assert "trace_id" in doc.text


def test_the_panel_fragment_for_an_unknown_span_is_a_404(client: TestClient) -> None:
    r = client.get(f"/traces/{SUPPORT}/spans/{'f' * 16}", headers={"HX-Request": "true"})
    assert r.status_code == 404 and 'id="span-panel"' in r.text  # the next click still has a target
    r = client.get(f"/traces/{SUPPORT}/spans/nothex", headers={"HX-Request": "true"})
    assert r.status_code == 400


def test_trace_ids_are_case_insensitive(client: TestClient) -> None:
    doc = page(client, f"/traces/{SUPPORT.upper()}")
    assert len(waterfall(doc)) == 5


# ---------------------------------------------------------------------------------------------------------------
# Sessions


def test_sessions_list_shows_activity_and_counts(client: TestClient) -> None:
    doc = page(client, "/sessions")
    links = [a["href"] for a in doc.find("a") if a.get("href", "").startswith("/sessions/")]
    assert links[:2] == [f"/sessions/sess-{'%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E'}", "/sessions/sess-B"]
    assert "/sessions/sess-A" in links
    assert re.search(r"sess-A user-1 2\.40s 1 5 1 \$0\.\d{4}", doc.text)


def test_sessions_filter_by_subject(client: TestClient) -> None:
    doc = page(client, "/sessions?subject=user-2")
    assert [a["href"] for a in doc.find("a") if a.get("href", "").startswith("/sessions/")] == ["/sessions/sess-B"]


def test_session_page_reads_as_a_conversation(client: TestClient) -> None:
    doc = page(client, "/sessions/sess-A")
    text = doc.text
    assert "user Where is my order WK-1?" in text
    assert "answer Your order WK-1 has shipped." in text
    assert doc.find("a", href=f"/traces/{SUPPORT}")


def test_session_turns_fall_back_to_the_model_calls(client: TestClient) -> None:
    text = page(client, "/sessions/sess-B").text
    assert "user Cancel my plan" in text and "answer Your plan is cancelled." in text


def test_unknown_session_is_a_404_page(client: TestClient) -> None:
    page(client, "/sessions/no-such-session", status=404)


# ---------------------------------------------------------------------------------------------------------------
# Layout, safety


def test_every_page_has_the_navigation(client: TestClient) -> None:
    for url in ("/traces", f"/traces/{SUPPORT}", "/sessions", "/sessions/sess-A"):
        doc = page(client, url)
        hrefs = {a.get("href") for a in doc.find("a")}
        assert {"/traces", "/sessions", "/docs", "/metrics"} <= hrefs


def test_demo_banner_shows_only_for_demo_data(client: TestClient) -> None:
    assert "Synthetic demo data" not in page(client, "/traces").text
    app: Any = client.app
    app.state.demo = True
    try:
        for url in ("/traces", f"/traces/{SUPPORT}", "/sessions"):
            assert "Synthetic demo data" in page(client, url).text
    finally:
        app.state.demo = False


def _assert_inert(html: str) -> None:
    doc = Doc(html)
    scripts = doc.find("script")
    assert scripts and all(s.get("src", "").startswith("/static/") for s in scripts)
    for tag, attrs in doc.tags:
        assert tag not in ("img", "svg", "iframe", "object", "embed"), tag
        handlers = [k for k in attrs if k.startswith("on")]
        assert not handlers, (tag, attrs)
    assert XSS_SCRIPT not in html and XSS_ATTR not in html and XSS_SVG not in html


@pytest.mark.parametrize(
    "url",
    [
        "/traces",
        f"/traces/{HOSTILE}",
        f"/traces/{HOSTILE}?span={LLM1}",
        f"/traces/{HOSTILE}?span={ROOT}",
        "/sessions",
        "/sessions/sess-%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E",
        f"/traces?service={XSS_SCRIPT}&attr=k%3D{XSS_ATTR}",
        f"/traces?attr={XSS_ATTR}",  # an invalid filter, echoed back in the form
    ],
)
def test_hostile_content_is_rendered_inert(client: TestClient, url: str) -> None:
    r = client.get(url)
    assert r.status_code in (200, 400)
    _assert_inert(r.text)


def test_hostile_content_is_shown_as_text(client: TestClient) -> None:
    doc = page(client, f"/traces/{HOSTILE}?span={LLM1}")
    assert XSS_SCRIPT in doc.text and XSS_ATTR in doc.text and XSS_SVG in doc.text
    # a role that is not one we know gets no role class of its own
    assert [a["class"] for t, a in doc.with_class("msg")] == ["msg", "msg role-assistant"]
    r = client.get(f"/traces/{HOSTILE}/spans/{TOOL}", headers={"HX-Request": "true"})
    _assert_inert(r.text.replace("<section", "<script src='/static/x'></script><section", 1))
    assert XSS_SCRIPT in Doc(r.text).text


def test_pages_forbid_inline_script(client: TestClient) -> None:
    r = client.get("/traces")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert r.headers["x-content-type-options"] == "nosniff"


def test_static_files_are_served_with_validators(client: TestClient) -> None:
    for name, ctype in (("style.css", "text/css"), ("app.js", "text/javascript"), ("htmx.min.js", "text/javascript")):
        r = client.get(f"/static/{name}")
        assert r.status_code == 200 and r.headers["content-type"].startswith(ctype)
        again = client.get(f"/static/{name}", headers={"If-None-Match": r.headers["etag"]})
        assert again.status_code == 304
    assert client.get("/static/../pages.py").status_code == 404
    assert client.get("/static/nope.js").status_code == 404

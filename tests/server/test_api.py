"""The HTTP API in-process: JSON ingest acknowledges after commit, bad input gets precise problem documents,
and the query endpoints answer over what was stored."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from watchkeeper.config import Settings
from watchkeeper.server import create_app

NOW = time.time_ns()
CANARY = "CANARY-sk-proj-Zq93hX"


def span(trace: str = "a" * 32, span_id: str = "b" * 16, **kw: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "trace_id": trace,
        "span_id": span_id,
        "name": "chat",
        "kind": "llm",
        "start_time_ns": NOW - 5_000_000_000,
        "end_time_ns": NOW - 4_000_000_000,
    }
    d.update(kw)
    return d


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(
        Settings(auth=False, data_dir=str(tmp_path), max_body_bytes=64 * 1024, max_string_chars=5000, max_depth=8)
    )
    with TestClient(app) as c:
        yield c


def stored(client: TestClient) -> int:
    body = client.get("/api/v1/spans", params={"limit": 500}).json()
    return len(body["spans"])


def test_ingest_answers_after_commit_and_the_trace_reads_back(client: TestClient) -> None:
    llm = span(
        llm={
            "provider": "openai",
            "request_model": "gpt-4o-mini",
            "input_messages": [{"role": "user", "content": "hi"}],
            "output_messages": [
                {"role": "assistant", "tool_calls": [{"id": "c1", "name": "lookup_order", "arguments": {"id": 7}}]}
            ],
            "usage": {"input_tokens": 1000, "output_tokens": 100, "cached_input_tokens": 400},
        },
        session_id="s1",
    )
    tool = span(
        span_id="c" * 16,
        parent_span_id="b" * 16,
        name="lookup_order",
        kind="tool",
        tool={"name": "lookup_order", "arguments": {"id": 7}, "result": {"status": "shipped"}},
    )
    fb = {"id": "fb1", "trace_id": "a" * 32, "kind": "thumbs", "value": -1, "time_ns": NOW}
    r = client.post("/api/v1/ingest", json={"spans": [llm, tool], "feedback": [fb]})
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": {"spans": 2, "feedback": 1}}
    trace = client.get("/api/v1/traces/" + "A" * 32).json()  # ids are case-insensitive on the way in
    assert trace["span_count"] == 2
    root = trace["roots"][0]
    assert root["llm"]["output_messages"][0]["tool_calls"][0]["name"] == "lookup_order"
    # cost comes from the price table: 600 × 0.15 + 400 × 0.075 + 100 × 0.60 per million
    assert root["llm"]["cost_usd"] == pytest.approx((600 * 0.15 + 400 * 0.075 + 100 * 0.60) / 1e6)
    assert root["children"][0]["tool"]["result"] == {"status": "shipped"}
    assert trace["feedback"][0]["value"] == -1


def test_gzip_bodies_are_accepted(client: TestClient) -> None:
    body = gzip.compress(json.dumps({"spans": [span()]}).encode())
    r = client.post(
        "/api/v1/ingest", content=body, headers={"content-type": "application/json", "content-encoding": "gzip"}
    )
    assert r.status_code == 200, r.text
    assert stored(client) == 1


def problem_of(r: Any) -> dict[str, Any]:
    assert r.headers["content-type"].startswith("application/problem+json"), r.text
    p: dict[str, Any] = r.json()
    assert {"type", "title", "status", "detail"} <= set(p)
    assert p["status"] == r.status_code
    return p


BAD_BODIES: list[tuple[str, bytes | dict[str, Any], int, str]] = [
    ("not json", b"{not json", 400, "body"),
    ("invalid utf-8", b'{"spans": [{"name": "\xff\xfe"}]}', 400, "body"),
    ("array body", b"[]", 400, "body"),
    ("unknown field", {"spanz": []}, 400, "body"),
    ("spans not a list", {"spans": {}}, 400, "spans"),
    ("missing trace id", {"spans": [{k: v for k, v in span().items() if k != "trace_id"}]}, 400, "spans[0].trace_id"),
    ("short span id", {"spans": [span(span_id="abc")]}, 400, "spans[0].span_id"),
    ("wrong type", {"spans": [span(start_time_ns="yesterday")]}, 400, "spans[0].start_time_ns"),
    (
        "far future",
        {"spans": [span(start_time_ns=NOW + 10**15, end_time_ns=NOW + 10**15)]},
        400,
        "spans[0].start_time_ns",
    ),
    ("over-long string", {"spans": [span(input="x" * 6000)]}, 400, "spans[0].input"),
    (
        "deep nesting",
        {"spans": [span(kind="tool", tool={"arguments": json.loads("[" * 20 + "]" * 20)})]},
        400,
        "spans[0].tool.arguments",
    ),
    (
        "bad feedback",
        {"feedback": [{"id": "f", "trace_id": "a" * 32, "kind": "thumbs", "value": 5, "time_ns": 1}]},
        400,
        "feedback[0].value",
    ),
]


@pytest.mark.parametrize(("case", "body", "status", "field"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_bad_input_gets_a_problem_naming_the_field_and_nothing_accepted_is_lost(
    client: TestClient, case: str, body: bytes | dict[str, Any], status: int, field: str
) -> None:
    assert client.post("/api/v1/ingest", json={"spans": [span(span_id="1" * 16)]}).status_code == 200
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    r = client.post("/api/v1/ingest", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == status
    p = problem_of(r)
    assert p["field"].startswith(field)
    assert stored(client) == 1


def test_a_rejected_batch_stores_none_of_its_records(client: TestClient) -> None:
    good = span(span_id="2" * 16)
    bad = span(span_id="3" * 16, kind="robot")
    r = client.post("/api/v1/ingest", json={"spans": [good, bad]})
    assert r.status_code == 400
    assert "spans[1].kind" in problem_of(r)["detail"]
    assert stored(client) == 0


def test_problem_details_never_echo_payload_values(client: TestClient) -> None:
    cases = [
        {"spans": [span(trace=CANARY)]},
        {"spans": [span(kind=CANARY)]},
        {"spans": [span(input=CANARY * 1000)]},
        {"spans": [span(llm={"usage": {"input_tokens": CANARY}})]},
    ]
    for body in cases:
        r = client.post("/api/v1/ingest", json=body)
        assert r.status_code == 400
        assert CANARY not in r.text


def test_bodies_over_the_limit_get_413_before_and_after_decompression(client: TestClient) -> None:
    r = client.post("/api/v1/ingest", content=b"{" + b" " * 70_000 + b"}", headers={"content-type": "application/json"})
    assert r.status_code == 413
    problem_of(r)
    bomb = gzip.compress(b'{"spans": []' + b" " * 1_000_000 + b"}")
    assert len(bomb) < 64 * 1024
    r = client.post(
        "/api/v1/ingest", content=bomb, headers={"content-type": "application/json", "content-encoding": "gzip"}
    )
    assert r.status_code == 413
    assert "decompressed" in problem_of(r)["detail"]


def test_wrong_content_type_and_encoding_are_named(client: TestClient) -> None:
    r = client.post("/api/v1/ingest", content=b"x", headers={"content-type": "text/plain"})
    assert r.status_code == 415
    problem_of(r)
    r = client.post(
        "/api/v1/ingest", content=b"x", headers={"content-type": "application/json", "content-encoding": "br"}
    )
    assert r.status_code == 400
    assert problem_of(r)["field"] == "Content-Encoding"


def test_query_parameters_are_validated(client: TestClient) -> None:
    for path, params, field in [
        ("/api/v1/spans", {"from": "last tuesday"}, "from"),
        ("/api/v1/spans", {"kind": "robot"}, "kind"),
        ("/api/v1/spans", {"cursor": "zzz"}, "cursor"),
        ("/api/v1/spans", {"attr": "novalue"}, "attr"),
        ("/api/v1/aggregates", {"group_by": "colour"}, "group_by"),
        ("/api/v1/aggregates", {"bucket": "3s"}, "bucket"),
        ("/api/v1/traces/xyz", {}, "trace_id"),
    ]:
        r = client.get(path, params=params)
        assert r.status_code == 400, (path, params, r.text)
        assert problem_of(r)["field"] == field
    r = client.get("/api/v1/spans", params={"limit": 0})
    assert r.status_code == 422
    assert problem_of(r)["field"] == "limit"
    r = client.get("/api/v1/traces/" + "d" * 32)
    assert r.status_code == 404
    problem_of(r)
    r = client.get("/no/such/route")
    assert r.status_code == 404
    problem_of(r)


def test_aggregates_group_and_filter(client: TestClient) -> None:
    spans = [
        span(
            trace=f"{i + 1:032x}",
            llm={
                "request_model": "gpt-4o" if i % 2 else "gpt-4o-mini",
                "usage": {"input_tokens": 10, "output_tokens": 1},
            },
            status="error" if i % 3 == 0 else "ok",
            account={"region": "eu" if i < 6 else "us"},
        )
        for i in range(10)
    ]
    assert client.post("/api/v1/ingest", json={"spans": spans}).status_code == 200
    body = client.get("/api/v1/aggregates", params={"group_by": "model,region", "bucket": "1d"}).json()
    cells = {(r["group"]["model"], r["group"]["region"]): r for r in body["rows"]}
    assert sum(r["count"] for r in cells.values()) == 10
    assert cells[("gpt-4o-mini", "eu")]["count"] == 3
    assert sum(r["errors"] for r in cells.values()) == 4
    only_us = client.get("/api/v1/aggregates", params={"region": "us", "bucket": "1d"}).json()["rows"]
    assert sum(r["count"] for r in only_us) == 4


def test_metrics_count_ingest_and_the_applications_calls(client: TestClient) -> None:
    spans = [
        span(
            llm={
                "request_model": "gpt-4o",
                "usage": {"input_tokens": 100, "output_tokens": 5, "cached_input_tokens": 25},
            }
        ),
        span(span_id="c" * 16, kind="mcp", name="tools/call x", tool={"name": "search_kb", "is_error": True}),
    ]
    client.post("/api/v1/ingest", json={"spans": spans})
    client.post("/api/v1/ingest", content=b"nope", headers={"content-type": "application/json"})
    text = client.get("/metrics").text
    assert 'watchkeeper_ingest_records_total{outcome="accepted",record="span",source="api"} 2.0' in text
    assert 'watchkeeper_ingest_requests_total{code="400",route="/api/v1/ingest"} 1.0' in text
    assert 'watchkeeper_llm_tokens_total{model="gpt-4o",type="cached_input"} 25.0' in text
    assert 'watchkeeper_llm_prompt_cache_hit_ratio{model="gpt-4o"} 0.25' in text
    assert 'watchkeeper_tool_calls_total{outcome="error",tool="search_kb"} 1.0' in text
    assert "watchkeeper_store_commit_seconds_bucket" in text
    assert "watchkeeper_ingest_queue_depth 0.0" in text


def test_model_labels_are_capped(client: TestClient) -> None:
    spans = [span(trace=f"{i + 1:032x}", llm={"request_model": f"model-{i}"}) for i in range(80)]
    client.post("/api/v1/ingest", json={"spans": spans})
    text = client.get("/metrics").text
    models = {
        line.split('model="')[1].split('"')[0]
        for line in text.splitlines()
        if line.startswith("watchkeeper_llm_requests_total{")
    }
    assert len(models) == 51 and "other" in models


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["status"] == "ready"


def test_openapi_documents_the_ingest_body(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/api/v1/ingest"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/IngestBody"}
    assert "SpanIn" in spec["components"]["schemas"]
    assert "/v1/traces" in spec["paths"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"session_id": "a\x00b"}, "spans[0].session_id"),
        ({"llm": {"request_model": "m" * 300}}, "spans[0].llm.request_model"),
        ({"account": {"region": "eu\x00"}}, "spans[0].account.region"),
        ({"error": {"code": "x" * 257}}, "spans[0].error.code"),
    ],
)
def test_metadata_strings_are_bounded_and_free_of_nul(client: TestClient, fields: dict[str, Any], field: str) -> None:
    r = client.post("/api/v1/ingest", json={"spans": [span(**fields)]})
    assert r.status_code == 400
    assert problem_of(r)["field"] == field

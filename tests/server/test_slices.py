"""The slice explorer's API and page in-process, on both engines: catalogue, top changes, series, examples, problems,
and hostile values shown as text."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from watchkeeper.config import Settings
from watchkeeper.server import create_app

from .test_pages import XSS_SCRIPT, _emptied

NOW = time.time_ns()
MIN = 60 * 1_000_000_000
CONTENT_KEYS = {"input", "output", "llm", "tool", "attributes", "payload", "messages", "error"}


def tool_spans(region: str, total: int, errors: int, minutes_ago: float, tag: int) -> list[dict[str, Any]]:
    start = NOW - int(minutes_ago * MIN)
    out = []
    for i in range(total):
        t = start + i * 1_000_000
        out.append(
            {
                "trace_id": f"{tag:04x}{i:028x}",
                "span_id": f"{tag:04x}{i:012x}",
                "name": f"call lookup {region}",
                "kind": "tool",
                "start_time_ns": t,
                "end_time_ns": t + 5_000_000,
                "status": "error" if i < errors else "ok",
                "error": {"type": "TimeoutError", "message": "secret text"} if i < errors else None,
                "tool": {"name": "lookup", "arguments": {"q": "secret text"}, "result": "secret text"},
                "account": {"region": region, "plan_tier": "pro"},
            }
        )
    return out


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def client(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The server in-process: EU's tool calls started failing in the last half hour; US's did not."""
    url = "" if request.param == "sqlite" else _emptied(request.getfixturevalue("pg_url"))
    app = create_app(Settings(auth=False, data_dir=str(tmp_path_factory.mktemp("slices")), database_url=url))
    with TestClient(app) as c:
        spans = (
            tool_spans("eu", 60, 1, 120, 1)
            + tool_spans("us", 60, 1, 120, 2)
            + tool_spans("eu", 60, 30, 20, 3)
            + tool_spans("us", 60, 1, 20, 4)
            + tool_spans(XSS_SCRIPT, 40, 10, 10, 5)
        )
        r = c.post("/api/v1/ingest", json={"spans": spans})
        assert r.status_code == 200, r.text
        yield c


def test_the_catalogue_names_each_metric_with_its_numerator_and_denominator(client: TestClient) -> None:
    body = client.get("/api/v1/slices/metrics").json()
    metrics = {m["name"]: m for m in body["metrics"]}
    assert {"requests", "errors", "refusals", "jailbreaks", "injections", "tool_errors", "corrections"} <= set(metrics)
    assert {"tool_errors.timeout", "escalations", "errors.llm"} <= set(metrics)
    assert metrics["refusals"]["denominator"] == "LLM spans with a refusal label"
    dims = [d["name"] for d in body["dimensions"]]
    assert {"account_age", "region", "client", "language", "model_version", "tool_name"} <= set(dims)
    assert ["language", "model_version"] in body["pairs"]
    assert body["other"] == "(other)" and body["none"] == "(none)"


def test_top_ranks_the_slice_whose_error_rate_rose(client: TestClient) -> None:
    r = client.get(
        "/api/v1/slices/top", params={"metric": "errors.tool", "dimension": "region", "window": "1h", "baseline": "6h"}
    )
    assert r.status_code == 200, r.text
    rows = r.json()["slices"]
    first = rows[0]
    assert first["slice"] == {"dimension": ["region"], "value": ["eu"], "label": "eu"}
    assert (first["baseline"]["hits"], first["baseline"]["total"]) == (1, 60)
    assert (first["current"]["hits"], first["current"]["total"]) == (30, 60)
    assert first["current"]["low"] < 0.5 < first["current"]["high"]
    assert first["change"]["significant"] and first["change"]["z"] > 4
    hostile = next(x for x in rows if x["slice"]["value"] == [XSS_SCRIPT])
    assert hostile["baseline_overall"] and hostile["baseline"]["total"] == 120
    assert "us" not in [x["slice"]["value"][0] for x in rows if x["change"]["significant"]]


def test_every_dimension_is_ranked_when_none_is_named(client: TestClient) -> None:
    rows = client.get("/api/v1/slices/top", params={"metric": "errors.tool", "window": "1h"}).json()["slices"]
    assert {tuple(x["slice"]["dimension"]) for x in rows} >= {("region",), ("region", "plan_tier")}


def test_series_gives_the_slice_and_the_rest_per_bucket(client: TestClient) -> None:
    r = client.get(
        "/api/v1/slices/series",
        params={
            "metric": "errors.tool",
            "dimension": "region",
            "value": "eu",
            "from": str(NOW - 180 * MIN),
            "to": str(NOW + MIN),
            "bucket": "15m",
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["slice_rate"]["hits"], body["slice_rate"]["total"]) == (31, 120)
    assert (body["rest_rate"]["hits"], body["rest_rate"]["total"]) == (12, 160)
    assert sum(p["slice"]["total"] for p in body["points"]) == 120
    width = 15 * MIN  # every 15-minute bucket that starts in [from, to), empty ones included: 13 or 14, by the clock
    assert len(body["points"]) == (NOW + MIN - 1) // width - (NOW - 180 * MIN) // width + 1
    assert all(p["slice"]["rate"] is None for p in body["points"] if p["slice"]["total"] == 0)


def test_a_pair_is_asked_for_with_one_value_per_dimension(client: TestClient) -> None:
    r = client.get(
        "/api/v1/slices/series",
        params=[("metric", "errors.tool"), ("dimension", "plan_tier,region"), ("value", "pro"), ("value", "eu")],
    )
    assert r.status_code == 200, r.text
    assert r.json()["slice"]["dimension"] == ["region", "plan_tier"]
    assert r.json()["slice"]["value"] == ["eu", "pro"]
    assert r.json()["slice_rate"]["total"] == 120


def test_examples_carry_metadata_and_never_content(client: TestClient) -> None:
    r = client.get(
        "/api/v1/slices/examples", params={"metric": "errors.tool", "dimension": "region", "value": "eu", "limit": 5}
    )
    assert r.status_code == 200, r.text
    found = r.json()["examples"]
    assert len(found) == 5
    assert all(e["status"] == "error" and e["error_type"] == "TimeoutError" for e in found)
    assert [e["start_ns"] for e in found] == sorted((e["start_ns"] for e in found), reverse=True)
    assert not CONTENT_KEYS & set(found[0])
    assert found[0]["url"] == f"/traces/{found[0]['trace_id']}?span={found[0]['span_id']}"
    assert "secret text" not in r.text


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("top", {"metric": "nope"}, "metric"),
        ("top", {"metric": "errors", "window": "soon"}, "window"),
        ("top", {"metric": "errors", "baseline": "0h"}, "baseline"),
        ("top", {"metric": "errors", "dimension": "planet"}, "dimension"),
        ("top", {"metric": "errors", "direction": "sideways"}, "direction"),
        ("top", {"metric": "errors", "min_count": "0"}, "min_count"),
        ("series", {"metric": "errors", "value": "eu"}, "dimension"),
        ("series", {"metric": "errors", "dimension": "region"}, "value"),
        ("series", {"metric": "errors", "dimension": "region,locale", "value": "eu"}, "dimension"),
        ("series", {"metric": "errors", "dimension": "region", "value": "eu", "bucket": "7m"}, "bucket"),
        ("series", {"metric": "errors", "dimension": "region", "value": "eu", "from": "yesterday"}, "from"),
        ("series", {"metric": "errors", "dimension": "region", "value": "eu", "to": "1000", "from": "2000"}, "from"),
        ("examples", {"metric": "errors", "dimension": "region", "value": "eu", "limit": "0"}, "limit"),
    ],
)
def test_bad_parameters_answer_problems_naming_the_field(
    client: TestClient, path: str, params: dict[str, str], field: str
) -> None:
    r = client.get(f"/api/v1/slices/{path}", params=params)
    assert r.status_code in (400, 422), r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["field"] == field


# ---------------------------------------------------------------------------------------------------------------
# the page


def test_the_page_lists_top_changes_each_linking_to_its_slice(client: TestClient) -> None:
    r = client.get("/slices", params={"metric": "errors.tool", "dimension": "region", "baseline": "6h"})
    assert r.status_code == 200
    html = r.text
    assert '<a href="/slices" aria-current="page">Slices</a>' in html
    assert "slice_dimension=region&amp;slice_value=eu" in html
    assert "30 / 60" in html and "1 / 60" in html
    assert "<svg" not in html  # no slice picked yet
    assert "Tool call error rate" in html


def test_a_picked_slice_shows_its_chart_and_examples_without_javascript(client: TestClient) -> None:
    r = client.get(
        "/slices", params={"metric": "errors.tool", "baseline": "6h", "slice_dimension": "region", "slice_value": "eu"}
    )
    assert r.status_code == 200
    html = r.text
    assert '<polyline class="slice"' in html and '<polyline class="rest"' in html
    assert '<polygon class="band"' in html
    assert html.count('href="/traces/') >= 5
    assert "secret text" not in html
    assert "The numbers behind the chart" in html


def test_hostile_values_are_shown_as_text(client: TestClient) -> None:
    r = client.get(
        "/slices",
        params={
            "metric": "errors.tool",
            "dimension": "region",
            "baseline": "6h",
            "slice_dimension": "region",
            "slice_value": XSS_SCRIPT,
        },
    )
    assert r.status_code == 200
    assert XSS_SCRIPT not in r.text
    assert "&lt;script&gt;alert(&#34;wk&#34;)&lt;/script&gt;" in r.text


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("metric=nope", "metric"),
        ("metric=errors&window=soon", "window"),
        ("metric=errors&min_count=x", "min_count"),
        ("metric=errors&slice_dimension=region", "slice_value"),
    ],
)
def test_bad_page_input_is_a_400_page_that_says_what_was_wrong(client: TestClient, query: str, field: str) -> None:
    r = client.get(f"/slices?{query}")
    assert r.status_code == 400
    assert field in r.text

"""/metrics exposes the per-slice rates read from the rollups: bounded labels, the same numbers in every worker
process, cached for a few seconds."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from watchkeeper.config import Settings
from watchkeeper.server import create_app
from watchkeeper.server._metrics import SLICE_LABEL_VALUES, SliceRates

NS = 1_000_000_000


def spans(n: int, region: str, errors: int, tag: int) -> list[dict[str, Any]]:
    now = time.time_ns() - 60 * NS
    return [
        {"trace_id": f"{tag:04x}{i:028x}", "span_id": f"{tag:04x}{i:012x}", "name": "call", "kind": "tool",
         "start_time_ns": now + i, "end_time_ns": now + i + 40_000_000, "status": "error" if i < errors else "ok",
         "tool": {"name": "lookup"}, "account": {"region": region}}
        for i in range(n)
    ]  # fmt: skip


def samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = client.get("/metrics").text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        if fam.name.startswith("watchkeeper_slice")
        for s in fam.samples
    }


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[TestClient, TestClient]]:
    """Two server processes' apps on one store: only the first ingests."""
    s = Settings(auth=False, data_dir=str(tmp_path / "d"), metrics_slice_dimensions="region,tool_name")
    with TestClient(create_app(s)) as a, TestClient(create_app(s)) as b:
        body = (
            spans(40, "eu", 10, 1)
            + spans(60, "us", 3, 2)
            + [x for i in range(SLICE_LABEL_VALUES + 5) for x in spans(1, f"r{i}", 0, 100 + i)]
        )
        assert a.post("/api/v1/ingest", json={"spans": body}).status_code == 200
        yield a, b


def test_per_slice_rates_come_from_the_rollups_and_agree_across_worker_processes(
    two_workers: tuple[TestClient, TestClient],
) -> None:
    a, b = two_workers
    got = samples(a)
    assert got == samples(b)  # the second process ingested nothing, and reports the same
    key = (("dimension", "region"), ("metric", "errors.tool"), ("project", "1"), ("value", "eu"))
    assert got[("watchkeeper_slice_numerator", key)] == 10
    assert got[("watchkeeper_slice_denominator", key)] == 40
    assert got[("watchkeeper_slice_ratio", key)] == 0.25
    whole = (("dimension", "(all)"), ("metric", "errors.tool"), ("project", "1"), ("value", "(all)"))
    assert got[("watchkeeper_slice_denominator", whole)] == 40 + 60 + SLICE_LABEL_VALUES + 5
    regions = {
        dict(k)["value"]
        for name, k in got
        if name == "watchkeeper_slice_denominator" and dict(k)["dimension"] == "region"
    }
    assert len(regions) == SLICE_LABEL_VALUES + 1 and "(other)" in regions  # bounded: the largest, then (other)
    other = (("dimension", "region"), ("metric", "errors.tool"), ("project", "1"), ("value", "(other)"))
    # us and eu, then the first one-span regions by name fill the places; the other one-span regions are (other)
    assert got[("watchkeeper_slice_denominator", other)] == (SLICE_LABEL_VALUES + 5) - (SLICE_LABEL_VALUES - 2)
    assert not [k for name, k in got if name == "watchkeeper_slice_denominator" and dict(k)["metric"] == "refusals"]
    lat = (("dimension", "tool_name"), ("project", "1"), ("quantile", "0.5"), ("value", "lookup"))
    assert abs(got[("watchkeeper_slice_latency_seconds", lat)] - 0.040) <= 0.040 * 0.1
    assert got[("watchkeeper_slice_window_seconds", ())] == 300


def test_the_families_are_read_at_most_once_per_ttl(two_workers: tuple[TestClient, TestClient]) -> None:
    a, _b = two_workers
    clock = [0.0]
    reads: list[int] = []
    rates = SliceRates(a.app.state.runtime.engine, dimensions=["region"], ttl_s=5, clock=lambda: clock[0])  # type: ignore[attr-defined]
    real = rates._read

    def counted() -> Any:
        reads.append(1)
        return real()

    rates._read = counted  # type: ignore[method-assign]
    first = rates()
    clock[0] = 4.9
    assert rates() is first and len(reads) == 1
    clock[0] = 5.0
    rates()
    assert len(reads) == 2

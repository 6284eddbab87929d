"""Through the real HTTP ingest: planted PII and secrets never reach the stored rows, the logs, or the read API;
what was redacted is recorded on the span; feedback free text is redacted too."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from watchkeeper.config import Settings
from watchkeeper.server import create_app

NOW = time.time_ns()
EMAIL = "planted.person@acme-corp.io"
API_KEY = "sk-proj-" + "Qw7" * 16 + "T3BlbkFJ" + "Zx9" * 8
PASSWORD = "Winter#2024!"


@pytest.fixture
def app_and_dir(tmp_path: Path) -> Iterator[tuple[TestClient, Path]]:
    app = create_app(Settings(auth=False, data_dir=str(tmp_path)))
    with TestClient(app) as c:
        yield c, tmp_path


def _stored_bytes(data_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(data_dir.glob("watchkeeper.db*")))


def test_planted_values_never_reach_the_store_the_logs_or_the_api(
    app_and_dir: tuple[TestClient, Path], caplog: pytest.LogCaptureFixture
) -> None:
    client, data_dir = app_and_dir
    caplog.set_level(logging.DEBUG)
    span = {
        "trace_id": "d" * 32,
        "span_id": "e" * 16,
        "name": f"lookup {EMAIL}",
        "kind": "tool",
        "start_time_ns": NOW - 2_000_000_000,
        "end_time_ns": NOW - 1_000_000_000,
        "tool": {
            "name": "crm.lookup",
            "arguments": {"email": EMAIL, "api_key": API_KEY, "nested": [{"note": f"write to {EMAIL}"}]},
            "result": f"found {EMAIL}",
        },
        "input": f"my key is {API_KEY} and db password={PASSWORD}",
        "error": {"message": f"auth failed for {EMAIL}"},
        "attributes": {"http.url": f"https://api.example.net/v1?token={API_KEY}", "user.email": EMAIL},
    }
    fb = {"id": "fb1", "trace_id": "d" * 32, "kind": "correction", "time_ns": NOW, "comment": f"email {EMAIL}"}
    r = client.post("/api/v1/ingest", json={"spans": [span], "feedback": [fb]})
    assert r.status_code == 200, r.text

    trace = client.get("/api/v1/traces/" + "d" * 32)
    assert trace.status_code == 200
    body = trace.text
    for planted in (EMAIL, API_KEY, PASSWORD, "Qw7Qw7Qw7"):
        assert planted not in body
        assert planted.encode() not in _stored_bytes(data_dir)
        assert planted not in caplog.text
    root = trace.json()["roots"][0]
    assert root["tool"]["arguments"]["email"] == "<EMAIL_1>"
    assert root["tool"]["result"] == "found <EMAIL_1>"  # same value, same placeholder within the trace
    assert root["tool"]["arguments"]["api_key"] == "<OPENAI_KEY_1>"
    summary = root["attributes"]["watchkeeper.redactions"]
    assert {"type": "EMAIL", "path": "tool.arguments.email", "count": 1, "recogniser": "email"} in summary
    assert all(set(row) == {"type", "path", "count", "recogniser"} for row in summary)
    assert trace.json()["feedback"][0]["comment"] == "email <EMAIL_1>"


def test_a_client_cannot_smuggle_values_in_the_redaction_summary(app_and_dir: tuple[TestClient, Path]) -> None:
    client, data_dir = app_and_dir
    span = {
        "trace_id": "f" * 32,
        "span_id": "e" * 16,
        "name": "chat",
        "start_time_ns": NOW - 2_000_000_000,
        "attributes": {"watchkeeper.redactions": [{"type": "EMAIL", "path": EMAIL, "count": 1}]},
    }
    assert client.post("/api/v1/ingest", json={"spans": [span]}).status_code == 200
    assert EMAIL.encode() not in _stored_bytes(data_dir)

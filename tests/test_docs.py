"""The copy-paste examples in docs/ work against a real server."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fastapi.testclient import TestClient

from watchkeeper.config import Settings
from watchkeeper.server import create_app

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_the_json_ingest_example_is_accepted_and_reads_back(tmp_path: Path) -> None:
    text = (DOCS / "ingest.md").read_text()
    body = re.search(r"<<'JSON'\n(.*?)\nJSON\n", text, re.S)
    assert body is not None
    doc = json.loads(body.group(1))
    with TestClient(create_app(Settings(auth=False, data_dir=str(tmp_path), max_future_s=10**10))) as c:
        r = c.post("/api/v1/ingest", json=doc)
        assert r.status_code == 200, r.text
        assert r.json() == {"accepted": {"spans": 3, "feedback": 1}}
        trace = c.get("/api/v1/traces/4bf92f3577b34da6a3ce929d0e0e4736").json()
        assert trace["span_count"] == 3
        assert trace["roots"][0]["children"][1]["tool"]["jsonrpc_error_code"] == -32001

"""The alerting API in-process: the Alertmanager webhook receiver (validated, idempotent, problem documents on bad
input), alerts, silences (Alertmanager API v2 shapes) and the notification log."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from watchkeeper.alerting import fingerprint
from watchkeeper.config import Settings
from watchkeeper.server import create_app

HOOK = "/api/v1/alertmanager/webhook"
PAYLOAD: dict[str, Any] = {
    "version": "4",
    "groupKey": '{}/{severity="critical"}:{alertname="NodeDiskFull"}',
    "truncatedAlerts": 0,
    "status": "firing",
    "receiver": "watchkeeper",
    "groupLabels": {"alertname": "NodeDiskFull"},
    "commonLabels": {"alertname": "NodeDiskFull", "severity": "critical"},
    "commonAnnotations": {},
    "externalURL": "http://alertmanager:9093",
    "orgId": 1,  # Grafana sends a superset: unknown fields are ignored
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "NodeDiskFull", "severity": "critical", "instance": "db-1:9100"},
            "annotations": {"summary": "Disk 95% full on db-1"},
            "startsAt": "2024-06-01T10:00:00.123Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=disk",
            "fingerprint": "c0ffee0123456789",
            "silenceURL": "http://grafana/silence",
        },
        {
            "status": "firing",
            "labels": {"alertname": "NodeDiskFull", "severity": "critical", "instance": "db-2:9100"},
            "annotations": {"summary": "Disk 91% full on db-2"},
            "startsAt": "2024-06-01T10:01:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "",
        },
    ],
}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(auth=False, data_dir=str(tmp_path)))) as c:
        yield c


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One server for the tests that store nothing (refused input)."""
    with TestClient(create_app(Settings(auth=False, data_dir=str(tmp_path_factory.mktemp("api"))))) as c:
        yield c


def is_problem(r: Any, status: int, field: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    assert body["status"] == status and body["type"].startswith("https://watchkeeper.dev/problems/")
    if field is not None:
        assert body["field"] == field, body
    return body


def test_alertmanager_alerts_are_stored_beside_ours(client: TestClient) -> None:
    r = client.post(HOOK, json=PAYLOAD)
    assert r.status_code == 200 and r.json() == {"alerts": 2, "stored": 2, "duplicates": 0}
    alerts = client.get("/api/v1/alerts", params={"source": "alertmanager"}).json()["alerts"]
    assert [a["labels"]["instance"] for a in alerts] == ["db-2:9100", "db-1:9100"]  # newest first
    db1 = alerts[1]
    assert db1["state"] == "firing" and db1["source"] == "alertmanager" and db1["alertname"] == "NodeDiskFull"
    assert db1["fingerprint"] == fingerprint(PAYLOAD["alerts"][0]["labels"])
    assert db1["startsAt"] == "2024-06-01T10:00:00.123Z" and db1["endsAt"] == "0001-01-01T00:00:00Z"
    assert db1["annotations"] == {"summary": "Disk 95% full on db-1"}
    assert db1["generatorURL"] == "http://prometheus:9090/graph?g0.expr=disk"


def test_repeated_deliveries_change_nothing_and_a_resolution_updates_the_alert(client: TestClient) -> None:
    client.post(HOOK, json=PAYLOAD)
    assert client.post(HOOK, json=PAYLOAD).json() == {"alerts": 2, "stored": 0, "duplicates": 2}
    resolved = copy.deepcopy(PAYLOAD)
    resolved["status"] = "resolved"
    resolved["alerts"] = resolved["alerts"][:1]
    resolved["alerts"][0].update(status="resolved", endsAt="2024-06-01T10:30:00Z")
    assert client.post(HOOK, json=resolved).json()["stored"] == 1
    assert client.post(HOOK, json=PAYLOAD).json()["stored"] == 0  # a late "firing" never reopens it
    states = {a["labels"]["instance"]: (a["state"], a["endsAt"]) for a in client.get("/api/v1/alerts").json()["alerts"]}
    assert states == {
        "db-1:9100": ("resolved", "2024-06-01T10:30:00Z"),
        "db-2:9100": ("firing", "0001-01-01T00:00:00Z"),
    }
    assert len(client.get("/api/v1/alerts", params={"state": "firing"}).json()["alerts"]) == 1


def _with(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    d = copy.deepcopy(PAYLOAD)
    node: Any = d
    for p in path[:-1]:
        node = node[p]
    if value is None:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return d


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_with(("version",), "3"), "version"),
        (_with(("alerts",), None), "alerts"),
        (_with(("status",), "broken"), "status"),
        (_with(("alerts", 0, "startsAt"), "yesterday"), "alerts.0.startsAt"),
        (_with(("alerts", 0, "labels"), {}), "alerts.0.labels"),
        (_with(("alerts", 0, "labels"), {"alertname": 3}), "alerts.0.labels.alertname"),
        (_with(("truncatedAlerts",), -1), "truncatedAlerts"),
    ],
)
def test_a_bad_payload_is_a_problem_document_naming_the_field(
    shared: TestClient, body: dict[str, Any], field: str
) -> None:
    is_problem(shared.post(HOOK, json=body), 422, field)
    assert shared.get("/api/v1/alerts").json()["alerts"] == []


def test_a_body_that_is_not_json_is_a_problem_document(shared: TestClient) -> None:
    r = shared.post(HOOK, content=b"{not json", headers={"Content-Type": "application/json"})
    is_problem(r, 422)


def test_silences_are_created_listed_read_and_expired(client: TestClient) -> None:
    ends = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    body = {
        "matchers": [{"name": "alertname", "value": "Refusal.*", "isRegex": True, "isEqual": True}],
        "endsAt": ends,
        "createdBy": "alice",
        "comment": "filter rollback",
    }
    r = client.post("/api/v1/silences", json=body)
    assert r.status_code == 201, r.text
    s = r.json()
    assert set(s) == {"id", "matchers", "startsAt", "endsAt", "createdBy", "comment", "updatedAt", "status"}
    assert s["status"] == {"state": "active"} and s["endsAt"] == ends and s["createdBy"] == "alice"
    assert s["matchers"] == body["matchers"]
    assert client.get(f"/api/v1/silences/{s['id']}").json() == s
    assert [x["id"] for x in client.get("/api/v1/silences", params={"state": "active"}).json()["silences"]] == [s["id"]]
    gone = client.delete(f"/api/v1/silences/{s['id']}")
    assert gone.status_code == 200 and gone.json()["status"] == {"state": "expired"}
    is_problem(client.delete(f"/api/v1/silences/{s['id']}"), 409)
    is_problem(client.get("/api/v1/silences/nope"), 404)


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"matchers": [{"name": "team", "value": ".*", "isRegex": True}]}, 400, "matchers"),
        ({"matchers": [{"name": "9bad", "value": "x"}]}, 400, "matchers.0"),
        ({"matchers": [{"name": "team", "value": "(", "isRegex": True}]}, 400, "matchers.0"),
        ({"endsAt": "2001-01-01T00:00:00Z"}, 400, "endsAt"),
        ({"endsAt": "tomorrow"}, 400, "endsAt"),
        ({"matchers": []}, 422, "matchers"),
        ({"comment": ""}, 422, "comment"),
    ],
)
def test_a_bad_silence_is_a_problem_document_naming_the_field(
    shared: TestClient, change: dict[str, Any], status: int, field: str
) -> None:
    body = {
        "matchers": [{"name": "team", "value": "db"}],
        "endsAt": "2999-01-01T00:00:00Z",
        "createdBy": "alice",
        "comment": "why",
        **change,
    }
    is_problem(shared.post("/api/v1/silences", json=body), status, field)
    assert shared.get("/api/v1/silences").json() == {"silences": []}


def test_the_notification_log_and_alert_history_answer_when_empty(shared: TestClient) -> None:
    assert shared.get("/api/v1/notifications", params={"status": "failed"}).json() == {"notifications": []}
    is_problem(shared.get("/api/v1/alerts/1/history"), 404)


def test_changes_need_credentials(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(data_dir=str(tmp_path)))) as c:
        is_problem(c.post(HOOK, json=PAYLOAD), 401)
        is_problem(c.post("/api/v1/silences", json={}), 401)
        is_problem(c.get("/api/v1/alerts"), 401)


def test_rule_alerts_show_with_what_the_detector_saw_and_their_history(client: TestClient) -> None:
    from watchkeeper.alerting import AlertEngine, parse_rules

    from .conftest import MIN, T0, Doubling, FakeSource, steady

    rules = parse_rules(
        "version: 1\nrules:\n  - alert: ToolErrorSpike\n    metric: tool_errors\n    slices: [tool_name]\n"
        "    severity: ticket\n    lookback: 1d\n    annotations: {summary: 'Tool errors up for {{ $slice }}'}\n"
    )
    source = FakeSource()
    steady(source, "tool_errors", T0, T0 + 120 * MIN, 5, 500, tool_name="search")
    steady(source, "tool_errors", T0 + 120 * MIN, T0 + 180 * MIN, 100, 500, tool_name="search")
    engine = AlertEngine(rules, source=source, detectors=[Doubling()], store=client.app.state.runtime.engine)
    for minutes in (120, 125):
        engine.tick(T0 + minutes * MIN)
    (a,) = client.get("/api/v1/alerts", params={"source": "rule"}).json()["alerts"]
    assert a["state"] == "firing" and a["labels"]["tool_name"] == "search" and a["severity"] == "ticket"
    assert a["annotations"]["summary"] == "Tool errors up for tool_name=search"
    assert a["observed"] == pytest.approx(110 / 1500) and a["expected"] == pytest.approx(0.01)
    assert a["band"] == [pytest.approx(0.008), pytest.approx(0.012)] and a["status"]["state"] == "active"
    events = client.get(f"/api/v1/alerts/{a['id']}/history").json()["events"]
    assert [e["state"] for e in events] == ["pending", "firing"]


def test_a_body_over_the_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(auth=False, data_dir=str(tmp_path), max_body_bytes=2000))) as c:
        big = copy.deepcopy(PAYLOAD)
        big["alerts"] = big["alerts"] * 20
        is_problem(c.post(HOOK, json=big), 413)
        assert c.post(HOOK, json=PAYLOAD).status_code == 200

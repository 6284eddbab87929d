"""An alert's page draws its slice's rate around the episode against the band the baseline expected, with the
estimated start and the moment it fired — from the same rollups and baseline the detector used."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests._rollup_rows import MIN_NS, SLOT_NS, write_slots
from watchkeeper._rollup import DAY_NS, Facts
from watchkeeper.alerting import AlertEngine, parse_rules
from watchkeeper.alerting.rollup_source import RollupSource, fdr_from_detectors
from watchkeeper.analytics.detectors import default_registry
from watchkeeper.config import Settings
from watchkeeper.server import create_app

RULES = """
version: 1
rules:
  - alert: RefusalRateSpike
    metric: refusals
    slices: [language]
    detector: spike
    severity: page
    for: 0s
    bucket: 5m
    lookback: 7d
    annotations:
      summary: "Refusals at {{ $value }} for {{ $slice }}"
      runbook_url: https://runbooks.example.org/refusals
"""


def write_traffic(engine: Engine, start_ns: int, end_ns: int, onset_ns: int) -> None:
    """French and German requests, 60 per 5 minutes each, 2% refused; French at 25% from ``onset_ns``."""

    def slot(t: int, fact: Callable[..., Facts]) -> list[Facts]:
        out = []
        for lang in ("fr", "de"):
            refused = 15 if lang == "fr" and t >= onset_ns else (1 if (t // SLOT_NS) % 5 < 4 else 2)
            out += [fact(language=lang, refused=True)] * refused + [fact(language=lang)] * (60 - refused)
        return out

    write_slots(engine, start_ns, end_ns, slot)


@pytest.fixture
def fired(tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    settings = Settings(data_dir=str(tmp_path), auth=False, alert_interval_s=0)
    app = create_app(settings, alerting=False)
    with TestClient(app) as client:
        engine = app.state.runtime.engine
        now = time.time_ns() // MIN_NS * MIN_NS
        onset = now - 40 * MIN_NS
        write_traffic(engine, now - 9 * DAY_NS, now, onset)
        alerts = AlertEngine(parse_rules(RULES), source=RollupSource(engine), detectors=default_registry(),
                             fdr=fdr_from_detectors(), store=engine)  # fmt: skip
        for at in range(onset - 10 * MIN_NS, now + 1, SLOT_NS):
            alerts.tick(at)
        (alert,) = [a for a in alerts.alerts.values() if a.labels.get("language") == "fr"]
        yield client, alert.fingerprint


def _points(svg: str, cls: str) -> list[tuple[float, float]]:
    out = []
    for line in re.findall(rf'<polyline class="{cls}" points="([^"]+)"', svg):
        out += [tuple(map(float, p.split(","))) for p in line.split()]
    return out  # type: ignore[return-value]


def test_the_alert_page_charts_the_spike_against_its_expected_band(fired: tuple[TestClient, str]) -> None:
    client, fp = fired
    r = client.get(f"/alerts/{fp}")
    assert r.status_code == 200
    svg = r.text[r.text.index("<svg") : r.text.index("</svg>")]
    observed, expected = _points(svg, "slice"), _points(svg, "expected")
    assert len(observed) >= 60 and len(expected) >= 60
    assert '<polygon class="band"' in svg
    marker = r'<line class="marker-\w+" x1="([\d.]+)".*?<title>([a-z ]+)</title>'
    marks = {label: float(x) for x, label in re.findall(marker, svg)}
    assert set(marks) >= {"estimated start", "fired"}
    assert marks["estimated start"] <= marks["fired"]
    # SVG y grows downwards: after the estimated start the observed rate is far above the expected line, before it not
    after = [y for x, y in observed if x > marks["fired"]]
    exp_after = [y for x, y in expected if x > marks["fired"]]
    before = [y for x, y in observed if x < marks["estimated start"] - 20]
    exp_before = [y for x, y in expected if x < marks["estimated start"] - 20]
    assert after and max(after) < min(exp_after) - 50
    assert abs(sum(before) / len(before) - sum(exp_before) / len(exp_before)) < 25
    # the numbers behind the chart: the spike's buckets lie above their band
    cells = r'(\d+) of (\d+) \(([\d.]+)%\)</td>\s*<td class="num">([\d.]+)%</td><td class="num">([\d.]+)% – ([\d.]+)%'
    rows = re.findall(cells, r.text)
    assert rows
    above = [row for row in rows if float(row[2]) > float(row[5])]
    assert 4 <= len(above) <= 12  # the 40 minutes of the incident in 5-minute buckets, no more


def test_an_alert_from_alertmanager_has_no_chart(tmp_path: Path) -> None:
    settings = Settings(data_dir=str(tmp_path), auth=False, alert_interval_s=0)
    with TestClient(create_app(settings, alerting=False)) as client:
        r = client.post("/api/v1/alertmanager/webhook", json={
            "version": "4", "status": "firing", "receiver": "wk", "groupKey": "{}:{}", "groupLabels": {},
            "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am", "truncatedAlerts": 0,
            "alerts": [{"status": "firing", "labels": {"alertname": "DiskFull", "instance": "db1"},
                        "annotations": {"summary": "disk"}, "startsAt": "2026-11-30T08:00:00Z",
                        "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prom", "fingerprint": "abc"}],
        })  # fmt: skip
        assert r.status_code < 300, r.text
        (row,) = client.get("/api/v1/alerts").json()["alerts"]
        page = client.get(f"/alerts/{row['fingerprint']}")
        assert page.status_code == 200 and "<svg" not in page.text

"""Alerts from real traffic: days of synthetic chat spans go through the real pipeline (signals, rollups, writer)
into a real store, a refusal spike is injected in one language, and the default rules — on the real detectors and
false-discovery control, read from the rollups — catch it, date it and notify a real local webhook once.
Event time throughout: the engine ticks at the records' own times, so nothing sleeps."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from tests.alerting.conftest import Receiver
from watchkeeper.alerting import (
    AlertEngine,
    NotifierEnv,
    RollupSource,
    build_receivers,
    default_rules_text,
    fdr_from_detectors,
    parse_rules,
)
from watchkeeper.analytics.detectors import default_registry
from watchkeeper.cli import main
from watchkeeper.config import Settings
from watchkeeper.records import LLMCall, Message, Span, SpanKind, Status, TokenUsage, Versions
from watchkeeper.server._runtime import Runtime
from watchkeeper.store import make_engine, migrate
from watchkeeper.store.tables import metadata

# days of traffic through the whole pipeline, then the default rules on every tick: minutes, not seconds
pytestmark = pytest.mark.timeout(900)

NS = 1_000_000_000
MIN = 60 * NS
H = 60 * MIN
STEP = 15 * MIN
PER_HOUR = {"en": 100, "de": 200, "fr": 60}  # spans per hour: the German slice is the largest
BASE_REFUSALS = 0.2
QUIET_H = 6  # ticks from this long before the end of the traffic
HISTORY_H = 72 + QUIET_H  # the spike test needs 3 days of history before its first tick

QA = {
    "en": (
        "How do I reset my password? I forgot it yesterday.",
        "Go to the settings page and click reset password. You will receive an email with a link.",
        "I'm sorry, but I can't help with that request.",
    ),
    "de": (
        "Wie kann ich mein Passwort zurücksetzen? Ich habe es gestern vergessen.",
        "Gehen Sie zu den Einstellungen und klicken Sie auf Passwort zurücksetzen. Sie erhalten dann eine E-Mail.",
        "Es tut mir leid, aber dabei kann ich Ihnen nicht helfen.",
    ),
    "fr": (
        "Comment réinitialiser mon mot de passe ? Je l'ai oublié hier.",
        "Allez dans les paramètres et cliquez sur réinitialiser le mot de passe. Vous recevrez un e-mail.",
        "Je suis désolé, mais je ne peux pas vous aider avec cela.",
    ),
}


@dataclass(frozen=True)
class History:
    url: str
    end_ns: int  # traffic stops here (an hour boundary, two hours before the wall clock)
    incident_ns: int  # German refusals ×3 from here on


def _spans(start_ns: int, end_ns: int, incident_ns: int, rng: random.Random) -> Iterator[list[Span]]:
    """One batch per hour: PER_HOUR chat turns per language at seeded random times."""
    n = 0
    for hour in range(start_ns, end_ns, H):
        batch = []
        for lang, (question, answer, refusal) in QA.items():
            for _ in range(PER_HOUR[lang]):
                n += 1
                t = hour + rng.randrange(H - NS)
                rate = BASE_REFUSALS * (3 if lang == "de" and t >= incident_ns else 1)
                out = refusal if rng.random() < rate else answer
                batch.append(
                    Span(
                        trace_id=f"{n:032x}",
                        span_id=f"{n:016x}",
                        parent_span_id=None,
                        name="chat",
                        kind=SpanKind.LLM,
                        status=Status.OK,
                        start_time_ns=t,
                        end_time_ns=t + int(rng.lognormvariate(20.5, 0.3)),  # ~0.8 s
                        llm=LLMCall(
                            provider="openai",
                            request_model="gpt-4o",
                            usage=TokenUsage(input_tokens=30, output_tokens=40),
                            input_messages=[Message("user", question)],
                            output_messages=[Message("assistant", out)],
                        ),
                        versions=Versions(model="m1", prompt="p1"),
                    )
                )
        yield batch


def _clear(url: str) -> None:
    engine = make_engine(url)
    migrate(engine)
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            if table.name != "projects":
                conn.execute(table.delete())
    engine.dispose()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def history(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> History:
    """A store holding 3¼ days of steady traffic that ends with a refusal spike in German."""
    tmp = tmp_path_factory.mktemp("live")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'watchkeeper.db'}"
    else:
        url = request.getfixturevalue("pg_url")
        _clear(url)
    import time

    end = (time.time_ns() // H - 2) * H  # recent: 1-minute rollups are kept for a week
    incident = end - 2 * H - 40 * MIN
    rt = Runtime(Settings(database_url=url, data_dir=str(tmp), auth=False))
    rt.start()
    try:
        for batch in _spans(end - HISTORY_H * H, end, incident, random.Random(7)):
            rt.ingest_sync(batch, [], "api")
    finally:
        rt.stop()
    return History(url, end, incident)


def _rules(webhook_url: str) -> str:
    """The default rules, with the refusal spikes routed to a webhook (the shipped file sends nothing)."""
    text = default_rules_text()
    head, _receivers = text.rsplit("receivers:", 1)
    head = head.replace(
        "  repeat_interval: 4h\n",
        "  repeat_interval: 4h\n  routes:\n    - matchers: ['alertname=\"RefusalRateSpike\"']\n      receiver: hook\n",
    )
    return head + f"receivers:\n  - name: default\n  - name: hook\n    webhook_configs: [{{url: '{webhook_url}'}}]\n"


def test_a_refusal_spike_in_one_language_pages_once_for_that_slice_from_live_traffic(
    history: History, http_receiver: Receiver
) -> None:
    import httpx

    rules = parse_rules(_rules(http_receiver.url + "/hook"), file="rules.yaml")
    store = make_engine(history.url)
    http = httpx.Client(timeout=5.0)
    try:
        engine = AlertEngine(
            rules,
            source=RollupSource(store),
            detectors=default_registry(),
            fdr=fdr_from_detectors(),
            receivers=build_receivers(rules, NotifierEnv(http=http, timeout_s=5.0, external_url="")),
            store=store,
        )
        fired: dict[str, int] = {}
        for at in range(history.end_ns - QUIET_H * H, history.end_ns + 1, STEP):
            report = engine.tick(at)
            for tr in report.transitions:
                if tr.state.value == "firing":
                    fired.setdefault(tr.fingerprint, at)
    finally:
        http.close()
        store.dispose()

    alerts = {fp: engine.alerts[fp] for fp in fired}
    assert all(at > history.incident_ns for at in fired.values()), "nothing fires before the incident"
    spikes = [a for a in alerts.values() if a.rule == "RefusalRateSpike"]
    assert spikes, f"the spike was missed; fired: {[a.labels for a in alerts.values()]}"
    for a in spikes:  # the injected slice, or its nearest parent
        assert a.labels.get("language", "de") == "de", a.labels
        assert a.labels["slice"] in ("language", "global", "language,model_version"), a.labels
    de = next((a for a in spikes if a.labels.get("language") == "de"), spikes[0])
    start = de.reading.estimated_start_ns
    assert start is not None and abs(start - history.incident_ns) <= 2 * 5 * MIN + 5 * MIN, (start, history)
    assert fired[de.fingerprint] - history.incident_ns <= 90 * MIN

    assert len(http_receiver.requests) == 1, [r.json()["alerts"] for r in http_receiver.requests]
    body = http_receiver.requests[0].json()
    assert body["version"] == "4" and body["status"] == "firing"
    assert body["groupLabels"] == {"alertname": "RefusalRateSpike", "metric": "refusals"}
    assert {a["labels"].get("language") for a in body["alerts"]} <= {"de", None}
    assert http_receiver.requests[0].headers.get("idempotency-key")


def test_the_backtest_command_reports_the_incident_with_its_delay_and_notification(
    history: History, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(_rules("http://127.0.0.1:9/never"))  # a back-test sends nothing
    frm, to = _rfc3339(history.incident_ns - H), _rfc3339(history.end_ns + 1)
    args = ["backtest", "--database-url", history.url, "--rules", str(rules), "--from", frm, "--to", to]
    got = CliRunner().invoke(main, [*args, "--step", "15m", "--json"])
    assert got.exit_code == 0, got.output
    doc = orjson.loads(got.output)
    spikes = [e for e in doc["episodes"] if e["alertname"] == "RefusalRateSpike" and e["fired"]]
    assert spikes and all(e["labels"].get("language", "de") == "de" for e in spikes), doc["episodes"]
    assert all(e["delay_s"] is not None and 0 <= e["delay_s"] <= 2 * 3600 for e in spikes)
    assert [(n["receiver"], n["status"]) for n in doc["notifications"]].count(("hook", "firing")) == 1

    text = CliRunner().invoke(main, [*args, "--step", "30m"])
    assert text.exit_code == 0, text.output
    assert "RefusalRateSpike [" in text.output and "min after its estimated start" in text.output
    assert "notify hook at" in text.output

    bad = CliRunner().invoke(main, [*args[:-2], "--to", "yesterday"])
    assert bad.exit_code == 2 and "--to" in bad.output


def _rfc3339(ns: int) -> str:
    from watchkeeper.alerting._labels import rfc3339

    return rfc3339(ns)


def test_the_alerts_page_shows_the_firing_alert_with_its_slice_counts_band_runbook_and_examples(
    history: History, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from watchkeeper.server import create_app

    store = make_engine(history.url)
    try:
        rules = parse_rules(default_rules_text(), file="default_rules.yaml")
        engine = AlertEngine(rules, source=RollupSource(store), detectors=default_registry(), fdr=fdr_from_detectors(),
                             store=store)  # fmt: skip
        for at in (history.end_ns - 15 * MIN, history.end_ns):  # pending, then firing (when not already stored)
            engine.tick(at)
    finally:
        store.dispose()
    settings = Settings(database_url=history.url, data_dir=str(tmp_path), auth=False, alert_interval_s=0)
    with TestClient(create_app(settings)) as client:
        page = client.get("/alerts")
        assert page.status_code == 200
        live = page.text.split('id="live"', 1)[1].split("</table>", 1)[0]
        assert "RefusalRateSpike" in live and "language=de" in live
        assert "https://watchkeeper.dev/runbooks/refusal-rate-spike" in live
        assert "/slices?" in live and "slice_dimension=language" in live and "slice_value=de" in live
        assert " of " in live and "band " in live  # counts since the estimated start, and the expected band
        assert 'href="/alerts"' in page.text  # the nav link
        fp = live.split('href="/alerts/', 1)[1][:16]
        one = client.get(f"/alerts/{fp}")
        assert one.status_code == 200 and "firing" in one.text
        assert client.get("/alerts/0000000000000000").status_code == 404

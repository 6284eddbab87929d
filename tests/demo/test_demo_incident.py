"""The demo's incident is really detected: its history and its injected false-refusal spike go through the real
pipeline into a store, the live alert engine (default rules, real detectors, the demo's rules file) ticks over them
on event time, pages for the incident's slice within half an hour of its onset (the rule's 10 minutes pending
included), pages nothing the hour before, and the demo's local webhook receives the notification with a link to the
alert's page. Nothing sleeps."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from watchkeeper.alerting import AlertEngine, NotifierEnv, RollupSource, build_receivers, fdr_from_detectors, load_rules
from watchkeeper.analytics.detectors import default_registry
from watchkeeper.config import Settings
from watchkeeper.demo import Simulator
from watchkeeper.demo._alerting import demo_rules_text
from watchkeeper.demo._load import HISTORY_SHARE, load
from watchkeeper.demo._traffic import Incident
from watchkeeper.demo._webhook import WebhookReceiver, describe
from watchkeeper.records import Feedback, Span
from watchkeeper.server._runtime import Runtime
from watchkeeper.store import make_engine

# three days of history through the whole pipeline, then the default rules every 5 minutes: about a minute
pytestmark = pytest.mark.timeout(300)

S = 1_000_000_000
MIN = 60 * S
H = 60 * MIN
DAY = 24 * H
START = 1_750_404_600 * S  # the demo starts: Friday 2025-06-20 07:30 UTC, a quieter hour, no degraded window near
ONSET = START + 10 * MIN  # the demo's default: the incident begins 10 minutes after the start
RATE = 120.0  # the demo's default live rate (traces per minute)
FULL_RATE_FROM = ONSET - 40 * MIN  # the demo loads its last 6 hours at the live rate; the quiet hour's end is enough
END = ONSET + 30 * MIN
TICK = 5 * MIN
PAGE_WITHIN = 30 * MIN  # detection, the rule's 10 minutes pending, and the notification, from the onset
# The history: the detectors need 3 days of it. The demo loads 4 days at a tenth of the live rate; to keep this test
# short, only the hours of the day its baselines read (the same hours ±1 on previous days) come at that rate, the
# rest at a trickle.
HISTORY_FROM = START - 3 * DAY - 2 * H
BASELINE_HOURS = range(5, 10)  # UTC hours of the day
TRICKLE = 0.5
EXTERNAL_URL = "http://127.0.0.1:4319"


@dataclass
class Run:
    fired: dict[str, int]  # fingerprint -> tick when it first fired
    labels: dict[str, dict[str, str]]  # fingerprint -> the alert's labels
    notifications: list[dict[str, object]]
    lines: list[str]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    tmp = tmp_path_factory.mktemp("demo-incident")
    url = f"sqlite:///{tmp / 'watchkeeper.db'}"
    sim = Simulator(seed=0, base_rate_per_min=RATE, incident=Incident(ONSET))
    rt = Runtime(Settings(database_url=url, data_dir=str(tmp), auth=False))
    rt.start()
    try:

        def send(spans: list[Span], feedback: list[Feedback]) -> None:
            rt.ingest_sync(spans, feedback, "demo")

        for hour in range(HISTORY_FROM, FULL_RATE_FROM, H):
            rate = RATE * HISTORY_SHARE if (hour % DAY) // H in BASELINE_HOURS else TRICKLE
            load(sim, send, hour, min(hour + H, FULL_RATE_FROM), now_ns=END, rate_per_min=rate)
        load(sim, send, FULL_RATE_FROM, END, now_ns=END)
    finally:
        rt.stop()

    lines: list[str] = []
    rules_file = tmp / "demo-alert-rules.yaml"
    http = httpx.Client(timeout=5.0)
    store = make_engine(url)
    fired: dict[str, int] = {}
    labels: dict[str, dict[str, str]] = {}
    try:
        with WebhookReceiver(lines.append) as hook:
            rules_file.write_text(demo_rules_text(hook.url), encoding="utf-8")
            rules = load_rules(rules_file)
            tick_at = [0]
            engine = AlertEngine(
                rules,
                source=RollupSource(store, clock=lambda: tick_at[0]),
                detectors=default_registry(),
                fdr=fdr_from_detectors(),
                receivers=build_receivers(rules, NotifierEnv(http=http, timeout_s=5.0, external_url=EXTERNAL_URL)),
                store=store,
                external_url=EXTERNAL_URL,
            )
            for at in range(ONSET - H, END + 1, TICK):
                tick_at[0] = at
                report = engine.tick(at)
                for tr in report.transitions:
                    alert = engine.alerts.get(tr.fingerprint)
                    if alert is not None:
                        labels.setdefault(tr.fingerprint, dict(alert.labels))
                    if tr.state.value == "firing":
                        fired.setdefault(tr.fingerprint, at)
            notifications = list(hook.received)
    finally:
        http.close()
        store.dispose()
    return Run(fired, {fp: labels[fp] for fp in fired}, notifications, lines)


def _spikes(run: Run) -> dict[str, int]:
    return {fp: at for fp, at in run.fired.items() if run.labels[fp]["alertname"] == "RefusalRateSpike"}


def test_the_incident_pages_for_its_language_within_minutes_of_its_onset(run: Run) -> None:
    spikes = _spikes(run)
    english = {fp: at for fp, at in spikes.items() if run.labels[fp].get("language") == "en"}
    assert english, f"the incident was missed; fired: {list(run.labels.values())}"
    assert all(run.labels[fp]["severity"] == "page" for fp in english)
    assert ONSET < min(english.values()) <= ONSET + PAGE_WITHIN, (min(english.values()) - ONSET) // MIN
    # the other refusal alerts are the parents that English traffic moves (the model version most of it uses)
    assert all(run.labels[fp].get("language", "en") == "en" for fp in spikes), [run.labels[fp] for fp in spikes]


def test_nothing_pages_and_no_refusal_alert_fires_in_the_hour_before_the_onset(run: Run) -> None:
    # tickets on other metrics are not the incident's: a VersionCanaryErrors ticket for prompt support-v13 came and
    # went in this hour while this test was written (v13's spans fail about 0.88% of the time, v12's 0.82%)
    early = [run.labels[fp] for fp, at in run.fired.items() if at < ONSET]
    assert not [x for x in early if x["severity"] == "page" or x["metric"] == "refusals"], early


def test_the_local_webhook_receives_the_page_with_a_link_to_the_alerts_chart(run: Run) -> None:
    pages = [
        a
        for n in run.notifications
        if n.get("status") == "firing"
        for a in n["alerts"]  # type: ignore[attr-defined]
        if a["labels"].get("alertname") == "RefusalRateSpike" and a["labels"].get("language") == "en"
    ]
    assert pages, run.notifications
    fp = pages[0]["generatorURL"].rsplit("/", 1)[-1]
    assert pages[0]["generatorURL"] == f"{EXTERNAL_URL}/alerts/{fp}" and fp in _spikes(run)
    lines = [x for x in run.lines if x.startswith("notification received: FIRING RefusalRateSpike ")]
    assert lines and any(f"{EXTERNAL_URL}/alerts/" in x for x in lines), run.lines


def test_a_notification_line_names_status_alert_slice_and_link() -> None:
    payload = {
        "status": "resolved",
        "groupLabels": {"alertname": "ToolErrorSpike"},
        "alerts": [
            {
                "labels": {"alertname": "ToolErrorSpike", "slice": "client_name,client_version", "client_name": "ios",
                           "client_version": "4.13.0", "severity": "page"},
                "generatorURL": "http://x/alerts/ab",
            },
            {"labels": {"alertname": "ToolErrorSpike", "slice": "global"}},
        ],
    }  # fmt: skip
    assert describe(payload) == (
        "notification received: RESOLVED ToolErrorSpike client_name=ios client_version=4.13.0 (page) "
        "http://x/alerts/ab (+1 more in this notification)"
    )
    assert describe({"status": "firing", "alerts": [{"labels": {"alertname": "A", "slice": "global"}}]}) == (
        "notification received: FIRING A all traffic"
    )


def test_the_demo_rules_keep_every_default_rule_and_route_everything_to_the_webhook(tmp_path: Path) -> None:
    from watchkeeper.alerting import default_rules_text, parse_rules

    demo = parse_rules(demo_rules_text("http://127.0.0.1:9/notify"), file="demo.yaml")
    default = parse_rules(default_rules_text(), file="default.yaml")
    assert [r.name for r in demo.rules] == [r.name for r in default.rules]
    assert "demo-webhook" in demo.receivers


def test_the_incident_changes_nothing_before_its_onset_and_only_english_refusals_during_it() -> None:
    clean = Simulator(seed=0, base_rate_per_min=RATE)
    faulty = Simulator(seed=0, base_rate_per_min=RATE, incident=Incident(ONSET))
    before = (ONSET - 20 * MIN, ONSET)
    assert list(faulty.traces_between(*before)) == list(clean.traces_between(*before))

    def refused(sim: Simulator, lang: str) -> float:
        roots = [spans[0] for spans, _ in sim.traces_between(ONSET, ONSET + 20 * MIN)]
        mine = [r for r in roots if (r.account.locale or "").startswith(lang)] if lang else roots
        return sum(r.attributes["watchkeeper.synthetic.outcome"] == "refused" for r in mine) / len(mine)

    assert refused(faulty, "en") - refused(clean, "en") > 0.08
    assert abs(refused(faulty, "de") - refused(clean, "de")) < 0.01
    roots = [spans[0] for spans, _ in faulty.traces_between(ONSET, ONSET + 5 * MIN)]
    assert any(r.attributes.get("watchkeeper.synthetic.incident") for r in roots)
    with pytest.raises(ValueError, match="extra_refusal_rate"):
        Incident(ONSET, extra_refusal_rate=1.5)

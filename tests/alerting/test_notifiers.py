"""Each notifier against a real local endpoint: the webhook's Alertmanager v4 payload field by field, Slack, PagerDuty
Events v2 (trigger, resolve, dedup_key), e-mail through a real SMTP server; 500s and timeouts retried with backoff,
then recorded as a visible delivery failure; a notification already delivered is not sent again."""

from __future__ import annotations

import hashlib
import random
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from prometheus_client import CollectorRegistry

from watchkeeper.alerting import AlertMetrics, Backoff, Deliverer, NotifierEnv, default_notifiers
from watchkeeper.alerting.notifiers import FAILED, FIRING, RESOLVED, SENT, AlertView, Attempt, Notification
from watchkeeper.alerting.notifiers._delivery import DUPLICATE

from .conftest import Receiver

S = 1_000_000_000
T = 1_717_200_000 * S
GROUP_KEY = '{}/{severity="page"}:{alertname="RefusalRateSpike"}'


def view(lang: str, status: str = FIRING) -> AlertView:
    labels = {"alertname": "RefusalRateSpike", "severity": "page", "metric": "refusals", "slice": "language"}
    return AlertView(
        fingerprint=f"{hash(lang) & 0xFFFF:016x}",
        status=status,
        labels={**labels, "language": lang},
        annotations={"summary": f"Refusals up in {lang}", "runbook_url": "https://runbooks.example.org/refusals"},
        starts_ns=T,
        ends_ns=T + 600 * S if status == RESOLVED else None,
        generator_url=f"https://wk.example.org/alerts/{lang}",
    )


def notification(*alerts: AlertView, integration: str = "webhook[0]") -> Notification:
    return Notification(
        receiver="on.call",
        integration=integration,
        group_key=GROUP_KEY,
        group_labels={"alertname": "RefusalRateSpike"},
        alerts=alerts,
        at_ns=T + 30 * S,
        external_url="https://wk.example.org",
        reason="first notification",
    ).keyed()


@pytest.fixture
def env() -> Iterator[NotifierEnv]:
    with httpx.Client(timeout=0.5) as http:
        yield NotifierEnv(http=http, timeout_s=0.5, external_url="https://wk.example.org")


def sender(kind: str, env: NotifierEnv, **config: Any) -> Any:
    k = default_notifiers().get(kind)
    return k.build(k.config.model_validate(config), env)


@dataclass
class Clock:
    slept: list[float] = field(default_factory=list)

    def sleep(self, s: float) -> None:
        self.slept.append(s)


def deliverer(
    attempts: list[Attempt], clock: Clock, *, tries: int = 4, metrics: AlertMetrics | None = None
) -> Deliverer:
    return Deliverer(
        backoff=Backoff(attempts=tries, base_s=1.0, cap_s=60.0),
        record=attempts.append,
        delivered=lambda key: any(a.notification.key == key and a.status == SENT for a in attempts),
        sleep=clock.sleep,
        rng=random.Random(7),
        metrics=metrics,
    )


def test_the_webhook_posts_alertmanagers_v4_payload_field_by_field(env: NotifierEnv, http_receiver: Receiver) -> None:
    n = notification(view("fr"), view("de", RESOLVED))
    code = sender("webhook", env, url=http_receiver.url + "/hook").send(n)
    assert code == 200
    (req,) = http_receiver.requests
    assert req.path == "/hook" and req.headers["content-type"] == "application/json"
    assert req.headers["idempotency-key"] == n.key
    body = req.json()
    assert list(body) == [
        "receiver", "status", "alerts", "groupLabels", "commonLabels", "commonAnnotations", "externalURL", "version",
        "groupKey", "truncatedAlerts",
    ]  # fmt: skip
    assert body["version"] == "4"
    assert body["groupKey"] == GROUP_KEY
    assert body["truncatedAlerts"] == 0
    assert body["status"] == "firing"  # any firing alert makes the group firing
    assert body["receiver"] == "on\\.call"  # Alertmanager quotes the receiver name as a regex (QuoteMeta)
    assert body["groupLabels"] == {"alertname": "RefusalRateSpike"}
    assert body["commonLabels"] == {
        "alertname": "RefusalRateSpike", "severity": "page", "metric": "refusals", "slice": "language",
    }  # fmt: skip
    assert body["commonAnnotations"] == {"runbook_url": "https://runbooks.example.org/refusals"}
    assert body["externalURL"] == "https://wk.example.org"
    fr, de = body["alerts"]
    assert list(fr) == ["status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"]
    assert fr["status"] == "firing" and fr["labels"]["language"] == "fr"
    assert fr["startsAt"] == "2024-06-01T00:00:00Z"
    assert fr["endsAt"] == "0001-01-01T00:00:00Z"  # Go's zero time while firing
    assert fr["generatorURL"] == "https://wk.example.org/alerts/fr"
    assert len(fr["fingerprint"]) == 16 and int(fr["fingerprint"], 16) >= 0
    assert de["status"] == "resolved" and de["endsAt"] == "2024-06-01T00:10:00Z"


def test_the_webhook_truncates_to_max_alerts_and_says_how_many(env: NotifierEnv, http_receiver: Receiver) -> None:
    sender("webhook", env, url=http_receiver.url, max_alerts=1).send(notification(view("fr"), view("de")))
    body = http_receiver.requests[0].json()
    assert len(body["alerts"]) == 1 and body["truncatedAlerts"] == 1


def test_a_500_is_retried_with_backoff_then_delivered(env: NotifierEnv, http_receiver: Receiver) -> None:
    http_receiver.statuses = [500, 503]
    attempts: list[Attempt] = []
    clock = Clock()
    outcome = deliverer(attempts, clock).deliver(
        sender("webhook", env, url=http_receiver.url), notification(view("fr"))
    )
    assert outcome == SENT
    assert [(a.attempt, a.status, a.http_status, a.error) for a in attempts] == [
        (1, "retry", 500, "HTTP 500"),
        (2, "retry", 503, "HTTP 503"),
        (3, "sent", 200, None),
    ]
    assert len(http_receiver.requests) == 3
    assert len(clock.slept) == 2 and 0 <= clock.slept[0] <= 1.0 and 0 <= clock.slept[1] <= 2.0


def test_a_receiver_that_keeps_failing_becomes_a_recorded_and_counted_failure(
    env: NotifierEnv, http_receiver: Receiver
) -> None:
    http_receiver.statuses = [500] * 10
    attempts: list[Attempt] = []
    metrics = AlertMetrics(CollectorRegistry())
    outcome = deliverer(attempts, Clock(), tries=3, metrics=metrics).deliver(
        sender("webhook", env, url=http_receiver.url), notification(view("fr"))
    )
    assert outcome == FAILED
    assert [a.status for a in attempts] == ["retry", "retry", "failed"]
    failures = metrics.registry.get_sample_value(
        "watchkeeper_alert_delivery_failures_total", {"receiver": "on.call", "integration": "webhook"}
    )
    assert failures == 1.0
    tries = metrics.registry.get_sample_value(
        "watchkeeper_alert_notifications_total", {"receiver": "on.call", "integration": "webhook", "outcome": "retry"}
    )
    assert tries == 2.0


def test_a_receiver_that_does_not_answer_times_out_and_is_retried(env: NotifierEnv, http_receiver: Receiver) -> None:
    http_receiver.hang = 1
    attempts: list[Attempt] = []
    outcome = deliverer(attempts, Clock()).deliver(
        sender("webhook", env, url=http_receiver.url), notification(view("fr"))
    )
    assert outcome == SENT
    assert [(a.status, a.error) for a in attempts] == [("retry", "timed out"), ("sent", None)]


def test_a_refused_connection_is_retried_and_a_400_is_not(env: NotifierEnv, http_receiver: Receiver) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    attempts: list[Attempt] = []
    assert deliverer(attempts, Clock(), tries=2).deliver(sender("webhook", env, url=closed), notification()) == FAILED
    assert [a.error for a in attempts] == ["connection failed (ConnectError)"] * 2
    http_receiver.statuses = [400]
    attempts = []
    n = notification(view("fr"))
    assert deliverer(attempts, Clock()).deliver(sender("webhook", env, url=http_receiver.url), n) == FAILED
    assert [(a.attempt, a.status) for a in attempts] == [(1, "failed")]  # the receiver will refuse it again


def test_a_notification_already_delivered_is_not_sent_again(env: NotifierEnv, http_receiver: Receiver) -> None:
    attempts: list[Attempt] = []
    d = deliverer(attempts, Clock())
    s = sender("webhook", env, url=http_receiver.url)
    n = notification(view("fr"))
    assert d.deliver(s, n) == SENT
    assert d.deliver(s, notification(view("fr"))) == DUPLICATE  # the same flush again: same key
    assert len(http_receiver.requests) == 1


def test_the_backoff_is_exponential_with_full_jitter() -> None:
    b = Backoff(attempts=8, base_s=1.0, cap_s=10.0)
    rng = random.Random(1)
    for retry, cap in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0), (7, 10.0)):
        delays = [b.delay(retry, rng) for _ in range(200)]
        assert all(0 <= d <= cap for d in delays) and max(delays) > cap * 0.8


def test_slack_gets_one_attachment_coloured_by_status(env: NotifierEnv, http_receiver: Receiver) -> None:
    s = sender("slack", env, api_url=http_receiver.url + "/services/T/B/X", channel="#alerts", send_resolved=True)
    s.send(notification(view("fr")))
    s.send(notification(view("fr", RESOLVED)))
    firing, resolved = (r.json() for r in http_receiver.requests)
    assert firing["channel"] == "#alerts"
    assert firing["text"] == "[FIRING:1] RefusalRateSpike"
    (att,) = firing["attachments"]
    assert att["color"] == "danger" and att["title_link"] == "https://runbooks.example.org/refusals"
    assert "Refusals up in fr" in att["text"] and "language=fr" in att["text"]
    assert resolved["attachments"][0]["color"] == "good" and resolved["text"].startswith("[RESOLVED:1]")


def test_slack_reads_its_url_from_a_file(env: NotifierEnv, http_receiver: Receiver, tmp_path: Any) -> None:
    (tmp_path / "slack-url").write_text(http_receiver.url + "/services/secret\n")
    local = NotifierEnv(http=env.http, timeout_s=env.timeout_s, base_dir=tmp_path)
    sender("slack", local, api_url_file="slack-url").send(notification(view("fr")))
    assert http_receiver.requests[0].path == "/services/secret"


def test_pagerduty_triggers_then_resolves_one_incident_per_group(env: NotifierEnv, http_receiver: Receiver) -> None:
    s = sender("pagerduty", env, routing_key="R0UT1NG", url=http_receiver.url + "/v2/enqueue")
    assert s.send(notification(view("fr"))) == 200
    s.send(notification(view("fr", RESOLVED)))
    trigger, resolve = (r.json() for r in http_receiver.requests)
    dedup = hashlib.sha256(GROUP_KEY.encode()).hexdigest()
    assert trigger["routing_key"] == "R0UT1NG" and trigger["event_action"] == "trigger"
    assert trigger["dedup_key"] == dedup and len(dedup) <= 255
    p = trigger["payload"]
    assert p["summary"] == "[FIRING:1] RefusalRateSpike" and p["severity"] == "critical"
    assert p["source"] == "Watchkeeper" and p["timestamp"] == "2024-06-01T00:00:30Z"
    assert p["class"] == "refusals" and p["group"] == "language"
    assert p["custom_details"]["num_firing"] == 1
    assert trigger["links"] == [{"href": "https://runbooks.example.org/refusals", "text": "Runbook"}]
    assert trigger["client_url"] == "https://wk.example.org"
    assert resolve == {"routing_key": "R0UT1NG", "event_action": "resolve", "dedup_key": dedup}


def test_pagerduty_rate_limits_are_retried(env: NotifierEnv, http_receiver: Receiver) -> None:
    http_receiver.statuses = [429]
    attempts: list[Attempt] = []
    s = sender("pagerduty", env, routing_key="k", url=http_receiver.url)
    assert deliverer(attempts, Clock()).deliver(s, notification(view("fr"))) == SENT
    assert [a.http_status for a in attempts] == [429, 200]


# ---------------------------------------------------------------------------------------------------------------
# E-mail through a real SMTP server


@dataclass
class Mailbox:
    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)  # SMTP replies to DATA, in order; then 250

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.answers:
            return self.answers.pop(0)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


def test_email_is_sent_through_a_real_smtp_server(env: NotifierEnv, smtp: tuple[Mailbox, int]) -> None:
    box, port = smtp
    s = sender(
        "email", env, to="oncall@example.org", **{"from": "wk@example.org"}, smarthost=f"127.0.0.1:{port}",
        require_tls=False,
    )  # fmt: skip
    n = notification(view("fr"), integration="email[0]")
    s.send(n)
    ((mail_from, rcpt, raw),) = box.messages
    assert mail_from == "wk@example.org" and rcpt == ["oncall@example.org"]
    msg = message_from_bytes(raw)
    assert msg["Subject"] == "[FIRING:1] RefusalRateSpike"
    assert msg["Message-ID"] == f"<{n.key}@watchkeeper>"
    text = msg.get_payload(decode=True).decode()
    assert "Refusals up in fr" in text and "runbook: https://runbooks.example.org/refusals" in text


def test_smtp_try_again_later_is_retried_and_a_permanent_refusal_is_not(
    env: NotifierEnv, smtp: tuple[Mailbox, int]
) -> None:
    box, port = smtp
    s = sender("email", env, to="a@example.org", **{"from": "w@example.org"}, smarthost=f"127.0.0.1:{port}",
               require_tls=False)  # fmt: skip
    box.answers = ["451 4.3.0 try again later"]
    attempts: list[Attempt] = []
    assert deliverer(attempts, Clock()).deliver(s, notification(view("fr"))) == SENT
    assert [(a.status, a.error) for a in attempts] == [("retry", "SMTP 451"), ("sent", None)]
    box.answers = ["554 5.7.1 rejected"]
    attempts = []
    assert deliverer(attempts, Clock()).deliver(s, notification(view("de"))) == FAILED
    assert [(a.status, a.error) for a in attempts] == [("failed", "SMTP 554")]


def test_email_refuses_to_send_in_clear_when_tls_is_required(env: NotifierEnv, smtp: tuple[Mailbox, int]) -> None:
    box, port = smtp
    s = sender("email", env, to="a@example.org", **{"from": "w@example.org"}, smarthost=f"127.0.0.1:{port}")
    attempts: list[Attempt] = []
    assert deliverer(attempts, Clock()).deliver(s, notification(view("fr"))) == FAILED
    assert attempts[0].error == "the SMTP server does not offer STARTTLS (require_tls)"
    assert box.messages == []


def test_what_the_webhook_sends_is_what_the_alertmanager_receiver_accepts() -> None:
    from watchkeeper.alerting import AlertmanagerWebhook
    from watchkeeper.alerting.external import to_alert
    from watchkeeper.alerting.notifiers.webhook import webhook_payload

    n = notification(view("fr"), view("de", RESOLVED))
    parsed = AlertmanagerWebhook.model_validate(webhook_payload(n))
    back = [to_alert(a, T) for a in parsed.alerts]
    assert [(a.labels["language"], a.state.value, a.starts_ns, a.ends_ns) for a in back] == [
        ("fr", "firing", T, None),
        ("de", "resolved", T, T + 600 * S),
    ]

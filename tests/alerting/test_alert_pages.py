"""The silences and rules pages in-process: a silence added, listed and expired through the forms (bad input answered
with the form and its error, nothing stored; the author is whoever is signed in), the rule set the server runs, and
a back-test of one rule that finds an injected refusal spike in real rollups."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests._rollup_rows import write_slots
from tests.alerting.test_live_end_to_end import BASE_REFUSALS, HISTORY_H, PER_HOUR, _rules
from watchkeeper._rollup import Facts
from watchkeeper.alerting import (
    AlertEngine,
    RollupSource,
    default_rules_text,
    fdr_from_detectors,
    list_silences,
    parse_rules,
)
from watchkeeper.alerting._labels import rfc3339
from watchkeeper.alerting.matchers import split_matchers
from watchkeeper.analytics.detectors import default_registry
from watchkeeper.config import Settings
from watchkeeper.errors import InputError
from watchkeeper.server import create_app
from watchkeeper.server._rules_pages import MAX_TICKS, backtest_window
from watchkeeper.store import make_engine, migrate
from watchkeeper.trust.roles import Permission

NS = 1_000_000_000
MIN = 60 * NS
H = 60 * MIN
DAY = 24 * H


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=str(tmp_path), auth=False, alert_interval_s=0)
    with TestClient(create_app(settings)) as c:
        yield c


def _engine(c: TestClient) -> Engine:
    engine: Engine = c.app.state.runtime.engine  # type: ignore[attr-defined]
    return engine


def _error(html: str) -> str:
    m = re.search(r'id="(?:silence|rules)-error">([^<]*)<', html)
    assert m, "no error shown"
    return m.group(1)


def _add(c: TestClient, **form: str) -> httpx.Response:
    body = {"matchers": 'alertname="RefusalRateSpike", language="de"', "end": "2h", "comment": "deploy 4411"}
    return c.post("/silences", data={**body, **form}, follow_redirects=False)


# ---------------------------------------------------------------------------------------------------------------
# Silences


def test_a_silence_added_through_the_form_is_listed_in_force_and_its_button_expires_it(client: TestClient) -> None:
    r = client.get("/silences")
    assert r.status_code == 200 and 'id="silence-form"' in r.text and "No silence is in force." in r.text

    r = _add(client, comment="model rollout, ticket 4411")
    assert r.status_code == 303 and r.headers["location"] == "/silences"
    [s] = list_silences(_engine(client))
    assert [str(m) for m in s.matchers] == ['alertname="RefusalRateSpike"', 'language="de"']
    assert s.created_by == "local" and s.comment == "model rollout, ticket 4411"
    assert 2 * H - MIN <= s.ends_ns - s.starts_ns <= 2 * H and abs(s.starts_ns - time.time_ns()) < MIN

    page = client.get("/silences").text
    in_force = page.split('id="in-force"', 1)[1].split("</table>", 1)[0]
    assert f'data-silence="{s.id}"' in in_force and "model rollout, ticket 4411" in in_force
    assert "language=&#34;de&#34;" in in_force and "active" in in_force and "no live alert" in in_force
    assert f'action="/silences/{s.id}/expire"' in in_force

    r = client.post(f"/silences/{s.id}/expire", follow_redirects=False)
    assert r.status_code == 303
    assert list_silences(_engine(client), state="expired")[0].id == s.id
    page = client.get("/silences").text
    assert "No silence is in force." in page
    expired = page.split('id="expired"', 1)[1].split("</table>", 1)[0]
    assert f'data-silence="{s.id}"' in expired and "model rollout, ticket 4411" in expired

    again = client.post(f"/silences/{s.id}/expire")  # twice: a conflict, shown on the page
    assert again.status_code == 409 and "already expired" in _error(again.text)
    assert client.post("/silences/no-such-silence/expire").status_code == 404


def test_a_silence_may_start_later_and_end_at_a_time(client: TestClient) -> None:
    start, end = time.time_ns() // NS * NS + H, time.time_ns() // NS * NS + 3 * H
    r = _add(client, matchers='{severity=~"page|ticket",team!="db"}', start=rfc3339(start), end=rfc3339(end))
    assert r.status_code == 303
    [s] = list_silences(_engine(client))
    assert (s.starts_ns, s.ends_ns) == (start, end) and s.state(time.time_ns()) == "pending"
    assert [str(m) for m in s.matchers] == ['severity=~"page|ticket"', 'team!="db"']
    assert "pending" in client.get("/silences").text


@pytest.mark.parametrize(
    ("form", "status", "message", "field"),
    [
        ({"matchers": 'alertname=="X"'}, 400, "is not a matcher", "matchers"),
        ({"matchers": 'alertname="X", 9lang="de"'}, 400, "matchers[1]", "matchers"),
        ({"matchers": 'alertname=~"("'}, 400, "does not compile", "matchers"),
        ({"matchers": ""}, 400, "at least one matcher", "matchers"),
        ({"matchers": 'team=~".*"'}, 400, "would mute every alert", "matchers"),
        ({"start": "2030-01-02T00:00:00Z", "end": "2030-01-01T00:00:00Z"}, 400, "end after it starts", "end"),
        ({"start": "2000-01-01T00:00:00Z", "end": "2001-01-01T00:00:00Z"}, 400, "already be over", "end"),
        ({"end": "for a while"}, 400, "end must be a duration", "end"),
        ({"start": "tomorrow"}, 400, "start must be an RFC 3339 time", "start"),
        ({"comment": "   "}, 400, "say why", "comment"),
        ({"comment": ""}, 400, "say why", "comment"),
    ],
)
def test_bad_input_comes_back_as_the_form_with_a_precise_error_and_nothing_is_stored(
    client: TestClient, form: dict[str, str], status: int, message: str, field: str
) -> None:
    r = _add(client, **form)
    assert r.status_code == status
    html = r.text
    assert message in _error(html).replace("&#34;", '"')
    assert re.search(rf'name="{field}"[^>]*aria-invalid="true"', html), field
    sent = {"matchers": 'alertname="RefusalRateSpike", language="de"', "comment": "deploy 4411", **form}
    if sent["comment"].strip():  # what was typed is kept for the next try
        assert f'value="{sent["comment"]}"' in html
    assert list_silences(_engine(client)) == []


def test_a_missing_form_field_is_a_form_error_too_not_a_problem_document(client: TestClient) -> None:
    r = client.post("/silences", data={"matchers": 'alertname="X"'})
    assert r.status_code == 400 and r.headers["content-type"].startswith("text/html")
    assert list_silences(_engine(client)) == []


def test_matchers_split_on_commas_and_new_lines_outside_quotes() -> None:
    assert split_matchers('{a="b, c", d!~"e\\"f,g"}') == ['a="b, c"', 'd!~"e\\"f,g"']
    assert split_matchers('a="b"\nc=d,\n') == ['a="b"', "c=d"]
    assert split_matchers("  ") == []


def test_the_author_is_the_signed_in_user_and_the_form_needs_its_csrf_token(tmp_path: Path) -> None:
    from tests.server._access import PASSWORD, world

    for w in world(tmp_path):
        c = w.client
        assert c.get("/silences", follow_redirects=False).status_code == 303  # to /login
        r = c.post("/login", data={"username": "viewer-1", "password": PASSWORD}, follow_redirects=False)
        assert r.status_code == 303
        page = c.get("/silences")
        assert page.status_code == 200 and 'id="silence-form"' not in page.text  # a viewer reads only
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token  # the logout form's
        r = _add(c, csrf_token=token.group(1))
        assert r.status_code == 403 and Permission.WRITE_ALERTS.value in r.text
        c.cookies.clear()

        c.post("/login", data={"username": "engineer-1", "password": PASSWORD}, follow_redirects=False)
        page = c.get("/silences")
        token = re.search(
            r'id="silence-form"[^>]*>\s*<input type="hidden" name="csrf_token" value="([^"]+)"', page.text
        )
        assert token
        assert _add(c).status_code == 403  # no token
        assert _add(c, csrf_token="forged").status_code == 403
        assert list_silences(w.engine) == []
        r = _add(c, csrf_token=token.group(1), createdBy="mallory", created_by="mallory", author="mallory")
        assert r.status_code == 303
        [s] = list_silences(w.engine)
        assert s.created_by == "engineer-1"
        assert _error_free(c.get("/silences").text, "engineer-1")
        r = c.post(f"/silences/{s.id}/expire", data={"csrf_token": token.group(1)}, follow_redirects=False)
        assert r.status_code == 303 and list_silences(w.engine, state="expired")


def _error_free(html: str, author: str) -> bool:
    return "silence-error" not in html and f"<td>{author}</td>" in html


# ---------------------------------------------------------------------------------------------------------------
# Rules


def test_the_rules_page_lists_every_rule_the_server_runs_with_its_settings(client: TestClient) -> None:
    rules = parse_rules(default_rules_text(), file="default_rules.yaml")
    page = client.get("/rules")
    assert page.status_code == 200 and "default_rules.yaml" in page.text
    for rule in rules.rules:
        row = page.text.split(f'id="rule-{rule.name}"', 1)[1].split("</tr>", 1)[0]
        assert rule.metric in row and rule.detector in row and rule.severity in row
        assert f'action="/rules/{rule.name}/backtest"' in row and 'name="step" value="15m"' in row
    spike = page.text.split('id="rule-RefusalRateSpike"', 1)[1].split("</tr>", 1)[0]
    assert "language × model_version" in spike and "global" in spike
    assert (
        'for 10m <span class="sub">(at once if the rate changed ×2)</span>' in spike
        and "keep firing 15m" in spike
        and "bucket 5m" in spike
        and "lookback 1w" in spike
    )
    assert "team=safety" in spike and "sensitivity 1 (medium)" in spike and "enabled" in spike
    assert 'href="https://watchkeeper.dev/runbooks/refusal-rate-spike"' in spike
    assert "Refusal rate up to {{ $value }}" in spike
    drift = page.text.split('id="rule-RefusalRateDrift"', 1)[1].split("</tr>", 1)[0]
    assert "for 1h<br>" in drift  # no factor: every alert of the rule waits its ``for``
    assert "at most 7 days and 700 ticks" in page.text
    assert 'href="/rules"' in page.text and 'href="/silences"' in page.text  # the nav links


def test_where_the_engine_runs_the_rules_page_shows_its_rule_set(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(_rules("http://127.0.0.1:9/never"))
    settings = Settings(data_dir=str(tmp_path), auth=False, alert_interval_s=3600, alert_rules_file=str(rules))
    with TestClient(create_app(settings)) as c:
        running = c.app.state.alerts.engine.rules  # type: ignore[attr-defined]
        rules.write_text("version: 1\nrules: []\n")  # a later edit of the file is not what runs
        page = c.get("/rules")
        assert page.status_code == 200
        assert [r.name for r in running.rules] and all(f'id="rule-{r.name}"' in page.text for r in running.rules)


def test_a_rules_file_shows_its_disabled_rule_which_still_back_tests(tmp_path: Path) -> None:
    f = tmp_path / "rules.yaml"
    f.write_text(
        "version: 1\nrules:\n  - alert: Quiet\n    metric: refusals\n    severity: ticket\n    enabled: false\n"
        "    sensitivity: 3\n    annotations: {summary: hush, runbook_url: 'https://runbooks.example.org/quiet'}\n"
    )
    settings = Settings(data_dir=str(tmp_path), auth=False, alert_interval_s=0, alert_rules_file=str(f))
    with TestClient(create_app(settings)) as c:
        page = c.get("/rules")
        row = page.text.split('id="rule-Quiet"', 1)[1].split("</tr>", 1)[0]
        assert "disabled" in row and "sensitivity 3<" in row and "hush" in row
        assert 'href="https://runbooks.example.org/quiet"' in row
        r = c.get("/rules/Quiet/backtest", params={"from": "2h"})
        assert r.status_code == 200 and "The rule found nothing in this window." in r.text


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ({"from": "8d"}, 400, "at most 7 days"),
        ({"from": "7d", "step": "5m"}, 400, "at most 700 ticks (asked: 2016); choose a longer step (at least 15m)"),
        ({"from": "yesterday"}, 400, "from must be a duration ago"),
        ({"from": "1h", "to": "2h"}, 400, "to must be after from"),
        ({"step": "0s"}, 400, "step must be longer than 0s"),
        ({"step": "soon"}, 400, "step must be a duration"),
    ],
)
def test_a_backtest_over_the_limits_or_with_bad_times_is_refused_with_a_clear_message(
    client: TestClient, query: dict[str, str], status: int, message: str
) -> None:
    r = client.get("/rules/RefusalRateSpike/backtest", params=query)
    assert r.status_code == status and message in _error(r.text)
    assert 'id="backtest-result"' not in r.text and 'id="backtest-RefusalRateSpike"' in r.text  # the form, again


def test_the_backtest_window_takes_durations_ago_and_times() -> None:
    now = 1_717_200_000 * NS
    assert backtest_window("24h", "", "", now) == (now - DAY, now, 15 * MIN)
    assert backtest_window("", "", "", now) == (now - DAY, now, 15 * MIN)
    assert backtest_window("2024-05-31T00:00:00Z", "2024-05-31T12:00:00Z", "1h", now) == (
        now - DAY,
        now - DAY + 12 * H,
        H,
    )
    assert backtest_window("7d", "", "15m", now)[0] == now - 7 * DAY  # 672 ticks: within the limit
    with pytest.raises(InputError, match=f"at most {MAX_TICKS} ticks"):
        backtest_window("7d", "", "14m", now)


def test_an_unknown_rule_is_not_found(client: TestClient) -> None:
    r = client.get("/rules/NoSuchRule/backtest")
    assert r.status_code == 404 and "no rule 'NoSuchRule'" in _error(r.text).replace("&#39;", "'")


# ---------------------------------------------------------------------------------------------------------------
# A back-test and a silence on real rollups


@dataclass(frozen=True)
class Incident:
    url: str
    end_ns: int
    incident_ns: int


@pytest.fixture(scope="module")
def incident(tmp_path_factory: pytest.TempPathFactory) -> Incident:
    """A SQLite store whose rollups hold 3¼ days of chat turns in three languages (the volumes and refusal rates of
    test_live_end_to_end.py), ending in a German refusal spike; written straight into the rollups, which is all
    these pages and the alert engine read (test_live_end_to_end.py sends the same story through the pipeline)."""
    tmp = tmp_path_factory.mktemp("pages")
    url = f"sqlite:///{tmp / 'watchkeeper.db'}"
    end = (time.time_ns() // H - 2) * H  # recent: 1-minute rollups are kept for a week
    start = end - 2 * H - 40 * MIN
    rng = random.Random(7)

    def slot(t: int, fact: Callable[..., Facts]) -> list[Facts]:
        out = []
        for lang, per_hour in PER_HOUR.items():
            n = per_hour // 12
            rate = BASE_REFUSALS * (3 if lang == "de" and t >= start else 1)
            refused = sum(rng.random() < rate for _ in range(n))
            out += [fact(language=lang, refused=True)] * refused + [fact(language=lang)] * (n - refused)
        return out

    engine = make_engine(url)
    migrate(engine)
    write_slots(engine, end - HISTORY_H * H, end, slot)
    engine.dispose()
    return Incident(url, end, start)


@pytest.mark.timeout(600)
def test_a_backtest_of_one_rule_shows_the_injected_spike_and_the_notification_it_would_have_sent(
    incident: Incident, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(_rules("http://127.0.0.1:9/never"))  # a back-test sends nothing
    settings = Settings(
        database_url=incident.url, data_dir=str(tmp_path), auth=False, alert_interval_s=0, alert_rules_file=str(rules)
    )
    with TestClient(create_app(settings)) as c:
        q = {"from": rfc3339(incident.incident_ns - H), "to": rfc3339(incident.end_ns + 1), "step": "15m"}
        r = c.get("/rules/RefusalRateSpike/backtest", params=q)
        assert r.status_code == 200, r.text[-2000:]
        summary = r.text.split('id="backtest-summary">', 1)[1].split("</p>", 1)[0]
        assert "ticks every 15m" in summary and "0 alert(s) fired" not in summary
        episodes = r.text.split('id="episodes"', 1)[1].split("</table>", 1)[0]
        rows = [row for row in episodes.split("<tr data-fingerprint=")[1:] if "language=de" in row]
        assert rows and any("did not fire" not in row for row in rows), episodes
        assert "language=en" not in episodes and "language=fr" not in episodes
        assert "team=safety" in episodes
        notifications = r.text.split('id="notifications"', 1)[1].split("</table>", 1)[0]
        assert "<td>hook</td>" in notifications and "<td>firing</td>" in notifications
        assert "RefusalRateSpike" in notifications  # the group key
        assert "ToolErrorSpike" not in r.text.split('id="backtest-result"', 1)[1]  # only the one rule ran

        other = c.get("/rules/ToolErrorSpike/backtest", params=q)  # another rule, same window: nothing
        assert other.status_code == 200 and "The rule found nothing in this window." in other.text


def test_the_silences_page_shows_which_live_alert_a_silence_mutes_now(incident: Incident, tmp_path: Path) -> None:
    store = make_engine(incident.url)
    try:
        rules = parse_rules(default_rules_text(), file="default_rules.yaml")
        engine = AlertEngine(rules, source=RollupSource(store), detectors=default_registry(), fdr=fdr_from_detectors(),
                             store=store)  # fmt: skip
        for at in (incident.end_ns - 15 * MIN, incident.end_ns):  # pending, then firing
            engine.tick(at)
    finally:
        store.dispose()
    settings = Settings(database_url=incident.url, data_dir=str(tmp_path), auth=False, alert_interval_s=0)
    with TestClient(create_app(settings)) as c:
        assert _add(c, matchers='alertname="RefusalRateSpike"', comment="muting the spike").status_code == 303
        assert _add(c, matchers='alertname="NothingLikeThis"', comment="mutes nothing").status_code == 303
        in_force = c.get("/silences").text.split('id="in-force"', 1)[1].split("</table>", 1)[0]
        spike, nothing = (in_force.split(f"<td>{text}</td>", 1)[1].split("</tr>", 1)[0]
                          for text in ("muting the spike", "mutes nothing"))  # fmt: skip
        assert re.search(r'href="/alerts/[0-9a-f]{16}">RefusalRateSpike</a> \((firing|pending)\)', spike), spike
        assert "no live alert" in nothing
        for s in list_silences(_engine(c)):  # the store is the module's: leave no silence in force
            c.post(f"/silences/{s.id}/expire")

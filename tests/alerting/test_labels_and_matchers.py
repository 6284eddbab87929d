"""Fingerprints, label-set strings, matchers, durations and times exactly as Prometheus and Alertmanager write them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watchkeeper.alerting import MatchType, fingerprint, parse_matcher
from watchkeeper.alerting._labels import (
    format_duration,
    labelset_string,
    parse_duration,
    parse_rfc3339,
    rfc3339,
)
from watchkeeper.alerting.matchers import Matcher, could_match, matchers_string, matches_all

NS = 1_000_000_000


def test_the_fingerprint_is_prometheus_common_labelset_fingerprint() -> None:
    # the vectors of prometheus/common model/signature_test.go (TestMetricToFingerprint)
    assert fingerprint({}) == f"{14695981039346656037:016x}"
    assert fingerprint({"name": "garland, briggs", "fear": "love is not enough"}) == f"{5799056148416392346:016x}"


@given(st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True), st.text(max_size=12), max_size=6))
def test_the_fingerprint_depends_on_labels_not_their_order(labels: dict[str, str]) -> None:
    shuffled = dict(reversed(list(labels.items())))
    assert fingerprint(labels) == fingerprint(shuffled)
    assert len(fingerprint(labels)) == 16


def test_a_label_set_prints_sorted_with_go_quoting() -> None:
    assert labelset_string({"b": 'say "hi"\n', "a": "x"}) == '{a="x", b="say \\"hi\\"\\n"}'
    assert labelset_string({}) == "{}"
    assert labelset_string({"lang": "日本語"}) == '{lang="日本語"}'


@pytest.mark.parametrize(
    ("text", "name", "type", "value"),
    [
        ('severity="page"', "severity", MatchType.EQUAL, "page"),
        ("severity=page", "severity", MatchType.EQUAL, "page"),
        ('team!="db"', "team", MatchType.NOT_EQUAL, "db"),
        ('alertname=~"Refusal.*"', "alertname", MatchType.REGEX, "Refusal.*"),
        ('  language !~ "en|de" ', "language", MatchType.NOT_REGEX, "en|de"),
        ('msg="a \\"quoted\\" word"', "msg", MatchType.EQUAL, 'a "quoted" word'),
    ],
)
def test_matchers_parse_in_alertmanager_syntax(text: str, name: str, type: MatchType, value: str) -> None:
    m = parse_matcher(text)
    assert (m.name, m.type, m.value) == (name, type, value)


@pytest.mark.parametrize("text", ["severity", '="x"', "9lives=x", 'a=="x"', "a='x'", 'a=~"("', "a = b c"])
def test_malformed_matchers_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"matcher|label name|regex"):
        parse_matcher(text)


def test_matching_is_anchored_and_an_absent_label_is_empty() -> None:
    labels = {"alertname": "RefusalRateSpike", "language": "fr"}
    assert parse_matcher('alertname=~"Refusal"').matches("RefusalRateSpike") is False
    assert matches_all([parse_matcher('alertname=~"Refusal.*"')], labels)
    assert matches_all([parse_matcher('team!="db"')], labels)  # no team label: "" != "db"
    assert not matches_all([parse_matcher('team=~".+"')], labels)
    assert matches_all([parse_matcher('team=""')], labels)


def test_matchers_print_as_alertmanager_does_in_route_keys() -> None:
    ms = [parse_matcher('severity="page"'), parse_matcher('alertname=~"A|B"')]
    assert matchers_string(ms) == '{severity="page",alertname=~"A|B"}'
    assert str(Matcher.make("a", "=", 'x"y')) == 'a="x\\"y"'


def test_api_matchers_round_trip() -> None:
    for text in ('a="b"', 'a!="b"', 'a=~"b.*"', 'a!~"b"'):
        m = parse_matcher(text)
        assert Matcher.from_api(m.as_api()) == m


def test_a_matcher_could_match_a_value_only_the_traffic_will_show() -> None:
    fixed = {"alertname": "X", "severity": "page"}
    assert could_match([parse_matcher('language="fr"')], fixed, {"language"})
    assert not could_match([parse_matcher('language="fr"')], fixed, set())
    assert not could_match([parse_matcher('severity="ticket"')], fixed, {"language"})
    assert could_match([parse_matcher('team!="db"')], fixed, set())


@pytest.mark.parametrize(
    ("text", "ns"),
    [("0s", 0), ("30s", 30 * NS), ("5m", 300 * NS), ("1h30m", 5400 * NS), ("2d", 2 * 86400 * NS), ("1w", 604800 * NS)],
)
def test_durations_read_and_print_as_prometheus_does(text: str, ns: int) -> None:
    assert parse_duration(text) == ns
    assert format_duration(ns) == text


def test_seven_days_print_as_a_week_as_prometheus_prints_them() -> None:
    assert parse_duration("7d") == parse_duration("1w") and format_duration(parse_duration("7d")) == "1w"


@pytest.mark.parametrize("text", ["", "5", "5 m", "-5m", "1.5h", "m", 5])
def test_malformed_durations_are_refused(text: object) -> None:
    with pytest.raises(ValueError, match="must be a duration"):
        parse_duration(text)


def test_times_are_rfc3339_as_go_marshals_them() -> None:
    t = 1_717_200_000 * NS
    assert rfc3339(t) == "2024-06-01T00:00:00Z"
    assert rfc3339(t + 120_000_000) == "2024-06-01T00:00:00.12Z"
    assert rfc3339(None) == "0001-01-01T00:00:00Z"
    assert parse_rfc3339("2024-06-01T02:00:00.12+02:00") == t + 120_000_000
    assert parse_rfc3339("0001-01-01T00:00:00Z") is None
    with pytest.raises(ValueError, match="RFC 3339"):
        parse_rfc3339("yesterday")

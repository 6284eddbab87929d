"""The rules file: the shipped rule set checks clean, and every kind of mistake is refused with a message naming
the file, the line, the rule and the field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from watchkeeper.alerting import RulesError, load_rules, parse_rules
from watchkeeper.alerting.inhibition import PAGE_OVER_TICKET, PARENT_SLICE
from watchkeeper.alerting.notifiers.webhook import WebhookConfig

BASE: dict[str, Any] = {
    "version": 1,
    "rules": [
        {
            "alert": "RefusalRateSpike",
            "metric": "refusals",
            "slices": ["global", "language", ["language", "model_version"]],
            "detector": "spike",
            "sensitivity": 1,
            "severity": "page",
            "for": "10m",
            "lookback": "7d",
            "bucket": "5m",
            "labels": {"team": "safety"},
            "annotations": {
                "summary": "Refusals up to {{ $value }} for {{ $slice }} ({{ $labels.language }})",
                "runbook_url": "https://runbooks.example.org/refusals",
            },
        },
        {
            "alert": "ToolErrorDrift",
            "metric": "tool_errors",
            "slices": ["tool_name"],
            "detector": "drift",
            "severity": "ticket",
            "for": "1h",
            "lookback": "14d",
            "bucket": "1h",
            "annotations": {"summary": "Tool errors drifting up for {{ $slice }}"},
        },
    ],
    "inhibit_rules": [{"source_matchers": ['team="safety"'], "target_matchers": ['severity="ticket"']}],
    "route": {
        "receiver": "oncall",
        "group_by": ["alertname", "metric"],
        "routes": [{"matchers": ['severity="page"'], "receiver": "pager", "continue": True}],
    },
    "receivers": [
        {"name": "oncall", "webhook_configs": [{"url": "http://127.0.0.1:9/hook"}]},
        {"name": "pager", "pagerduty_configs": [{"routing_key": "R0UT1NG"}]},
    ],
}


def doc(change: Any = None) -> str:
    d = copy.deepcopy(BASE)
    if change is not None:
        change(d)
    return yaml.safe_dump(d, sort_keys=False)


def problems(text: str) -> list[str]:
    with pytest.raises(RulesError) as e:
        parse_rules(text, file="rules.yaml")
    return [str(p) for p in e.value.problems]


def test_the_shipped_default_rules_check_clean_and_cover_the_seed_cases() -> None:
    rs = load_rules()
    names = {r.name for r in rs.rules}
    assert {
        "RefusalRateSpike",
        "ToolErrorSpike",
        "JailbreakAttemptTrend",
        "InjectionSpike",
        "LatencyRegression",
        "TokenThroughputRegression",
        "TaskFailureRate",
        "EscalationRateSpike",
    } <= names
    tool = rs.rule("ToolErrorSpike")
    assert ("tool_name",) in tool.slices and ("client_version",) in tool.slices
    assert {("language",), ("account_age",)} <= set(rs.rule("JailbreakAttemptTrend").slices)
    assert all(r.annotations.get("runbook_url") for r in rs.rules)
    assert all(r.enabled for r in rs.rules) and not rs.warnings
    throughput = rs.rule("TokenThroughputRegression")
    assert (throughput.metric, throughput.detector) == ("time_per_output_token", "quantile_shift")


def test_a_good_file_gives_rules_routes_receivers_and_the_built_in_inhibitions() -> None:
    rs = parse_rules(doc(), file="rules.yaml")
    spike = rs.rule("RefusalRateSpike")
    assert spike.slices == ((), ("language",), ("language", "model_version"))
    assert (spike.for_ns, spike.lookback_ns, spike.bucket_ns) == (600 * 10**9, 7 * 86400 * 10**9, 300 * 10**9)
    assert spike.alert_labels(("language",), ("fr",)) == {
        "alertname": "RefusalRateSpike",
        "severity": "page",
        "metric": "refusals",
        "slice": "language",
        "team": "safety",
        "language": "fr",
    }
    assert [r.opts.receiver for r in rs.route.walk()] == ["oncall", "pager"]
    assert rs.receivers["pager"].integrations[0][0] == "pagerduty"
    origins = [i.origin for i in rs.inhibit_rules]
    assert PARENT_SLICE in origins and PAGE_OVER_TICKET in origins and "config" in origins
    described = [i.describe() for i in rs.inhibit_rules if i.origin == PARENT_SLICE]
    assert any('slice="language"' in d and 'slice="language,model_version"' in d for d in described)


def test_a_pair_is_named_in_its_configured_order_whatever_order_the_file_uses() -> None:
    rs = parse_rules(doc(lambda d: d["rules"][0].update(slices=[["model_version", "language"]])))
    assert rs.rule("RefusalRateSpike").slices == (("language", "model_version"),)


def _rule(i: int, **fields: Any) -> Any:
    def change(d: dict[str, Any]) -> None:
        for k, v in fields.items():
            if v is None:
                d["rules"][i].pop(k, None)
            else:
                d["rules"][i][k] = v

    return change


def _set(path: tuple[Any, ...], value: Any) -> Any:
    def change(d: Any) -> None:
        node = d
        for p in path[:-1]:
            node = node[p]
        node[path[-1]] = value

    return change


CASES = [
    # (what is wrong, the change, the precise message)
    ("unknown metric", _rule(0, metric="refusal"), "rule 'RefusalRateSpike': metric: unknown metric 'refusal'; known:"),
    (
        "unknown dimension",
        _rule(0, slices=["global", "langauge"]),
        "rule 'RefusalRateSpike': slices[1]: unknown dimension 'langauge'",
    ),
    (
        "pair not configured",
        _rule(0, slices=[["language", "region"]]),
        "slices[0]: [language, region] is not a configured pair; configured:",
    ),
    ("three dimensions", _rule(0, slices=[["language", "region", "model"]]), "a slice is global, one dimension, or"),
    ("no slices", _rule(0, slices=[]), "rule 'RefusalRateSpike': slices: name at least one slice"),
    ("slice twice", _rule(0, slices=["language", "language"]), "slices[1]: is listed twice"),
    ("unknown detector", _rule(0, detector="zscore"), "detector: unknown detector 'zscore'; known: spike, drift"),
    (
        "histogram detector on a rate",
        _rule(0, detector="quantile_shift"),
        "detector: quantile_shift tests a histogram measure (latency, time_per_output_token); 'refusals' is a rate",
    ),
    ("rate detector on a measure", _rule(1, metric="latency"), "detector: drift tests rates; 'latency' is a histogram"),
    ("bad sensitivity word", _rule(0, sensitivity="extreme"), "sensitivity: must be a number or one of low, medium"),
    ("sensitivity zero", _rule(0, sensitivity=0), "sensitivity: must be above 0 and at most 1000"),
    ("bad severity", _rule(0, severity="critical"), "severity: must be one of page, ticket"),
    ("for not a duration", _rule(0, **{"for": "ten minutes"}), "for: must be a duration such as 30s, 5m"),
    ("bare number", _rule(0, **{"for": 10}), "for: must be a duration such as"),
    ("urgent factor of 1", _rule(0, for_unless_factor=1), "for_unless_factor: must be a number above 1 (2: the rate"),
    ("urgent factor not a number", _rule(0, for_unless_factor="double"), "for_unless_factor: must be a number above 1"),
    ("for longer than lookback", _rule(1, **{"for": "15d"}), "for: must not be longer than the lookback (15d > 14d)"),
    ("zero bucket", _rule(0, bucket="0s"), "bucket: must be longer than 0s"),
    ("bucket longer than lookback", _rule(0, bucket="8d"), "bucket: is longer than the lookback (8d > 7d)"),
    ("lookback not whole buckets", _rule(0, lookback="7h", bucket="2h"), "lookback: must be a whole number of buckets"),
    ("lookback too long", _rule(0, lookback="500d"), "lookback: must be at most 400d"),
    ("bad alert name", _rule(0, alert="refusal rate"), "alert: must be a name such as RefusalRateSpike"),
    ("duplicate name", _rule(1, alert="RefusalRateSpike"), "alert: another rule has the same name"),
    ("missing severity", _rule(0, severity=None), "rule 'RefusalRateSpike': severity: required"),
    ("unknown rule field", _rule(0, treshold=3), "rule 'RefusalRateSpike': treshold: unknown field; allowed: alert,"),
    ("label sets identity", _rule(0, labels={"severity": "low"}), "labels.severity: is set by the rule itself"),
    ("label is a dimension", _rule(0, labels={"language": "fr"}), "labels.language: is set by the rule itself"),
    ("bad label name", _rule(0, labels={"team-name": "x"}), "labels.team-name: is not a label name"),
    ("label not a string", _rule(0, labels={"team": 3}), "labels.team: Input should be a valid string"),
    ("no summary", _rule(1, annotations={"description": "x"}), "rule 'ToolErrorDrift': annotations.summary: required"),
    (
        "page without runbook",
        _rule(0, annotations={"summary": "s"}),
        "annotations.runbook_url: required for severity page",
    ),
    (
        "relative runbook",
        _rule(1, annotations={"summary": "s", "runbook_url": "/runbooks/x"}),
        "annotations.runbook_url: must be an absolute http:// or https:// URL",
    ),
    (
        "unknown template",
        _rule(1, annotations={"summary": "{{ .Value }}"}),
        "annotations.summary: unknown template '{{ .Value }}'",
    ),
    (
        "template label not on the alert",
        _rule(1, annotations={"summary": "{{ $labels.language }}"}),
        "annotations.summary: $labels.language is not a label of this rule's alerts",
    ),
    (
        "unknown receiver",
        _set(("route", "routes", 0, "receiver"), "pagr"),
        "route.routes[0]: receiver: unknown receiver",
    ),
    (
        "matchers that match nothing",
        _set(("route", "routes", 0, "matchers"), ['severity="critical"']),
        "route.routes[0]: matchers: match no alert that any rule can raise",
    ),
    (
        "matcher on a dimension no rule slices by",
        _set(("route", "routes", 0, "matchers"), ['region="eu"']),
        "matchers: match no alert that any rule can raise",
    ),
    ("bad matcher", _set(("route", "routes", 0, "matchers"), ["severity=='page'"]), "route.routes[0]: matchers[0]:"),
    ("bad regex", _set(("route", "routes", 0, "matchers"), ['alertname=~"("']), "the regex of 'alertname' does not"),
    ("root without receiver", _set(("route", "receiver"), None), "route: receiver: the root route must name a"),
    ("root with matchers", _set(("route", "matchers"), ['team="x"']), "route: matchers: the root route matches every"),
    ("group_by unknown label", _set(("route", "group_by"), ["cluster"]), "group_by[0]: no alert carries the label"),
    ("group_by mixed with ...", _set(("route", "group_by"), ["...", "alertname"]), "'...' (every label) stands alone"),
    ("group_interval zero", _set(("route", "group_interval"), "0s"), "route: group_interval: must be longer than 0s"),
    (
        "inhibit side matches nothing",
        _set(("inhibit_rules", 0, "source_matchers"), ['team="db"']),
        "inhibit_rules[0]: source_matchers: match no alert that any rule can raise",
    ),
    ("inhibit without target", _set(("inhibit_rules", 0, "target_matchers"), []), "target_matchers: name at least"),
    ("unknown notifier", _set(("receivers", 0, "teams_configs"), [{}]), "receiver 'oncall': teams_configs: unknown"),
    (
        "webhook url not http",
        _set(("receivers", 0, "webhook_configs"), [{"url": "ftp://x"}]),
        "receiver 'oncall' webhook_configs[0]: url: must be an absolute http:// or https:// URL",
    ),
    (
        "pagerduty without key",
        _set(("receivers", 1, "pagerduty_configs"), [{"url": "https://events.example.org"}]),
        "give exactly one of routing_key or routing_key_file",
    ),
    (
        "email bad smarthost",
        _set(("receivers", 0, "email_configs"), [{"to": "a@b.c", "from": "w@b.c", "smarthost": "mail"}]),
        "email_configs[0]: smarthost: must be host:port",
    ),
    ("duplicate receiver", _set(("receivers", 1, "name"), "oncall"), "name: another receiver has the same name"),
    ("unsupported version", _set(("version",), 2), "version: unsupported version 2; this Watchkeeper reads 1"),
]


@pytest.mark.parametrize(("change", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_mistake_is_refused_with_a_precise_message(change: Any, message: str) -> None:
    found = problems(doc(change))
    assert any(message in p for p in found), found
    assert all(p.startswith("rules.yaml:") for p in found)


def test_every_problem_is_reported_at_once_with_its_line() -> None:
    text = doc(lambda d: (d["rules"][0].update(metric="nope"), d["rules"][1].update(severity="low")))
    found = problems(text)
    assert len(found) == 2
    lines = text.splitlines()
    metric, severity = sorted(found, key=lambda p: "severity" in p)
    assert lines[int(metric.split(":")[1]) - 1].strip() == "metric: nope"
    assert lines[int(severity.split(":")[1]) - 1].strip() == "severity: low"
    assert "rule 'RefusalRateSpike': metric:" in metric and "rule 'ToolErrorDrift': severity:" in severity


def test_yaml_that_does_not_parse_names_the_line() -> None:
    (p,) = problems("version: 1\nrules:\n  - alert: [unclosed\n")
    assert p.startswith("rules.yaml:4: file: is not valid YAML") or p.startswith("rules.yaml:3: file: is not valid")


def test_a_key_given_twice_is_refused_rather_than_silently_overwritten() -> None:
    text = doc().replace("  severity: page\n", "  severity: page\n  severity: ticket\n", 1)
    (p,) = problems(text)
    assert ": severity: given twice (YAML keeps only the last)" in p


def test_a_missing_file_and_a_non_mapping_are_refused(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="does not exist"):
        load_rules(tmp_path / "nope.yaml")
    assert problems("- 1\n- 2\n") == ["rules.yaml:1: file: must be a mapping with version and rules"]


def test_a_disabled_rule_may_name_a_metric_the_catalogue_does_not_have_yet() -> None:
    rs = parse_rules(doc(_rule(1, metric="tokens_per_second", enabled=False)), file="rules.yaml")
    assert not rs.rule("ToolErrorDrift").enabled
    assert any("unknown metric 'tokens_per_second'" in w for w in rs.warnings)


def test_without_a_route_every_alert_goes_to_a_receiver_that_sends_nothing() -> None:
    rs = parse_rules(doc(lambda d: (d.pop("route"), d.pop("receivers"))))
    assert rs.route.opts.receiver == "default" and rs.receivers["default"].integrations == ()


def test_sensitivity_words_are_the_documented_numbers() -> None:
    for word, value in (("low", 0.1), ("medium", 1.0), ("high", 10.0)):
        assert parse_rules(doc(_rule(0, sensitivity=word))).rule("RefusalRateSpike").sensitivity == value


def test_a_rate_changed_by_the_urgent_factor_either_way_fires_without_waiting_for() -> None:
    rule = parse_rules(doc(_rule(0, for_unless_factor=2))).rule("RefusalRateSpike")
    assert rule.for_unless_factor == 2.0
    assert rule.urgent(0.02, 0.01) and rule.urgent(0.005, 0.01) and rule.urgent(0.01, 0.0) and rule.urgent(0.0, 0.01)
    assert not rule.urgent(0.019, 0.01) and not rule.urgent(0.01, 0.01) and not rule.urgent(None, 0.01)
    assert parse_rules(doc(_rule(0, for_unless_factor="1.5"))).rule("RefusalRateSpike").for_unless_factor == 1.5
    assert not parse_rules(doc()).rule("RefusalRateSpike").urgent(1.0, 0.0)  # not set: every alert waits ``for``


def test_secrets_are_never_echoed_in_errors() -> None:
    bad = {"api_url": "not a url with s3cr3t", "channel": "#x"}
    found = problems(doc(_set(("receivers", 0, "slack_configs"), [bad])))
    assert found and not any("s3cr3t" in p for p in found)
    assert WebhookConfig.model_validate({"url": "https://example.org/h"}).send_resolved is True


def test_the_example_of_docs_alerting_checks_clean() -> None:
    import re

    text = (Path(__file__).resolve().parents[2] / "docs" / "alerting.md").read_text()
    example = re.search(r"### Example\n\n```yaml\n(.*?)\n```", text, re.S)
    assert example is not None
    rs = parse_rules(example.group(1), file="docs/alerting.md")
    assert [r.name for r in rs.rules] == ["RefusalRateSpike", "ToolErrorDrift"]
    assert set(rs.receivers) == {"oncall", "pager", "safety-chat"} and rs.warnings == ()
